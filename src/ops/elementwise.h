// Elementwise ops with NumPy broadcasting: each reads any floating dtype, computes in fp32 (fp64
// when an input is fp64) and writes `out` (default: the promoted input dtype) rounded to nearest
// even. Under autocast, binary ops promote mixed inputs to the widest; unary math that needs
// range (exp, log) runs in fp32. All are differentiable.
#pragma once

#include <optional>

#include "tensor/tensor.h"

namespace mixtrain::ops {

Tensor add(const Tensor& a, const Tensor& b, std::optional<DType> out = std::nullopt);
Tensor sub(const Tensor& a, const Tensor& b, std::optional<DType> out = std::nullopt);
Tensor mul(const Tensor& a, const Tensor& b, std::optional<DType> out = std::nullopt);
Tensor div(const Tensor& a, const Tensor& b, std::optional<DType> out = std::nullopt);
// a * s for a scalar s.
Tensor scale(const Tensor& a, double s, std::optional<DType> out = std::nullopt);

Tensor relu(const Tensor& x, std::optional<DType> out = std::nullopt);
Tensor gelu(const Tensor& x, std::optional<DType> out = std::nullopt);  // tanh approximation
Tensor sigmoid(const Tensor& x, std::optional<DType> out = std::nullopt);
Tensor tanh(const Tensor& x, std::optional<DType> out = std::nullopt);
Tensor exp(const Tensor& x, std::optional<DType> out = std::nullopt);
Tensor log(const Tensor& x, std::optional<DType> out = std::nullopt);

// Differentiable dtype conversion (gradient flows back converted to the input's dtype).
// fp8 targets take a quantisation scale (stored value = real * scale). `amax`, when given,
// receives x's largest |value| from the conversion's own pass (Tensor::to).
Tensor cast(const Tensor& x, DType dtype, float fp8_scale = 1.0f, float* amax = nullptr);

}  // namespace mixtrain::ops
