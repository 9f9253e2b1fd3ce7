// Portable kernels: the scalar definition from encode.h applied element by element. This is the
// fallback on CPUs without AVX2/F16C and the oracle the AVX2 kernels are tested against.
#include <array>
#include <cstring>
#include <mutex>

#include "numerics/convert_kernels.h"
#include "numerics/decode_tables.h"
#include "numerics/encode.h"
#include "numerics/rng.h"

namespace mixtrain::numerics::detail {

const float* decode_table8(DType t) {
  static std::array<std::array<float, 256>, std::size(kAllDTypes)> tables;
  static std::once_flag once;
  std::call_once(once, [] {
    for (DType d : kAllDTypes) {
      const auto& f = spec(d);
      if (f.bits() != 8) continue;
      for (int c = 0; c < 256; ++c) {
        // e5m2 NaNs decode through fp16 (quieted, payload kept) like the F16C path; other
        // NaNs become the canonical quiet NaN with their sign, like the AVX2 e4m3 path.
        const auto code = static_cast<std::uint64_t>(c);
        float v = d == DType::e5m2 ? fp16_to_f32(static_cast<std::uint16_t>(c << 8))
                                   : decode_f32(code, f);
        if (d != DType::e5m2 && is_nan_code(code, f))
          v = std::bit_cast<float>(0x7FC00000U | (c & 0x80 ? 0x80000000U : 0U));
        tables[static_cast<int>(d)][c] = v;
      }
    }
  });
  return tables[static_cast<int>(t)].data();
}

std::uint32_t encode_f32_scalar(void* dst, const float* src, std::size_t n, const EncodeArgs& a) {
  const FormatSpec& f = *a.format;
  const std::uint32_t key = stochastic_key(a.seed, a.index0);
  const auto index_lo = static_cast<std::uint32_t>(a.index0);
  std::uint32_t amax = 0;
  auto* out8 = static_cast<std::uint8_t*>(dst);
  auto* out16 = static_cast<std::uint16_t*>(dst);
  for (std::size_t i = 0; i < n; ++i) {
    const float x = src[i];
    const std::uint32_t mag = std::bit_cast<std::uint32_t>(x) & 0x7FFFFFFFU;
    amax = mag > amax ? mag : amax;
    const float y = a.scaled ? x * a.scale : x;
    const std::uint32_t r = a.rounding == Rounding::stochastic
                                ? stochastic_bits_keyed(key, index_lo + static_cast<std::uint32_t>(i))
                                : 0;
    const std::uint64_t code = encode(y, f, a.rounding, a.overflow, r);
    if (f.bits() == 8)
      out8[i] = static_cast<std::uint8_t>(code);
    else
      out16[i] = static_cast<std::uint16_t>(code);
  }
  return amax;
}

void decode_f32_scalar(float* dst, const void* src, std::size_t n, const FormatSpec& f) {
  if (f.bits() == 8) {
    const float* table = decode_table8(f.dtype);
    const auto* in = static_cast<const std::uint8_t*>(src);
    for (std::size_t i = 0; i < n; ++i) dst[i] = table[in[i]];
    return;
  }
  const auto* in = static_cast<const std::uint16_t*>(src);
  if (f.dtype == DType::bf16) {
    for (std::size_t i = 0; i < n; ++i) dst[i] = bf16_to_f32(in[i]);
  } else if (f.dtype == DType::fp16) {
    for (std::size_t i = 0; i < n; ++i) dst[i] = fp16_to_f32(in[i]);
  } else {
    for (std::size_t i = 0; i < n; ++i) dst[i] = decode_f32(in[i], f);
  }
}

const ConvertKernels& generic_kernels() {
  static const ConvertKernels k{"generic", &encode_f32_scalar, &decode_f32_scalar};
  return k;
}

}  // namespace mixtrain::numerics::detail
