// Internal helpers for the portable CPU kernels: 4-lane fp32 vectors and exp (a branch-free
// Cephes-style polynomial, within 2 ulp of std::exp on [-87, 88], vec_lanes.h) on them; fp64
// uses std::exp. The softmax-family row loops are in softmax_rows.h.
#pragma once

#include <bit>
#include <cmath>
#include <cstdint>
#include <cstring>

#include "backend/cpu/vec_lanes.h"

namespace mixtrain::backend::cpu::vec {

// Accumulator type: fp32 for fp32 inputs, fp64 for fp64 (the kernels' contract).
template <typename T>
using acc_t = T;

// vec::sum is in vec_lanes.h (the AVX-512 units use it too).

// 4-lane fp32 vectors (GCC/Clang vector extension; SSE2 on baseline x86-64). The element loops
// that call exp are written on these explicitly: with the default -ftrapping-math GCC will not
// if-convert the range selects of a scalar exp, so those loops would stay scalar.
typedef float f32x4 __attribute__((vector_size(16)));
typedef std::int32_t i32x4 __attribute__((vector_size(16)));

inline f32x4 load4(const float* p) {
  f32x4 v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
inline void store4(float* p, f32x4 v) { std::memcpy(p, &v, sizeof v); }
inline f32x4 splat4(float x) { return f32x4{x, x, x, x}; }

inline f32x4 exp4(f32x4 x) { return exp_n<f32x4, i32x4>(x); }

// Scalar forms, identical to one lane of the vector form (tails give the same bits as bodies).
inline float exp(float x) { return exp4(splat4(x))[0]; }
inline double exp(double x) { return std::exp(x); }

}  // namespace mixtrain::backend::cpu::vec
