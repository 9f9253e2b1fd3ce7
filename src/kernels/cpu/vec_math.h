// Internal helpers for the CPU kernels: loops written so that -O3 vectorises them without
// -ffast-math. Reductions keep 8 independent partial sums (fixed order, so results do not depend
// on the ISA or thread count), and exp for fp32 is a branch-free Cephes-style polynomial (within
// 2 ulp of std::exp on [-87, 88]) that the compiler turns into SIMD; fp64 uses std::exp.
#pragma once

#include <bit>
#include <cmath>
#include <cstdint>

namespace mixtrain::kernels::cpu::vec {

// Accumulator type: fp32 for fp32 inputs, fp64 for fp64 (the kernels' contract).
template <typename T>
using acc_t = T;

template <typename T>
inline T sum(const T* x, std::int64_t n) {
  T acc[8] = {};
  std::int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (int l = 0; l < 8; ++l) acc[l] += x[i + l];
  for (; i < n; ++i) acc[0] += x[i];
  return ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
}

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

// exp(x) for fp32: n = round(x / ln2), r = x - n ln2 (two-part ln2), degree-6 polynomial,
// scaled by 2^n through the exponent bits. Inputs below -87.3 give 0, above 88 give exp(88).
inline float exp(float x) {
  const float lo = -87.3f, hi = 88.0f;
  const float xc = x < lo ? lo : (x > hi ? hi : x);
  const float magic = 12582912.0f;  // 1.5 * 2^23: adding it rounds to an integer
  const float fn = (xc * 1.44269504088896341f + magic) - magic;
  const float r = (xc - fn * 0.693359375f) - fn * -2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  const float y = p * r * r + r + 1.0f;
  const auto bits = static_cast<std::uint32_t>(static_cast<std::int32_t>(fn) + 127) << 23;
  const float res = y * std::bit_cast<float>(bits);
  return x < lo ? 0.0f : (x != x ? x : res);
}
inline double exp(double x) { return std::exp(x); }

}  // namespace mixtrain::kernels::cpu::vec
