// The `mixtrain` subcommands. Each cmd_<name>.cpp defines register_<name>(), which adds the
// subcommand, its options and its callback to the app; main.cpp calls them all. Commands only
// parse and print; they throw mixtrain::Error for bad input, which main() reports.
#pragma once

#include <CLI/CLI.hpp>
#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "runtime/error.h"

namespace mixtrain::app {

void register_convert(CLI::App& app);
void register_formats(CLI::App& app);
void register_bench(CLI::App& app);
void register_train(CLI::App& app);
void register_compare(CLI::App& app);
void register_eval(CLI::App& app);
void register_inspect(CLI::App& app);
void register_doctor(CLI::App& app);
void register_export_metrics(CLI::App& app);

// The process exit status when a command returns normally (0 by default). A command whose answer
// is a verdict (doctor: 1 = problems found) sets it; errors still go through main()'s status 2.
inline int& exit_status() {
  static int status = 0;
  return status;
}

// --seed: a decimal integer in [0, 2^64). Throws mixtrain::Error otherwise.
inline std::uint64_t parse_seed(const std::string& s) {
  char* end = nullptr;
  errno = 0;
  const unsigned long long v = std::strtoull(s.c_str(), &end, 10);
  if (s.empty() || s.find_first_not_of("0123456789") != std::string::npos || *end != '\0' ||
      errno == ERANGE)
    throw Error("--seed: '" + s + "' is not an integer in [0, 2^64)");
  return v;
}

}  // namespace mixtrain::app
