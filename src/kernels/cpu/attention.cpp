// Causal attention kernels (attention.h). The score GEMM computes the full T x T block (BLAS has
// no triangular-output GEMM; the masked half costs less than splitting into many small calls),
// then each row is masked and normalised in place.
#include "kernels/cpu/attention.h"

#include <cmath>
#include <type_traits>

#include "kernels/cpu/gemm.h"
#include "kernels/cpu/parallel_rows.h"
#include "kernels/cpu/vec_math.h"

namespace mixtrain::kernels::cpu {
namespace {

using i64 = std::int64_t;

template <typename T>
constexpr DType dtype_of() {
  return std::is_same_v<T, double> ? DType::fp64 : DType::fp32;
}

template <typename T>
GemmOperand op(const T* p, i64 ld, bool t = false) {
  return GemmOperand{p, dtype_of<T>(), ld, t};
}
template <typename T>
GemmOutput out_of(T* p, i64 ld) {
  return GemmOutput{p, dtype_of<T>(), ld};
}

}  // namespace

template <typename T>
void attention_probs(T* att, const T* q, const T* k, i64 B, i64 H, i64 Tn, i64 D) {
  const i64 BH = B * H, sq = Tn * D, sa = Tn * Tn;
  if (BH == 0 || Tn == 0) return;
  // The 1/sqrt(D) scale is applied in T inside the row pass (not as the GEMM's fp32 alpha), so
  // the fp64 instantiation is exact to fp64.
  const T scale = static_cast<T>(1.0 / std::sqrt(static_cast<double>(D)));
  gemm_batched(BH, Tn, Tn, D, 1.0f, op(q, D), sq, op(k, D, true), sq, 0.0f, out_of(att, Tn), sa);
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
  gemm_batched(BH, Tn, D, Tn, 1.0f, op<T>(att, Tn), sa, op(v, D), sq, 0.0f, out_of(out, D), sq);
}

template <typename T>
void attention_backward(T* dq, T* dk, T* dv, T* datt, const T* dout, const T* q, const T* k,
                        const T* v, const T* att, i64 B, i64 H, i64 Tn, i64 D) {
  const i64 BH = B * H, sq = Tn * D, sa = Tn * Tn;
  if (BH == 0 || Tn == 0) return;
  const T scale = static_cast<T>(1.0 / std::sqrt(static_cast<double>(D)));
  // dv = att^T dout; datt = dout v^T.
  gemm_batched(BH, Tn, D, Tn, 1.0f, op(att, Tn, true), sa, op(dout, D), sq, 0.0f, out_of(dv, D), sq);
  gemm_batched(BH, Tn, Tn, D, 1.0f, op(dout, D), sq, op(v, D, true), sq, 0.0f, out_of(datt, Tn), sa);
  // dscores = att * (datt - sum_j datt * att) * scale; masked entries have att = 0.
  detail::for_rows(BH * Tn, Tn, [&](i64 r) {
    T* d = datt + r * Tn;
    const T* a = att + r * Tn;
    const i64 n = r % Tn + 1;
    const T s = vec::dot(d, a, n);
    for (i64 j = 0; j < n; ++j) d[j] = a[j] * (d[j] - s) * scale;
    for (i64 j = n; j < Tn; ++j) d[j] = T(0);
  });
  // dq = dscores k; dk = dscores^T q.
  gemm_batched(BH, Tn, D, Tn, 1.0f, op<T>(datt, Tn), sa, op(k, D), sq, 0.0f, out_of(dq, D), sq);
  gemm_batched(BH, Tn, D, Tn, 1.0f, op<T>(datt, Tn, true), sa, op(q, D), sq, 0.0f, out_of(dk, D), sq);
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
