// Floating-point formats as data.
//
// Every format mixtrain knows (fp64, fp32, fp16, bf16, fp8 E4M3FN, fp8 E5M2) is one
// `FormatSpec`: exponent bits, mantissa bits, bias and a special-value policy. The generic
// encoder and decoder (encode.h) are driven by this description alone, so new element
// formats (the MX family E3M2, E2M3, E2M1) are a new table row, not new code.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>

namespace mixtrain {

// The storage formats. The enum is the dtype of tensors too (tensor/ re-exports it) so that
// a format's identity is owned in one place.
enum class DType : std::uint8_t { fp64, fp32, fp16, bf16, e4m3, e5m2 };

inline constexpr DType kAllDTypes[] = {DType::fp64, DType::fp32, DType::fp16,
                                       DType::bf16, DType::e4m3, DType::e5m2};

namespace numerics {

// How the all-ones exponent field is used.
enum class Specials : std::uint8_t {
  ieee,         // all-ones exponent: mantissa 0 = inf, otherwise NaN (fp16, bf16, e5m2, ...)
  finite_nan,   // "FN": no inf; only S.1111.111 is NaN, other all-ones codes are normal (e4m3)
  finite_only,  // no inf and no NaN at all (MX element formats E3M2, E2M3, E2M1)
};

// What happens to finite values beyond the largest finite value (and to ±inf inputs).
enum class Overflow : std::uint8_t {
  saturate,  // clamp to ±max (the FP8 training convention; ±inf inputs clamp too)
  inf,       // IEEE: ±inf where the format has it, NaN for finite_nan formats
};

enum class Rounding : std::uint8_t {
  nearest,      // round to nearest, ties to even
  toward_zero,  // truncate; like IEEE, a finite input never becomes inf under this mode
  stochastic,   // round up with probability equal to the discarded fraction (see rng.h)
};

struct FormatSpec {
  DType dtype;
  std::string_view name;            // canonical CLI name: "fp16", "e4m3", ...
  std::string_view safetensors;     // safetensors dtype string: "F16", "F8_E4M3", ...
  int exponent_bits;
  int mantissa_bits;
  int bias;
  Specials specials;
  Overflow default_overflow;

  constexpr int bits() const { return 1 + exponent_bits + mantissa_bits; }
  // Storage bytes per element. Every format today is 8, 16, 32 or 64 bits; sub-byte MX element
  // formats will need a packed-storage path (and must not use this).
  constexpr int bytes() const { return bits() / 8; }
  constexpr int min_exponent() const { return 1 - bias; }  // exponent of the smallest normal
  constexpr std::uint64_t sign_mask() const { return std::uint64_t{1} << (bits() - 1); }
  constexpr std::uint64_t mantissa_mask() const {
    return (std::uint64_t{1} << mantissa_bits) - 1;
  }
  constexpr std::uint64_t exponent_field_max() const {
    return (std::uint64_t{1} << exponent_bits) - 1;
  }
  // Largest finite magnitude as a code (sign bit clear). Codes are ordered like values for
  // non-negative numbers, which the encoder's overflow test relies on.
  constexpr std::uint64_t max_code() const {
    switch (specials) {
      case Specials::ieee:
        return ((exponent_field_max() - 1) << mantissa_bits) | mantissa_mask();
      case Specials::finite_nan:
        return (exponent_field_max() << mantissa_bits) | (mantissa_mask() - 1);
      case Specials::finite_only:
        return (exponent_field_max() << mantissa_bits) | mantissa_mask();
    }
    return 0;
  }
  constexpr bool has_inf() const { return specials == Specials::ieee; }
  constexpr bool has_nan() const { return specials != Specials::finite_only; }
  // Positive infinity code (only meaningful when has_inf()).
  constexpr std::uint64_t inf_code() const { return exponent_field_max() << mantissa_bits; }
  // The canonical quiet NaN with the sign bit clear: all-ones exponent and the top mantissa bit
  // for IEEE formats (0x7E00 for fp16, 0x7FC0 for bf16, 0x7E for e5m2), S.1111.111 for e4m3.
  constexpr std::uint64_t nan_code() const {
    if (specials == Specials::finite_nan)
      return (exponent_field_max() << mantissa_bits) | mantissa_mask();
    return (exponent_field_max() << mantissa_bits) | (std::uint64_t{1} << (mantissa_bits - 1));
  }
};

// The table. Indexed by DType.
const FormatSpec& spec(DType t);

// Largest finite value, smallest positive normal, smallest positive subnormal, machine epsilon
// (2^-mantissa_bits), all exact.
double max_value(const FormatSpec& f);
double min_normal(const FormatSpec& f);
double min_subnormal(const FormatSpec& f);
double epsilon(const FormatSpec& f);

// Parses a CLI dtype name or alias: fp64 fp32 fp16 bf16 e4m3 e5m2, float64 float32 float16 half
// bfloat16 float8_e4m3fn float8_e5m2 (also double, float, fp8_e4m3, fp8_e5m2). Case-sensitive,
// like PyTorch's names.
std::optional<DType> parse_dtype(std::string_view name);
std::optional<DType> dtype_from_safetensors(std::string_view s);
std::optional<Rounding> parse_rounding(std::string_view s);
std::optional<Overflow> parse_overflow(std::string_view s);
std::string_view to_string(Rounding r);
std::string_view to_string(Overflow o);
// "fp64 fp32 fp16 bf16 e4m3 e5m2", for error messages and --help.
std::string dtype_names();

}  // namespace numerics

inline std::string_view name(DType t) { return numerics::spec(t).name; }
inline std::size_t size_of(DType t) { return static_cast<std::size_t>(numerics::spec(t).bytes()); }

// The dtype of a kernel's compute type: fp64 for double, fp32 for float.
template <typename T>
constexpr DType dtype_of() {
  static_assert(std::is_same_v<T, float> || std::is_same_v<T, double>, "dtype_of: float or double");
  return std::is_same_v<T, double> ? DType::fp64 : DType::fp32;
}

}  // namespace mixtrain
