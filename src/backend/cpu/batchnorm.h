// Batch normalisation over (N, C, HW) tensors (BatchNorm1d with HW = 1, BatchNorm2d with
// HW = H*W): training forward with batch statistics and the running-statistics update, eval
// forward with the running statistics, and the backward. Statistics are two-pass in T (fp32 for
// float, fp64 for double); channels run in parallel, so results are deterministic.
#pragma once

#include <cstdint>

namespace mixtrain::backend::cpu {

// Training: per channel c over the N*HW values, mean and biased var; rstd = 1/sqrt(var + eps);
// out = (x - mean) * rstd * gamma + beta. mean, rstd (C) are saved for the backward. When
// running_mean/running_var (C) are given they become (1 - momentum) * old + momentum * batch,
// with the unbiased variance (PyTorch's convention). gamma/beta may be nullptr (1 and 0).
// x, out (N, C, HW); out may alias x. Requires N * HW >= 1 (>= 2 for the unbiased update).
template <typename T>
void batch_norm_forward_train(T* out, T* mean, T* rstd, T* running_mean, T* running_var,
                              const T* x, const T* gamma, const T* beta, std::int64_t N,
                              std::int64_t C, std::int64_t HW, T momentum, T eps);

// Eval: out = (x - running_mean) / sqrt(running_var + eps) * gamma + beta.
template <typename T>
void batch_norm_forward_eval(T* out, const T* x, const T* gamma, const T* beta,
                             const T* running_mean, const T* running_var, std::int64_t N,
                             std::int64_t C, std::int64_t HW, T eps);

// Backward of the training forward: with M = N * HW and xhat = (x - mean) * rstd,
// dbeta = sum dout, dgamma = sum dout * xhat, dx = gamma * rstd / M * (M dout - dbeta - xhat
// dgamma). All outputs overwritten; dgamma/dbeta may be nullptr; dx may alias dout.
template <typename T>
void batch_norm_backward(T* dx, T* dgamma, T* dbeta, const T* dout, const T* x, const T* mean,
                         const T* rstd, const T* gamma, std::int64_t N, std::int64_t C,
                         std::int64_t HW);

// Evaluation mode: rstd[c] = 1 / sqrt(var[c] + eps), and the backward with these fixed
// statistics: dx = dout * gamma * rstd, dgamma = sum dout * (x - mean) * rstd, dbeta = sum dout
// (one channel per task, each channel's sums in a fixed order).
template <typename T>
void batch_norm_inv_std(T* rstd, const T* var, std::int64_t C, T eps);
template <typename T>
void batch_norm_backward_frozen(T* dx, T* dgamma, T* dbeta, const T* dout, const T* x, const T* mean,
                                const T* rstd, const T* gamma, std::int64_t N, std::int64_t C,
                                std::int64_t HW);

}  // namespace mixtrain::backend::cpu
