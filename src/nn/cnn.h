// CNN: the Fashion-MNIST convolutional classifier (the same network as ../shared/peers/cnn.py):
// features = [Conv2d 3x3 pad 1, ReLU, MaxPool 2x2] x 2, then "fc" (Linear + fused ReLU) and the
// 10-way "head". Parameter names: features.0.*, features.3.*, fc.*, head.*.
#pragma once

#include "nn/conv.h"
#include "nn/linear.h"
#include "nn/sequential.h"

namespace mixtrain::nn {

struct CNNOptions {
  std::int64_t in_channels = 1;
  std::int64_t image = 28;                   // square input side
  std::int64_t channels1 = 32, channels2 = 64;
  std::int64_t hidden = 128;
  std::int64_t classes = 10;
  std::uint64_t seed = 0;
};

// forward: x (N, in_channels, image, image), or (N, in_channels * image * image) flattened rows
// as data loaders hand out images, -> logits (N, classes). Default: 421,642 parameters.
class CNN : public Module {
 public:
  explicit CNN(const CNNOptions& o = {});
  std::string type() const override { return "CNN"; }
  const CNNOptions& options() const { return opt_; }

 protected:
  Tensor forward_impl(const Tensor& x) override;

 private:
  CNNOptions opt_;
  std::int64_t side_;  // feature map side after both pools
  Sequential* features_;
  Linear* fc_;
  Linear* head_;
};

}  // namespace mixtrain::nn
