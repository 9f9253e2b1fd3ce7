// GELU (tanh form) and its derivative on fp32 vector lanes of any width, shared by the portable
// bias_act kernels (4 lanes) and their AVX2 and AVX-512 twins (8 and 16 lanes): the same IEEE
// operations per lane in the same order (no FMA contraction under -std=c++20), so both give the
// same bits. 0.5 (1 + tanh(z)) is written as the logistic sigmoid(2z) = 1 / (1 + exp(-2z)),
// which has no cancellation where tanh(z) is near -1, and 1 - tanh^2 as 4 s (1 - s). Like
// vec_lanes.h, templates and constants only (see there).
#pragma once

#include <cstdint>

#include "backend/cpu/vec_lanes.h"

namespace mixtrain::backend::cpu::vec {

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

template <typename V>
inline V load_lanes(const float* p) {
  V v;
  __builtin_memcpy(&v, p, sizeof v);
  return v;
}

// Row loops over whole V-wide chunks of a row, for the SIMD units (bias_act_avx2.cpp,
// bias_act_avx512.cpp): o[c] = gelu(x[c] + bias[c]) and dx[c] = d[c] gelu'(x[c] + bias[c]) (bias
// may be null). Each returns how many leading columns it did (a multiple of V's lanes); the
// caller finishes the row with the narrower forms.
template <typename V, typename I>
inline std::int64_t gelu_forward_rows(float* o, const float* x, const float* bias, std::int64_t C) {
  constexpr std::int64_t L = sizeof(V) / sizeof(float);
  std::int64_t c = 0;
  for (; c + L <= C; c += L) {
    const V g = gelu_n<V, I>(load_lanes<V>(x + c) + (bias ? load_lanes<V>(bias + c) : V{}));
    __builtin_memcpy(o + c, &g, sizeof g);
  }
  return c;
}

template <typename V, typename I>
inline std::int64_t gelu_backward_rows(float* dx, const float* d, const float* x, const float* bias,
                                       std::int64_t C) {
  constexpr std::int64_t L = sizeof(V) / sizeof(float);
  std::int64_t c = 0;
  for (; c + L <= C; c += L) {
    const V g = load_lanes<V>(d + c) * gelu_grad_n<V, I>(load_lanes<V>(x + c) + (bias ? load_lanes<V>(bias + c) : V{}));
    __builtin_memcpy(dx + c, &g, sizeof g);
  }
  return c;
}

}  // namespace mixtrain::backend::cpu::vec
