// BasicBlock and ResNet.
#include "nn/resnet.h"

#include "nn/seed.h"
#include "ops/elementwise.h"
#include "ops/reduce.h"
#include "runtime/error.h"

namespace mixtrain::nn {

BasicBlock::BasicBlock(const BasicBlockOptions& o) {
  check(o.in > 0 && o.out > 0 && o.stride > 0, "BasicBlock: channels and stride must be positive");
  conv1_ = register_module("conv1", std::make_unique<Conv2d>(Conv2dOptions{.in = o.in, .out = o.out, .kernel = 3,
                                                                           .stride = o.stride, .pad = 1,
                                                                           .bias = false, .seed = derive_seed(o.seed, 1)}));
  bn1_ = register_module("bn1", std::make_unique<BatchNorm2d>(BatchNorm2dOptions{.features = o.out}));
  conv2_ = register_module("conv2", std::make_unique<Conv2d>(Conv2dOptions{.in = o.out, .out = o.out, .kernel = 3,
                                                                           .pad = 1, .bias = false,
                                                                           .seed = derive_seed(o.seed, 2)}));
  bn2_ = register_module("bn2", std::make_unique<BatchNorm2d>(BatchNorm2dOptions{.features = o.out}));
  if (o.stride != 1 || o.in != o.out) {
    downsample_ = register_module("downsample", std::make_unique<Sequential>());
    downsample_->add(std::make_unique<Conv2d>(Conv2dOptions{.in = o.in, .out = o.out, .kernel = 1, .stride = o.stride,
                                                            .bias = false, .seed = derive_seed(o.seed, 3)}));
    downsample_->add(std::make_unique<BatchNorm2d>(BatchNorm2dOptions{.features = o.out}));
  }
}

Tensor BasicBlock::forward_impl(const Tensor& x) {
  const Tensor h = ops::relu(bn1_->forward(conv1_->forward(x)));
  const Tensor y = bn2_->forward(conv2_->forward(h));
  return ops::relu(ops::add(y, downsample_ ? downsample_->forward(x) : x));
}

ResNet::ResNet(const ResNetOptions& o) : opt_(o) {
  check(o.in_channels > 0 && o.classes > 0 && o.image > 0, "ResNet: channels, classes and image side must be positive");
  check(!o.widths.empty() && o.blocks_per_stage > 0, "ResNet: need at least one stage of at least one block");
  for (const std::int64_t w : o.widths) check(w > 0, "ResNet: stage widths must be positive");
  conv1_ = register_module("conv1", std::make_unique<Conv2d>(Conv2dOptions{.in = o.in_channels, .out = o.widths[0],
                                                                           .kernel = 3, .pad = 1, .bias = false,
                                                                           .seed = derive_seed(o.seed, 0)}));
  bn1_ = register_module("bn1", std::make_unique<BatchNorm2d>(BatchNorm2dOptions{.features = o.widths[0]}));
  std::int64_t in = o.widths[0];
  for (std::size_t s = 0; s < o.widths.size(); ++s) {
    Sequential* stage = register_module("layer" + std::to_string(s + 1), std::make_unique<Sequential>());
    for (std::int64_t b = 0; b < o.blocks_per_stage; ++b) {
      const std::int64_t stride = s > 0 && b == 0 ? 2 : 1;
      const auto salt = 100 + s * 1000 + static_cast<std::uint64_t>(b);
      stage->add(std::make_unique<BasicBlock>(BasicBlockOptions{in, o.widths[s], stride, derive_seed(o.seed, salt)}));
      in = o.widths[s];
    }
    stages_.push_back(stage);
  }
  head_ = register_module("head", std::make_unique<Linear>(LinearOptions{.in = in, .out = o.classes,
                                                                         .seed = derive_seed(o.seed, 1)}));
}

Tensor ResNet::forward_impl(const Tensor& x) {
  Tensor h = ops::relu(bn1_->forward(conv1_->forward(as_images(x, opt_.in_channels, opt_.image, "ResNet"))));
  for (Sequential* stage : stages_) h = stage->forward(h);
  // Global average pool: (N, C, H, W) -> (N, C), an fp32 reduction.
  return head_->forward(ops::mean(h, {2, 3}));
}

}  // namespace mixtrain::nn
