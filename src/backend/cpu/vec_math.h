// Internal helpers for the CPU kernels: loops written so that -O3 vectorises them without
// -ffast-math. Reductions keep 8 independent partial sums (fixed order, so results do not depend
// on the ISA or thread count), and exp for fp32 is a branch-free Cephes-style polynomial (within
// 2 ulp of std::exp on [-87, 88]) written on 4-lane vectors; fp64 uses std::exp.
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

template <typename T>
inline T dot(const T* x, const T* y, std::int64_t n) {
  T acc[8] = {};
  std::int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (int l = 0; l < 8; ++l) acc[l] += x[i + l] * y[i + l];
  for (; i < n; ++i) acc[0] += x[i] * y[i];
  return ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
}

// Max of n >= 1 values; NaN inputs propagate.
template <typename T>
inline T max(const T* x, std::int64_t n) {
  T acc[8];
  for (int l = 0; l < 8; ++l) acc[l] = x[0];
  std::int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (int l = 0; l < 8; ++l) acc[l] = x[i + l] > acc[l] ? x[i + l] : acc[l];
  for (; i < n; ++i) acc[0] = x[i] > acc[0] ? x[i] : acc[0];
  T m = acc[0];
  for (int l = 1; l < 8; ++l) m = acc[l] > m ? acc[l] : m;
  for (std::int64_t j = 0; j < n; ++j)
    if (x[j] != x[j]) return x[j];
  return m;
}

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

// y[i] = exp(x[i] * scale - shift) (y may be nullptr, or alias x) and returns the sum of those
// values with 8 partial sums in a fixed order.
inline float exp_sum(float* y, const float* x, float scale, float shift, std::int64_t n) {
  f32x4 a0 = splat4(0.0f), a1 = splat4(0.0f);
  std::int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const f32x4 e0 = exp4(load4(x + i) * scale - shift);
    const f32x4 e1 = exp4(load4(x + i + 4) * scale - shift);
    if (y) {
      store4(y + i, e0);
      store4(y + i + 4, e1);
    }
    a0 += e0;
    a1 += e1;
  }
  for (; i < n; ++i) {
    const float e = exp(x[i] * scale - shift);
    if (y) y[i] = e;
    a0[0] += e;
  }
  return ((a0[0] + a1[0]) + (a0[1] + a1[1])) + ((a0[2] + a1[2]) + (a0[3] + a1[3]));
}
inline double exp_sum(double* y, const double* x, double scale, double shift, std::int64_t n) {
  double acc[8] = {};
  std::int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (int l = 0; l < 8; ++l) {
      const double e = std::exp(x[i + l] * scale - shift);
      if (y) y[i + l] = e;
      acc[l] += e;
    }
  for (; i < n; ++i) {
    const double e = std::exp(x[i] * scale - shift);
    if (y) y[i] = e;
    acc[0] += e;
  }
  return ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
}

}  // namespace mixtrain::backend::cpu::vec
