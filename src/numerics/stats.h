// What a format would do to a buffer: a histogram of binary exponents and the fractions of values
// that would overflow, become subnormal, or flush to zero when encoded (round to nearest). These
// feed the report's gradient-exponent histograms and the numerics doctor.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

#include "numerics/format.h"

namespace mixtrain::numerics {

// Binary exponent floor(log2|x|) of every finite nonzero fp32 value lies in [-149, 127].
inline constexpr int kHistMinExponent = -149;
inline constexpr int kHistMaxExponent = 127;
inline constexpr int kHistBins = kHistMaxExponent - kHistMinExponent + 1;

// A histogram key as metrics lines write it ({"-3": 17, ...}, train/trainer.cpp): the decimal
// exponent, when `key` is one within [-1100, 1100] (every exponent of fp64 and the narrower
// formats lies inside, and the bound keeps readers' exponent arithmetic far from overflow).
std::optional<int> parse_exponent_key(std::string_view key);

struct FormatStats {
  std::uint64_t count = 0;      // all values
  std::uint64_t zeros = 0;      // exact ±0 inputs
  std::uint64_t nans = 0;
  std::uint64_t infs = 0;
  std::uint64_t overflow = 0;   // finite inputs whose rounded value exceeds the format's max
  std::uint64_t subnormal = 0;  // nonzero inputs that encode to a nonzero subnormal
  std::uint64_t flush = 0;      // nonzero finite inputs that encode to ±0
  std::array<std::uint64_t, kHistBins> exponent_hist{};  // index e - kHistMinExponent

  double fraction(std::uint64_t part) const {
    return count == 0 ? 0.0 : static_cast<double>(part) / static_cast<double>(count);
  }
  double overflow_fraction() const { return fraction(overflow); }
  double subnormal_fraction() const { return fraction(subnormal); }
  double flush_fraction() const { return fraction(flush); }
  FormatStats& operator+=(const FormatStats& o);
};

// Thresholds on |x| (as fp32 bit patterns, sign cleared) that classify values for `target`
// exactly as the round-to-nearest encoder would; found once per format by bisection over the
// encoder itself (encoding is monotone in the input).
struct FormatThresholds {
  std::uint32_t nonzero;  // smallest |x| bits that encode to a nonzero value
  std::uint32_t normal;   // smallest |x| bits that encode to a normal value
  std::uint32_t overflow; // smallest |x| bits that overflow (0x7F800000 if none is finite)
};
FormatThresholds thresholds(DType target);

// Largest |x| of a buffer; NaN (some NaN) if any value is NaN, inf if any is infinite: they are
// what an fp8 scale or the numerics doctor must see.
float abs_max(const float* x, std::size_t n);
// The same over n codes of any format, decoded in small blocks (no copy of the buffer),
// multithreaded.
float abs_max(const void* codes, DType t, std::size_t n);

// Statistics of x * scale (the product rounded to fp32) for the target format. Multithreaded;
// the result does not depend on the thread count.
FormatStats analyse(const float* x, std::size_t n, DType target, float scale = 1.0f);

}  // namespace mixtrain::numerics
