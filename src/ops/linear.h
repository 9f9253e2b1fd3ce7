// Matrix products with low-precision operands: operands are handed to the backend's gemm in their
// storage dtype (fp16/bf16 up-converted exactly into fp32 panels; fp8 with its per-tensor scale),
// products accumulate in fp32 and the result is rounded once into the output dtype.
#pragma once

#include <functional>
#include <optional>

#include "backend/types.h"
#include "tensor/tensor.h"

namespace mixtrain::ops {

// a (..., M, K) @ b (..., K, N) -> (..., M, N). Batch dims must match, or b is 2-d (shared).
// out: default the promoted operand dtype.
Tensor matmul(const Tensor& a, const Tensor& b, std::optional<DType> out = std::nullopt);

// y = act(x W^T + b): x (..., in), W (out, in), b (out) or undefined. The bias and activation are
// applied in fp32 on the fp32 GEMM tile before the single rounding to `out` (default: x's dtype
// after autocast). Backward: dx in x's dtype, dW and db in fp32 (the leaves accumulate them).
// grad_hook, when set, is applied to the output gradient dZ (after the activation's derivative)
// before the two backward GEMMs: fp8 training quantises it to E5M2 there.
using GradHook = std::function<Tensor(const Tensor&)>;
Tensor linear(const Tensor& x, const Tensor& W, const Tensor& b = Tensor(),
              backend::Activation act = backend::Activation::identity,
              std::optional<DType> out = std::nullopt, GradHook grad_hook = {});

}  // namespace mixtrain::ops
