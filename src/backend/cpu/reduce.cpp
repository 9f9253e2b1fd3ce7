// Reductions, their reverse, accumulation and the training step's checks (reduce.h). The two
// layouts every model hits (a reduction over leading dims: column sums; over trailing dims: row
// sums) run on the pool; other layouts take a serial strided walk.
#include "backend/cpu/reduce.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>
#include <vector>

#include "numerics/convert.h"
#include "runtime/parallel.h"

namespace mixtrain::backend::cpu {
namespace {

using i64 = std::int64_t;

// How `small` broadcasts to `full` (equal rank): reduced dims all leading (prefix: full is
// (rows, cols) with small = (cols)), all trailing (suffix: small = (rows)), or neither.
struct Split {
  enum Kind { generic, prefix, suffix } kind = generic;
  i64 rows = 0, cols = 0;
};

Split split_broadcast(const Shape& full, const Shape& small) {
  const std::size_t n = full.size();
  Split r;
  if (small.size() > n) return r;
  bool seen_kept = false, seen_reduced = false, prefix = true, suffix = true;
  i64 reduced = 1;
  for (std::size_t i = 0; i < n; ++i) {
    const i64 s = i < n - small.size() ? 1 : small[i - (n - small.size())];
    if (full[i] == 1) continue;
    if (s == 1) {
      reduced *= full[i];
      if (seen_kept) prefix = false;
      seen_reduced = true;
    } else {
      if (s != full[i]) return r;
      if (seen_reduced) suffix = false;
      seen_kept = true;
    }
  }
  const i64 total = numel(full);
  if (prefix) r = {Split::prefix, reduced, reduced == 0 ? 0 : total / reduced};
  else if (suffix) r = {Split::suffix, reduced == 0 ? 0 : total / reduced, reduced};
  return r;
}

// dst (cols) += column sums of src (rows, cols). Wide matrices split the columns over the pool;
// narrow ones (a full sum is cols = 1) sum fixed row blocks into partials, then add the partials
// in block order. Either way the order depends only on the shape.
template <typename T>
void column_sums(T* dst, const T* src, i64 rows, i64 cols) {
  const auto C = static_cast<std::size_t>(cols);
  if (cols >= 64) {
    runtime::parallel_for(C, 256, [&](std::size_t b, std::size_t e) {
      for (i64 r = 0; r < rows; ++r) {
        const T* row = src + static_cast<std::size_t>(r) * C;
        for (std::size_t c = b; c < e; ++c) dst[c] += row[c];
      }
    });
    return;
  }
  const std::size_t block = std::max<std::size_t>(1, (std::size_t{1} << 14) / C);
  const std::size_t blocks = (static_cast<std::size_t>(rows) + block - 1) / block;
  // The partials are a tensor so that the memory ledger sees them as workspace.
  tensor::LedgerScope scope(tensor::Category::workspace);
  Tensor partial = Tensor::zeros({static_cast<i64>(blocks * C)}, sizeof(T) == 8 ? DType::fp64 : DType::fp32);
  T* part = partial.data_as<T>();
  runtime::parallel_for(blocks, 1, [&](std::size_t b, std::size_t e) {
    for (std::size_t k = b; k < e; ++k) {
      const std::size_t r1 = std::min(static_cast<std::size_t>(rows), (k + 1) * block);
      if (C == 1) {
        // A full sum: eight interleaved accumulators break the add latency chain.
        T acc[8] = {};
        std::size_t r = k * block;
        for (; r + 8 <= r1; r += 8)
          for (std::size_t j = 0; j < 8; ++j) acc[j] += src[r + j];
        for (; r < r1; ++r) acc[0] += src[r];
        for (std::size_t j = 0; j < 8; ++j) part[k] += acc[j];
        continue;
      }
      for (std::size_t r = k * block; r < r1; ++r)
        for (std::size_t c = 0; c < C; ++c) part[k * C + c] += src[r * C + c];
    }
  });
  for (std::size_t k = 0; k < blocks; ++k)
    for (std::size_t c = 0; c < C; ++c) dst[c] += part[k * C + c];
}

// dst (rows) = row sums of src (rows, cols), rows split over the pool.
template <typename T>
void row_sums(T* dst, const T* src, i64 rows, i64 cols) {
  const auto C = static_cast<std::size_t>(cols);
  const std::size_t grain = std::max<std::size_t>(1, (std::size_t{1} << 14) / std::max<std::size_t>(C, 1));
  runtime::parallel_for(static_cast<std::size_t>(rows), grain, [&](std::size_t b, std::size_t e) {
    for (std::size_t r = b; r < e; ++r) {
      T acc = 0;
      for (std::size_t c = 0; c < C; ++c) acc += src[r * C + c];
      dst[r] = acc;
    }
  });
}

// Element strides of `shape` (row-major), 0 on its size-1 (broadcast) dimensions.
std::vector<i64> broadcast_strides(const Shape& shape) {
  std::vector<i64> st(shape.size(), 0);
  i64 s = 1;
  for (std::size_t i = shape.size(); i-- > 0;) {
    st[i] = shape[i] == 1 ? 0 : s;
    s *= shape[i];
  }
  return st;
}

}  // namespace

template <typename T>
void sum_to(T* dst, const T* src, const Shape& src_shape, const Shape& dst_shape) {
  std::fill_n(dst, static_cast<std::size_t>(numel(dst_shape)), T(0));
  const i64 total = numel(src_shape);
  if (total == 0) return;
  const Split split = split_broadcast(src_shape, dst_shape);
  if (split.kind == Split::prefix) {
    column_sums(dst, src, split.rows, split.cols);
    return;
  }
  if (split.kind == Split::suffix) {
    row_sums(dst, src, split.rows, split.cols);
    return;
  }
  // General layouts: a serial strided walk over src, dst strides 0 on the summed dimensions.
  const std::size_t n = src_shape.size();
  const std::vector<i64> ostride = broadcast_strides(dst_shape);
  std::vector<i64> idx(n, 0);
  i64 o = 0;
  for (i64 k = 0; k < total; ++k) {
    dst[o] += src[k];
    for (std::size_t d = n; d-- > 0;) {
      ++idx[d];
      o += ostride[d];
      if (idx[d] < src_shape[d]) break;
      o -= ostride[d] * idx[d];
      idx[d] = 0;
    }
  }
}

template <typename T>
void broadcast_to(T* dst, const T* src, const Shape& src_shape, const Shape& dst_shape, T factor) {
  const i64 total = numel(dst_shape);
  const Split split = split_broadcast(dst_shape, src_shape);
  if (split.kind != Split::generic) {
    // Common layouts (the reverse of a reduction over leading or trailing dims) in parallel.
    const auto C = static_cast<std::size_t>(split.cols);
    const bool prefix = split.kind == Split::prefix;
    const std::size_t grain = std::max<std::size_t>(1, (std::size_t{1} << 14) / std::max<std::size_t>(C, 1));
    runtime::parallel_for(static_cast<std::size_t>(split.rows), grain, [&](std::size_t b, std::size_t e) {
      for (std::size_t row = b; row < e; ++row)
        for (std::size_t c = 0; c < C; ++c) dst[row * C + c] = src[prefix ? c : row] * factor;
    });
    return;
  }
  const std::size_t nd = dst_shape.size();
  const std::vector<i64> st = broadcast_strides(src_shape);
  std::vector<i64> idx(nd, 0);
  i64 o = 0;
  for (i64 k = 0; k < total; ++k) {
    dst[k] = src[o] * factor;
    for (std::size_t d = nd; d-- > 0;) {
      ++idx[d];
      o += st[d];
      if (idx[d] < dst_shape[d]) break;
      o -= st[d] * idx[d];
      idx[d] = 0;
    }
  }
}

template <typename T>
void accumulate(T* acc, const T* x, i64 n) {
  runtime::parallel_for(static_cast<std::size_t>(n), std::size_t{1} << 15, [&](std::size_t lo, std::size_t hi) {
    for (std::size_t i = lo; i < hi; ++i) acc[i] += x[i];
  });
}

bool all_finite(const void* x, DType dtype, std::size_t n) {
  if (dtype == DType::fp32) {
    const auto* p = static_cast<const std::uint32_t*>(x);
    // Exponent all ones = inf or NaN; checked on the bits so it vectorises, in chunks over the
    // pool (the check reads every gradient once per step).
    std::atomic<bool> bad{false};
    runtime::parallel_for(n, std::size_t{1} << 16, [&](std::size_t b, std::size_t e) {
      std::uint32_t any = 0;
      for (std::size_t i = b; i < e; ++i) any |= ((p[i] & 0x7F800000U) == 0x7F800000U);
      if (any) bad.store(true, std::memory_order_relaxed);
    });
    return !bad.load();
  }
  // Other formats are checked as their fp32 values (an fp64 value beyond fp32's range counts as
  // infinite: the fp32 step it feeds would overflow), in blocks decoded on the stack.
  constexpr std::size_t kBlock = 1024;
  float buf[kBlock];
  const auto* src = static_cast<const unsigned char*>(x);
  const std::size_t es = size_of(dtype);
  for (std::size_t i = 0; i < n; i += kBlock) {
    const std::size_t k = std::min(kBlock, n - i);
    numerics::decode(buf, src + i * es, dtype, k);
    for (std::size_t j = 0; j < k; ++j)
      if (!std::isfinite(buf[j])) return false;
  }
  return true;
}

// Serial, in element order, onto `acc`: each square is exact in fp64 (24-bit mantissas), so the
// order of the additions is the only rounding and it is fixed.
double sum_squares(const float* x, std::size_t n, double acc) {
  for (std::size_t i = 0; i < n; ++i) acc += static_cast<double>(x[i]) * x[i];
  return acc;
}

#define MIXTRAIN_REDUCE_INSTANTIATE(T)                                                 \
  template void sum_to<T>(T*, const T*, const Shape&, const Shape&);                   \
  template void broadcast_to<T>(T*, const T*, const Shape&, const Shape&, T);          \
  template void accumulate<T>(T*, const T*, i64);
MIXTRAIN_REDUCE_INSTANTIATE(float)
MIXTRAIN_REDUCE_INSTANTIATE(double)
#undef MIXTRAIN_REDUCE_INSTANTIATE

}  // namespace mixtrain::backend::cpu
