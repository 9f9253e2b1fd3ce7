// layer_norm over the backend's norm family.
#include "ops/norm.h"

#include "autograd/grad_info.h"
#include "backend/kernels.h"
#include "ops/common.h"
#include "runtime/error.h"

namespace mixtrain::ops {

namespace {

// fp32, fp16 or bf16 with no fp8 scale: what the mixed-dtype kernels read directly.
bool unscaled_16_or_32(const Tensor& t) {
  return t.scale() == 1.0f && (t.dtype() == DType::fp32 || numerics::spec(t.dtype()).bits() == 16);
}

}  // namespace

Tensor layer_norm(const Tensor& x0, const Tensor& gamma0, const Tensor& beta0, double eps, std::optional<DType> out) {
  const Tensor x = autocast("layer_norm", x0, x0.dtype());
  const Tensor gamma = autocast("layer_norm", gamma0, gamma0.defined() ? gamma0.dtype() : DType::fp32);
  const Tensor beta = autocast("layer_norm", beta0, beta0.defined() ? beta0.dtype() : DType::fp32);
  check(x.dim() >= 1, "layer_norm: input needs a feature dimension");
  const std::int64_t C = x.size(-1), N = x.numel() / C;
  check(!gamma.defined() || gamma.numel() == C, "layer_norm: gamma must have " + std::to_string(C) + " elements");
  check(!beta.defined() || beta.numel() == C, "layer_norm: beta must have " + std::to_string(C) + " elements");
  const DType ct = compute_dtype({x.dtype(), gamma.defined() ? gamma.dtype() : DType::fp32});
  const DType od = out.value_or(x.dtype());
  const Tensor gc = gamma.defined() ? as_dtype(gamma, ct) : Tensor(), bc = beta.defined() ? as_dtype(beta, ct) : Tensor();
  Tensor mean = Tensor::empty({N}, ct), rstd = Tensor::empty({N}, ct);
  Tensor r;
  if (ct == DType::fp32 && unscaled_16_or_32(x) && (od == DType::fp32 || numerics::spec(od).bits() == 16)) {
    // The fp32 kernel on x decoded row by row, rounded once into od: the same bits as the
    // general path below, without its fp32 copies of x and of the output.
    r = Tensor::empty(x.shape(), od);
    backend::kernels().layer_norm_forward_from(r.data(), od, mean.data_as<float>(), rstd.data_as<float>(), x.data(),
                                               x.dtype(), gc.defined() ? gc.data_as<float>() : nullptr,
                                               bc.defined() ? bc.data_as<float>() : nullptr, N, C, static_cast<float>(eps));
  } else {
    const Tensor xc = as_dtype(x, ct);
    Tensor y = Tensor::empty(x.shape(), ct);
    dispatch(ct, [&]<typename T>() {
      backend::real<T>().layer_norm_forward(y.data_as<T>(), mean.data_as<T>(), rstd.data_as<T>(), xc.data_as<T>(),
                                          gc.defined() ? gc.data_as<T>() : nullptr, bc.defined() ? bc.data_as<T>() : nullptr,
                                          N, C, static_cast<T>(eps));
    });
    r = as_dtype(y, od);
  }
  if (autograd::any_requires_grad({&x, &gamma, &beta})) {
    // The backward reads x in the compute dtype; a 16-bit input is saved as it came (its fp32
    // copy is exact, remade in the backward) rather than keeping the copy alive twice as large.
    const Tensor saved = numerics::spec(x0.dtype()).bits() == 16 ? x0 : x;
    autograd::record(r, "layer_norm", {x, gamma, beta}, [saved, gc, mean, rstd, N, C, ct, has_b = beta.defined()](const Tensor& g) -> std::vector<Tensor> {
      Tensor dx = Tensor::empty(saved.shape(), ct);
      Tensor dg = gc.defined() ? Tensor::empty({C}, ct) : Tensor();
      Tensor db = has_b ? Tensor::empty({C}, ct) : Tensor();
      if (ct == DType::fp32 && unscaled_16_or_32(g) && unscaled_16_or_32(saved)) {
        // As in the forward: dY and x decoded row by row inside the kernel, the same bits.
        backend::kernels().layer_norm_backward_from(dx.data_as<float>(), dg.defined() ? dg.data_as<float>() : nullptr,
                                                    db.defined() ? db.data_as<float>() : nullptr, g.data(), g.dtype(),
                                                    saved.data(), saved.dtype(), mean.data_as<float>(),
                                                    rstd.data_as<float>(), gc.defined() ? gc.data_as<float>() : nullptr, N, C);
        return {dx, dg, db};
      }
      const Tensor gcv = as_dtype(g, ct), xc2 = as_dtype(saved, ct);
      dispatch(ct, [&]<typename T>() {
        backend::real<T>().layer_norm_backward(dx.data_as<T>(), dg.defined() ? dg.data_as<T>() : nullptr,
                                             db.defined() ? db.data_as<T>() : nullptr, gcv.data_as<T>(), xc2.data_as<T>(),
                                             mean.data_as<T>(), rstd.data_as<T>(), gc.defined() ? gc.data_as<T>() : nullptr, N, C);
      });
      return {dx, dg, db};
    });
  }
  return r;
}

}  // namespace mixtrain::ops
