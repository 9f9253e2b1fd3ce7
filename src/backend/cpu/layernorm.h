// Layer normalisation over the last dimension, forward and backward (llm.c layout). Statistics
// are two-pass (mean, then centred variance) in T (fp32 for float, fp64 for double); the
// biased variance is used, as PyTorch does. The plain loops are the reference backend's.
#pragma once

#include <cstdint>

#include "numerics/format.h"

namespace mixtrain::backend::cpu {

// out = (x - mean) * rstd * gamma + beta, rstd = 1 / sqrt(var + eps).
// x, out (N, C); gamma, beta (C) or nullptr (no affine: gamma = 1, beta = 0); mean, rstd (N)
// saved for the backward. out may alias x.
template <typename T>
void layer_norm_forward(T* out, T* mean, T* rstd, const T* x, const T* gamma, const T* beta,
                        std::int64_t N, std::int64_t C, T eps);

// dx (N, C) = rstd * (g - mean_c(g) - xhat * mean_c(g * xhat)), g = dout * gamma;
// dgamma (C) = sum_n dout * xhat, dbeta (C) = sum_n dout (both overwritten; either may be
// nullptr). dx may alias dout. Column sums run over column blocks in row order: deterministic.
template <typename T>
void layer_norm_backward(T* dx, T* dgamma, T* dbeta, const T* dout, const T* x, const T* mean,
                         const T* rstd, const T* gamma, std::int64_t N, std::int64_t C);

// The same kernels on x / dout of any unscaled dtype (decoded row by row, exactly), out rounded
// once into out_type: the bits of decoding, running the fp32 kernels and rounding, without the
// fp32 copies (backend/kernels.h, layer_norm_forward_from).
void layer_norm_forward_from(void* out, DType out_type, float* mean, float* rstd, const void* x, DType x_type,
                             const float* gamma, const float* beta, std::int64_t N, std::int64_t C, float eps);
void layer_norm_backward_from(float* dx, float* dgamma, float* dbeta, const void* dout, DType dout_type,
                              const void* x, DType x_type, const float* mean, const float* rstd, const float* gamma,
                              std::int64_t N, std::int64_t C);

}  // namespace mixtrain::backend::cpu
