// Softmax family kernels (softmax.h). Each row is independent: max, exp-sum and the
// normalisation happen while the row is in L1; rows are spread over the pool in fixed blocks,
// each run by the tier's row kernels (row_kernels.h, softmax_rows.h: the same bits on every tier).
#include "backend/cpu/softmax.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "backend/cpu/parallel_rows.h"
#include "backend/cpu/row_kernels.h"
#include "runtime/error.h"

namespace mixtrain::backend::cpu {
namespace {

using i64 = std::int64_t;

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
  const auto& k = detail::row_kernels<T>();
  detail::for_row_blocks(N, C, [&](i64 r0, i64 r1) { k.softmax_forward(y, x, r0, r1, C); });
}

template <typename T>
void softmax_backward(T* dx, const T* dy, const T* y, i64 N, i64 C) {
  const auto& k = detail::row_kernels<T>();
  detail::for_row_blocks(N, C, [&](i64 r0, i64 r1) { k.softmax_backward(dx, dy, y, r0, r1, C); });
}

template <typename T>
void log_softmax_forward(T* y, const T* x, i64 N, i64 C) {
  if (C <= 0) return;
  const auto& k = detail::row_kernels<T>();
  detail::for_row_blocks(N, C, [&](i64 r0, i64 r1) { k.log_softmax_forward(y, x, r0, r1, C); });
}

template <typename T>
void log_softmax_backward(T* dx, const T* dy, const T* y, i64 N, i64 C) {
  const auto& k = detail::row_kernels<T>();
  detail::for_row_blocks(N, C, [&](i64 r0, i64 r1) { k.log_softmax_backward(dx, dy, y, r0, r1, C); });
}

template <typename T>
T cross_entropy_forward(T* lse, const T* logits, const std::int64_t* labels, i64 N, i64 C) {
  check_labels<T>(labels, N, C);
  const auto& k = detail::row_kernels<T>();
  detail::for_row_blocks(N, C, [&](i64 r0, i64 r1) { k.cross_entropy_lse(lse, logits, r0, r1, C); });
  double total = 0.0;
  for (i64 n = 0; n < N; ++n) total += double(lse[n]) - double(logits[n * C + labels[n]]);
  return N > 0 ? static_cast<T>(total / double(N)) : T(0);
}

template <typename T>
void cross_entropy_backward(T* dlogits, const T* logits, const T* lse, const std::int64_t* labels,
                            T dloss, i64 N, i64 C) {
  check_labels<T>(labels, N, C);
  const T g = dloss / static_cast<T>(N);
  const auto& k = detail::row_kernels<T>();
  detail::for_row_blocks(N, C, [&](i64 r0, i64 r1) { k.cross_entropy_backward(dlogits, logits, lse, labels, g, r0, r1, C); });
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
