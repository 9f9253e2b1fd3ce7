// Normalisation layers' ops. Statistics are always computed in fp32 (fp64 for fp64 inputs) —
// norms are fp32 ops under autocast; the output is written in `out` (default: x's dtype).
#pragma once

#include <optional>

#include "tensor/tensor.h"

namespace mixtrain::ops {

// Over the last dimension C: y = (x - mean) / sqrt(var + eps) * gamma + beta. gamma, beta (C)
// may be undefined (no affine).
Tensor layer_norm(const Tensor& x, const Tensor& gamma, const Tensor& beta, double eps = 1e-5,
                  std::optional<DType> out = std::nullopt);

}  // namespace mixtrain::ops
