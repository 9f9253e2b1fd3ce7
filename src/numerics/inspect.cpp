// inspect(): encode, decode and classify one value (see inspect.h).
#include "numerics/inspect.h"

#include <bit>
#include <cmath>
#include <cstdio>

#include "numerics/encode.h"

namespace mixtrain::numerics {
namespace {

// IEEE overflow: mirrors encode()'s overflow test, before the toward-zero clamp.
bool overflows(double x, const FormatSpec& f, Rounding r, std::uint32_t random) {
  if (!std::isfinite(x) || f.dtype == DType::fp64) return false;
  const double a = std::fabs(x);
  if (a <= max_value(f)) return false;  // rounding never moves a value past a representable max
  const std::uint64_t bits = std::bit_cast<std::uint64_t>(a);
  const int e = static_cast<int>(bits >> 52) - 1023;  // a > max >= a normal double
  const int emax = static_cast<int>(f.max_code() >> f.mantissa_bits) - f.bias;
  if (e > emax) return true;
  const std::uint64_t sig = (bits & ((std::uint64_t{1} << 52) - 1)) | (std::uint64_t{1} << 52);
  return detail::round_magnitude(sig, e, f, r, random) > f.max_code();
}

}  // namespace

Inspection inspect(double x, DType t, Rounding r, std::optional<Overflow> o, std::uint32_t random) {
  const FormatSpec& f = spec(t);
  Inspection s{};
  s.dtype = t;
  s.code = encode(x, f, r, o.value_or(f.default_overflow), random);
  s.decoded = decode(s.code, f);
  if (!std::isfinite(x))
    s.rel_error = std::nan("");
  else if (x == 0.0)
    s.rel_error = 0.0;
  else
    s.rel_error = (s.decoded - x) / std::fabs(x);
  const std::uint64_t mag = s.code & (f.sign_mask() - 1);
  s.overflow = overflows(x, f, r, random);
  s.saturated = (s.overflow || std::isinf(x)) && mag == f.max_code();
  s.subnormal = is_subnormal_code(s.code, f);
  s.flushed = std::isfinite(x) && x != 0.0 && mag == 0;
  s.nan = is_nan_code(s.code, f);
  s.inf = is_inf_code(s.code, f);
  return s;
}

std::string code_hex(std::uint64_t code, DType t) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "0x%0*llx", spec(t).bytes() * 2,
                static_cast<unsigned long long>(code));
  return buf;
}

std::string code_binary(std::uint64_t code, DType t) {
  const FormatSpec& f = spec(t);
  std::string s;
  for (int i = f.bits() - 1; i >= 0; --i) {
    s += ((code >> i) & 1) ? '1' : '0';
    if (i == f.bits() - 1 || i == f.mantissa_bits) s += '|';
  }
  return s;
}

}  // namespace mixtrain::numerics
