// Causal self-attention op (the backend's attention family) on per-head tensors: the scaled dot
// product, causal mask, softmax and weighted sum of values, as one differentiable op. The QKV
// projections and the head split/merge are the caller's (linear, reshape, permute).
#pragma once

#include <optional>

#include "tensor/tensor.h"

namespace mixtrain::ops {

// y (B, H, T, D) = softmax(mask(q k^T / sqrt(D))) v for q, k, v (B, H, T, D) of one shape; row t
// attends to positions <= t. The GEMMs accumulate in fp32 (fp64 when an input is fp64) and the
// softmax runs in that dtype whatever the inputs' dtype; the attention matrix (B, H, T, T, compute
// dtype) is kept for the backward. Output: `out`, default the promoted q/k/v dtype after autocast
// (op name "causal_self_attention"). Backward: dq, dk, dv in the compute dtype.
Tensor causal_self_attention(const Tensor& q, const Tensor& k, const Tensor& v,
                             std::optional<DType> out = std::nullopt);

// The same attention on the QKV projection's own layout: qkv (B, T, 3C) holds q, k, v side by
// side, each (B, T, H, D) with C = H D, and the result is (B, T, C), heads merged. The head split
// and merge happen inside the op as part of its fp32 conversion passes, so there are no
// permute/slice nodes whose backward would build three zero-filled (B, T, 3C) gradients and sum
// them: the backward writes dq, dk and dv straight into one (B, T, 3C) gradient. Values are
// those of causal_self_attention on the permuted slices, bit for bit (same op name).
Tensor causal_self_attention_qkv(const Tensor& qkv, std::int64_t heads,
                                 std::optional<DType> out = std::nullopt);

}  // namespace mixtrain::ops
