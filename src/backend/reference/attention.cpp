// Reference causal attention over (B, H, Tn, D) slabs, in T, one (b, h) slab and one query row t
// at a time. Summation order: a score is sum over d = 0..D-1 of q[t, d] k[j, d] (from 0), times
// 1 / sqrt(D); the softmax over the visible keys j = 0..t subtracts their max and sums exp in j
// order; out[t, d] sums att[t, j] v[j, d] over j = 0..t. The backward forms datt[t, j] = dout[t] .
// v[j] (d order) and the row sum datt . att in j order, then adds each (t, j) term into dq[t],
// dk[j] and dv[j] as t and j advance (t outer, j inner).
#include <algorithm>
#include <cmath>

#include "backend/reference/scalar.h"

namespace mixtrain::backend::reference {

template <typename T>
void attention_probs(T* att, const T* q, const T* k, i64 B, i64 H, i64 Tn, i64 D) {
  const T scale = static_cast<T>(1.0 / std::sqrt(static_cast<double>(D)));
  for (i64 bh = 0; bh < B * H; ++bh) {
    const T* Q = q + bh * Tn * D;
    const T* K = k + bh * Tn * D;
    for (i64 t = 0; t < Tn; ++t) {
      T* A = att + (bh * Tn + t) * Tn;  // row t; keys j > t are masked (0)
      T m = -INFINITY;
      for (i64 j = 0; j <= t; ++j) {
        T s = 0;
        for (i64 d = 0; d < D; ++d) s += Q[t * D + d] * K[j * D + d];
        A[j] = s * scale;
        m = std::max(m, A[j]);
      }
      T sum = 0;
      for (i64 j = 0; j <= t; ++j) sum += A[j] = std::exp(A[j] - m);
      for (i64 j = 0; j <= t; ++j) A[j] /= sum;
      for (i64 j = t + 1; j < Tn; ++j) A[j] = T(0);
    }
  }
}

template <typename T>
void attention_forward(T* out, T* att, const T* q, const T* k, const T* v, i64 B, i64 H, i64 Tn, i64 D) {
  attention_probs(att, q, k, B, H, Tn, D);
  for (i64 bh = 0; bh < B * H; ++bh) {
    const T* V = v + bh * Tn * D;
    for (i64 t = 0; t < Tn; ++t) {
      const T* A = att + (bh * Tn + t) * Tn;
      for (i64 d = 0; d < D; ++d) {
        T o = 0;
        for (i64 j = 0; j <= t; ++j) o += A[j] * V[j * D + d];
        out[(bh * Tn + t) * D + d] = o;
      }
    }
  }
}

// datt ends holding dL/dscores (0 above the diagonal).
template <typename T>
void attention_backward(T* dq, T* dk, T* dv, T* datt, const T* dout, const T* q, const T* k, const T* v,
                        const T* att, i64 B, i64 H, i64 Tn, i64 D) {
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
      // dscores = att * (datt - sum_j datt * att) * scale; dq[t] += ds k[j], dk[j] += ds q[t].
      T s = 0;
      for (i64 j = 0; j <= t; ++j) s += datt[o2 + t * Tn + j] * att[o2 + t * Tn + j];
      for (i64 j = 0; j < Tn; ++j) {
        const T g = j <= t ? att[o2 + t * Tn + j] * (datt[o2 + t * Tn + j] - s) * scale : T(0);
        datt[o2 + t * Tn + j] = g;
        for (i64 d = 0; d < D && j <= t; ++d) {
          dq[o4 + t * D + d] += g * k[o4 + j * D + d];
          dk[o4 + j * D + d] += g * q[o4 + t * D + d];
        }
      }
    }
  }
}

#define MIXTRAIN_REF_ATTENTION(T)                                                                          \
  template void attention_probs<T>(T*, const T*, const T*, i64, i64, i64, i64);                           \
  template void attention_forward<T>(T*, T*, const T*, const T*, const T*, i64, i64, i64, i64);           \
  template void attention_backward<T>(T*, T*, T*, T*, const T*, const T*, const T*, const T*, const T*, i64, \
                                      i64, i64, i64);
MIXTRAIN_REF_ATTENTION(float)
MIXTRAIN_REF_ATTENTION(double)
#undef MIXTRAIN_REF_ATTENTION

}  // namespace mixtrain::backend::reference
