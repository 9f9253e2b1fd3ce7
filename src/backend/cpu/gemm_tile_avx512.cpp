// The AVX-512 packed GEMM tiles (gemm_tile.h): the fp32 FMA kernel of the avx512 tier and the
// bf16 dot-product kernel of the avx512_bf16 tier. Built for AVX-512 F/BW/DQ/VL by a target
// pragma (below the includes); only the bf16 micro-kernel also carries avx512bf16, so the fp32
// tier never executes a BF16 instruction. gemm.cpp calls these only after runtime::isa_tier() has checked the CPU.
//
// Both kernels share one BLIS-style driver (K-blocks of packed_k_block; op(B) packed into NR-column
// micro-panels per K-block, op(A) into MR-row micro-panels MC rows at a time; a 6 x 64
// micro-kernel holding 24 zmm accumulators over a whole K-block: per k (or K-pair) 4 loads of B
// and 6 broadcasts of A feed 24 FMAs (dot products), fewer broadcast uops per FMA than 12 x 32,
// which measured 10-25% slower on Zen 5).
//  - fp32 kernel: panels of fp32, widened from fp32/bf16/fp16 inside the loads (fp8 and fp64
//    through a row buffer); per k one fp32 FMA per element, in k order. The same K-block and the
//    same epilogue as the AVX2 kernel, so the two tiers give the same bits.
//  - bf16 kernel: panels of 32-bit words, each a K-pair of bf16 codes (element 2p in the low
//    half, 2p + 1 in the high half); fp8 codes are widened to bf16 exactly while packing. Per K-pair one vdpbf16ps: acc = (acc + a[2p+1] b[2p+1]) + a[2p] b[2p], each product
//    exact, each add rounded to nearest even, bf16 subnormal inputs read as zero and fp32
//    subnormal results flushed to zero (docs: x86-bf16-semantics). bf16_dot.h emulates it.
#include <immintrin.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>
#include <type_traits>
#include <utility>

#include "backend/cpu/gemm.h"
#include "backend/cpu/gemm_tile.h"
#include "backend/cpu/workspace.h"
#include "numerics/convert.h"

// AVX-512 code is enabled by this pragma for the definitions below it, not by command-line
// flags: the headers above stay at the baseline ISA, so the inline functions and templates they
// define (std:: and our own) are never emitted with AVX-512 instructions into a COMDAT copy that
// the linker could pick for the whole program and run on a CPU without AVX-512.
#pragma GCC push_options
#pragma GCC target("avx2,fma,f16c,avx512f,avx512bw,avx512dq,avx512vl")

// Internal-linkage helpers, compiled for this unit's ISA.
#include "backend/cpu/gemm_pack_loads.h"

