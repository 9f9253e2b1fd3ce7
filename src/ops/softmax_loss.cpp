// Softmax and losses over the backend's kernels (backend/kernels.h).
#include "ops/softmax_loss.h"

#include "autograd/grad_info.h"
#include "backend/kernels.h"
#include "ops/common.h"
#include "runtime/error.h"

namespace mixtrain::ops {
namespace {

template <bool Log>
Tensor softmax_impl(const char* name, const Tensor& x0, std::optional<DType> out) {
  const Tensor x = autocast(name, x0, x0.dtype());
  check(x.dim() >= 1, std::string(name) + ": needs at least one dimension");
  const DType ct = compute_dtype({x.dtype()});
  const DType od = out.value_or(x.dtype());
  const std::int64_t C = x.size(-1), N = x.numel() / std::max<std::int64_t>(C, 1);
  const Tensor xc = as_dtype(x, ct);
  Tensor y = Tensor::empty(x.shape(), ct);
  dispatch(ct, [&]<typename T>() {
    const auto& k = backend::real<T>();
    (Log ? k.log_softmax_forward : k.softmax_forward)(y.data_as<T>(), xc.data_as<T>(), N, C);
  });
  Tensor r = as_dtype(y, od);
  if (autograd::any_requires_grad({&x})) {
    autograd::record(r, name, {x}, [yc = y.detach(), N, C, ct](const Tensor& g) -> std::vector<Tensor> {
      const Tensor gc = as_dtype(g, ct);
      Tensor dx = Tensor::empty(yc.shape(), ct);
      dispatch(ct, [&]<typename T>() {
        const auto& k = backend::real<T>();
        (Log ? k.log_softmax_backward : k.softmax_backward)(dx.data_as<T>(), gc.data_as<T>(), yc.data_as<T>(), N, C);
      });
      return {dx};
    });
  }
  return r;
}

}  // namespace

Tensor softmax(const Tensor& x, std::optional<DType> out) { return softmax_impl<false>("softmax", x, out); }
Tensor log_softmax(const Tensor& x, std::optional<DType> out) { return softmax_impl<true>("log_softmax", x, out); }

Tensor cross_entropy(const Tensor& logits0, const std::vector<std::int64_t>& labels) {
  const Tensor logits = autocast("cross_entropy", logits0, logits0.dtype());
  check(logits.dim() >= 1, "cross_entropy: logits need a class dimension");
  const std::int64_t C = logits.size(-1), N = logits.numel() / C;
  check(static_cast<std::int64_t>(labels.size()) == N,
        "cross_entropy: " + std::to_string(labels.size()) + " labels for " + std::to_string(N) + " rows");
  const DType ct = compute_dtype({logits.dtype()});
  const Tensor xc = as_dtype(logits, ct);
  Tensor lse = Tensor::empty({N}, ct);
  Tensor loss = Tensor::empty({}, ct);
  dispatch(ct, [&]<typename T>() {
    loss.data_as<T>()[0] = backend::real<T>().cross_entropy_forward(lse.data_as<T>(), xc.data_as<T>(), labels.data(), N, C);
  });
  if (autograd::any_requires_grad({&logits})) {
    autograd::record(loss, "cross_entropy", {logits}, [xc, lse, labels, N, C, ct, shape = logits.shape()](const Tensor& g) -> std::vector<Tensor> {
      Tensor dx = Tensor::empty(shape, ct);
      const double dl = g.to_vector_f64()[0];
      dispatch(ct, [&]<typename T>() {
        backend::real<T>().cross_entropy_backward(dx.data_as<T>(), xc.data_as<T>(), lse.data_as<T>(), labels.data(),
                                                  static_cast<T>(dl), N, C);
      });
      return {dx};
    });
  }
  return loss;
}

namespace {

using Loss = backend::PointLoss;

Tensor pointwise_loss(Loss kind, const char* name, const Tensor& p0, const Tensor& t0) {
  const Tensor p = autocast(name, p0, p0.dtype()), t = autocast(name, t0, t0.dtype());
  check(p.numel() == t.numel(), std::string(name) + ": prediction " + to_string(p.shape()) + " and target " +
                                    to_string(t.shape()) + " differ in size");
  const DType ct = compute_dtype({p.dtype(), t.dtype()});
  const Tensor pc = as_dtype(p, ct), tc = as_dtype(t, ct);
  const std::int64_t n = p.numel();
  Tensor loss = Tensor::empty({}, ct);
  dispatch(ct, [&]<typename T>() {
    loss.data_as<T>()[0] = backend::real<T>().point_loss_forward(kind, pc.data_as<T>(), tc.data_as<T>(), n);
  });
  if (autograd::any_requires_grad({&p, &t})) {
    autograd::record(loss, name, {p, t}, [kind, pc, tc, n, ct, ps = p.shape(), ts = t.shape()](const Tensor& g) -> std::vector<Tensor> {
      const double dl = g.to_vector_f64()[0];
      Tensor dp = Tensor::empty(ps, ct), dt = Tensor::empty(ts, ct);
      dispatch(ct, [&]<typename T>() {
        backend::real<T>().point_loss_backward(kind, dp.data_as<T>(), dt.data_as<T>(), pc.data_as<T>(), tc.data_as<T>(),
                                               n, static_cast<T>(dl));
      });
      return {dp, dt};
    });
  }
  return loss;
}

}  // namespace

Tensor mse(const Tensor& pred, const Tensor& target) { return pointwise_loss(Loss::mse, "mse", pred, target); }
Tensor bce_with_logits(const Tensor& logits, const Tensor& target) {
  return pointwise_loss(Loss::bce_with_logits, "bce_with_logits", logits, target);
}

}  // namespace mixtrain::ops
