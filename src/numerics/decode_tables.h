// Internal: exact fp32 decode tables for the 8-bit formats and a bit-level fp16 decoder, shared
// by the portable and AVX2 kernels.
#pragma once

#include <bit>
#include <cstdint>

#include "numerics/format.h"

namespace mixtrain::numerics::detail {

// 256 fp32 values indexed by code; built on first use from the scalar decoder.
const float* decode_table8(DType t);

// Exact fp16 -> fp32 with integer operations only.
inline float fp16_to_f32(std::uint16_t h) {
  const std::uint32_t sign = static_cast<std::uint32_t>(h & 0x8000U) << 16;
  const std::uint32_t em = h & 0x7FFFU;
  std::uint32_t bits;
  if (em >= 0x7C00U) {
    // inf, or NaN with its payload, quieted as the F16C instruction does (bit-identical paths).
    bits = sign | 0x7F800000U | ((em & 0x3FFU) << 13);
    if (em > 0x7C00U) bits |= 0x00400000U;
  } else if (em >= 0x0400U) {
    bits = sign | ((em + ((127U - 15U) << 10)) << 13);  // normal: rebias the exponent
  } else {
    // Subnormal (or zero): em * 2^-24 is exact in fp32.
    bits = sign | std::bit_cast<std::uint32_t>(static_cast<float>(em) * 0x1p-24f);
  }
  return std::bit_cast<float>(bits);
}

inline float bf16_to_f32(std::uint16_t b) {
  return std::bit_cast<float>(static_cast<std::uint32_t>(b) << 16);
}

}  // namespace mixtrain::numerics::detail
