// Causal attention kernels (attention.h). Every GEMM runs per block of kBlock query rows (or key
// columns) and only over the keys (or queries) that block can see: scores and probabilities are
// formed for columns [0, r1) of rows [r0, r1), the masked upper triangle beyond each block is never
// computed (at T = 128, 75% of the full T x T work). The skipped terms are exact zeros (masked
// probabilities and score gradients), so the sums are those of the full products. Each row is
// then masked and normalised in place.
#include "kernels/cpu/attention.h"

#include <algorithm>
#include <cmath>

#include "kernels/cpu/gemm.h"
#include "kernels/cpu/parallel_rows.h"
#include "kernels/cpu/vec_math.h"

namespace mixtrain::kernels::cpu {
namespace {

using i64 = std::int64_t;

template <typename T>
GemmOperand op(const T* p, i64 ld, bool t = false) {
  return GemmOperand{p, dtype_of<T>(), ld, t};
}
template <typename T>
GemmOutput out_of(T* p, i64 ld) {
  return GemmOutput{p, dtype_of<T>(), ld};
}

// Query rows (or key columns) per causal block: large enough for efficient GEMMs, small enough
// that the skipped triangle is a good part of the masked half (32 measured no faster at T = 128).
constexpr i64 kBlock = 64;

// Runs fn(r0, r1) for the causal blocks [r0, r1) of [0, Tn).
template <typename Fn>
void for_blocks(i64 Tn, Fn&& fn) {
  for (i64 r0 = 0; r0 < Tn; r0 += kBlock) fn(r0, std::min(Tn, r0 + kBlock));
}

}  // namespace

template <typename T>
void attention_probs(T* att, const T* q, const T* k, i64 B, i64 H, i64 Tn, i64 D) {
  const i64 BH = B * H, sq = Tn * D, sa = Tn * Tn;
  if (BH == 0 || Tn == 0) return;
  // The 1/sqrt(D) scale is applied in T inside the row pass (not as the GEMM's fp32 alpha), so
  // the fp64 instantiation is exact to fp64.
  const T scale = static_cast<T>(1.0 / std::sqrt(static_cast<double>(D)));
  // Rows [r0, r1) see keys [0, r1): att[r0:r1, 0:r1] = q[r0:r1] k[0:r1]^T. Columns past r1 are
  // left unwritten; the row pass below zeroes every masked entry.
  for_blocks(Tn, [&](i64 r0, i64 r1) {
    gemm_batched(BH, r1 - r0, r1, D, 1.0f, op(q + r0 * D, D), sq, op(k, D, true), sq, 0.0f, out_of(att + r0 * Tn, Tn),
                 sa);
  });
  detail::for_rows(BH * Tn, Tn, [&](i64 r) {
    T* row = att + r * Tn;
    const i64 t = r % Tn, n = t + 1;  // keys 0..t are visible
    const T m = vec::max(row, n) * scale;
    const T inv = T(1) / vec::exp_sum(row, row, scale, m, n);
    for (i64 j = 0; j < n; ++j) row[j] *= inv;
    for (i64 j = n; j < Tn; ++j) row[j] = T(0);
  });
}

template <typename T>
void attention_forward(T* out, T* att, const T* q, const T* k, const T* v, i64 B, i64 H, i64 Tn,
                       i64 D) {
  const i64 BH = B * H, sq = Tn * D, sa = Tn * Tn;
  if (BH == 0 || Tn == 0) return;
  attention_probs(att, q, k, B, H, Tn, D);
  // out[r0:r1] = att[r0:r1, 0:r1] v[0:r1].
  for_blocks(Tn, [&](i64 r0, i64 r1) {
    gemm_batched(BH, r1 - r0, D, r1, 1.0f, op<T>(att + r0 * Tn, Tn), sa, op(v, D), sq, 0.0f, out_of(out + r0 * D, D), sq);
  });
}

template <typename T>
void attention_backward(T* dq, T* dk, T* dv, T* datt, const T* dout, const T* q, const T* k,
                        const T* v, const T* att, i64 B, i64 H, i64 Tn, i64 D) {
  const i64 BH = B * H, sq = Tn * D, sa = Tn * Tn;
  if (BH == 0 || Tn == 0) return;
  const T scale = static_cast<T>(1.0 / std::sqrt(static_cast<double>(D)));
  // dv = att^T dout: keys [c0, c1) are seen by queries [c0, Tn), dv[c0:c1] = att[c0:, c0:c1]^T
  // dout[c0:]. datt = dout v^T on the visible block, as the scores.
  for_blocks(Tn, [&](i64 c0, i64 c1) {
    gemm_batched(BH, c1 - c0, D, Tn - c0, 1.0f, op(att + c0 * Tn + c0, Tn, true), sa, op(dout + c0 * D, D), sq, 0.0f,
                 out_of(dv + c0 * D, D), sq);
    gemm_batched(BH, c1 - c0, c1, D, 1.0f, op(dout + c0 * D, D), sq, op(v, D, true), sq, 0.0f,
                 out_of(datt + c0 * Tn, Tn), sa);
  });
  // dscores = att * (datt - sum_j datt * att) * scale; masked entries have att = 0.
  detail::for_rows(BH * Tn, Tn, [&](i64 r) {
    T* d = datt + r * Tn;
    const T* a = att + r * Tn;
    const i64 n = r % Tn + 1;
    const T s = vec::dot(d, a, n);
    for (i64 j = 0; j < n; ++j) d[j] = a[j] * (d[j] - s) * scale;
    for (i64 j = n; j < Tn; ++j) d[j] = T(0);
  });
  // dq = dscores k, dq[r0:r1] = ds[r0:r1, 0:r1] k[0:r1]; dk = dscores^T q, dk[c0:c1] =
  // ds[c0:, c0:c1]^T q[c0:].
  for_blocks(Tn, [&](i64 r0, i64 r1) {
    gemm_batched(BH, r1 - r0, D, r1, 1.0f, op<T>(datt + r0 * Tn, Tn), sa, op(k, D), sq, 0.0f, out_of(dq + r0 * D, D), sq);
    gemm_batched(BH, r1 - r0, D, Tn - r0, 1.0f, op<T>(datt + r0 * Tn + r0, Tn, true), sa, op(q + r0 * D, D), sq, 0.0f,
                 out_of(dk + r0 * D, D), sq);
  });
}

template <typename T>
void attention_forward_naive(T* out, T* att, const T* q, const T* k, const T* v, i64 B, i64 H,
                             i64 Tn, i64 D) {
  const T scale = static_cast<T>(1.0 / std::sqrt(static_cast<double>(D)));
  for (i64 bh = 0; bh < B * H; ++bh) {
    const T* Q = q + bh * Tn * D;
    const T* K = k + bh * Tn * D;
    const T* V = v + bh * Tn * D;
    T* A = att + bh * Tn * Tn;
    T* O = out + bh * Tn * D;
    for (i64 t = 0; t < Tn; ++t) {
      T m = -INFINITY;
      for (i64 j = 0; j < Tn; ++j) {
        T s = 0;
        for (i64 d = 0; d < D; ++d) s += Q[t * D + d] * K[j * D + d];
        A[t * Tn + j] = j <= t ? s * scale : T(0);
        if (j <= t) m = std::max(m, A[t * Tn + j]);
      }
      T sum = 0;
      for (i64 j = 0; j <= t; ++j) sum += (A[t * Tn + j] = std::exp(A[t * Tn + j] - m));
      for (i64 j = 0; j <= t; ++j) A[t * Tn + j] /= sum;
      for (i64 d = 0; d < D; ++d) {
        T o = 0;
        for (i64 j = 0; j <= t; ++j) o += A[t * Tn + j] * V[j * D + d];
        O[t * D + d] = o;
      }
    }
  }
}

template <typename T>
void attention_backward_naive(T* dq, T* dk, T* dv, T* datt, const T* dout, const T* q, const T* k,
                              const T* v, const T* att, i64 B, i64 H, i64 Tn, i64 D) {
  const T scale = static_cast<T>(1.0 / std::sqrt(static_cast<double>(D)));
  for (i64 bh = 0; bh < B * H; ++bh) {
    const i64 o4 = bh * Tn * D, o2 = bh * Tn * Tn;
    for (i64 i = 0; i < Tn * D; ++i) dq[o4 + i] = dk[o4 + i] = dv[o4 + i] = T(0);
    for (i64 t = 0; t < Tn; ++t) {
      // datt[t, j] = dout[t] . v[j]; dv[j] += att[t, j] dout[t].
      for (i64 j = 0; j <= t; ++j) {
        T s = 0;
        for (i64 d = 0; d < D; ++d) {
          s += dout[o4 + t * D + d] * v[o4 + j * D + d];
          dv[o4 + j * D + d] += att[o2 + t * Tn + j] * dout[o4 + t * D + d];
        }
        datt[o2 + t * Tn + j] = s;
      }
      T s = 0;
      for (i64 j = 0; j <= t; ++j) s += datt[o2 + t * Tn + j] * att[o2 + t * Tn + j];
      for (i64 j = 0; j < Tn; ++j) {
        const T g = j <= t ? att[o2 + t * Tn + j] * (datt[o2 + t * Tn + j] - s) * scale : T(0);
        datt[o2 + t * Tn + j] = g;
        for (i64 d = 0; d < D; ++d) {
          dq[o4 + t * D + d] += g * k[o4 + j * D + d];
          dk[o4 + j * D + d] += g * q[o4 + t * D + d];
        }
      }
    }
  }
}

#define MIXTRAIN_ATTN_INSTANTIATE(T)                                                              \
  template void attention_probs<T>(T*, const T*, const T*, i64, i64, i64, i64);                    \
  template void attention_forward<T>(T*, T*, const T*, const T*, const T*, i64, i64, i64, i64);  \
  template void attention_backward<T>(T*, T*, T*, T*, const T*, const T*, const T*, const T*,    \
                                      const T*, i64, i64, i64, i64);                             \
  template void attention_forward_naive<T>(T*, T*, const T*, const T*, const T*, i64, i64, i64,  \
                                           i64);                                                 \
  template void attention_backward_naive<T>(T*, T*, T*, T*, const T*, const T*, const T*,        \
                                            const T*, const T*, i64, i64, i64, i64);
MIXTRAIN_ATTN_INSTANTIATE(float)
MIXTRAIN_ATTN_INSTANTIATE(double)
#undef MIXTRAIN_ATTN_INSTANTIATE

}  // namespace mixtrain::kernels::cpu
