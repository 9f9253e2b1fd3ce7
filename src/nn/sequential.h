// Sequential: children named "0", "1", ... run one after another (PyTorch's nn.Sequential, so
// parameter names read "features.0.weight"), plus the parameterless ReLU and GELU layers that sit
// between the layers of such stacks.
#pragma once

#include <memory>

#include "nn/module.h"

namespace mixtrain::nn {

class Sequential : public Module {
 public:
  std::string type() const override { return "Sequential"; }
  // Appends m under the next index and returns it (owned by this container).
  template <typename M>
  M* add(std::unique_ptr<M> m) {
    M* raw = register_module(std::to_string(layers_.size()), std::move(m));
    layers_.push_back(raw);
    return raw;
  }
  std::size_t size() const { return layers_.size(); }
  Module& operator[](std::size_t i) { return *layers_.at(i); }

 protected:
  Tensor forward_impl(const Tensor& x) override;

 private:
  std::vector<Module*> layers_;
};

class ReLU : public Module {
 public:
  std::string type() const override { return "ReLU"; }

 protected:
  Tensor forward_impl(const Tensor& x) override;
};

// GELU, tanh approximation (PyTorch's approximate="tanh").
class GELU : public Module {
 public:
  std::string type() const override { return "GELU"; }

 protected:
  Tensor forward_impl(const Tensor& x) override;
};

}  // namespace mixtrain::nn
