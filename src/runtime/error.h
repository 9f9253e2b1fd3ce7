// The one exception type mixtrain throws for bad input and misuse. Its message is a single line
// meant for a user ("convert: in.bin: size 10 is not a multiple of 4 bytes (fp32)"); the CLI
// prints it on stderr and exits 2 (1 for a Failure, below).
#pragma once

#include <stdexcept>
#include <string>

namespace mixtrain {

class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// A run that failed although its input was acceptable: training diverged, the disk filled up,
// a write failed. The CLI exits 1 for these and 2 for plain Errors (bad input or usage), so
// scripts can tell "fix the command" from "the run did not succeed".
class Failure : public Error {
 public:
  using Error::Error;
};

// Throws mixtrain::Error when cond is false.
inline void check(bool cond, const std::string& message) {
  if (!cond) throw Error(message);
}

}  // namespace mixtrain
