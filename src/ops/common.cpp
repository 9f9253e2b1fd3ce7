// Dtype rules, broadcasting reductions and the autocast hook slot.
#include "ops/common.h"

#include <algorithm>
#include <cmath>

#include "numerics/stats.h"
#include "runtime/error.h"
#include "runtime/parallel.h"

namespace mixtrain::ops {
namespace {
thread_local const AutocastHook* t_hook = nullptr;

int rank(DType t) {
  switch (t) {
    case DType::fp64: return 4;
    case DType::fp32: return 3;
    case DType::fp16:
    case DType::bf16: return 2;
    default: return 1;
  }
}
}  // namespace

DType compute_dtype(std::initializer_list<DType> inputs) {
  for (DType t : inputs)
    if (t == DType::fp64) return DType::fp64;
  return DType::fp32;
}

DType promote(DType a, DType b) {
  if (a == b) return a;
  if (rank(a) == rank(b)) return rank(a) == 2 ? DType::fp32 : DType::bf16;  // fp16+bf16, e4m3+e5m2
  return rank(a) > rank(b) ? a : b;
}

Tensor as_dtype(const Tensor& t, DType ct) {
  if (t.dtype() == ct && t.scale() == 1.0f) return t;
  // Widening to the compute dtype makes a transient copy for the kernels: workspace, not an
  // activation. Narrowing produces an op's output and keeps the caller's category.
  if (ct == DType::fp32 || ct == DType::fp64) {
    tensor::LedgerScope scope(tensor::Category::workspace);
    return t.to(ct);
  }
  return t.to(ct);
}

Shape broadcast_shapes(const Shape& a, const Shape& b) {
  const std::size_t n = std::max(a.size(), b.size());
  Shape r(n);
  for (std::size_t i = 0; i < n; ++i) {
    const std::int64_t da = i < n - a.size() ? 1 : a[i - (n - a.size())];
    const std::int64_t db = i < n - b.size() ? 1 : b[i - (n - b.size())];
    if (da != db && da != 1 && db != 1)
      throw Error("broadcast: shapes " + to_string(a) + " and " + to_string(b) + " are incompatible");
    r[i] = da == 1 ? db : da;
  }
  return r;
}

BroadcastSplit split_broadcast(const Shape& full, const Shape& small) {
  const std::size_t n = full.size();
  BroadcastSplit r;
  if (small.size() > n) return r;
  bool seen_kept = false, seen_reduced = false, prefix = true, suffix = true;
  std::int64_t reduced = 1;
  for (std::size_t i = 0; i < n; ++i) {
    const std::int64_t s = i < n - small.size() ? 1 : small[i - (n - small.size())];
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
  const std::int64_t total = numel(full);
  if (prefix) r = {BroadcastSplit::prefix, reduced, reduced == 0 ? 0 : total / reduced};
  else if (suffix) r = {BroadcastSplit::suffix, reduced == 0 ? 0 : total / reduced, reduced};
  return r;
}

namespace {

// dst (cols) = column sums of src (rows, cols). Wide matrices split the columns over the pool;
// narrow ones (a full sum is cols = 1) sum fixed row blocks into partials, then add the partials
// in block order. Either way the order depends only on the shape.
template <typename T>
void column_sums(T* dst, const T* src, std::int64_t rows, std::int64_t cols) {
  const auto C = static_cast<std::size_t>(cols);
  if (cols >= 64) {
    runtime::parallel_for(C, 256, [&](std::size_t b, std::size_t e) {
      for (std::int64_t r = 0; r < rows; ++r) {
        const T* row = src + static_cast<std::size_t>(r) * C;
        for (std::size_t c = b; c < e; ++c) dst[c] += row[c];
      }
    });
    return;
  }
  const std::size_t block = std::max<std::size_t>(1, (std::size_t{1} << 14) / C);
  const std::size_t blocks = (static_cast<std::size_t>(rows) + block - 1) / block;
  tensor::LedgerScope scope(tensor::Category::workspace);
  Tensor partial = Tensor::zeros({static_cast<std::int64_t>(blocks * C)}, sizeof(T) == 8 ? DType::fp64 : DType::fp32);
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
void row_sums(T* dst, const T* src, std::int64_t rows, std::int64_t cols) {
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

}  // namespace

Tensor sum_to(const Tensor& g, const Shape& shape) {
  if (g.shape() == shape) return g;
  const Shape& gs = g.shape();
  const std::size_t n = gs.size();
  Shape padded(n, 1);
  for (std::size_t i = 0; i < shape.size(); ++i) padded[n - shape.size() + i] = shape[i];
  Tensor out = Tensor::zeros(shape, g.dtype());
  if (g.numel() == 0) return out;
  const BroadcastSplit split = split_broadcast(gs, shape);
  if (split.kind != BroadcastSplit::generic) {
    dispatch(g.dtype(), [&]<typename T>() {
      if (split.kind == BroadcastSplit::prefix) column_sums(out.data_as<T>(), g.data_as<T>(), split.rows, split.cols);
      else row_sums(out.data_as<T>(), g.data_as<T>(), split.rows, split.cols);
    });
    return out;
  }
  // General layouts: a serial strided walk. Output strides with 0 on broadcast dimensions,
  // computed outside the typed loop (GCC 12's -Wfree-nonheap-object misfires on vectors built
  // inside the dispatch lambda).
  std::vector<std::int64_t> ostride(n, 0), idx(n, 0);
  std::int64_t s = 1;
  for (std::size_t i = n; i-- > 0;) {
    ostride[i] = padded[i] == 1 ? 0 : s;
    s *= padded[i];
  }
  dispatch(g.dtype(), [&]<typename T>() {
    const T* src = g.data_as<T>();
    T* dst = out.data_as<T>();
    const std::int64_t total = g.numel();
    std::int64_t o = 0;
    for (std::int64_t k = 0; k < total; ++k) {
      dst[o] += src[k];
      for (std::size_t d = n; d-- > 0;) {
        ++idx[d];
        o += ostride[d];
        if (idx[d] < gs[d]) break;
        o -= ostride[d] * idx[d];
        idx[d] = 0;
      }
    }
  });
  return out;
}

float amax(const Tensor& x) {
  // Dividing by a positive scale is monotonic, so the max of the real values is the max code's.
  const float m = numerics::abs_max(x.data(), x.dtype(), static_cast<std::size_t>(x.numel()));
  return x.scale() != 1.0f ? m / x.scale() : m;
}

const AutocastHook* autocast_hook() { return t_hook; }
void set_autocast_hook(const AutocastHook* hook) { t_hook = hook; }

Tensor autocast(std::string_view op, const Tensor& t, DType widest) {
  if (!t_hook || !t.defined()) return t;
  const auto target = t_hook->input_dtype(op, widest);
  if (!target || *target == t.dtype()) return t;
  return t_hook->cast(t, *target);
}

}  // namespace mixtrain::ops
