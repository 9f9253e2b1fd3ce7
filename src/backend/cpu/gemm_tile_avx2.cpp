// The packed AVX2/FMA GEMM tile (gemm_tile.h). Compiled with -mavx2 -mfma -mf16c; gemm.cpp only
// calls it after runtime::isa_tier() has checked the CPU.
//
// Layout (BLIS): for each K-block (packed_k_block), op(B) is packed into 16-column micro-panels
// (pb[(q * kc + k) * 16 + c]) and, MC rows at a time, op(A) into 6-row micro-panels
// (pa[(p * kc + k) * 6 + r]), widening bf16/fp16 inside the loads (fp8 and fp64 through a row
// buffer). The 6x16 micro-kernel
// holds its 12 accumulators in registers over the whole K-block: per k it loads 16 floats of B,
// broadcasts 6 of A and issues 12 FMAs, which is what two 128-bit FMA pipes (Zen) or two 256-bit
// ones (Intel) retire per cycle. The B micro-panel (16 KiB) stays in L1 while the 6-row panels of
// the A block (96 KiB) stream from L2.
#include <immintrin.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <type_traits>
#include <utility>

#include "backend/cpu/gemm_pack_loads.h"
#include "backend/cpu/gemm_tile.h"
#include "backend/cpu/workspace.h"
#include "numerics/convert.h"

