// The arithmetic of one x86 vdpbf16ps lane, in portable C++ (measured semantics:
// shared/design/x86-bf16-semantics.md): acc = (acc + a_hi * b_hi) + a_lo * b_lo, where each
// 32-bit word holds a K-pair of bf16 codes (element 2p in the low half, 2p + 1 in the high half).
//  - bf16 subnormal inputs and a subnormal accumulator are read as zero (DAZ);
//  - each product is exact (8-bit x 8-bit significands) unless it overflows (to inf) or is
//    below 2^-126, where it is flushed to a zero of its sign (FTZ; an exact 16-bit product is
//    tiny before rounding exactly when it is tiny after, so there is no ambiguity);
//  - each add is rounded to nearest even; a subnormal sum (always exact) is flushed to zero.
// The bf16dot GEMM contract (gemm.h) is this step repeated over K-pairs.
#pragma once

#include <bit>
#include <cmath>
#include <cstdint>

namespace mixtrain::backend::cpu {

namespace bf16dot_detail {
inline float flush(float x) {
  return std::fpclassify(x) == FP_SUBNORMAL ? std::copysign(0.0f, x) : x;
}
inline float widen(std::uint16_t code) {
  return flush(std::bit_cast<float>(static_cast<std::uint32_t>(code) << 16));
}
inline float product(std::uint16_t a, std::uint16_t b) {
  // In fp64 the product of two bf16 values is exact (and never subnormal), so the flush
  // threshold is tested on the exact value.
  const double p = double(widen(a)) * double(widen(b));
  if (std::fabs(p) < 0x1p-126) return std::copysign(0.0f, static_cast<float>(p));
  return static_cast<float>(p);  // exact, or +-inf past FLT_MAX
}
}  // namespace bf16dot_detail

inline float bf16_dot_step(float acc, std::uint32_t a_pair, std::uint32_t b_pair) {
  using namespace bf16dot_detail;
  const auto lo = [](std::uint32_t w) { return static_cast<std::uint16_t>(w & 0xFFFFu); };
  const auto hi = [](std::uint32_t w) { return static_cast<std::uint16_t>(w >> 16); };
  acc = flush(flush(acc) + product(hi(a_pair), hi(b_pair)));
  return flush(acc + product(lo(a_pair), lo(b_pair)));
}

}  // namespace mixtrain::backend::cpu
