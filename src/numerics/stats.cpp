// Statistics by integer comparisons against exact thresholds found from the encoder itself, so
// they agree with encode() by construction and cost a few instructions per value.
#include "numerics/stats.h"

#include <algorithm>
#include <bit>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <mutex>
#include <vector>

#include "numerics/convert.h"
#include "numerics/encode.h"
#include "runtime/parallel.h"

namespace mixtrain::numerics {
namespace {

// Smallest positive fp32 bit pattern in [lo, hi] for which pred holds (pred monotone); hi + 1 if
// none.
template <typename Pred>
std::uint32_t bisect(std::uint32_t lo, std::uint32_t hi, Pred pred) {
  std::uint64_t a = lo;
  std::uint64_t b = std::uint64_t{hi} + 1;
  while (a < b) {
    const std::uint64_t mid = (a + b) / 2;
    if (pred(static_cast<std::uint32_t>(mid)))
      b = mid;
    else
      a = mid + 1;
  }
  return static_cast<std::uint32_t>(a);
}

FormatThresholds compute_thresholds(DType t) {
  const FormatSpec& f = spec(t);
  auto enc = [&](std::uint32_t bits) {
    return encode(std::bit_cast<float>(bits), f, Rounding::nearest, Overflow::inf);
  };
  const std::uint64_t finite_limit = f.max_code();
  FormatThresholds th{};
  th.nonzero = bisect(1, 0x7F7FFFFFU, [&](std::uint32_t b) { return enc(b) != 0; });
  th.normal = bisect(1, 0x7F7FFFFFU, [&](std::uint32_t b) {
    return (enc(b) & (f.sign_mask() - 1)) >> f.mantissa_bits != 0;
  });
  th.overflow = bisect(1, 0x7F7FFFFFU, [&](std::uint32_t b) {
    return (enc(b) & (f.sign_mask() - 1)) > finite_limit;
  });
  return th;
}

}  // namespace

FormatStats& FormatStats::operator+=(const FormatStats& o) {
  count += o.count;
  zeros += o.zeros;
  nans += o.nans;
  infs += o.infs;
  overflow += o.overflow;
  subnormal += o.subnormal;
  flush += o.flush;
  for (int i = 0; i < kHistBins; ++i) exponent_hist[i] += o.exponent_hist[i];
  return *this;
}

FormatThresholds thresholds(DType target) {
  static FormatThresholds cache[std::size(kAllDTypes)];
  static std::once_flag once[std::size(kAllDTypes)];
  const auto i = static_cast<std::size_t>(target);
  std::call_once(once[i], [&] { cache[i] = compute_thresholds(target); });
  return cache[i];
}

float abs_max(const float* x, std::size_t n) {
  // On the bit patterns with the sign cleared, unsigned order is |x| order and every NaN sorts
  // above inf; the integer max vectorises where a float max with NaN semantics would not (10x on
  // 2M values).
  std::uint32_t m = 0;
  for (std::size_t i = 0; i < n; ++i) m = std::max(m, std::bit_cast<std::uint32_t>(x[i]) & 0x7FFFFFFFu);
  return std::bit_cast<float>(m);
}

namespace {
// Largest magnitude code of n 8- or 16-bit codes: in every format here (sign-magnitude, NaN
// codes above inf above the finite ones), magnitude order is the unsigned order of the codes
// with the sign bit cleared, so no decode is needed.
template <typename U>
U max_magnitude_code(const U* c, std::size_t n) {
  constexpr U mask = static_cast<U>(~(U{1} << (8 * sizeof(U) - 1)));
  U m = 0;
  for (std::size_t i = 0; i < n; ++i) m = std::max(m, static_cast<U>(c[i] & mask));
  return m;
}
}  // namespace

float abs_max(const void* codes, DType t, std::size_t n) {
  if (t == DType::fp32 && n < (std::size_t{1} << 16)) return abs_max(static_cast<const float*>(codes), n);
  const int bits = spec(t).bits();
  if (bits == 8 || bits == 16) {
    constexpr std::size_t kGrain = std::size_t{1} << 18;
    std::vector<std::uint16_t> parts((n + kGrain - 1) / kGrain, 0);
    runtime::parallel_for(n, kGrain, [&](std::size_t b, std::size_t e) {
      parts[b / kGrain] =
          bits == 8 ? max_magnitude_code(static_cast<const std::uint8_t*>(codes) + b, e - b)
                    : max_magnitude_code(static_cast<const std::uint16_t*>(codes) + b, e - b);
    });
    std::uint16_t m = 0;
    for (std::uint16_t v : parts) m = std::max(m, v);
    float out;
    if (bits == 8) {
      const auto c = static_cast<std::uint8_t>(m);
      decode(&out, &c, t, 1);
    } else {
      decode(&out, &m, t, 1);
    }
    return std::fabs(out);
  }
  constexpr std::size_t kGrain = std::size_t{1} << 16, kBlock = 1024;
  std::vector<std::uint32_t> parts((n + kGrain - 1) / kGrain, 0);
  const std::size_t bytes = size_of(t);
  runtime::parallel_for(n, kGrain, [&](std::size_t b, std::size_t e) {
    const auto* p = static_cast<const unsigned char*>(codes);
    float tmp[kBlock];
    std::uint32_t m = 0;
    for (std::size_t i = b; i < e; i += kBlock) {
      const std::size_t k = std::min(kBlock, e - i);
      const float* v = t == DType::fp32 ? reinterpret_cast<const float*>(p + i * bytes) : tmp;
      if (t != DType::fp32) decode(tmp, p + i * bytes, t, k);  // k < the decode grain: inline
      m = std::max(m, std::bit_cast<std::uint32_t>(abs_max(v, k)));
    }
    parts[b / kGrain] = m;
  });
  std::uint32_t m = 0;
  for (std::uint32_t v : parts) m = std::max(m, v);
  return std::bit_cast<float>(m);
}

FormatStats analyse(const float* x, std::size_t n, DType target, float scale) {
  const FormatThresholds th = thresholds(target);
  constexpr std::size_t kGrain = std::size_t{1} << 16;
  std::vector<FormatStats> parts((n + kGrain - 1) / kGrain);
  const bool scaled = scale != 1.0f;
  runtime::parallel_for(n, kGrain, [&](std::size_t b, std::size_t e) {
    FormatStats s;
    s.count = e - b;
    for (std::size_t i = b; i < e; ++i) {
      const float v = scaled ? x[i] * scale : x[i];
      const std::uint32_t mag = std::bit_cast<std::uint32_t>(v) & 0x7FFFFFFFU;
      if (mag == 0) {
        ++s.zeros;
        continue;
      }
      if (mag >= 0x7F800000U) {
        ++(mag == 0x7F800000U ? s.infs : s.nans);
        continue;
      }
      const int efield = static_cast<int>(mag >> 23);
      // Subnormal fp32: value = mag * 2^-149, so floor(log2) = (31 - clz(mag)) - 149.
      const int exp = efield != 0 ? efield - 127 : -118 - std::countl_zero(mag);
      ++s.exponent_hist[exp - kHistMinExponent];
      if (mag < th.nonzero)
        ++s.flush;
      else if (mag < th.normal)
        ++s.subnormal;
      else if (mag >= th.overflow)
        ++s.overflow;
    }
    parts[b / kGrain] = s;
  });
  FormatStats total;
  for (const auto& p : parts) total += p;
  return total;
}

std::optional<int> parse_exponent_key(std::string_view key) {
  int exponent = 0;
  const auto [end, ec] = std::from_chars(key.data(), key.data() + key.size(), exponent);
  if (ec != std::errc() || end != key.data() + key.size() || exponent < -1100 || exponent > 1100) return std::nullopt;
  return exponent;
}

}  // namespace mixtrain::numerics
