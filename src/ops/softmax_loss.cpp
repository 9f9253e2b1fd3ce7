// Softmax and losses over the CPU kernels (kernels/cpu/softmax.h).
#include "ops/softmax_loss.h"

#include <cmath>

#include "autograd/grad_info.h"
#include "kernels/cpu/softmax.h"
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
    if constexpr (Log) kernels::cpu::log_softmax_forward<T>(y.data_as<T>(), xc.data_as<T>(), N, C);
    else kernels::cpu::softmax_forward<T>(y.data_as<T>(), xc.data_as<T>(), N, C);
  });
  Tensor r = as_dtype(y, od);
  if (autograd::any_requires_grad({&x})) {
    autograd::record(r, name, {x}, [yc = y.detach(), N, C, ct](const Tensor& g) -> std::vector<Tensor> {
      const Tensor gc = as_dtype(g, ct);
      Tensor dx = Tensor::empty(yc.shape(), ct);
      dispatch(ct, [&]<typename T>() {
        if constexpr (Log) kernels::cpu::log_softmax_backward<T>(dx.data_as<T>(), gc.data_as<T>(), yc.data_as<T>(), N, C);
        else kernels::cpu::softmax_backward<T>(dx.data_as<T>(), gc.data_as<T>(), yc.data_as<T>(), N, C);
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
    loss.data_as<T>()[0] = kernels::cpu::cross_entropy_forward<T>(lse.data_as<T>(), xc.data_as<T>(), labels.data(), N, C);
  });
  if (autograd::any_requires_grad({&logits})) {
    autograd::record(loss, "cross_entropy", {logits}, [xc, lse, labels, N, C, ct, shape = logits.shape()](const Tensor& g) -> std::vector<Tensor> {
      Tensor dx = Tensor::empty(shape, ct);
      const double dl = g.to_vector_f64()[0];
      dispatch(ct, [&]<typename T>() {
        kernels::cpu::cross_entropy_backward<T>(dx.data_as<T>(), xc.data_as<T>(), lse.data_as<T>(), labels.data(),
                                                static_cast<T>(dl), N, C);
      });
      return {dx};
    });
  }
  return loss;
}

namespace {

enum class Loss { mse, bce };

Tensor pointwise_loss(Loss kind, const char* name, const Tensor& p0, const Tensor& t0) {
  const Tensor p = autocast(name, p0, p0.dtype()), t = autocast(name, t0, t0.dtype());
  check(p.numel() == t.numel(), std::string(name) + ": prediction " + to_string(p.shape()) + " and target " +
                                    to_string(t.shape()) + " differ in size");
  const DType ct = compute_dtype({p.dtype(), t.dtype()});
  const Tensor pc = as_dtype(p, ct), tc = as_dtype(t, ct);
  const std::int64_t n = p.numel();
  Tensor loss = Tensor::empty({}, ct);
  dispatch(ct, [&]<typename T>() {
    const T* x = pc.data_as<T>();
    const T* y = tc.data_as<T>();
    double acc = 0;
    for (std::int64_t i = 0; i < n; ++i) {
      if (kind == Loss::mse) {
        const double d = double(x[i]) - double(y[i]);
        acc += d * d;
      } else {
        // softplus(x) - x y = max(x, 0) - x y + log1p(exp(-|x|)): no overflow for large |x|.
        const double xv = x[i];
        acc += std::max(xv, 0.0) - xv * double(y[i]) + std::log1p(std::exp(-std::abs(xv)));
      }
    }
    loss.data_as<T>()[0] = static_cast<T>(acc / double(n));
  });
  if (autograd::any_requires_grad({&p, &t})) {
    autograd::record(loss, name, {p, t}, [kind, pc, tc, n, ct, ps = p.shape(), ts = t.shape()](const Tensor& g) -> std::vector<Tensor> {
      const double dl = g.to_vector_f64()[0];
      Tensor dp = Tensor::empty(ps, ct), dt = Tensor::empty(ts, ct);
      dispatch(ct, [&]<typename T>() {
        const T* x = pc.data_as<T>();
        const T* y = tc.data_as<T>();
        T* gp = dp.data_as<T>();
        T* gt = dt.data_as<T>();
        for (std::int64_t i = 0; i < n; ++i) {
          if (kind == Loss::mse) {
            const double d = 2.0 * (double(x[i]) - double(y[i])) / double(n) * dl;
            gp[i] = static_cast<T>(d);
            gt[i] = static_cast<T>(-d);
          } else {
            const double s = 1.0 / (1.0 + std::exp(-double(x[i])));
            gp[i] = static_cast<T>((s - double(y[i])) / double(n) * dl);
            gt[i] = static_cast<T>(-double(x[i]) / double(n) * dl);
          }
        }
      });
      return {dp, dt};
    });
  }
  return loss;
}

}  // namespace

Tensor mse(const Tensor& pred, const Tensor& target) { return pointwise_loss(Loss::mse, "mse", pred, target); }
Tensor bce_with_logits(const Tensor& logits, const Tensor& target) {
  return pointwise_loss(Loss::bce, "bce_with_logits", logits, target);
}

}  // namespace mixtrain::ops
