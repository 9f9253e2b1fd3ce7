// Reference embedding (row gather; the backward adds dout rows into dtable in id order i =
// 0..N-1, from 0, the order the cpu backend uses per column, so it matches it too) and dropout
// (counter-based mask: element i is kept iff numerics::stochastic_bits(seed, offset + i) >=
// p * 2^32; kept values are scaled by 1 / (1 - p) rounded to T). Both exact families.
#include <algorithm>
#include <cmath>
#include <string>

#include "backend/reference/scalar.h"
#include "numerics/rng.h"
#include "runtime/error.h"

namespace mixtrain::backend::reference {
namespace {

void check_ids(const i64* ids, i64 N, i64 V) {
  for (i64 i = 0; i < N; ++i)
    check(ids[i] >= 0 && ids[i] < V, "embedding: id " + std::to_string(ids[i]) + " at " + std::to_string(i) +
                                         " outside [0, " + std::to_string(V) + ")");
}

// p * 2^32 as an integer threshold, so p = 0 keeps everything and p = 1 drops everything.
std::uint64_t threshold(double p) {
  check(p >= 0.0 && p <= 1.0, "dropout: p must be in [0, 1]");
  return static_cast<std::uint64_t>(std::ldexp(p, 32));
}

bool keep(std::uint64_t seed, std::uint64_t index, std::uint64_t t) { return numerics::stochastic_bits(seed, index) >= t; }

template <typename T>
T keep_scale(double p) {
  return p < 1.0 ? static_cast<T>(1.0 / (1.0 - p)) : T(0);
}

}  // namespace

template <typename T>
void embedding_forward(T* out, const T* table, const i64* ids, i64 N, i64 V, i64 D) {
  check_ids(ids, N, V);
  for (i64 i = 0; i < N; ++i)
    for (i64 c = 0; c < D; ++c) out[i * D + c] = table[ids[i] * D + c];
}

template <typename T>
void embedding_backward(T* dtable, const T* dout, const i64* ids, i64 N, i64 V, i64 D) {
  check_ids(ids, N, V);
  std::fill(dtable, dtable + V * D, T(0));
  for (i64 i = 0; i < N; ++i)
    for (i64 c = 0; c < D; ++c) dtable[ids[i] * D + c] += dout[i * D + c];
}

void dropout_mask(std::uint8_t* mask, i64 n, double p, std::uint64_t seed, std::uint64_t offset) {
  const std::uint64_t t = threshold(p);
  for (i64 i = 0; i < n; ++i) mask[i] = keep(seed, offset + static_cast<std::uint64_t>(i), t) ? 1 : 0;
}

template <typename T>
void dropout_forward(T* out, std::uint8_t* mask, const T* x, i64 n, double p, std::uint64_t seed,
                     std::uint64_t offset) {
  const std::uint64_t t = threshold(p);
  const T scale = keep_scale<T>(p);
  for (i64 i = 0; i < n; ++i) {
    const bool k = keep(seed, offset + static_cast<std::uint64_t>(i), t);
    if (mask) mask[i] = k ? 1 : 0;
    out[i] = k ? x[i] * scale : T(0);
  }
}

template <typename T>
void dropout_backward(T* dx, const T* dout, const std::uint8_t* mask, i64 n, double p) {
  threshold(p);  // validates p
  const T scale = keep_scale<T>(p);
  for (i64 i = 0; i < n; ++i) dx[i] = mask[i] ? dout[i] * scale : T(0);
}

#define MIXTRAIN_REF_EMB_DROPOUT(T)                                                                       \
  template void embedding_forward<T>(T*, const T*, const i64*, i64, i64, i64);                           \
  template void embedding_backward<T>(T*, const T*, const i64*, i64, i64, i64);                          \
  template void dropout_forward<T>(T*, std::uint8_t*, const T*, i64, double, std::uint64_t, std::uint64_t); \
  template void dropout_backward<T>(T*, const T*, const std::uint8_t*, i64, double);
MIXTRAIN_REF_EMB_DROPOUT(float)
MIXTRAIN_REF_EMB_DROPOUT(double)
#undef MIXTRAIN_REF_EMB_DROPOUT

}  // namespace mixtrain::backend::reference
