// Embedding kernels (embedding.h): row copies for the forward, a column-blocked scatter-add for
// the backward (no atomics, no per-thread tables).
#include "backend/cpu/embedding.h"

#include <algorithm>
#include <cstring>
#include <string>

#include "backend/cpu/parallel_cols.h"
#include "backend/cpu/parallel_rows.h"
#include "runtime/error.h"

namespace mixtrain::backend::cpu {
namespace {

using i64 = std::int64_t;

void check_ids(const std::int64_t* ids, i64 N, i64 V) {
  for (i64 i = 0; i < N; ++i)
    check(ids[i] >= 0 && ids[i] < V, "embedding: id " + std::to_string(ids[i]) + " at " +
                                         std::to_string(i) + " outside [0, " + std::to_string(V) +
                                         ")");
}

}  // namespace

template <typename T>
void embedding_forward(T* out, const T* table, const std::int64_t* ids, i64 N, i64 V, i64 D) {
  check_ids(ids, N, V);
  detail::for_rows(N, D, [&](i64 i) {
    std::memcpy(out + i * D, table + ids[i] * D, static_cast<std::size_t>(D) * sizeof(T));
  });
}

template <typename T>
void embedding_backward(T* dtable, const T* dout, const std::int64_t* ids, i64 N, i64 V, i64 D) {
  check_ids(ids, N, V);
  detail::for_col_blocks(D, N, [&](i64 c0, i64 c1) {
    for (i64 v = 0; v < V; ++v) std::fill(dtable + v * D + c0, dtable + v * D + c1, T(0));
    for (i64 i = 0; i < N; ++i) {
      T* dst = dtable + ids[i] * D;
      const T* src = dout + i * D;
      for (i64 c = c0; c < c1; ++c) dst[c] += src[c];
    }
  });
}

#define MIXTRAIN_EMB_INSTANTIATE(T)                                                          \
  template void embedding_forward<T>(T*, const T*, const std::int64_t*, i64, i64, i64);     \
  template void embedding_backward<T>(T*, const T*, const std::int64_t*, i64, i64, i64);
MIXTRAIN_EMB_INSTANTIATE(float)
MIXTRAIN_EMB_INSTANTIATE(double)
#undef MIXTRAIN_EMB_INSTANTIATE

}  // namespace mixtrain::backend::cpu
