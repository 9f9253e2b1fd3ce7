// Causal attention kernels (attention.h). Every GEMM runs per block of kBlock query rows (or key
// columns) and only over the keys (or queries) that block can see: scores and probabilities are
// formed for columns [0, r1) of rows [r0, r1), the masked upper triangle beyond each block is never
// computed (at T = 128, 75% of the full T x T work). The skipped terms are exact zeros (masked
// probabilities and score gradients), so the sums are those of the full products. Each row is
// then masked and normalised in place.
#include "backend/cpu/attention.h"

#include <algorithm>
#include <cmath>

#include "backend/cpu/gemm.h"
#include "backend/cpu/parallel_rows.h"
#include "backend/cpu/row_kernels.h"

namespace mixtrain::backend::cpu {
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
  const auto& rows = detail::row_kernels<T>();
  detail::for_row_blocks(BH * Tn, Tn, [&](i64 r0, i64 r1) { rows.attention_softmax(att, r0, r1, Tn, scale); });
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
  const auto& rows = detail::row_kernels<T>();
  detail::for_row_blocks(BH * Tn, Tn, [&](i64 r0, i64 r1) { rows.attention_dscores(datt, att, r0, r1, Tn, scale); });
  // dq = dscores k, dq[r0:r1] = ds[r0:r1, 0:r1] k[0:r1]; dk = dscores^T q, dk[c0:c1] =
  // ds[c0:, c0:c1]^T q[c0:].
  for_blocks(Tn, [&](i64 r0, i64 r1) {
    gemm_batched(BH, r1 - r0, D, r1, 1.0f, op<T>(datt + r0 * Tn, Tn), sa, op(k, D), sq, 0.0f, out_of(dq + r0 * D, D), sq);
    gemm_batched(BH, r1 - r0, D, Tn - r0, 1.0f, op<T>(datt + r0 * Tn + r0, Tn, true), sa, op(q + r0 * D, D), sq, 0.0f,
                 out_of(dk + r0 * D, D), sq);
  });
}

#define MIXTRAIN_ATTN_INSTANTIATE(T)                                                              \
  template void attention_probs<T>(T*, const T*, const T*, i64, i64, i64, i64);                    \
  template void attention_forward<T>(T*, T*, const T*, const T*, const T*, i64, i64, i64, i64);  \
  template void attention_backward<T>(T*, T*, T*, T*, const T*, const T*, const T*, const T*,    \
                                      const T*, i64, i64, i64, i64);
MIXTRAIN_ATTN_INSTANTIATE(float)
MIXTRAIN_ATTN_INSTANTIATE(double)
#undef MIXTRAIN_ATTN_INSTANTIATE

}  // namespace mixtrain::backend::cpu
