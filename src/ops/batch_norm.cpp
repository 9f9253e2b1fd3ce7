// batch_norm over the backend's batch-norm kernels (backend/kernels.h): batch statistics in
// training mode, the running ones (fixed, so the backward is an affine map) in evaluation mode.
#include "ops/batch_norm.h"

#include "autograd/grad_info.h"
#include "backend/kernels.h"
#include "ops/common.h"
#include "runtime/error.h"

namespace mixtrain::ops {

Tensor batch_norm(const Tensor& x0, const Tensor& gamma0, const Tensor& beta0, const Tensor& running_mean,
                  const Tensor& running_var, bool training, double momentum, double eps, std::optional<DType> out) {
  const Tensor x = autocast("batch_norm", x0, x0.dtype());
  const Tensor gamma = autocast("batch_norm", gamma0, gamma0.defined() ? gamma0.dtype() : DType::fp32);
  const Tensor beta = autocast("batch_norm", beta0, beta0.defined() ? beta0.dtype() : DType::fp32);
  check(x.dim() >= 2, "batch_norm: input must be (N, C, ...), got " + to_string(x.shape()));
  const std::int64_t N = x.size(0), C = x.size(1), HW = C == 0 || N == 0 ? 0 : x.numel() / (N * C);
  auto per_channel = [C](const Tensor& t, const char* what) {
    check(!t.defined() || t.numel() == C,
          std::string("batch_norm: ") + what + " must have " + std::to_string(C) + " elements, got " + to_string(t.shape()));
  };
  per_channel(gamma, "gamma");
  per_channel(beta, "beta");
  per_channel(running_mean, "running_mean");
  per_channel(running_var, "running_var");
  check(running_mean.defined() == running_var.defined(), "batch_norm: give both running_mean and running_var, or neither");
  check(training || running_mean.defined(), "batch_norm: eval mode needs running_mean and running_var");
  const DType ct = compute_dtype({x.dtype(), gamma.defined() ? gamma.dtype() : DType::fp32});
  const DType od = out.value_or(x.dtype());
  const Tensor xc = as_dtype(x, ct);
  const Tensor gc = gamma.defined() ? as_dtype(gamma, ct) : Tensor(), bc = beta.defined() ? as_dtype(beta, ct) : Tensor();
  // Running statistics in the compute dtype: the buffers themselves when they already are (the
  // usual fp32 case, updated in place by the kernel), else converted copies written back below.
  Tensor rm, rv;
  if (running_mean.defined()) {
    rm = as_dtype(running_mean, ct);
    rv = as_dtype(running_var, ct);
  }
  Tensor y = Tensor::empty(x.shape(), ct);
  Tensor mean, rstd;
  if (training) {
    mean = Tensor::empty({C}, ct);
    rstd = Tensor::empty({C}, ct);
    dispatch(ct, [&]<typename T>() {
      backend::real<T>().batch_norm_forward_train(y.data_as<T>(), mean.data_as<T>(), rstd.data_as<T>(),
                                                  rm.defined() ? rm.data_as<T>() : nullptr, rv.defined() ? rv.data_as<T>() : nullptr,
                                                  xc.data_as<T>(), gc.defined() ? gc.data_as<T>() : nullptr,
                                                  bc.defined() ? bc.data_as<T>() : nullptr, N, C, HW,
                                                  static_cast<T>(momentum), static_cast<T>(eps));
    });
    // Tensors are handles: a copy shares the buffer's storage, so writing through it updates the
    // caller's running statistics.
    if (rm.defined() && rm.storage_id() != running_mean.storage_id()) Tensor(running_mean).copy_from(rm);
    if (rv.defined() && rv.storage_id() != running_var.storage_id()) Tensor(running_var).copy_from(rv);
  } else {
    dispatch(ct, [&]<typename T>() {
      backend::real<T>().batch_norm_forward_eval(y.data_as<T>(), xc.data_as<T>(), gc.defined() ? gc.data_as<T>() : nullptr,
                                                 bc.defined() ? bc.data_as<T>() : nullptr, rm.data_as<T>(), rv.data_as<T>(), N, C,
                                                 HW, static_cast<T>(eps));
    });
    // Eval is affine per channel: y = x * a + c with a = gamma * rstd; the backward needs mean
    // and rstd of the running statistics, as of this call (later updates must not leak in).
    mean = rm.storage_id() == running_mean.storage_id() ? rm.clone() : rm;
    rstd = Tensor::empty({C}, ct);
    dispatch(ct, [&]<typename T>() {
      backend::real<T>().batch_norm_inv_std(rstd.data_as<T>(), rv.data_as<T>(), C, static_cast<T>(eps));
    });
  }
  Tensor r = as_dtype(y, od);
  if (autograd::any_requires_grad({&x, &gamma, &beta})) {
    autograd::record(r, "batch_norm", {x, gamma, beta},
                     [x, gc, mean, rstd, N, C, HW, ct, training, has_b = beta.defined()](const Tensor& g) -> std::vector<Tensor> {
      const Tensor gcv = as_dtype(g, ct), xc2 = as_dtype(x, ct);
      Tensor dx = Tensor::empty(x.shape(), ct);
      Tensor dg = gc.defined() ? Tensor::empty({C}, ct) : Tensor();
      Tensor db = has_b ? Tensor::empty({C}, ct) : Tensor();
      dispatch(ct, [&]<typename T>() {
        if (training) {
          backend::real<T>().batch_norm_backward(dx.data_as<T>(), dg.defined() ? dg.data_as<T>() : nullptr,
                                                 db.defined() ? db.data_as<T>() : nullptr, gcv.data_as<T>(), xc2.data_as<T>(),
                                                 mean.data_as<T>(), rstd.data_as<T>(), gc.defined() ? gc.data_as<T>() : nullptr,
                                                 N, C, HW);
          return;
        }
        backend::real<T>().batch_norm_backward_frozen(dx.data_as<T>(), dg.defined() ? dg.data_as<T>() : nullptr,
                                                      db.defined() ? db.data_as<T>() : nullptr, gcv.data_as<T>(),
                                                      xc2.data_as<T>(), mean.data_as<T>(), rstd.data_as<T>(),
                                                      gc.defined() ? gc.data_as<T>() : nullptr, N, C, HW);
      });
      return {dx, dg, db};
    });
  }
  return r;
}

}  // namespace mixtrain::ops
