// Running the built `mixtrain` tool from tests: ctest sets $MIXTRAIN_BIN; stdout and stderr are
// captured outside the test's work directory (so its listings show only what the tool wrote).
// Also whether the Debian data packages the end-to-end tests need are installed.
#pragma once

#include <sys/wait.h>

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <sstream>
#include <string>

#include "io_test_util.h"

namespace mixtrain::testing {

struct CliResult {
  int status = -1;
  std::string out, err;
};

inline std::string slurp(const std::string& path) {
  const auto b = read_bytes(path);
  return {b.begin(), b.end()};
}

// timeout_s > 0 runs the tool under timeout(1): a hang becomes status 124 instead of a stuck suite.
inline CliResult run_cli(const std::string& args, int timeout_s = 0) {
  const char* bin = std::getenv("MIXTRAIN_BIN");
  if (bin == nullptr) {
    ADD_FAILURE() << "MIXTRAIN_BIN is not set (ctest sets it to the built tool)";
    return {};
  }
  TempDir capture;
  const std::string cmd = (timeout_s > 0 ? "timeout " + std::to_string(timeout_s) + " " : std::string()) + "'" + bin + "' " + args + " >'" + (capture / "out") + "' 2>'" + (capture / "err") + "'";
  const int rc = std::system(cmd.c_str());
  return {WIFEXITED(rc) ? WEXITSTATUS(rc) : -1, slurp(capture / "out"), slurp(capture / "err")};
}

// A command that failed as the error contract says: exit `status`, exactly one "mixtrain: ..."
// line on stderr, the last, containing `needle`, never "internal error". Informational lines
// (progress, the policy) may precede it.
inline void expect_one_line_error(const CliResult& r, int status, const std::string& needle, const std::string& what = "") {
  EXPECT_EQ(r.status, status) << what << "\n" << r.err;
  std::size_t errors = 0;
  std::string last;
  std::istringstream lines(r.err);
  for (std::string l; std::getline(lines, l);) {
    errors += l.rfind("mixtrain: ", 0) == 0;
    last = l;
  }
  EXPECT_EQ(errors, 1u) << what << ": " << r.err;
  EXPECT_EQ(last.rfind("mixtrain: ", 0), 0u) << what << ": " << r.err;
  EXPECT_NE(last.find(needle), std::string::npos) << what << ": expected '" << needle << "' in: " << r.err;
  EXPECT_EQ(r.err.find("internal error"), std::string::npos) << what << ": " << r.err;
}

inline bool have_fashion() {
  return std::filesystem::exists("/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz");
}
inline bool have_fortunes() { return std::filesystem::exists("/usr/share/games/fortunes"); }

}  // namespace mixtrain::testing
