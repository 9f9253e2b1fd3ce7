// Fused bias + activation over rows, forward and backward: out = act(x + bias) in one pass, and
// the backward recomputes the pre-activation instead of storing it. Activations: identity, relu,
// gelu in its tanh form (0.5 u (1 + tanh(sqrt(2/pi) (u + 0.044715 u^3))), as GPT-2 uses).
// Computation in T (fp32 for float, fp64 for double); *_naive twins use std::tanh.
#pragma once

#include <cstdint>

namespace mixtrain::kernels::cpu {

enum class Activation : std::uint8_t { identity, relu, gelu };

// out = act(x + bias). x, out (N, C); bias (C) or nullptr. out may alias x.
template <typename T>
void bias_act_forward(T* out, const T* x, const T* bias, std::int64_t N, std::int64_t C,
                      Activation act);

// dx = dout * act'(x + bias); dbias (C) = sum_n dx (overwritten; nullptr to skip). x and bias
// are the forward's inputs. dx may alias dout (not x). relu'(0) = 0, as PyTorch.
template <typename T>
void bias_act_backward(T* dx, T* dbias, const T* dout, const T* x, const T* bias, std::int64_t N,
                       std::int64_t C, Activation act);

template <typename T>
void bias_act_forward_naive(T* out, const T* x, const T* bias, std::int64_t N, std::int64_t C,
                            Activation act);
template <typename T>
void bias_act_backward_naive(T* dx, T* dbias, const T* dout, const T* x, const T* bias,
                             std::int64_t N, std::int64_t C, Activation act);

}  // namespace mixtrain::kernels::cpu
