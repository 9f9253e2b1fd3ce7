// Convolution and pooling layers over NCHW tensors: Conv2d (weight (out, in, k, k), optional
// bias, PyTorch's default initialisation), MaxPool2d and AvgPool2d. Square kernels, one stride
// and one zero padding for both axes (what ops/conv_pool.h provides).
#pragma once

#include "nn/module.h"

namespace mixtrain::nn {

struct Conv2dOptions {
  std::int64_t in = 0, out = 0;  // channels
  std::int64_t kernel = 3;
  std::int64_t stride = 1;
  std::int64_t pad = 0;
  bool bias = true;
  std::uint64_t seed = 0;  // weight and bias ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in)), fan_in = in*k*k
};

// y (N, out, OH, OW) = conv(x (N, in, H, W)) + bias; OH = (H + 2 pad - k) / stride + 1. A GEMM op:
// runs in the policy's low dtype under autocast. Throws mixtrain::Error for bad options or an
// input whose channel count is not `in` (from the op).
class Conv2d : public Module {
 public:
  explicit Conv2d(const Conv2dOptions& o);
  std::string type() const override { return "Conv2d"; }
  Tensor& weight() { return *weight_; }
  const Conv2dOptions& options() const { return opt_; }

 protected:
  Tensor forward_impl(const Tensor& x) override;

 private:
  Conv2dOptions opt_;
  Tensor* weight_;
  Tensor* bias_ = nullptr;
};

struct Pool2dOptions {
  std::int64_t kernel = 2;
  std::int64_t stride = 0;  // 0: equal to kernel (PyTorch's default)
  std::int64_t pad = 0;     // <= kernel / 2
};

class MaxPool2d : public Module {
 public:
  explicit MaxPool2d(const Pool2dOptions& o = {});
  std::string type() const override { return "MaxPool2d"; }

 protected:
  Tensor forward_impl(const Tensor& x) override;

 private:
  Pool2dOptions opt_;
};

// Padding counts in the divisor (count_include_pad=True).
class AvgPool2d : public Module {
 public:
  explicit AvgPool2d(const Pool2dOptions& o = {});
  std::string type() const override { return "AvgPool2d"; }

 protected:
  Tensor forward_impl(const Tensor& x) override;

 private:
  Pool2dOptions opt_;
};

// Image models' input: an (N, C*S*S) batch of flattened images (as data loaders hand them out)
// becomes (N, C, S, S); a 4-d x must already be that shape. Throws mixtrain::Error naming `who`.
Tensor as_images(const Tensor& x, std::int64_t channels, std::int64_t side, const std::string& who);

}  // namespace mixtrain::nn
