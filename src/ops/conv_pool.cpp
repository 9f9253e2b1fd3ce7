// conv2d, max_pool2d and avg_pool2d over the CPU kernels. Shapes are validated here so that a
// user gets one line naming the tensors; the kernels' own checks back them up.
#include "ops/conv_pool.h"

#include "autograd/grad_info.h"
#include "backend/kernels.h"
#include "ops/common.h"
#include "runtime/error.h"

namespace mixtrain::ops {
namespace {

using backend::Conv2dShape;
using backend::Pool2dShape;

Pool2dShape pool_shape(const char* name, const Tensor& x, std::int64_t k, std::int64_t stride, std::int64_t pad) {
  check(x.dim() == 4, std::string(name) + ": input must be (N, C, H, W), got " + to_string(x.shape()));
  check(k > 0 && stride > 0 && pad >= 0 && 2 * pad <= k,
        std::string(name) + ": need k > 0, stride > 0 and 0 <= pad <= k/2 (k=" + std::to_string(k) +
            ", stride=" + std::to_string(stride) + ", pad=" + std::to_string(pad) + ")");
  check(x.size(2) + 2 * pad >= k && x.size(3) + 2 * pad >= k,
        std::string(name) + ": window " + std::to_string(k) + " larger than padded input " + to_string(x.shape()));
  return Pool2dShape{x.size(0), x.size(1), x.size(2), x.size(3), k, k, stride, pad};
}

}  // namespace

Tensor conv2d(const Tensor& x0, const Tensor& w0, const Tensor& b, std::int64_t stride, std::int64_t pad,
              std::optional<DType> out) {
  const DType widest = promote(x0.dtype(), w0.dtype());
  const Tensor x = autocast("conv2d", x0, widest), w = autocast("conv2d", w0, widest);
  check(x.dim() == 4 && w.dim() == 4,
        "conv2d: need x (N, C, H, W) and w (OC, C, KH, KW), got " + to_string(x.shape()) + " and " + to_string(w.shape()));
  check(w.size(1) == x.size(1), "conv2d: weight " + to_string(w.shape()) + " expects " + std::to_string(w.size(1)) +
                                    " input channels, input " + to_string(x.shape()) + " has " + std::to_string(x.size(1)));
  check(!b.defined() || (b.dim() == 1 && b.size(0) == w.size(0)),
        "conv2d: bias must be (" + std::to_string(w.size(0)) + "), got " + to_string(b.shape()));
  check(stride > 0 && pad >= 0, "conv2d: need stride > 0 and pad >= 0 (stride=" + std::to_string(stride) +
                                    ", pad=" + std::to_string(pad) + ")");
  const Conv2dShape s{x.size(0), x.size(1), x.size(2), x.size(3), w.size(0), w.size(2), w.size(3), stride, pad};
  check(s.H + 2 * pad >= s.KH && s.W + 2 * pad >= s.KW,
        "conv2d: kernel " + to_string(w.shape()) + " larger than padded input " + to_string(x.shape()));
  const DType od = out.value_or(x.dtype());
  const DType ct = compute_dtype({x.dtype(), w.dtype(), od});
  // Operands are up-converted exactly to the compute dtype; im2col + GEMM accumulate there.
  const Tensor xc = as_dtype(x, ct), wc = as_dtype(w, ct), bc = b.defined() ? as_dtype(b, ct) : Tensor();
  Tensor y = Tensor::empty({s.N, s.OC, s.oh(), s.ow()}, ct);
  dispatch(ct, [&]<typename T>() {
    backend::real<T>().conv2d_forward(y.data_as<T>(), xc.data_as<T>(), wc.data_as<T>(),
                                    bc.defined() ? bc.data_as<T>() : nullptr, s);
  });
  Tensor r = as_dtype(y, od);
  if (autograd::any_requires_grad({&x, &w, &b})) {
    // x and w are already held by the node as inputs; the backward converts them again rather
    // than keeping fp32 copies alive between forward and backward.
    autograd::record(r, "conv2d", {x, w, b}, [x, w, b, s, ct](const Tensor& g) -> std::vector<Tensor> {
      const Tensor gc = as_dtype(g, ct), xc2 = as_dtype(x, ct), wc2 = as_dtype(w, ct);
      Tensor dx = x.requires_grad() ? Tensor::empty(x.shape(), ct) : Tensor();
      Tensor dw = w.requires_grad() ? Tensor::empty(w.shape(), ct) : Tensor();
      Tensor db = b.defined() && b.requires_grad() ? Tensor::empty(b.shape(), ct) : Tensor();
      dispatch(ct, [&]<typename T>() {
        backend::real<T>().conv2d_backward(dx.defined() ? dx.data_as<T>() : nullptr, dw.defined() ? dw.data_as<T>() : nullptr,
                                         db.defined() ? db.data_as<T>() : nullptr, gc.data_as<T>(), xc2.data_as<T>(),
                                         wc2.data_as<T>(), s);
      });
      return {dx, dw, db};
    });
  }
  return r;
}

Tensor max_pool2d(const Tensor& x0, std::int64_t k, std::int64_t stride, std::int64_t pad, std::optional<DType> out) {
  const Tensor x = autocast("max_pool2d", x0, x0.dtype());
  const Pool2dShape s = pool_shape("max_pool2d", x, k, stride, pad);
  const DType od = out.value_or(x.dtype());
  const DType ct = compute_dtype({x.dtype(), od});
  const Tensor xc = as_dtype(x, ct);
  const Shape os{s.N, s.C, s.oh(), s.ow()};
  Tensor y = Tensor::empty(os, ct);
  // Argmax indices (int64) live in a tensor of an 8-byte dtype so that they come from the caching
  // allocator and the ledger sees them; they are never read as floating values.
  Tensor argmax = Tensor::empty(os, DType::fp64);
  auto* idx = static_cast<std::int64_t*>(argmax.data());
  dispatch(ct, [&]<typename T>() { backend::real<T>().max_pool2d_forward(y.data_as<T>(), idx, xc.data_as<T>(), s); });
  Tensor r = as_dtype(y, od);
  if (autograd::any_requires_grad({&x})) {
    autograd::record(r, "max_pool2d", {x}, [argmax, s, ct, xs = x.shape()](const Tensor& g) -> std::vector<Tensor> {
      const Tensor gc = as_dtype(g, ct);
      Tensor dx = Tensor::empty(xs, ct);
      dispatch(ct, [&]<typename T>() {
        backend::real<T>().max_pool2d_backward(dx.data_as<T>(), gc.data_as<T>(),
                                             static_cast<const std::int64_t*>(argmax.data()), s);
      });
      return {dx};
    });
  }
  return r;
}

Tensor avg_pool2d(const Tensor& x0, std::int64_t k, std::int64_t stride, std::int64_t pad, std::optional<DType> out) {
  const Tensor x = autocast("avg_pool2d", x0, x0.dtype());
  const Pool2dShape s = pool_shape("avg_pool2d", x, k, stride, pad);
  const DType od = out.value_or(x.dtype());
  const DType ct = compute_dtype({x.dtype(), od});
  const Tensor xc = as_dtype(x, ct);
  Tensor y = Tensor::empty({s.N, s.C, s.oh(), s.ow()}, ct);
  dispatch(ct, [&]<typename T>() { backend::real<T>().avg_pool2d_forward(y.data_as<T>(), xc.data_as<T>(), s); });
  Tensor r = as_dtype(y, od);
  if (autograd::any_requires_grad({&x})) {
    // The backward needs only the shape: nothing of x is saved beyond the node's input slot.
    autograd::record(r, "avg_pool2d", {x}, [s, ct, xs = x.shape()](const Tensor& g) -> std::vector<Tensor> {
      const Tensor gc = as_dtype(g, ct);
      Tensor dx = Tensor::empty(xs, ct);
      dispatch(ct, [&]<typename T>() { backend::real<T>().avg_pool2d_backward(dx.data_as<T>(), gc.data_as<T>(), s); });
      return {dx};
    });
  }
  return r;
}

}  // namespace mixtrain::ops
