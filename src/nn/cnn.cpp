// CNN.
#include "nn/cnn.h"

#include "nn/seed.h"
#include "ops/shape_ops.h"
#include "runtime/error.h"

namespace mixtrain::nn {

CNN::CNN(const CNNOptions& o) : opt_(o) {
  check(o.in_channels > 0 && o.channels1 > 0 && o.channels2 > 0 && o.hidden > 0 && o.classes > 0,
        "CNN: channel, hidden and class counts must be positive");
  check(o.image >= 4, "CNN: the image side must be at least 4 (two 2x2 pools)");
  side_ = o.image / 2 / 2;
  features_ = register_module("features", std::make_unique<Sequential>());
  features_->add(std::make_unique<Conv2d>(Conv2dOptions{.in = o.in_channels, .out = o.channels1, .kernel = 3,
                                                        .pad = 1, .seed = derive_seed(o.seed, 0)}));
  features_->add(std::make_unique<ReLU>());
  features_->add(std::make_unique<MaxPool2d>(Pool2dOptions{.kernel = 2}));
  features_->add(std::make_unique<Conv2d>(Conv2dOptions{.in = o.channels1, .out = o.channels2, .kernel = 3,
                                                        .pad = 1, .seed = derive_seed(o.seed, 3)}));
  features_->add(std::make_unique<ReLU>());
  features_->add(std::make_unique<MaxPool2d>(Pool2dOptions{.kernel = 2}));
  fc_ = register_module("fc", std::make_unique<Linear>(LinearOptions{
                                  .in = o.channels2 * side_ * side_, .out = o.hidden, .bias = true,
                                  .activation = backend::Activation::relu, .seed = derive_seed(o.seed, 7)}));
  head_ = register_module("head", std::make_unique<Linear>(LinearOptions{
                                      .in = o.hidden, .out = o.classes, .seed = derive_seed(o.seed, 9)}));
}

Tensor CNN::forward_impl(const Tensor& x) {
  const Tensor f = features_->forward(as_images(x, opt_.in_channels, opt_.image, "CNN"));
  return head_->forward(fc_->forward(ops::reshape(f, {f.size(0), -1})));
}

}  // namespace mixtrain::nn
