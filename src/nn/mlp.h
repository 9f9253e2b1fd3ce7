// MLP: Linear layers with ReLU between them (fused into the Linear's epilogue), the last one
// without activation. The Fashion-MNIST default is 784-1024-1024-10.
#pragma once

#include <vector>

#include "nn/linear.h"

namespace mixtrain::nn {

struct MLPOptions {
  std::vector<std::int64_t> sizes = {784, 1024, 1024, 10};
  std::uint64_t seed = 0;
};

class MLP : public Module {
 public:
  explicit MLP(const MLPOptions& o = {});
  std::string type() const override { return "MLP"; }
  const std::vector<Linear*>& layers() const { return layers_; }

 protected:
  Tensor forward_impl(const Tensor& x) override;

 private:
  std::vector<Linear*> layers_;
};

}  // namespace mixtrain::nn
