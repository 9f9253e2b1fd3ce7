// Softmax family kernels (softmax.h). Each row is independent: max, exp-sum and the
// normalisation happen while the row is in L1; rows are spread over the pool in fixed blocks.
#include "backend/cpu/softmax.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "backend/cpu/parallel_rows.h"
#include "backend/cpu/vec_math.h"
#include "runtime/error.h"

namespace mixtrain::backend::cpu {
namespace {

using i64 = std::int64_t;

template <typename T>
T row_sum_exp(const T* x, T m, i64 C) {
  return vec::exp_sum(static_cast<T*>(nullptr), x, T(1), m, C);
}

template <typename T>
void check_labels(const std::int64_t* labels, i64 N, i64 C) {
  for (i64 i = 0; i < N; ++i)
    check(labels[i] >= 0 && labels[i] < C, "cross_entropy: label " + std::to_string(labels[i]) +
                                               " at row " + std::to_string(i) + " outside [0, " +
                                               std::to_string(C) + ")");
}

}  // namespace

template <typename T>
void softmax_forward(T* y, const T* x, i64 N, i64 C) {
  if (C <= 0) return;
  detail::for_rows(N, C, [&](i64 n) {
    const T* xr = x + n * C;
    T* yr = y + n * C;
    const T m = vec::max(xr, C);
    const T inv = T(1) / vec::exp_sum(yr, xr, T(1), m, C);
    for (i64 c = 0; c < C; ++c) yr[c] *= inv;
  });
}

template <typename T>
void softmax_backward(T* dx, const T* dy, const T* y, i64 N, i64 C) {
  detail::for_rows(N, C, [&](i64 n) {
    const T* dyr = dy + n * C;
    const T* yr = y + n * C;
    T* dxr = dx + n * C;
    const T s = vec::dot(dyr, yr, C);
    for (i64 c = 0; c < C; ++c) dxr[c] = yr[c] * (dyr[c] - s);
  });
}

template <typename T>
void log_softmax_forward(T* y, const T* x, i64 N, i64 C) {
  if (C <= 0) return;
  detail::for_rows(N, C, [&](i64 n) {
    const T* xr = x + n * C;
    T* yr = y + n * C;
    const T m = vec::max(xr, C);
    const T shift = m + std::log(row_sum_exp(xr, m, C));
    for (i64 c = 0; c < C; ++c) yr[c] = xr[c] - shift;
  });
}

template <typename T>
void log_softmax_backward(T* dx, const T* dy, const T* y, i64 N, i64 C) {
  detail::for_rows(N, C, [&](i64 n) {
    const T* dyr = dy + n * C;
    const T* yr = y + n * C;
    T* dxr = dx + n * C;
    const T s = vec::sum(dyr, C);
    // exp(y) a stack block at a time (dx may alias dy, so it cannot hold exp(y) itself).
    T e[256];
    for (i64 c0 = 0; c0 < C; c0 += 256) {
      const i64 len = std::min<i64>(256, C - c0);
      vec::exp_sum(e, yr + c0, T(1), T(0), len);
      for (i64 j = 0; j < len; ++j) dxr[c0 + j] = dyr[c0 + j] - e[j] * s;
    }
  });
}

template <typename T>
T cross_entropy_forward(T* lse, const T* logits, const std::int64_t* labels, i64 N, i64 C) {
  check_labels<T>(labels, N, C);
  detail::for_rows(N, C, [&](i64 n) {
    const T* xr = logits + n * C;
    const T m = vec::max(xr, C);
    lse[n] = m + std::log(row_sum_exp(xr, m, C));
  });
  double total = 0.0;
  for (i64 n = 0; n < N; ++n) total += double(lse[n]) - double(logits[n * C + labels[n]]);
  return N > 0 ? static_cast<T>(total / double(N)) : T(0);
}

template <typename T>
void cross_entropy_backward(T* dlogits, const T* logits, const T* lse, const std::int64_t* labels,
                            T dloss, i64 N, i64 C) {
  check_labels<T>(labels, N, C);
  const T g = dloss / static_cast<T>(N);
  detail::for_rows(N, C, [&](i64 n) {
    const T* xr = logits + n * C;
    T* dr = dlogits + n * C;
    vec::exp_sum(dr, xr, T(1), lse[n], C);  // softmax; dr may alias xr
    for (i64 c = 0; c < C; ++c) dr[c] *= g;
    dr[labels[n]] -= g;
  });
}

#define MIXTRAIN_SOFTMAX_INSTANTIATE(T)                                                          \
  template void softmax_forward<T>(T*, const T*, i64, i64);                                     \
  template void softmax_backward<T>(T*, const T*, const T*, i64, i64);                          \
  template void log_softmax_forward<T>(T*, const T*, i64, i64);                                 \
  template void log_softmax_backward<T>(T*, const T*, const T*, i64, i64);                      \
  template T cross_entropy_forward<T>(T*, const T*, const std::int64_t*, i64, i64);             \
  template void cross_entropy_backward<T>(T*, const T*, const T*, const std::int64_t*, T, i64,  \
                                          i64);
MIXTRAIN_SOFTMAX_INSTANTIATE(float)
MIXTRAIN_SOFTMAX_INSTANTIATE(double)
#undef MIXTRAIN_SOFTMAX_INSTANTIATE

}  // namespace mixtrain::backend::cpu
