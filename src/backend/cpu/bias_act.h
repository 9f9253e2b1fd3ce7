// Fused bias + activation over rows, forward and backward: out = act(x + bias) in one pass, and
// the backward recomputes the pre-activation instead of storing it. Activations: identity, relu,
// gelu in its tanh form (0.5 u (1 + tanh(sqrt(2/pi) (u + 0.044715 u^3))), as GPT-2 uses).
// Computation in T (fp32 for float, fp64 for double).
#pragma once

#include <cstdint>

#include "numerics/format.h"
#include "backend/types.h"

namespace mixtrain::backend::cpu {


// out = act(x + bias). x, out (N, C); bias (C) or nullptr. out may alias x.
template <typename T>
void bias_act_forward(T* out, const T* x, const T* bias, std::int64_t N, std::int64_t C,
                      Activation act);

// dx = dout * act'(x + bias); dbias (C) = sum_n dx (overwritten; nullptr to skip). x and bias
// are the forward's inputs. dx may alias dout (not x). relu'(0) = 0, as PyTorch.
template <typename T>
void bias_act_backward(T* dx, T* dbias, const T* dout, const T* x, const T* bias, std::int64_t N,
                       std::int64_t C, Activation act);

// bias_act_forward on one block of fp32 rows in place (x[r * ld + c], r < rows, c < C), on the
// calling thread: the GEMM epilogue form, for rows that are still in cache. bias points at the
// block's first column.
void bias_act_forward_block(float* x, std::int64_t ld, const float* bias, std::int64_t rows,
                            std::int64_t C, Activation act);

// bias_act_backward (bias = nullptr) for 16-bit (or any dtype) dout and x: both are decoded
// exactly row by row inside the kernel, so the backward reads them once in their own dtype
// instead of after a whole fp32 copy each. dx and dbias are fp32.
void bias_act_backward_from(float* dx, float* dbias, const void* dout, DType dout_type,
                            const void* x, DType x_type, std::int64_t N, std::int64_t C,
                            Activation act);

// dbias (C) = column sums of x (N, C) stored in any dtype, in fp32 in row order (the sums
// bias_act_backward forms for the identity).
void column_sums(float* dbias, const void* x, DType x_type, std::int64_t N, std::int64_t C);

}  // namespace mixtrain::backend::cpu
