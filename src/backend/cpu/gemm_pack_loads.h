// Internal to the packed GEMM's ISA translation units (gemm_tile_avx2.cpp, gemm_tile_avx512.cpp):
// the packing helpers both share (aligned panel scratch, element addressing, decode into a row
// buffer), loads that widen a stored format into fp32 lanes while packing (F32 also moves 32-bit
// K-pairs of bf16 codes untouched), and the 8 x 8 transpose.
//
// Everything here has internal linkage (an unnamed namespace), so each ISA translation unit gets
// its own copy compiled with its own flags: an inline function with external linkage would be
// merged across them by the linker, and the AVX-512 build of it could then run on an AVX2 CPU.
#pragma once

#include <immintrin.h>

#include <cstdint>
#include <cstring>

#include "backend/cpu/gemm.h"
#include "backend/cpu/workspace.h"
#include "numerics/convert.h"

namespace mixtrain::backend::cpu::detail {
namespace {  // NOLINT(google-build-namespaces): one copy per ISA translation unit, see above

using i64 = std::int64_t;

inline i64 round_up(i64 a, i64 b) { return (a + b - 1) / b * b; }

// A 64-byte aligned view of a scratch slot: packed panels are read with full-width loads, which
// must not straddle cache lines.
inline float* aligned_scratch(Scratch slot, i64 n) {
  // 16 floats for the alignment, 16 of slack for stores that run past a panel's end.
  auto* p = thread_scratch<float>(slot, static_cast<std::size_t>(n + 32));
  const auto addr = reinterpret_cast<std::uintptr_t>(p);
  return reinterpret_cast<float*>((addr + 63) & ~std::uintptr_t{63});
}

inline const unsigned char* element(const GemmOperand& X, i64 row, i64 col) {
  return static_cast<const unsigned char*>(X.data) +
         static_cast<std::size_t>(row * X.ld + col) * size_of(X.dtype);
}

// n codes of `t` (fp8 or fp64: the formats the pack loads do not widen) decoded into buf, as the
// bytes the F32 loader reads.
inline const unsigned char* decode_into(float* buf, const unsigned char* src, DType t, i64 n) {
  numerics::decode(buf, src, t, static_cast<std::size_t>(n));
  return reinterpret_cast<const unsigned char*>(buf);
}

// Transposes the 8 x 8 block r[0..8) in place (r[i] lane j <-> r[j] lane i).
inline void transpose8(__m256 r[8]) {
  const __m256 t0 = _mm256_unpacklo_ps(r[0], r[1]), t1 = _mm256_unpackhi_ps(r[0], r[1]);
  const __m256 t2 = _mm256_unpacklo_ps(r[2], r[3]), t3 = _mm256_unpackhi_ps(r[2], r[3]);
  const __m256 t4 = _mm256_unpacklo_ps(r[4], r[5]), t5 = _mm256_unpackhi_ps(r[4], r[5]);
  const __m256 t6 = _mm256_unpacklo_ps(r[6], r[7]), t7 = _mm256_unpackhi_ps(r[6], r[7]);
  const __m256 u0 = _mm256_shuffle_ps(t0, t2, 0x44), u1 = _mm256_shuffle_ps(t0, t2, 0xEE);
  const __m256 u2 = _mm256_shuffle_ps(t1, t3, 0x44), u3 = _mm256_shuffle_ps(t1, t3, 0xEE);
  const __m256 u4 = _mm256_shuffle_ps(t4, t6, 0x44), u5 = _mm256_shuffle_ps(t4, t6, 0xEE);
  const __m256 u6 = _mm256_shuffle_ps(t5, t7, 0x44), u7 = _mm256_shuffle_ps(t5, t7, 0xEE);
  r[0] = _mm256_permute2f128_ps(u0, u4, 0x20);
  r[1] = _mm256_permute2f128_ps(u1, u5, 0x20);
  r[2] = _mm256_permute2f128_ps(u2, u6, 0x20);
  r[3] = _mm256_permute2f128_ps(u3, u7, 0x20);
  r[4] = _mm256_permute2f128_ps(u0, u4, 0x31);
  r[5] = _mm256_permute2f128_ps(u1, u5, 0x31);
  r[6] = _mm256_permute2f128_ps(u2, u6, 0x31);
  r[7] = _mm256_permute2f128_ps(u3, u7, 0x31);
}

// Loads of fp32 lanes straight from a stored format, so that packing decodes on the way
// instead of in a separate pass: fp32 as is, bf16 by a 16-bit shift, fp16 through F16C. The
// other formats (fp8, fp64) are decoded by decode_into into a row buffer and packed from there
// with F32.
struct F32 {
  static constexpr std::size_t size = 4;
  static __m256 load8(const unsigned char* p) { return _mm256_loadu_ps(reinterpret_cast<const float*>(p)); }
  static float load1(const unsigned char* p) {
    float f;
    std::memcpy(&f, p, 4);
    return f;
  }
};
struct BF16 {
  static constexpr std::size_t size = 2;
  static __m256 load8(const unsigned char* p) {
    const __m128i h = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
  }
  static float load1(const unsigned char* p) {
    std::uint16_t h;
    std::memcpy(&h, p, 2);
    const std::uint32_t bits = std::uint32_t{h} << 16;
    float f;
    std::memcpy(&f, &bits, 4);
    return f;
  }
};
struct FP16 {
  static constexpr std::size_t size = 2;
  static __m256 load8(const unsigned char* p) {
    return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
  }
  static float load1(const unsigned char* p) {
    std::uint16_t h[8] = {};
    std::memcpy(h, p, 2);
    return _mm_cvtss_f32(_mm_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(h))));
  }
};

}  // namespace
}  // namespace mixtrain::backend::cpu::detail
