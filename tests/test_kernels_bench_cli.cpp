// End-to-end test of `mixtrain bench gemm` ($MIXTRAIN_BIN): one JSON line with the agreed keys
// for every operand dtype, and the error contract for bad arguments (exit 2, one stderr line).
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdio>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <string>

namespace {

struct CliRun {
  int status = -1;
  std::string out;
};

// Runs `mixtrain ARGS 2>&1` and captures its output.
CliRun run(const std::string& args) {
  const char* bin = std::getenv("MIXTRAIN_BIN");
  if (bin == nullptr) {
    ADD_FAILURE() << "MIXTRAIN_BIN is not set (ctest sets it to the built tool)";
    return {};
  }
  const std::string cmd = std::string("'") + bin + "' " + args + " 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  CliRun r;
  char buf[4096];
  for (std::size_t n; (n = std::fread(buf, 1, sizeof buf, p)) > 0;) r.out.append(buf, n);
  const int rc = pclose(p);
  r.status = WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
  return r;
}

TEST(kernels_bench_cli, GemmPrintsOneJsonLine) {
  for (const char* dtype : {"fp32", "fp16", "bf16", "e4m3"}) {
    const CliRun r =
        run(std::string("bench gemm --m 64 --n 48 --k 40 --repeats 3 --dtype ") + dtype);
    ASSERT_EQ(r.status, 0) << r.out;
    ASSERT_EQ(r.out.find('\n'), r.out.size() - 1) << "exactly one line: " << r.out;
    const auto j = nlohmann::json::parse(r.out);
    EXPECT_EQ(j.at("dtype"), dtype);
    EXPECT_EQ(j.at("m"), 64);
    EXPECT_EQ(j.at("n"), 48);
    EXPECT_EQ(j.at("k"), 40);
    for (const char* key : {"ms", "gflops", "sgemm_gflops", "ratio_vs_sgemm", "fp32_gflops",
                            "ratio_vs_fp32", "fp32_ratio_vs_sgemm"}) {
      ASSERT_TRUE(j.contains(key)) << key;
      EXPECT_GT(j.at(key).get<double>(), 0.0) << key;
    }
  }
}

TEST(kernels_bench_cli, GemmRejectsBadArguments) {
  for (const char* args : {"bench gemm --dtype fp64", "bench gemm --m 0", "bench gemm --dtype x",
                           "bench gemm --repeats 0", "bench"}) {
    const CliRun r = run(args);
    EXPECT_EQ(r.status, 2) << args;
    EXPECT_EQ(r.out.rfind("mixtrain: ", 0), 0u) << args << ": " << r.out;
    EXPECT_EQ(r.out.find('\n'), r.out.size() - 1) << args << ": " << r.out;
  }
}

}  // namespace
