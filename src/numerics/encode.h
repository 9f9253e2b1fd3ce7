// Scalar encode (fp64/fp32 -> any format) and decode (any format -> fp32/fp64), driven only by
// the FormatSpec. This is the definition of mixtrain's conversions: the vectorised buffer
// kernels (convert.h) are required to be bit-identical to it.
//
// Semantics:
//  - nearest: round to nearest, ties to even. An input overflows when its rounded value, with an
//    unbounded exponent, exceeds the largest finite value (IEEE 754 rule): for e4m3, 464 -> 448
//    but 464.0001 overflows.
//  - toward_zero: truncate the magnitude. Finite inputs never overflow to inf (IEEE), they give
//    ±max; ±inf inputs stay ±inf under Overflow::inf.
//  - stochastic: with frac the discarded part of the magnitude in units of the result's ulp
//    (0 <= frac < 1) and r the 32 random bits, round the magnitude up iff
//    floor(frac * 2^32) + r >= 2^32. P(up) = floor(frac * 2^32) / 2^32: unbiased to 2^-32 ulp.
//  - Overflow::saturate clamps finite overflow and ±inf to ±max. Overflow::inf gives ±inf, or
//    NaN for formats without inf (e4m3), or ±max for formats with neither (MX elements).
//  - Subnormals are produced and decoded, never flushed. The sign of zero is kept.
//  - NaN encodes to the format's canonical quiet NaN with the input's sign (payloads are not
//    kept). finite_only formats (MX elements) have no NaN: NaN encodes as +0, since MX carries
//    NaN in the shared block scale instead.
#pragma once

#include <bit>
#include <cstdint>

#include "numerics/format.h"