namespace mixtrain::backend::cpu::detail {
namespace {

constexpr i64 MR = 6, NR = 64, NV = NR / 16, MC = 96;
static_assert(MC % MR == 0 && NR % 16 == 0);

__mmask16 first_lanes(i64 n) { return n >= 16 ? __mmask16(0xFFFF) : __mmask16((1u << n) - 1); }
__mmask8 first_lanes8(i64 n) { return n >= 8 ? __mmask8(0xFF) : __mmask8((1u << n) - 1); }

// Interleaves `rows` runs of kc 32-bit lanes (L's loads) into a micro-panel of width W
// (d[k * W + r]); lanes r >= rows are zero. Eight k at a time through 8 x 8 transposes, with
// masked stores for a last group narrower than eight (W = 6), so no store crosses into
// another k's lanes.
template <i64 W, typename L>
void interleave_runs(float* d, const unsigned char* const* runs, i64 rows, i64 kc) {
  i64 k = 0;
  for (; k + 8 <= kc; k += 8) {
    for (i64 g = 0; g < W; g += 8) {
      __m256 r[8];
      for (i64 i = 0; i < 8; ++i)
        r[i] = g + i < rows ? L::load8(runs[g + i] + static_cast<std::size_t>(k) * L::size)
                            : _mm256_setzero_ps();
      transpose8(r);
      const __mmask8 m = first_lanes8(W - g);
      for (i64 t = 0; t < 8; ++t) _mm256_mask_storeu_ps(d + (k + t) * W + g, m, r[t]);
    }
  }
  for (; k < kc; ++k) {
    float* dk = d + k * W;
    for (i64 r = 0; r < rows; ++r) dk[r] = L::load1(runs[r] + static_cast<std::size_t>(k) * L::size);
    for (i64 r = rows; r < W; ++r) dk[r] = 0.0f;
  }
}

// Copies one k's (or K-pair's) row of `count` 32-bit lanes into entry `k` of each W-wide
// micro-panel of depth `depth` (d[(p * depth + k) * W + r]); a last panel's missing lanes are
// zero.
template <i64 W>
void scatter_row(float* d, const void* row, i64 count, i64 depth, i64 k) {
  const auto* src = static_cast<const unsigned char*>(row);
  for (i64 p = 0; p * W < count; ++p) {
    float* dk = d + (p * depth + k) * W;
    const i64 lanes = std::min(W, count - p * W);
    if (lanes == W) {
      std::memcpy(dk, src + p * W * 4, W * 4);
      continue;
    }
    std::memcpy(dk, src + p * W * 4, static_cast<std::size_t>(lanes) * 4);
    std::memset(dk + lanes, 0, static_cast<std::size_t>(W - lanes) * 4);
  }
}

struct Epilogue {
  __m512 alpha, beta;
  bool first, read_c;  // first K-block: C = alpha acc + beta C (C read only when beta != 0)
};

// The AVX2 kernel's update_row at 16 lanes: the same operations in the same order.
inline void update_vec(float* c, __m512 x, const Epilogue& e) {
  x = _mm512_mul_ps(e.alpha, x);
  if (!e.first)
    x = _mm512_add_ps(x, _mm512_loadu_ps(c));
  else if (e.read_c)
    x = _mm512_add_ps(x, _mm512_mul_ps(e.beta, _mm512_loadu_ps(c)));
  _mm512_storeu_ps(c, x);
}

inline void store_tile(float* c, i64 ldc, __m512 (&acc)[MR][NV], const Epilogue& e) {
#pragma GCC unroll 16
  for (i64 r = 0; r < MR; ++r)
#pragma GCC unroll 4
    for (i64 v = 0; v < NV; ++v) update_vec(c + r * ldc + 16 * v, acc[r][v], e);
}

// ---------------------------------------------------------------------------------------------
// fp32 kernel

// 16 fp32 lanes from a stored format, the first n of them (the rest zero); no byte past them is
// read.
struct F32x16 {
  static __m512 load(const unsigned char* p, i64 n) {
    return _mm512_maskz_loadu_ps(first_lanes(n), p);
  }
};
struct BF16x16 {
  static __m512 load(const unsigned char* p, i64 n) {
    const __m256i h = _mm256_maskz_loadu_epi16(first_lanes(n), p);
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
  }
};
struct FP16x16 {
  static __m512 load(const unsigned char* p, i64 n) {
    return _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(first_lanes(n), p));
  }
};
template <typename L> struct Wide;
template <> struct Wide<F32> { using T = F32x16; };
template <> struct Wide<BF16> { using T = BF16x16; };
template <> struct Wide<FP16> { using T = FP16x16; };


// Runs contiguous along k (A not transposed, B transposed) -> W-wide micro-panel.
template <i64 W, typename L>
void f32_pack_runs(float* d, const GemmOperand& X, i64 first, i64 count, i64 k0, i64 kc, float* tmp) {
  const unsigned char* runs[W];
  for (i64 r = 0; r < count; ++r) {
    runs[r] = element(X, first + r, k0);
    if (std::is_same_v<L, F32> && X.dtype != DType::fp32)
      runs[r] = decode_into(tmp + r * kc, runs[r], X.dtype, kc);
  }
  interleave_runs<W, L>(d, runs, count, kc);
}

// Stored rows contiguous along the panel width (A transposed, B not transposed): row k of the
// store gives lanes [first, first + count) of k's entry in each W-wide micro-panel. The row is
// first made fp32 with full-width loads (in place for fp32), then copied W lanes at a time (masked
// loads at 6-lane strides measured 2x slower on the bf16 path).
template <i64 W, typename L>
void f32_pack_rows(float* d, const GemmOperand& X, i64 first, i64 count, i64 k0, i64 kc, float* tmp) {
  using V = typename Wide<L>::T;
  const bool decoded = std::is_same_v<L, F32> && X.dtype != DType::fp32;
  for (i64 k = 0; k < kc; ++k) {
    const unsigned char* v = element(X, k0 + k, first);
    const float* row;
    if (decoded) {
      row = reinterpret_cast<const float*>(decode_into(tmp, v, X.dtype, count));
    } else if (std::is_same_v<L, F32>) {
      row = reinterpret_cast<const float*>(v);
    } else {
      for (i64 i = 0; i < count; i += 16)
        _mm512_mask_storeu_ps(tmp + i, first_lanes(count - i),
                              V::load(v + static_cast<std::size_t>(i) * L::size, count - i));
      row = tmp;
    }
    scatter_row<W>(d, row, count, kc, k);
  }
}

template <typename L>
struct F32Pack {
  static void a(float* pa, const GemmOperand& A, i64 i0, i64 mc, i64 k0, i64 kc, float* tmp) {
    if (A.transposed) {
      f32_pack_rows<MR, L>(pa, A, i0, mc, k0, kc, tmp);
      return;
    }
    for (i64 p = 0; p * MR < mc; ++p)
      f32_pack_runs<MR, L>(pa + p * kc * MR, A, i0 + p * MR, std::min(MR, mc - p * MR), k0, kc, tmp);
  }
  static void b(float* pb, const GemmOperand& B, i64 j0, i64 n, i64 k0, i64 kc, float* tmp) {
    if (!B.transposed) {
      f32_pack_rows<NR, L>(pb, B, j0, n, k0, kc, tmp);
      return;
    }
    for (i64 q = 0; q * NR < n; ++q)
      f32_pack_runs<NR, L>(pb + q * kc * NR, B, j0 + q * NR, std::min(NR, n - q * NR), k0, kc, tmp);
  }
};

struct F32Kernel {
  static constexpr i64 max_k_block = kPackedKBlock;
  static i64 depth(i64 kc) { return kc; }
  static void pack_a(float* pa, const GemmOperand& A, i64 i0, i64 mc, i64 k0, i64 kc, float* tmp) {
    switch (A.dtype) {
      case DType::bf16: F32Pack<BF16>::a(pa, A, i0, mc, k0, kc, tmp); return;
      case DType::fp16: F32Pack<FP16>::a(pa, A, i0, mc, k0, kc, tmp); return;
      default: F32Pack<F32>::a(pa, A, i0, mc, k0, kc, tmp); return;
    }
  }
  static void pack_b(float* pb, const GemmOperand& B, i64 j0, i64 n, i64 k0, i64 kc, float* tmp) {
    switch (B.dtype) {
      case DType::bf16: F32Pack<BF16>::b(pb, B, j0, n, k0, kc, tmp); return;
      case DType::fp16: F32Pack<FP16>::b(pb, B, j0, n, k0, kc, tmp); return;
      default: F32Pack<F32>::b(pb, B, j0, n, k0, kc, tmp); return;
    }
  }
  // c[0..12) x [0..32) updated with the K-block product of one A and one B micro-panel.
  static void micro(i64 kc, const float* __restrict a, const float* __restrict b, float* c,
                    i64 ldc, const Epilogue& e) {
    __m512 acc[MR][NV];
#pragma GCC unroll 16
    for (i64 r = 0; r < MR; ++r)
#pragma GCC unroll 4
      for (i64 v = 0; v < NV; ++v) acc[r][v] = _mm512_setzero_ps();
    for (i64 k = 0; k < kc; ++k) {
      __m512 bv[NV];
#pragma GCC unroll 4
      for (i64 v = 0; v < NV; ++v) bv[v] = _mm512_load_ps(b + 16 * v);
#pragma GCC unroll 16
      for (i64 r = 0; r < MR; ++r) {
        const __m512 x = _mm512_set1_ps(a[r]);
#pragma GCC unroll 4
        for (i64 v = 0; v < NV; ++v) acc[r][v] = _mm512_fmadd_ps(x, bv[v], acc[r][v]);
      }
      a += MR;
      b += NR;
    }
    store_tile(c, ldc, acc, e);
  }
};

// ---------------------------------------------------------------------------------------------
// bf16 dot-product kernel

// 16 fp8 codes as 16 bf16 codes, exactly (every fp8 value is a bf16 value).
//  - e5m2 is the high byte of an fp16 code: widen through vcvtph2ps (subnormals, inf and NaN
//    included), keep the fp32 code's high half.
//  - e4m3: the 7 magnitude bits placed at fp32's exponent/mantissa boundary read as
//    2^(e - 127) * 1.mmm (or a subnormal m * 2^-149 * 2^3 when e = 0); one multiply by 2^120,
//    exact since the product is a normal fp32, rebiases both to 2^(e - 7) * 1.mmm and
//    m * 2^-9. The one NaN magnitude (0x7f) and the sign are set by bit operations.
inline __m256i fp8_to_bf16x16(__m128i codes, DType t) {
  const __m512i c = _mm512_cvtepu8_epi32(codes);
  __m512i bits;
  if (t == DType::e5m2) {
    const __m256i h = _mm512_cvtepi32_epi16(_mm512_slli_epi32(c, 8));
    bits = _mm512_castps_si512(_mm512_cvtph_ps(h));
  } else {
    const __m512i mag = _mm512_and_si512(c, _mm512_set1_epi32(0x7F));
    bits = _mm512_castps_si512(_mm512_mul_ps(_mm512_castsi512_ps(_mm512_slli_epi32(mag, 20)),
                                             _mm512_set1_ps(0x1p120f)));
    bits = _mm512_mask_mov_epi32(bits, _mm512_cmpeq_epi32_mask(mag, _mm512_set1_epi32(0x7F)),
                                 _mm512_set1_epi32(0x7FC00000));
    bits = _mm512_or_si512(bits, _mm512_slli_epi32(_mm512_and_si512(c, _mm512_set1_epi32(0x80)), 24));
  }
  return _mm512_cvtepi32_epi16(_mm512_srli_epi32(bits, 16));
}

// The 128 fp8 magnitudes (codes 0x00-0x7f) of one format as bf16 codes, four zmm of 32 words,
// built once from fp8_to_bf16x16 so that a lookup gives its bits by construction. A code with
// the sign bit is its magnitude's bf16 code with the sign bit (NaNs included), as there.
struct Fp8Bf16Table {
  __m512i words[4];
};

Fp8Bf16Table build_fp8_table(DType t) {
  Fp8Bf16Table table;
  for (int q = 0; q < 4; ++q) {
    alignas(64) std::uint16_t w[32];
    for (int h = 0; h < 2; ++h) {
      alignas(16) unsigned char codes[16];
      for (int i = 0; i < 16; ++i) codes[i] = static_cast<unsigned char>(32 * q + 16 * h + i);
      _mm256_store_si256(reinterpret_cast<__m256i*>(w + 16 * h),
                         fp8_to_bf16x16(_mm_load_si128(reinterpret_cast<const __m128i*>(codes)), t));
    }
    table.words[q] = _mm512_load_si512(w);
  }
  return table;
}

const Fp8Bf16Table& fp8_table(DType t) {
  static const Fp8Bf16Table e4m3 = build_fp8_table(DType::e4m3), e5m2 = build_fp8_table(DType::e5m2);
  return t == DType::e5m2 ? e5m2 : e4m3;
}

// 32 fp8 codes as 32 bf16 codes: two two-table word permutes cover the 128 magnitudes (index
// bits 0-5 pick a word of a table pair, bit 6 the pair), then the sign bit is moved to bit 15.
// About 3x fewer instructions per code than widening through fp32 lanes (the packing of fp8
// operands showed as ~5% of an fp8 GPT step).
inline __m512i fp8_to_bf16x32(__m256i codes, const Fp8Bf16Table& t) {
  const __m512i c = _mm512_cvtepu8_epi16(codes);
  const __m512i lo = _mm512_permutex2var_epi16(t.words[0], c, t.words[1]);
  const __m512i hi = _mm512_permutex2var_epi16(t.words[2], c, t.words[3]);
  const __m512i mag = _mm512_mask_blend_epi16(_mm512_test_epi16_mask(c, _mm512_set1_epi16(0x40)), lo, hi);
  return _mm512_or_si512(mag, _mm512_slli_epi16(_mm512_and_si512(c, _mm512_set1_epi16(0x80)), 8));
}

// n elements of X (bf16, e4m3 or e5m2) at src as bf16 codes: in place for bf16, else widened
// into buf.
const std::uint16_t* bf16_codes(std::uint16_t* buf, const unsigned char* src, DType t, i64 n) {
  if (t == DType::bf16) return reinterpret_cast<const std::uint16_t*>(src);
  const Fp8Bf16Table& table = fp8_table(t);
  i64 i = 0;
  for (; i + 32 <= n; i += 32)
    _mm512_storeu_si512(buf + i, fp8_to_bf16x32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(src + i)), table));
  if (i < n) {
    const __mmask32 m = n - i >= 32 ? ~__mmask32(0) : __mmask32((1u << (n - i)) - 1);
    _mm512_mask_storeu_epi16(buf + i, m, fp8_to_bf16x32(_mm256_maskz_loadu_epi8(m, src + i), table));
  }
  return buf;
}


