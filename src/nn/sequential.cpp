// Sequential, ReLU and GELU.
#include "nn/sequential.h"

#include "ops/elementwise.h"

namespace mixtrain::nn {

Tensor Sequential::forward_impl(const Tensor& x) {
  Tensor h = x;
  for (Module* m : layers_) h = m->forward(h);
  return h;
}

Tensor ReLU::forward_impl(const Tensor& x) { return ops::relu(x); }
Tensor GELU::forward_impl(const Tensor& x) { return ops::gelu(x); }

}  // namespace mixtrain::nn
