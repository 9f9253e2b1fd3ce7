// Dtype rules, broadcasting reductions and the autocast hook slot.
#include "ops/common.h"

#include <algorithm>
#include <cmath>

#include "runtime/error.h"

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

Tensor as_dtype(const Tensor& t, DType ct) { return t.dtype() == ct && t.scale() == 1.0f ? t : t.to(ct); }

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

Tensor sum_to(const Tensor& g, const Shape& shape) {
  if (g.shape() == shape) return g;
  const Shape& gs = g.shape();
  const std::size_t n = gs.size();
  Shape padded(n, 1);
  for (std::size_t i = 0; i < shape.size(); ++i) padded[n - shape.size() + i] = shape[i];
  Tensor out = Tensor::zeros(shape, g.dtype());
  dispatch(g.dtype(), [&]<typename T>() {
    const T* src = g.data_as<T>();
    T* dst = out.data_as<T>();
    // Output strides with 0 on broadcast dimensions.
    std::vector<std::int64_t> ostride(n, 0);
    std::int64_t s = 1;
    for (std::size_t i = n; i-- > 0;) {
      ostride[i] = padded[i] == 1 ? 0 : s;
      s *= padded[i];
    }
    std::vector<std::int64_t> idx(n, 0);
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
  float m = 0.0f;
  for (float v : x.to_vector()) {
    if (std::isnan(v)) return v;
    m = std::max(m, std::abs(v));
  }
  return m;
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
