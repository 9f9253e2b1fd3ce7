// GELU (tanh form) and its derivative on fp32 vector lanes of any width, shared by the portable
// bias_act kernels (4 lanes) and their AVX2 and AVX-512 twins (8 and 16 lanes): the same IEEE
// operations per lane in the same order (no FMA contraction under -std=c++20), so both give the
// same bits. 0.5 (1 + tanh(z)) is written as the logistic sigmoid(2z) = 1 / (1 + exp(-2z)),
// which has no cancellation where tanh(z) is near -1, and 1 - tanh^2 as 4 s (1 - s). Like
// vec_lanes.h, templates and constants only (see there).
#pragma once

#include "kernels/cpu/vec_lanes.h"

namespace mixtrain::kernels::cpu::vec {

inline constexpr float kGeluC32 = static_cast<float>(0.7978845608028654);  // sqrt(2 / pi), as bias_act.cpp rounds it
inline constexpr float kGeluA32 = static_cast<float>(0.044715);

template <typename V, typename I>
inline V gelu_n(V u) {
  const V z = kGeluC32 * (u + kGeluA32 * u * u * u);
  return u / (1.0f + exp_n<V, I>(-2.0f * z));
}

template <typename V, typename I>
inline V gelu_grad_n(V u) {
  const V z = kGeluC32 * (u + kGeluA32 * u * u * u);
  const V s = 1.0f / (1.0f + exp_n<V, I>(-2.0f * z));
  return s + u * 2.0f * s * (1.0f - s) * kGeluC32 * (1.0f + 3.0f * kGeluA32 * u * u);
}

}  // namespace mixtrain::kernels::cpu::vec
