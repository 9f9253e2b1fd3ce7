// What one value becomes in a format: code, decoded value, relative error and the IEEE-style
// flags. The logic behind `mixtrain formats`; a thin layer over encode.h that adds no semantics.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "numerics/format.h"

namespace mixtrain::numerics {

struct Inspection {
  DType dtype;
  std::uint64_t code;   // encode(x, ...)
  double decoded;       // decode(code), exact
  double rel_error;     // (decoded - x) / |x|; 0 when x == 0; NaN when x is not finite
  bool overflow;   // x finite and its magnitude, rounded with an unbounded exponent, exceeds the
                   // format's max (IEEE 754 overflow; also raised under toward-zero, which gives
                   // ±max rather than inf)
  bool saturated;  // x overflowed or is ±inf, and the result is ±max
  bool subnormal;  // the result is a nonzero subnormal
  bool flushed;    // x finite and nonzero, the result ±0
  bool nan;        // the result is NaN
  bool inf;        // the result is ±inf
};

// Encodes x into t with rounding r and overflow o (unset: t's default); `random` feeds stochastic
// rounding exactly as in encode().
Inspection inspect(double x, DType t, Rounding r = Rounding::nearest,
                   std::optional<Overflow> o = std::nullopt, std::uint32_t random = 0);

// The code as zero-padded hex ("0x4248" for fp16) and as sign|exponent|mantissa bits
// ("0|10000|1001001000").
std::string code_hex(std::uint64_t code, DType t);
std::string code_binary(std::uint64_t code, DType t);

}  // namespace mixtrain::numerics
