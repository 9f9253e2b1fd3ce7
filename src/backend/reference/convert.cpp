// Reference format conversions: numerics/encode.h's scalar encode and decode applied element by
// element, the definition every vectorised path (numerics/convert.h) must match bit for bit.
// Exact family: the same codes and the same amax as the cpu backend (a NaN amax may carry a
// different payload, which no caller reads).
#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>
#include <type_traits>
#include <vector>

#include "backend/reference/scalar.h"
#include "numerics/decode_tables.h"
#include "numerics/encode.h"
#include "numerics/rng.h"
#include "runtime/error.h"

namespace mixtrain::backend::reference {
namespace {

std::uint64_t load_code(const void* p, int bytes, std::size_t i) {
  const auto* b = static_cast<const unsigned char*>(p) + i * static_cast<std::size_t>(bytes);
  std::uint64_t code = 0;
  std::memcpy(&code, b, static_cast<std::size_t>(bytes));  // little-endian codes
  return code;
}

void store_code(void* p, int bytes, std::size_t i, std::uint64_t code) {
  std::memcpy(static_cast<unsigned char*>(p) + i * static_cast<std::size_t>(bytes), &code,
              static_cast<std::size_t>(bytes));
}

// |x| as ordered bits: unsigned order is magnitude order and every NaN sorts above inf, which is
// how numerics::encode forms its amax.
std::uint64_t magnitude_bits(float x) { return std::bit_cast<std::uint32_t>(x) & 0x7FFFFFFFU; }
std::uint64_t magnitude_bits(double x) { return std::bit_cast<std::uint64_t>(x) & 0x7FFFFFFFFFFFFFFFULL; }

template <typename Src>
Src from_magnitude_bits(std::uint64_t b) {
  if constexpr (std::is_same_v<Src, float>) return std::bit_cast<float>(static_cast<std::uint32_t>(b));
  else return std::bit_cast<double>(b);
}

// numerics::encode's contract: y = encode(x * scale) with the scale rounded to Src, element i
// rounded stochastically from (seed, index_offset + i); returns max |x| before scaling.
template <typename Src>
Src encode_impl(void* dst, DType to, const Src* src, std::size_t n, const numerics::ConvertOptions& opt) {
  const numerics::FormatSpec& f = numerics::spec(to);
  const numerics::Overflow o = opt.overflow.value_or(f.default_overflow);
  const Src scale = static_cast<Src>(opt.scale);
  if (!(scale > 0) || !std::isfinite(scale))
    throw Error("convert: scale " + std::to_string(opt.scale) + " is not a finite positive " +
                std::string(std::is_same_v<Src, float> ? "fp32" : "fp64") + " number");
  const bool scaled = opt.scale != 1.0;
  std::uint64_t amax = 0;
  for (std::size_t i = 0; i < n; ++i) {
    amax = std::max(amax, magnitude_bits(src[i]));
    const Src y = scaled ? src[i] * scale : src[i];
    const std::uint32_t r = opt.rounding == numerics::Rounding::stochastic
                                ? numerics::stochastic_bits(opt.seed, opt.index_offset + i)
                                : 0;
    store_code(dst, f.bytes(), i, numerics::encode(y, f, opt.rounding, o, r));
  }
  return from_magnitude_bits<Src>(amax);
}

}  // namespace

float load_f32(const void* p, DType t, std::size_t i) {
  const numerics::FormatSpec& f = numerics::spec(t);
  const std::uint64_t code = load_code(p, f.bytes(), i);
  switch (t) {
    case DType::fp32: return std::bit_cast<float>(static_cast<std::uint32_t>(code));
    case DType::fp64: return static_cast<float>(std::bit_cast<double>(code));
    // The NaN conventions of numerics::decode: bf16 and fp16 widen bit-exactly (fp16 NaNs
    // quieted, payload kept, like F16C); e5m2 is the top byte of an fp16; e4m3's NaN becomes the
    // canonical quiet NaN with its sign.
    case DType::bf16: return numerics::detail::bf16_to_f32(static_cast<std::uint16_t>(code));
    case DType::fp16: return numerics::detail::fp16_to_f32(static_cast<std::uint16_t>(code));
    case DType::e5m2: return numerics::detail::fp16_to_f32(static_cast<std::uint16_t>(code << 8));
    default:
      if (numerics::is_nan_code(code, f))
        return std::bit_cast<float>(0x7FC00000U | ((code & f.sign_mask()) != 0 ? 0x80000000U : 0U));
      return numerics::decode_f32(code, f);
  }
}

double load_f64(const void* p, DType t, std::size_t i) {
  if (t == DType::fp64) return std::bit_cast<double>(load_code(p, 8, i));
  return load_f32(p, t, i);  // every other format is exact in fp32
}

void store_f32(void* p, DType t, std::size_t i, float v) {
  if (t == DType::fp32) {
    std::memcpy(static_cast<unsigned char*>(p) + 4 * i, &v, 4);
    return;
  }
  const numerics::FormatSpec& f = numerics::spec(t);
  store_code(p, f.bytes(), i, numerics::encode(v, f, numerics::Rounding::nearest, f.default_overflow));
}

void store_f64(void* p, DType t, std::size_t i, double v) {
  if (t == DType::fp64) {
    std::memcpy(static_cast<unsigned char*>(p) + 8 * i, &v, 8);
    return;
  }
  const numerics::FormatSpec& f = numerics::spec(t);
  store_code(p, f.bytes(), i, numerics::encode(v, f, numerics::Rounding::nearest, f.default_overflow));
}

float encode_f32(void* dst, DType to, const float* src, std::size_t n, const numerics::ConvertOptions& opt) {
  return encode_impl(dst, to, src, n, opt);
}
double encode_f64(void* dst, DType to, const double* src, std::size_t n, const numerics::ConvertOptions& opt) {
  return encode_impl(dst, to, src, n, opt);
}

void decode_f32(float* dst, const void* src, DType from, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) dst[i] = load_f32(src, from, i);
}
void decode_f64(double* dst, const void* src, DType from, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) dst[i] = load_f64(src, from, i);
}

// Any format to any: fp32 and fp64 sources encode directly, others decode exactly to fp32 first
// (numerics::convert's definition); the amax is that of the decoded source.
double convert(void* dst, DType to, const void* src, DType from, std::size_t n, const numerics::ConvertOptions& opt) {
  if (from == DType::fp64) return encode_impl(dst, to, static_cast<const double*>(src), n, opt);
  if (from == DType::fp32) return encode_impl(dst, to, static_cast<const float*>(src), n, opt);
  std::vector<float> x(n);
  decode_f32(x.data(), src, from, n);
  return encode_impl(dst, to, x.data(), n, opt);
}

// max |decode(code)|. 8- and 16-bit formats: the largest magnitude code (sign-magnitude codes
// order like their values, NaN codes above inf), decoded once; wider ones: the largest fp32
// magnitude bits (fp64 rounded to fp32 first). As numerics::abs_max.
float abs_max(const void* src, DType from, std::size_t n) {
  const numerics::FormatSpec& f = numerics::spec(from);
  if (f.bits() <= 16) {
    std::uint64_t m = 0;
    for (std::size_t i = 0; i < n; ++i) m = std::max(m, load_code(src, f.bytes(), i) & (f.sign_mask() - 1));
    return std::fabs(load_f32(&m, from, 0));
  }
  std::uint64_t m = 0;
  for (std::size_t i = 0; i < n; ++i) m = std::max(m, magnitude_bits(load_f32(src, from, i)));
  return from_magnitude_bits<float>(m);
}

}  // namespace mixtrain::backend::reference