namespace mixtrain::numerics {

namespace detail {

// Rounds the 53-bit significand `sig` (value = sig * 2^(e-52), sig >= 2^52 or a subnormal
// double already normalised by the caller) to the target and returns the magnitude code,
// possibly beyond max_code() (the caller applies the overflow policy).
inline std::uint64_t round_magnitude(std::uint64_t sig, int e, const FormatSpec& f, Rounding r,
                                     std::uint32_t random) {
  const int m = f.mantissa_bits;
  const int emin = f.min_exponent();
  // Bits discarded below the target ulp: 52 - m in the normal range, more for subnormals.
  const int shift = 52 - m + (e < emin ? emin - e : 0);
  std::uint64_t q;
  std::uint64_t rem;
  if (shift < 64) {
    q = sig >> shift;
    rem = sig & ((std::uint64_t{1} << shift) - 1);
  } else {
    q = 0;
    rem = sig;  // the whole significand is discarded; only stochastic can round it up
  }
  switch (r) {
    case Rounding::nearest:
      if (shift < 64) {
        const std::uint64_t half = std::uint64_t{1} << (shift - 1);
        if (rem > half || (rem == half && (q & 1))) ++q;
      }  // shift >= 64 means value < 2^-11 ulp: rounds to zero
      break;
    case Rounding::toward_zero:
      break;
    case Rounding::stochastic: {
      // floor(frac * 2^32), frac = rem / 2^shift.
      std::uint64_t d32;
      if (shift <= 32)
        d32 = rem << (32 - shift);
      else if (shift - 32 < 64)
        d32 = rem >> (shift - 32);
      else
        d32 = 0;
      if (d32 + random >= (std::uint64_t{1} << 32)) ++q;
      break;
    }
  }
  // Normal results: code = (biased exponent - 1) << m + q, where q carries the implicit bit, so a
  // carry out of the mantissa bumps the exponent for free. Subnormal results: code = q (q may
  // reach 2^m, which is exactly the smallest normal's code).
  const int ebiased_minus_1 = e < emin ? 0 : e - emin;
  return (static_cast<std::uint64_t>(ebiased_minus_1) << m) + q;
}

inline std::uint64_t overflow_code(const FormatSpec& f, Overflow o) {
  if (o == Overflow::saturate || f.specials == Specials::finite_only) return f.max_code();
  return f.has_inf() ? f.inf_code() : f.nan_code();
}

}  // namespace detail

// Encodes x into `f`, returning the code in the low f.bits() bits. `random` is used only by
// Rounding::stochastic (see rng.h for how the buffer kernels derive it).
inline std::uint64_t encode(double x, const FormatSpec& f, Rounding r, Overflow o,
                            std::uint32_t random = 0) {
  const std::uint64_t bits = std::bit_cast<std::uint64_t>(x);
  const std::uint64_t sign = (bits >> 63) ? f.sign_mask() : 0;
  const int efield = static_cast<int>((bits >> 52) & 0x7FF);
  std::uint64_t frac = bits & ((std::uint64_t{1} << 52) - 1);
  if (efield == 0x7FF) {
    if (frac != 0)  // NaN
      return f.has_nan() ? (sign | f.nan_code()) : 0;
    // ±inf: IEEE-like formats keep it under Overflow::inf; saturate clamps.
    return sign | detail::overflow_code(f, o);
  }
  if (f.dtype == DType::fp64) return bits;  // identity for every finite double
  if (efield == 0 && frac == 0) return sign;
  int e;
  std::uint64_t sig;
  if (efield == 0) {  // subnormal double: normalise so sig has its top bit at 2^52
    const int lz = std::countl_zero(frac) - 11;
    sig = frac << lz;
    e = -1022 - lz;
  } else {
    sig = frac | (std::uint64_t{1} << 52);
    e = efield - 1023;
  }
  // Anything at least twice the largest finite value overflows before rounding; this also keeps
  // the code arithmetic below far from 64-bit overflow for huge doubles.
  const int emax = static_cast<int>(f.max_code() >> f.mantissa_bits) - f.bias;
  std::uint64_t code;
  if (e > emax)
    code = f.max_code() + 1;
  else
    code = detail::round_magnitude(sig, e, f, r, random);
  if (code > f.max_code()) {
    // Truncation never rounds a finite value up to inf (IEEE roundTowardZero).
    code = r == Rounding::toward_zero ? f.max_code() : detail::overflow_code(f, o);
  }
  return sign | code;
}

inline std::uint64_t encode(float x, const FormatSpec& f, Rounding r, Overflow o,
                            std::uint32_t random = 0) {
  return encode(static_cast<double>(x), f, r, o, random);  // fp32 -> fp64 is exact
}

inline std::uint64_t encode(double x, DType t, Rounding r = Rounding::nearest) {
  const auto& f = spec(t);
  return encode(x, f, r, f.default_overflow);
}

// Decodes a code of format f exactly into a double (exact for every format up to fp64).
inline double decode(std::uint64_t code, const FormatSpec& f) {
  if (f.dtype == DType::fp64) return std::bit_cast<double>(code);
  if (f.dtype == DType::fp32) return std::bit_cast<float>(static_cast<std::uint32_t>(code));
  const bool neg = (code & f.sign_mask()) != 0;
  const std::uint64_t mag = code & (f.sign_mask() - 1);
  const std::uint64_t efield = mag >> f.mantissa_bits;
  const std::uint64_t mant = mag & f.mantissa_mask();
  double v;
  if (f.specials == Specials::ieee && efield == f.exponent_field_max()) {
    v = mant == 0 ? __builtin_inf() : __builtin_nan("");
  } else if (f.specials == Specials::finite_nan && mag == f.nan_code()) {
    v = __builtin_nan("");
  } else if (efield == 0) {
    v = static_cast<double>(mant) * __builtin_ldexp(1.0, f.min_exponent() - f.mantissa_bits);
  } else {
    v = static_cast<double>(mant | (std::uint64_t{1} << f.mantissa_bits)) *
        __builtin_ldexp(1.0, static_cast<int>(efield) - f.bias - f.mantissa_bits);
  }
  return neg ? -v : v;
}

// Exact for every format narrower than fp32 (and fp32 itself); fp64 codes are rounded.
inline float decode_f32(std::uint64_t code, const FormatSpec& f) {
  return static_cast<float>(decode(code, f));
}

// Classification of an encoded value, as `mixtrain formats` reports it.
inline bool is_nan_code(std::uint64_t code, const FormatSpec& f) {
  const std::uint64_t mag = code & (f.sign_mask() - 1);
  if (f.specials == Specials::finite_nan) return mag == f.nan_code();
  if (f.specials == Specials::finite_only) return false;
  return (mag >> f.mantissa_bits) == f.exponent_field_max() && (mag & f.mantissa_mask()) != 0;
}
inline bool is_inf_code(std::uint64_t code, const FormatSpec& f) {
  return f.has_inf() && (code & (f.sign_mask() - 1)) == f.inf_code();
}
inline bool is_subnormal_code(std::uint64_t code, const FormatSpec& f) {
  const std::uint64_t mag = code & (f.sign_mask() - 1);
  return mag != 0 && (mag >> f.mantissa_bits) == 0;
}

}  // namespace mixtrain::numerics
