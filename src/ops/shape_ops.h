// Shape ops, all differentiable. reshape shares storage (contiguous tensors); transpose, permute,
// slice and concat copy (every tensor is contiguous, which keeps kernels simple and fast).
#pragma once

#include <vector>

#include "tensor/tensor.h"

namespace mixtrain::ops {

// One dimension may be -1 (inferred).
Tensor reshape(const Tensor& x, Shape shape);
// Swaps two dimensions.
Tensor transpose(const Tensor& x, std::int64_t d0, std::int64_t d1);
// y.shape[i] = x.shape[perm[i]].
Tensor permute(const Tensor& x, const std::vector<std::int64_t>& perm);
// Elements [begin, end) along `dim`.
Tensor slice(const Tensor& x, std::int64_t dim, std::int64_t begin, std::int64_t end);
// Concatenation along `dim`; all inputs share dtype and the other dimensions.
Tensor concat(const std::vector<Tensor>& xs, std::int64_t dim);

}  // namespace mixtrain::ops
