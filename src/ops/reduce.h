// Reductions over axes, accumulated in fp32 (fp64 for fp64 inputs) whatever the input dtype.
// Output dtype: fp32 by default (reductions are fp32 ops under autocast), or as requested.
#pragma once

#include <optional>
#include <vector>

#include "tensor/tensor.h"

namespace mixtrain::ops {

// Sum over `axes` (negative counts from the end; empty = all). keepdim keeps size-1 dims.
Tensor sum(const Tensor& x, std::vector<std::int64_t> axes = {}, bool keepdim = false,
           std::optional<DType> out = std::nullopt);
Tensor mean(const Tensor& x, std::vector<std::int64_t> axes = {}, bool keepdim = false,
            std::optional<DType> out = std::nullopt);

}  // namespace mixtrain::ops
