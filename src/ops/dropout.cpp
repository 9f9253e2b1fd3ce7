// dropout over the backend's dropout family. The backward re-derives the mask from (seed, offset) by
// running the forward kernel on the gradient: mask ? g / (1 - p) : 0 is exactly dropout_backward,
// and no n-byte mask has to live from the forward to the backward.
#include "ops/dropout.h"

#include <string>

#include "autograd/grad_info.h"
#include "backend/kernels.h"
#include "ops/common.h"
#include "ops/elementwise.h"
#include "runtime/error.h"

namespace mixtrain::ops {

Tensor dropout(const Tensor& x0, double p, std::uint64_t seed, std::uint64_t offset, bool training,
               std::optional<DType> out) {
  check(p >= 0.0 && p <= 1.0, "dropout: p must be in [0, 1], got " + std::to_string(p));
  const Tensor x = autocast("dropout", x0, x0.dtype());
  const DType od = out.value_or(x.dtype());
  if (!training || p == 0.0) return od == x.dtype() ? x : cast(x, od);
  const DType ct = compute_dtype({x.dtype(), od});
  const Tensor xc = as_dtype(x, ct);
  Tensor y = Tensor::empty(x.shape(), ct);
  dispatch(ct, [&]<typename T>() {
    backend::real<T>().dropout_forward(y.data_as<T>(), nullptr, xc.data_as<T>(), x.numel(), p, seed, offset);
  });
  Tensor r = as_dtype(y, od);
  if (autograd::any_requires_grad({&x})) {
    autograd::record(r, "dropout", {x}, [p, seed, offset, ct](const Tensor& g) -> std::vector<Tensor> {
      const Tensor gc = as_dtype(g, ct);
      Tensor dx = Tensor::empty(g.shape(), ct);
      dispatch(ct, [&]<typename T>() {
        backend::real<T>().dropout_forward(dx.data_as<T>(), nullptr, gc.data_as<T>(), g.numel(), p, seed, offset);
      });
      return {dx};
    });
  }
  return r;
}

}  // namespace mixtrain::ops
