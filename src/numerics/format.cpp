// The format table and name parsing.
#include "numerics/format.h"

#include <cmath>

namespace mixtrain::numerics {
namespace {

constexpr FormatSpec kSpecs[] = {
    {DType::fp64, "fp64", "F64", 11, 52, 1023, Specials::ieee, Overflow::inf},
    {DType::fp32, "fp32", "F32", 8, 23, 127, Specials::ieee, Overflow::inf},
    {DType::fp16, "fp16", "F16", 5, 10, 15, Specials::ieee, Overflow::inf},
    {DType::bf16, "bf16", "BF16", 8, 7, 127, Specials::ieee, Overflow::inf},
    {DType::e4m3, "e4m3", "F8_E4M3", 4, 3, 7, Specials::finite_nan, Overflow::saturate},
    {DType::e5m2, "e5m2", "F8_E5M2", 5, 2, 15, Specials::ieee, Overflow::saturate},
};

static_assert(kSpecs[4].max_code() == 0x7E);  // 448 = 1.75 * 2^8
static_assert(kSpecs[5].max_code() == 0x7B);  // 57344 = 1.75 * 2^15
static_assert(kSpecs[2].max_code() == 0x7BFF);
static_assert(kSpecs[4].nan_code() == 0x7F && kSpecs[5].nan_code() == 0x7E);

struct Alias {
  std::string_view name;
  DType dtype;
};
constexpr Alias kAliases[] = {
    {"fp64", DType::fp64},    {"float64", DType::fp64},        {"double", DType::fp64},
    {"fp32", DType::fp32},    {"float32", DType::fp32},        {"float", DType::fp32},
    {"fp16", DType::fp16},    {"float16", DType::fp16},        {"half", DType::fp16},
    {"bf16", DType::bf16},    {"bfloat16", DType::bf16},       {"e4m3", DType::e4m3},
    {"fp8_e4m3", DType::e4m3}, {"float8_e4m3fn", DType::e4m3}, {"e5m2", DType::e5m2},
    {"fp8_e5m2", DType::e5m2}, {"float8_e5m2", DType::e5m2},
};

}  // namespace

const FormatSpec& spec(DType t) { return kSpecs[static_cast<int>(t)]; }

double max_value(const FormatSpec& f) {
  const auto code = f.max_code();
  const int e = static_cast<int>(code >> f.mantissa_bits) - f.bias;
  const double m = 1.0 + std::ldexp(static_cast<double>(code & f.mantissa_mask()), -f.mantissa_bits);
  return std::ldexp(m, e);
}
double min_normal(const FormatSpec& f) { return std::ldexp(1.0, f.min_exponent()); }
double min_subnormal(const FormatSpec& f) {
  return std::ldexp(1.0, f.min_exponent() - f.mantissa_bits);
}
double epsilon(const FormatSpec& f) { return std::ldexp(1.0, -f.mantissa_bits); }

std::optional<DType> parse_dtype(std::string_view name) {
  for (const auto& a : kAliases)
    if (a.name == name) return a.dtype;
  return std::nullopt;
}

std::optional<DType> dtype_from_safetensors(std::string_view s) {
  for (const auto& f : kSpecs)
    if (f.safetensors == s) return f.dtype;
  return std::nullopt;
}

std::optional<Rounding> parse_rounding(std::string_view s) {
  if (s == "nearest") return Rounding::nearest;
  if (s == "toward-zero") return Rounding::toward_zero;
  if (s == "stochastic") return Rounding::stochastic;
  return std::nullopt;
}

std::optional<Overflow> parse_overflow(std::string_view s) {
  if (s == "saturate") return Overflow::saturate;
  if (s == "inf") return Overflow::inf;
  return std::nullopt;
}

std::string_view to_string(Rounding r) {
  switch (r) {
    case Rounding::nearest: return "nearest";
    case Rounding::toward_zero: return "toward-zero";
    case Rounding::stochastic: return "stochastic";
  }
  return "?";
}

std::string_view to_string(Overflow o) { return o == Overflow::saturate ? "saturate" : "inf"; }

std::string dtype_names() {
  std::string s;
  for (const auto& f : kSpecs) {
    if (!s.empty()) s += ' ';
    s += f.name;
  }
  return s;
}

}  // namespace mixtrain::numerics