namespace mixtrain::backend::cpu::detail {
namespace {

constexpr i64 MR = 6, NR = 16, MC = kPackedMBlock;
static_assert(MC % MR == 0);

// Interleaves `rows` runs of kc values (runs[r], in L's format) into one micro-panel of width W
// (d[k * W + r]); lanes r >= rows are zero. Eight k at a time through 8 x 8 transposes; for
// W = 6 each k's store writes two lanes past its six, which the next k (or the next panel, or
// the buffer's slack) overwrites, so k runs upwards.
template <i64 W, typename L>
void interleave(float* d, const unsigned char* const* runs, i64 rows, i64 kc) {
  i64 k = 0;
  for (; k + 8 <= kc; k += 8) {
    for (i64 g = 0; g < W; g += 8) {
      __m256 r[8];
      for (i64 i = 0; i < 8; ++i)
        r[i] = g + i < rows ? L::load8(runs[g + i] + static_cast<std::size_t>(k) * L::size) : _mm256_setzero_ps();
      transpose8(r);
      for (i64 t = 0; t < 8; ++t) _mm256_storeu_ps(d + (k + t) * W + g, r[t]);
    }
  }
  for (; k < kc; ++k) {
    float* dk = d + k * W;
    for (i64 r = 0; r < rows; ++r) dk[r] = L::load1(runs[r] + static_cast<std::size_t>(k) * L::size);
    for (i64 r = rows; r < W; ++r) dk[r] = 0.0f;
  }
}

// W consecutive rows of op(A), or columns of op(B), whose kc values along k lie contiguous in
// memory (A not transposed, B transposed: both are rows of the stored matrix), interleaved. With
// L = F32 for a format that decode_into converts, the runs are first decoded into tmp.
template <i64 W, typename L>
void pack_runs(float* d, const GemmOperand& X, i64 first, i64 count, i64 k0, i64 kc, float* tmp) {
  const unsigned char* runs[W];
  for (i64 r = 0; r < count; ++r) {
    runs[r] = element(X, first + r, k0);
    if (std::is_same_v<L, F32> && X.dtype != DType::fp32)
      runs[r] = decode_into(tmp + r * kc, runs[r], X.dtype, kc);
  }
  interleave<W, L>(d, runs, count, kc);
}

// op(A) rows [i0, i0 + mc), k in [k0, k0 + kc) -> 6-row micro-panels.
template <typename L>
void pack_a(float* pa, const GemmOperand& A, i64 i0, i64 mc, i64 k0, i64 kc, float* tmp) {
  if (!A.transposed) {
    // Row i of op(A) is row i of A: contiguous along k.
    for (i64 p = 0; p * MR < mc; ++p)
      pack_runs<MR, L>(pa + p * kc * MR, A, i0 + p * MR, std::min(MR, mc - p * MR), k0, kc, tmp);
    return;
  }
  // op(A)(i, k) = A(k, i): each stored row k holds mc consecutive i.
  const bool decoded = std::is_same_v<L, F32> && A.dtype != DType::fp32;
  for (i64 k = 0; k < kc; ++k) {
    const unsigned char* v = element(A, k0 + k, i0);
    if (decoded) v = decode_into(tmp, v, A.dtype, mc);
    for (i64 p = 0; p * MR < mc; ++p) {
      float* d = pa + (p * kc + k) * MR;
      if (p * MR + 8 <= mc && k + 1 < kc) {
        // Eight lanes: the two past this k's six are the next k's, written after this.
        _mm256_storeu_ps(d, L::load8(v + static_cast<std::size_t>(p * MR) * L::size));
        continue;
      }
      const i64 rows = std::min(MR, mc - p * MR);
      for (i64 r = 0; r < rows; ++r) d[r] = L::load1(v + static_cast<std::size_t>(p * MR + r) * L::size);
      for (i64 r = rows; r < MR; ++r) d[r] = 0.0f;
    }
  }
}

// op(B) k in [k0, k0 + kc), columns [j0, j0 + n) -> 16-column micro-panels.
template <typename L>
void pack_b(float* pb, const GemmOperand& B, i64 j0, i64 n, i64 k0, i64 kc, float* tmp) {
  if (B.transposed) {
    // Column j of op(B) is row j of B: contiguous along k.
    for (i64 q = 0; q * NR < n; ++q)
      pack_runs<NR, L>(pb + q * kc * NR, B, j0 + q * NR, std::min(NR, n - q * NR), k0, kc, tmp);
    return;
  }
  // Row k of op(B) is row k of B: n consecutive columns.
  const bool decoded = std::is_same_v<L, F32> && B.dtype != DType::fp32;
  for (i64 k = 0; k < kc; ++k) {
    const unsigned char* v = element(B, k0 + k, j0);
    if (decoded) v = decode_into(tmp, v, B.dtype, n);
    i64 q = 0;
    for (; (q + 1) * NR <= n; ++q) {
      float* d = pb + (q * kc + k) * NR;
      _mm256_store_ps(d, L::load8(v + static_cast<std::size_t>(q * NR) * L::size));
      _mm256_store_ps(d + 8, L::load8(v + static_cast<std::size_t>(q * NR + 8) * L::size));
    }
    if (q * NR < n) {
      float* d = pb + (q * kc + k) * NR;
      const i64 cols = n - q * NR;
      for (i64 c = 0; c < cols; ++c) d[c] = L::load1(v + static_cast<std::size_t>(q * NR + c) * L::size);
      for (i64 c = cols; c < NR; ++c) d[c] = 0.0f;
    }
  }
}

// The pack for X's format: fused for fp32/bf16/fp16, decode-then-pack for the rest.
template <template <typename> class Pack, typename... Args>
void dispatch_pack(DType t, Args&&... args) {
  switch (t) {
    case DType::bf16: Pack<BF16>::run(std::forward<Args>(args)...); return;
    case DType::fp16: Pack<FP16>::run(std::forward<Args>(args)...); return;
    default: Pack<F32>::run(std::forward<Args>(args)...); return;
  }
}
template <typename L>
struct PackA {
  static void run(float* pa, const GemmOperand& A, i64 i0, i64 mc, i64 k0, i64 kc, float* tmp) {
    pack_a<L>(pa, A, i0, mc, k0, kc, tmp);
  }
};
template <typename L>
struct PackB {
  static void run(float* pb, const GemmOperand& B, i64 j0, i64 n, i64 k0, i64 kc, float* tmp) {
    pack_b<L>(pb, B, j0, n, k0, kc, tmp);
  }
};

struct Epilogue {
  __m256 alpha, beta;
  bool first, read_c;  // first K-block: C = alpha acc + beta C (read only when beta != 0)
};

inline void update_row(float* c, __m256 x0, __m256 x1, const Epilogue& e) {
  x0 = _mm256_mul_ps(e.alpha, x0);
  x1 = _mm256_mul_ps(e.alpha, x1);
  if (!e.first) {
    x0 = _mm256_add_ps(x0, _mm256_loadu_ps(c));
    x1 = _mm256_add_ps(x1, _mm256_loadu_ps(c + 8));
  } else if (e.read_c) {
    x0 = _mm256_add_ps(x0, _mm256_mul_ps(e.beta, _mm256_loadu_ps(c)));
    x1 = _mm256_add_ps(x1, _mm256_mul_ps(e.beta, _mm256_loadu_ps(c + 8)));
  }
  _mm256_storeu_ps(c, x0);
  _mm256_storeu_ps(c + 8, x1);
}

// c[0..6) x [0..16) (row stride ldc) updated with the K-block product of one A and one B
// micro-panel.
void micro_kernel(i64 kc, const float* __restrict a, const float* __restrict b, float* c, i64 ldc,
                  const Epilogue& e) {
  __m256 c00 = _mm256_setzero_ps(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00;
  __m256 c30 = c00, c31 = c00, c40 = c00, c41 = c00, c50 = c00, c51 = c00;
  for (i64 k = 0; k < kc; ++k) {
    _mm_prefetch(reinterpret_cast<const char*>(b + 16 * 8), _MM_HINT_T0);
    const __m256 b0 = _mm256_load_ps(b), b1 = _mm256_load_ps(b + 8);
    __m256 x = _mm256_broadcast_ss(a + 0);
    c00 = _mm256_fmadd_ps(x, b0, c00);
    c01 = _mm256_fmadd_ps(x, b1, c01);
    x = _mm256_broadcast_ss(a + 1);
    c10 = _mm256_fmadd_ps(x, b0, c10);
    c11 = _mm256_fmadd_ps(x, b1, c11);
    x = _mm256_broadcast_ss(a + 2);
    c20 = _mm256_fmadd_ps(x, b0, c20);
    c21 = _mm256_fmadd_ps(x, b1, c21);
    x = _mm256_broadcast_ss(a + 3);
    c30 = _mm256_fmadd_ps(x, b0, c30);
    c31 = _mm256_fmadd_ps(x, b1, c31);
    x = _mm256_broadcast_ss(a + 4);
    c40 = _mm256_fmadd_ps(x, b0, c40);
    c41 = _mm256_fmadd_ps(x, b1, c41);
    x = _mm256_broadcast_ss(a + 5);
    c50 = _mm256_fmadd_ps(x, b0, c50);
    c51 = _mm256_fmadd_ps(x, b1, c51);
    a += MR;
    b += NR;
  }
  update_row(c + 0 * ldc, c00, c01, e);
  update_row(c + 1 * ldc, c10, c11, e);
  update_row(c + 2 * ldc, c20, c21, e);
  update_row(c + 3 * ldc, c30, c31, e);
  update_row(c + 4 * ldc, c40, c41, e);
  update_row(c + 5 * ldc, c50, c51, e);
}

// A partial micro-tile (rows < 6 or cols < 16): the same kernel on a full 6 x 16 copy, so edge
// elements see exactly the arithmetic of interior ones.
void edge_kernel(i64 kc, const float* a, const float* b, float* c, i64 ldc, i64 rows, i64 cols,
                 const Epilogue& e) {
  alignas(32) float t[MR * NR] = {};
  if (!e.first || e.read_c)
    for (i64 r = 0; r < rows; ++r)
      std::memcpy(t + r * NR, c + r * ldc, static_cast<std::size_t>(cols) * 4);
  micro_kernel(kc, a, b, t, NR, e);
  for (i64 r = 0; r < rows; ++r)
    std::memcpy(c + r * ldc, t + r * NR, static_cast<std::size_t>(cols) * 4);
}

}  // namespace

void packed_gemm_tile(i64 i0, i64 j0, i64 m, i64 n, i64 K, float alpha, const GemmOperand& A,
                      const GemmOperand& B, float beta, float* c, i64 ldc,
                      const TileRowsDone& finish) {
  const i64 kb = packed_k_block(K), kcap = std::min(K, kb);
  const i64 np = round_up(n, NR);
  float* pb = aligned_scratch(Scratch::gemm_b, kcap * np);
  float* pa = aligned_scratch(Scratch::gemm_a, kcap * std::min(round_up(m, MR), MC));
  float* tmp = thread_scratch<float>(Scratch::gemm_rows,
                                     static_cast<std::size_t>(std::max({NR * kcap, n, MC})));
  Epilogue e{_mm256_set1_ps(alpha), _mm256_set1_ps(beta), true, beta != 0.0f};
  for (i64 k0 = 0; k0 < K; k0 += kb) {
    const i64 kc = std::min(kb, K - k0);
    e.first = k0 == 0;
    dispatch_pack<PackB>(B.dtype, pb, B, j0, n, k0, kc, tmp);
    for (i64 ib = 0; ib < m; ib += MC) {
      const i64 mc = std::min(MC, m - ib);
      dispatch_pack<PackA>(A.dtype, pa, A, i0 + ib, mc, k0, kc, tmp);
      for (i64 j = 0; j < n; j += NR) {
        const float* bp = pb + (j / NR) * kc * NR;
        const i64 cols = std::min(NR, n - j);
        for (i64 i = 0; i < mc; i += MR) {
          const float* ap = pa + (i / MR) * kc * MR;
          float* cp = c + (ib + i) * ldc + j;
          const i64 rows = std::min(MR, mc - i);
          if (rows == MR && cols == NR)
            micro_kernel(kc, ap, bp, cp, ldc, e);
          else
            edge_kernel(kc, ap, bp, cp, ldc, rows, cols, e);
        }
      }
      if (finish && k0 + kc == K) finish(ib, mc);
    }
  }
}

}  // namespace mixtrain::backend::cpu::detail
