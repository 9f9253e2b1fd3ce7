// ResNet: a small residual network for 28x28 images in torchvision's layout and names: stem
// "conv1" (3x3) + "bn1" + ReLU, stages "layer1".."layerK" of BasicBlocks (the first block of every
// stage after the first halves the side with stride 2 and widens; its shortcut is
// "downsample" = 1x1 conv + BatchNorm), global average pool, and the Linear "head".
#pragma once

#include <vector>

#include "nn/batch_norm.h"
#include "nn/conv.h"
#include "nn/linear.h"
#include "nn/sequential.h"

namespace mixtrain::nn {

struct BasicBlockOptions {
  std::int64_t in = 0, out = 0;  // channels
  std::int64_t stride = 1;
  std::uint64_t seed = 0;
};

// y = relu(bn2(conv2(relu(bn1(conv1(x))))) + shortcut(x)); convs are 3x3 without bias (the
// BatchNorm that follows has one). shortcut = identity when stride == 1 and in == out, else
// downsample (1x1 conv with the stride, no bias, + BatchNorm).
class BasicBlock : public Module {
 public:
  explicit BasicBlock(const BasicBlockOptions& o);
  std::string type() const override { return "BasicBlock"; }

 protected:
  Tensor forward_impl(const Tensor& x) override;

 private:
  Conv2d* conv1_;
  BatchNorm2d* bn1_;
  Conv2d* conv2_;
  BatchNorm2d* bn2_;
  Sequential* downsample_ = nullptr;
};

struct ResNetOptions {
  std::int64_t in_channels = 1;
  std::int64_t image = 28;                      // square input side
  std::vector<std::int64_t> widths = {16, 32, 64};  // one stage per width
  std::int64_t blocks_per_stage = 1;
  std::int64_t classes = 10;
  std::uint64_t seed = 0;
};

// forward: x (N, in_channels, image, image) or (N, in_channels * image * image) -> logits
// (N, classes). Default: 3 stages of 1 block, 78,042 parameters.
class ResNet : public Module {
 public:
  explicit ResNet(const ResNetOptions& o = {});
  std::string type() const override { return "ResNet"; }
  const ResNetOptions& options() const { return opt_; }

 protected:
  Tensor forward_impl(const Tensor& x) override;

 private:
  ResNetOptions opt_;
  Conv2d* conv1_;
  BatchNorm2d* bn1_;
  std::vector<Sequential*> stages_;
  Linear* head_;
};

}  // namespace mixtrain::nn
