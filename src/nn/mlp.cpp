// MLP construction and forward.
#include "nn/mlp.h"

#include "runtime/error.h"

namespace mixtrain::nn {

MLP::MLP(const MLPOptions& o) {
  check(o.sizes.size() >= 2, "MLP: need at least input and output sizes");
  for (std::size_t i = 0; i + 1 < o.sizes.size(); ++i) {
    const bool last = i + 2 == o.sizes.size();
    LinearOptions lo{o.sizes[i], o.sizes[i + 1], true,
                     last ? backend::Activation::identity : backend::Activation::relu, o.seed * 7919 + i};
    layers_.push_back(register_module("fc" + std::to_string(i + 1), std::make_unique<Linear>(lo)));
  }
}

Tensor MLP::forward_impl(const Tensor& x) {
  Tensor h = x;
  for (Linear* l : layers_) h = l->forward(h);
  return h;
}

}  // namespace mixtrain::nn
