// BatchNorm2d.
#include "nn/batch_norm.h"

#include "ops/batch_norm.h"
#include "runtime/error.h"

namespace mixtrain::nn {

BatchNorm2d::BatchNorm2d(const BatchNorm2dOptions& o) : opt_(o) {
  check(o.features > 0, "BatchNorm2d: features must be positive");
  check(o.eps > 0 && o.momentum >= 0 && o.momentum <= 1, "BatchNorm2d: need eps > 0 and momentum in [0, 1]");
  tensor::LedgerScope scope(tensor::Category::weights);
  gamma_ = &register_parameter("weight", Tensor::ones({o.features}), /*is_norm=*/true, /*decay=*/false);
  beta_ = &register_parameter("bias", Tensor::zeros({o.features}), /*is_norm=*/true, /*decay=*/false);
  running_mean_ = &register_buffer("running_mean", Tensor::zeros({o.features}));
  running_var_ = &register_buffer("running_var", Tensor::ones({o.features}));
}

Tensor BatchNorm2d::forward_impl(const Tensor& x) {
  check(x.dim() == 4 && x.size(1) == opt_.features, "BatchNorm2d '" + name() + "': expected (N, " +
                                                        std::to_string(opt_.features) + ", H, W), got " +
                                                        to_string(x.shape()));
  return ops::batch_norm(x, *gamma_, *beta_, *running_mean_, *running_var_, training(), opt_.momentum, opt_.eps,
                         x.dtype());
}

}  // namespace mixtrain::nn
