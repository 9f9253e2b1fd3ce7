// Causal self-attention core for (B, H, T, D) tensors: scaled dot product, causal mask, softmax
// (in T: fp32 for float, fp64 for double) and the weighted sum of values, forward and backward.
// The four GEMMs go through gemm_batched over the B*H heads; the softmax runs row by row on the
// pool. The Q/K/V projections and head split are the caller's (tensor ops).
#pragma once

#include <cstdint>

namespace mixtrain::backend::cpu {

// att = softmax(mask(q k^T / sqrt(D))) alone: what attention_forward writes into att, bit for
// bit (the backward recomputes it instead of keeping B*H*T*T values alive, as FlashAttention).
template <typename T>
void attention_probs(T* att, const T* q, const T* k, std::int64_t B, std::int64_t H, std::int64_t Tn,
                     std::int64_t D);

// att = softmax(mask(q k^T / sqrt(D))), out = att v. q, k, v, out (B, H, T, D) contiguous;
// att (B, H, T, T) is written (entries above the diagonal are 0); the backward needs it (kept,
// or recomputed by attention_probs). out must not alias q, k or v.
template <typename T>
void attention_forward(T* out, T* att, const T* q, const T* k, const T* v, std::int64_t B,
                       std::int64_t H, std::int64_t Tn, std::int64_t D);

// Gradients of attention_forward: dq, dk, dv (B, H, T, D), overwritten. datt is caller
// workspace of B*H*T*T elements (holds dL/datt, then dL/dscores). att is the forward's (or
// attention_probs's recomputation).
template <typename T>
void attention_backward(T* dq, T* dk, T* dv, T* datt, const T* dout, const T* q, const T* k,
                        const T* v, const T* att, std::int64_t B, std::int64_t H, std::int64_t Tn,
                        std::int64_t D);

}  // namespace mixtrain::backend::cpu
