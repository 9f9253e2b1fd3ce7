// Reductions as a broadcast-sum (sum_to) in the compute dtype: fp32 accumulation for every
// input narrower than fp64, in a fixed element order (deterministic).
#include "ops/reduce.h"

#include "autograd/grad_info.h"
#include "backend/kernels.h"
#include "ops/common.h"
#include "runtime/error.h"

namespace mixtrain::ops {
namespace {

std::vector<bool> reduced_mask(const Tensor& x, std::vector<std::int64_t> axes) {
  std::vector<bool> m(static_cast<std::size_t>(x.dim()), axes.empty());
  for (auto a : axes) {
    if (a < 0) a += x.dim();
    check(a >= 0 && a < x.dim(), "sum: axis out of range for shape " + to_string(x.shape()));
    m[static_cast<std::size_t>(a)] = true;
  }
  return m;
}

Tensor reduce(const char* name, const Tensor& x0, std::vector<std::int64_t> axes, bool keepdim,
              std::optional<DType> out, bool average) {
  const Tensor x = autocast(name, x0, x0.dtype());
  const auto mask = reduced_mask(x, axes);
  Shape keep_shape, out_shape;
  std::int64_t count = 1;
  for (std::size_t i = 0; i < mask.size(); ++i) {
    keep_shape.push_back(mask[i] ? 1 : x.shape()[i]);
    if (!mask[i]) out_shape.push_back(x.shape()[i]);
    else count *= x.shape()[i];
  }
  const DType ct = compute_dtype({x.dtype()});
  const DType od = out.value_or(ct);
  const Tensor xc = as_dtype(x, ct);
  // sum_to reduces exactly the broadcast dims of keep_shape.
  Tensor s = sum_to(xc, keep_shape);
  if (s.storage_id() == xc.storage_id()) s = xc.clone();
  if (average && count > 0) {
    // Divided by the count, not multiplied by its reciprocal (which rounds differently); in
    // place, which an elementwise kernel allows since each element reads only itself. s is a
    // fresh tensor here, and a second one would raise the activation peak the ledger reports.
    dispatch(ct, [&]<typename T>() {
      const T c = static_cast<T>(count);
      backend::real<T>().binary(backend::BinaryOp::div, s.data_as<T>(), s.data_as<T>(), s.shape(), &c,
                                Shape(s.shape().size(), 1), s.shape());
    });
  }
  Tensor r = as_dtype(s, od).view(keepdim ? keep_shape : out_shape);
  if (autograd::any_requires_grad({&x})) {
    autograd::record(r, name, {x}, [x, keep_shape, count, average, ct](const Tensor& g) -> std::vector<Tensor> {
      // Broadcast g back over the reduced dims.
      const Tensor gc = as_dtype(g, ct).view(keep_shape);
      Tensor gx = Tensor::empty(x.shape(), ct);
      dispatch(ct, [&]<typename T>() {
        const T f = average ? static_cast<T>(1) / static_cast<T>(count) : T(1);
        backend::real<T>().broadcast_to(gx.data_as<T>(), gc.data_as<T>(), keep_shape, x.shape(), f);
      });
      return {gx};
    });
  }
  return r;
}

}  // namespace

Tensor sum(const Tensor& x, std::vector<std::int64_t> axes, bool keepdim, std::optional<DType> out) {
  return reduce("sum", x, std::move(axes), keepdim, out, false);
}
Tensor mean(const Tensor& x, std::vector<std::int64_t> axes, bool keepdim, std::optional<DType> out) {
  return reduce("mean", x, std::move(axes), keepdim, out, true);
}

}  // namespace mixtrain::ops
