// BatchNorm2d over (N, C, H, W): gamma ("weight") and beta ("bias") are norm parameters (kept
// fp32 under O2, no weight decay), running_mean/running_var are fp32 buffers updated in training
// mode (PyTorch's momentum rule) and used in eval mode.
#pragma once

#include "nn/module.h"

namespace mixtrain::nn {

struct BatchNorm2dOptions {
  std::int64_t features = 0;  // C
  double eps = 1e-5;
  double momentum = 0.1;      // running = (1 - momentum) * running + momentum * batch statistic
};

// training(): normalises with the batch statistics (biased variance) and updates the running
// statistics in place (unbiased variance; needs N*H*W >= 2). eval(): normalises with the running
// statistics, leaving them unchanged. The statistics are computed in fp32 whatever x's dtype; the
// output keeps x's dtype, as cuDNN's batch norm does under PyTorch autocast, so bf16 activations
// between convolutions stay bf16. Throws mixtrain::Error unless x is (N, features, H, W).
class BatchNorm2d : public Module {
 public:
  explicit BatchNorm2d(const BatchNorm2dOptions& o);
  std::string type() const override { return "BatchNorm2d"; }
  Tensor& running_mean() { return *running_mean_; }
  Tensor& running_var() { return *running_var_; }
  const BatchNorm2dOptions& options() const { return opt_; }

 protected:
  Tensor forward_impl(const Tensor& x) override;

 private:
  BatchNorm2dOptions opt_;
  Tensor* gamma_;
  Tensor* beta_;
  Tensor* running_mean_;
  Tensor* running_var_;
};

}  // namespace mixtrain::nn
