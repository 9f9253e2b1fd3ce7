// Softmax family and losses. All are fp32 ops: inputs are read in any dtype and computed in fp32
// (fp64 for fp64); losses return an fp32 (fp64) scalar. Rows are the last dimension.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "tensor/tensor.h"

namespace mixtrain::ops {

Tensor softmax(const Tensor& x, std::optional<DType> out = std::nullopt);
Tensor log_softmax(const Tensor& x, std::optional<DType> out = std::nullopt);

// Mean cross-entropy of logits (..., C) against integer labels in [0, C) (one per row).
Tensor cross_entropy(const Tensor& logits, const std::vector<std::int64_t>& labels);
// Mean squared error, mean over all elements.
Tensor mse(const Tensor& pred, const Tensor& target);
// Mean binary cross-entropy with logits: mean(softplus(x) - x * y), computed stably.
Tensor bce_with_logits(const Tensor& logits, const Tensor& target);

}  // namespace mixtrain::ops
