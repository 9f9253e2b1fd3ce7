// Dtype rules, broadcasting reductions and the autocast hook slot.
#include "ops/common.h"

#include <algorithm>
#include <cmath>

#include "backend/kernels.h"
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

Tensor sum_to(const Tensor& g, const Shape& shape) {
  if (g.shape() == shape) return g;
  const Shape& gs = g.shape();
  const std::size_t n = gs.size();
  Shape padded(n, 1);
  for (std::size_t i = 0; i < shape.size(); ++i) padded[n - shape.size() + i] = shape[i];
  // The kernel zeroes out itself, and reads the target shape at g's rank.
  Tensor out = Tensor::empty(shape, g.dtype());
  dispatch(g.dtype(), [&]<typename T>() { backend::real<T>().sum_to(out.data_as<T>(), g.data_as<T>(), gs, padded); });
  return out;
}

float amax(const Tensor& x) {
  // Dividing by a positive scale is monotonic, so the max of the real values is the max code's.
  const float m = backend::kernels().conversions.abs_max(x.data(), x.dtype(), static_cast<std::size_t>(x.numel()));
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
