// Reference softmax, log_softmax and cross-entropy over rows (N, C), in T (fp32 or fp64) with
// std::exp and std::log. Summation order: each row's sums (of exp(x - max), of dy * y, of dy)
// run over c = 0..C-1 from 0; the cross-entropy mean adds the rows' losses in fp64 in row order.
// The row max is taken first (NaN propagates), so exp never overflows.
#include <cmath>
#include <string>

#include "backend/reference/scalar.h"
#include "runtime/error.h"

namespace mixtrain::backend::reference {
namespace {

template <typename T>
T row_max(const T* x, i64 C) {
  T m = x[0];
  for (i64 c = 1; c < C; ++c)
    if (x[c] > m || x[c] != x[c]) m = x[c];
  return m;
}

// log(sum_c exp(x[c] - m)) + m.
template <typename T>
T row_log_sum_exp(const T* x, i64 C) {
  const T m = row_max(x, C);
  T s = 0;
  for (i64 c = 0; c < C; ++c) s += std::exp(x[c] - m);
  return m + std::log(s);
}

void check_labels(const i64* labels, i64 N, i64 C) {
  for (i64 i = 0; i < N; ++i)
    check(labels[i] >= 0 && labels[i] < C, "cross_entropy: label " + std::to_string(labels[i]) + " at row " +
                                               std::to_string(i) + " outside [0, " + std::to_string(C) + ")");
}

}  // namespace

template <typename T>
void softmax_forward(T* y, const T* x, i64 N, i64 C) {
  if (C <= 0) return;  // no row max to take
  for (i64 n = 0; n < N; ++n) {
    const T* xr = x + n * C;
    T* yr = y + n * C;
    const T m = row_max(xr, C);
    T s = 0;
    for (i64 c = 0; c < C; ++c) s += yr[c] = std::exp(xr[c] - m);  // y may alias x
    for (i64 c = 0; c < C; ++c) yr[c] /= s;
  }
}

// dx = y * (dy - sum_c dy * y).
template <typename T>
void softmax_backward(T* dx, const T* dy, const T* y, i64 N, i64 C) {
  for (i64 n = 0; n < N; ++n) {
    T s = 0;
    for (i64 c = 0; c < C; ++c) s += dy[n * C + c] * y[n * C + c];
    for (i64 c = 0; c < C; ++c) dx[n * C + c] = y[n * C + c] * (dy[n * C + c] - s);
  }
}

template <typename T>
void log_softmax_forward(T* y, const T* x, i64 N, i64 C) {
  if (C <= 0) return;
  for (i64 n = 0; n < N; ++n) {
    const T lse = row_log_sum_exp(x + n * C, C);
    for (i64 c = 0; c < C; ++c) y[n * C + c] = x[n * C + c] - lse;
  }
}

// dx = dy - exp(y) * sum_c dy.
template <typename T>
void log_softmax_backward(T* dx, const T* dy, const T* y, i64 N, i64 C) {
  for (i64 n = 0; n < N; ++n) {
    T s = 0;
    for (i64 c = 0; c < C; ++c) s += dy[n * C + c];
    for (i64 c = 0; c < C; ++c) dx[n * C + c] = dy[n * C + c] - std::exp(y[n * C + c]) * s;
  }
}

template <typename T>
T cross_entropy_forward(T* lse, const T* logits, const i64* labels, i64 N, i64 C) {
  check_labels(labels, N, C);
  double total = 0.0;
  for (i64 n = 0; n < N; ++n) {
    lse[n] = row_log_sum_exp(logits + n * C, C);
    total += double(lse[n]) - double(logits[n * C + labels[n]]);
  }
  return N > 0 ? static_cast<T>(total / double(N)) : T(0);
}

// dlogits = dloss / N * (softmax(logits) - onehot(label)); may alias logits.
template <typename T>
void cross_entropy_backward(T* dlogits, const T* logits, const T* lse, const i64* labels, T dloss, i64 N, i64 C) {
  check_labels(labels, N, C);
  const T g = dloss / static_cast<T>(N);
  for (i64 n = 0; n < N; ++n)
    for (i64 c = 0; c < C; ++c)
      dlogits[n * C + c] = g * (std::exp(logits[n * C + c] - lse[n]) - (c == labels[n] ? T(1) : T(0)));
}

#define MIXTRAIN_REF_SOFTMAX(T)                                                                \
  template void softmax_forward<T>(T*, const T*, i64, i64);                                   \
  template void softmax_backward<T>(T*, const T*, const T*, i64, i64);                        \
  template void log_softmax_forward<T>(T*, const T*, i64, i64);                               \
  template void log_softmax_backward<T>(T*, const T*, const T*, i64, i64);                    \
  template T cross_entropy_forward<T>(T*, const T*, const i64*, i64, i64);                    \
  template void cross_entropy_backward<T>(T*, const T*, const T*, const i64*, T, i64, i64);
MIXTRAIN_REF_SOFTMAX(float)
MIXTRAIN_REF_SOFTMAX(double)
#undef MIXTRAIN_REF_SOFTMAX

}  // namespace mixtrain::backend::reference
