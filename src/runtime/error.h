// The one exception type mixtrain throws for bad input and misuse. Its message is a single line
// meant for a user ("convert: in.bin: size 10 is not a multiple of 4 bytes (fp32)"); the CLI
// prints it on stderr and exits non-zero.
#pragma once

#include <stdexcept>
#include <string>

namespace mixtrain {

class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Throws mixtrain::Error when cond is false.
inline void check(bool cond, const std::string& message) {
  if (!cond) throw Error(message);
}

}  // namespace mixtrain
