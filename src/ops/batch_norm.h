// Batch normalisation op (the backend's norm family) for (N, C, ...) tensors: training mode with
// batch statistics and an in-place running-statistics update, eval mode with the running
// statistics. An fp32 op: statistics are computed in fp32 (fp64 for fp64 inputs) whatever x's
// dtype; the output is written in `out` (default: x's dtype after autocast).
#pragma once

#include <optional>

#include "tensor/tensor.h"

namespace mixtrain::ops {

// x (N, C, ...) with M = N * prod(...) values per channel; gamma, beta (C) or undefined (1, 0);
// running_mean, running_var (C) — conventionally fp32 buffers — or undefined.
// training: y = (x - mean_B) / sqrt(var_B + eps) * gamma + beta with the biased batch variance;
//   when given, running_mean/running_var are updated IN PLACE (their storage is written):
//   r = (1 - momentum) * r + momentum * stat, with the unbiased variance (PyTorch's rule;
//   needs M >= 2). Differentiable in x, gamma, beta.
// eval: y = (x - running_mean) / sqrt(running_var + eps) * gamma + beta (running stats required,
//   not modified); differentiable in x, gamma, beta with the statistics as constants.
// Throws mixtrain::Error for a shape mismatch or missing running statistics in eval mode.
Tensor batch_norm(const Tensor& x, const Tensor& gamma, const Tensor& beta, const Tensor& running_mean,
                  const Tensor& running_var, bool training, double momentum = 0.1, double eps = 1e-5,
                  std::optional<DType> out = std::nullopt);

}  // namespace mixtrain::ops