// Runs contiguous along k -> W-wide micro-panel of K-pairs (kp = ceil(kc / 2) words per lane;
// an odd kc's last pair has a zero high half, and so does the A or B pair it meets).
template <i64 W>
void bf16_pack_runs(float* d, const GemmOperand& X, i64 first, i64 count, i64 k0, i64 kc,
                    std::uint16_t* tmp) {
  const unsigned char* runs[W];
  const i64 full = kc / 2;
  for (i64 r = 0; r < count; ++r)
    runs[r] = reinterpret_cast<const unsigned char*>(
        bf16_codes(tmp + r * kc, element(X, first + r, k0), X.dtype, kc));
  interleave_runs<W, F32>(d, runs, count, full);
  if (kc % 2 != 0) {
    auto* dk = reinterpret_cast<std::uint32_t*>(d + full * W);
    for (i64 r = 0; r < W; ++r) {
      std::uint16_t lo = 0;
      if (r < count) std::memcpy(&lo, runs[r] + static_cast<std::size_t>(kc - 1) * 2, 2);
      dk[r] = lo;
    }
  }
}

// Stored rows contiguous along the panel width: rows 2p and 2p + 1 interleave into pair p. Each
// pair's words are formed for the whole width with full-width loads into a row of words, then
// copied W at a time into the panels (masked loads at 6-word strides measured 2x slower).
template <i64 W>
void bf16_pack_rows(float* d, const GemmOperand& X, i64 first, i64 count, i64 k0, i64 kc,
                    std::uint16_t* tmp) {
  const i64 kp = (kc + 1) / 2;
  auto* words = reinterpret_cast<std::uint32_t*>(tmp + 2 * count + (count & 1));
  for (i64 p = 0; p < kp; ++p) {
    const std::uint16_t* lo = bf16_codes(tmp, element(X, k0 + 2 * p, first), X.dtype, count);
    const std::uint16_t* hi = 2 * p + 1 < kc
                                  ? bf16_codes(tmp + count, element(X, k0 + 2 * p + 1, first), X.dtype, count)
                                  : nullptr;
    for (i64 i = 0; i < count; i += 16) {
      const __mmask16 m = first_lanes(count - i);
      const bool full = i + 16 <= count;
      const __m256i l = full ? _mm256_loadu_si256(reinterpret_cast<const __m256i*>(lo + i))
                             : _mm256_maskz_loadu_epi16(m, lo + i);
      __m512i v = _mm512_cvtepu16_epi32(l);
      if (hi != nullptr) {
        const __m256i h = full ? _mm256_loadu_si256(reinterpret_cast<const __m256i*>(hi + i))
                               : _mm256_maskz_loadu_epi16(m, hi + i);
        v = _mm512_or_si512(v, _mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
      }
      _mm512_mask_storeu_epi32(words + i, m, v);
    }
    scatter_row<W>(d, words, count, kp, p);
  }
}

// One K-pair step for 6 x 64 lanes. Only this function carries the BF16 target.
__attribute__((target("avx2,fma,f16c,avx512f,avx512bw,avx512dq,avx512vl,avx512bf16"))) void bf16_micro(i64 kp, const float* __restrict a,
                                                      const float* __restrict b, float* c, i64 ldc,
                                                      const Epilogue& e) {
  __m512 acc[MR][NV];
#pragma GCC unroll 16
  for (i64 r = 0; r < MR; ++r)
#pragma GCC unroll 4
    for (i64 v = 0; v < NV; ++v) acc[r][v] = _mm512_setzero_ps();
  for (i64 p = 0; p < kp; ++p) {
    __m512bh bv[NV];
#pragma GCC unroll 4
    for (i64 v = 0; v < NV; ++v) bv[v] = (__m512bh)_mm512_load_ps(b + 16 * v);
#pragma GCC unroll 16
    for (i64 r = 0; r < MR; ++r) {
      const __m512bh x = (__m512bh)_mm512_set1_ps(a[r]);
#pragma GCC unroll 4
      for (i64 v = 0; v < NV; ++v) acc[r][v] = _mm512_dpbf16_ps(acc[r][v], bv[v], x);
    }
    a += MR;
    b += NR;
  }
  store_tile(c, ldc, acc, e);
}

struct Bf16Kernel {
  // K-pairs halve the panel bytes per k, so blocks twice as deep fit the same cache: C is
  // read and written half as often (measured +8% at 1024^3 on two threads).
  static constexpr i64 max_k_block = kBf16DotKBlock;
  static i64 depth(i64 kc) { return (kc + 1) / 2; }
  static void pack_a(float* pa, const GemmOperand& A, i64 i0, i64 mc, i64 k0, i64 kc, float* tmp) {
    auto* t = reinterpret_cast<std::uint16_t*>(tmp);
    if (A.transposed) {
      bf16_pack_rows<MR>(pa, A, i0, mc, k0, kc, t);
      return;
    }
    const i64 kp = depth(kc);
    for (i64 p = 0; p * MR < mc; ++p)
      bf16_pack_runs<MR>(pa + p * kp * MR, A, i0 + p * MR, std::min(MR, mc - p * MR), k0, kc, t);
  }
  static void pack_b(float* pb, const GemmOperand& B, i64 j0, i64 n, i64 k0, i64 kc, float* tmp) {
    auto* t = reinterpret_cast<std::uint16_t*>(tmp);
    if (!B.transposed) {
      bf16_pack_rows<NR>(pb, B, j0, n, k0, kc, t);
      return;
    }
    const i64 kp = depth(kc);
    for (i64 q = 0; q * NR < n; ++q)
      bf16_pack_runs<NR>(pb + q * kp * NR, B, j0 + q * NR, std::min(NR, n - q * NR), k0, kc, t);
  }
  static void micro(i64 kp, const float* a, const float* b, float* c, i64 ldc, const Epilogue& e) {
    bf16_micro(kp, a, b, c, ldc, e);
  }
};

// ---------------------------------------------------------------------------------------------
// The driver both kernels share.

template <typename Kern>
void drive(i64 i0, i64 j0, i64 m, i64 n, i64 K, float alpha, const GemmOperand& A,
           const GemmOperand& B, float beta, float* c, i64 ldc, const TileRowsDone& finish) {
  const i64 kb = packed_k_block(K, Kern::max_k_block), kcap = std::min(K, kb), dcap = Kern::depth(kcap);
  float* pb = aligned_scratch(Scratch::gemm_b, dcap * round_up(n, NR));
  float* pa = aligned_scratch(Scratch::gemm_a, dcap * std::min(round_up(m, MR), MC));
  // Row buffers for formats decoded before packing: NR runs of kcap, or two rows of the tile.
  float* tmp = thread_scratch<float>(Scratch::gemm_rows,
                                     static_cast<std::size_t>(std::max({NR * kcap, 2 * n, 2 * MC}) + 16));
  Epilogue e{_mm512_set1_ps(alpha), _mm512_set1_ps(beta), true, beta != 0.0f};
  for (i64 k0 = 0; k0 < K; k0 += kb) {
    const i64 kc = std::min(kb, K - k0), d = Kern::depth(kc);
    e.first = k0 == 0;
    Kern::pack_b(pb, B, j0, n, k0, kc, tmp);
    for (i64 ib = 0; ib < m; ib += MC) {
      const i64 mc = std::min(MC, m - ib);
      Kern::pack_a(pa, A, i0 + ib, mc, k0, kc, tmp);
      for (i64 j = 0; j < n; j += NR) {
        const float* bp = pb + (j / NR) * d * NR;
        const i64 cols = std::min(NR, n - j);
        for (i64 i = 0; i < mc; i += MR) {
          const float* ap = pa + (i / MR) * d * MR;
          float* cp = c + (ib + i) * ldc + j;
          const i64 rows = std::min(MR, mc - i);
          if (rows == MR && cols == NR) {
            Kern::micro(d, ap, bp, cp, ldc, e);
            continue;
          }
          // A partial micro-tile: the same kernel on a full copy, so edge elements see exactly
          // the arithmetic of interior ones.
          alignas(64) float t[MR * NR] = {};
          if (!e.first || e.read_c)
            for (i64 r = 0; r < rows; ++r)
              std::memcpy(t + r * NR, cp + r * ldc, static_cast<std::size_t>(cols) * 4);
          Kern::micro(d, ap, bp, t, NR, e);
          for (i64 r = 0; r < rows; ++r)
            std::memcpy(cp + r * ldc, t + r * NR, static_cast<std::size_t>(cols) * 4);
        }
      }
      if (finish && k0 + kc == K) finish(ib, mc);
    }
  }
}

}  // namespace

void packed_gemm_tile_avx512(i64 i0, i64 j0, i64 m, i64 n, i64 K, float alpha,
                             const GemmOperand& A, const GemmOperand& B, float beta, float* c,
                             i64 ldc, const TileRowsDone& finish) {
  drive<F32Kernel>(i0, j0, m, n, K, alpha, A, B, beta, c, ldc, finish);
}

void packed_gemm_tile_bf16dot(i64 i0, i64 j0, i64 m, i64 n, i64 K, float alpha,
                              const GemmOperand& A, const GemmOperand& B, float beta, float* c,
                              i64 ldc, const TileRowsDone& finish) {
  drive<Bf16Kernel>(i0, j0, m, n, K, alpha, A, B, beta, c, ldc, finish);
}

}  // namespace mixtrain::backend::cpu::detail

#pragma GCC pop_options
