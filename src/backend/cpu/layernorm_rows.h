// Internal: the layer-norm row loops (layernorm.cpp), as templates that the portable unit and the
// AVX-512 unit (layernorm_avx512.cpp) both instantiate. Every reduction keeps 8 partial sums in a
// fixed order and every other operation is per element, so any vector width gives the same bits.
//
// `Isa` is a tag type each unit declares in its own unnamed namespace: that gives every
// instantiation internal linkage, so the linker never merges an AVX-512 build of a loop with the
// portable one (see gemm_tile_avx512.cpp). Templates only, and only builtins inside, so an ISA
// unit may include this inside its `#pragma GCC target` region.
#pragma once

#include <cstdint>

#include "backend/cpu/vec_lanes.h"

namespace mixtrain::backend::cpu::detail {

template <typename Isa, typename T>
inline T square_root(T v) {
  if constexpr (sizeof(T) == sizeof(float))
    return __builtin_sqrtf(v);
  else
    return __builtin_sqrt(v);
}

// One row: out = (x - mean) * rstd * gamma + beta; writes the row's mean and rstd.
template <typename Isa, typename T>
inline void layer_norm_forward_row(T* o, T* mean, T* rstd, const T* xr, const T* gamma, const T* beta,
                                   std::int64_t C, T eps) {
  const T m = vec::sum<T, Isa>(xr, C) / static_cast<T>(C);
  T acc[8] = {};
  std::int64_t i = 0;
  for (; i + 8 <= C; i += 8)
    for (int l = 0; l < 8; ++l) acc[l] += (xr[i + l] - m) * (xr[i + l] - m);
  for (; i < C; ++i) acc[0] += (xr[i] - m) * (xr[i] - m);
  const T var = (((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]))) /
                static_cast<T>(C);
  const T r = T(1) / square_root<Isa>(var + eps);
  *mean = m;
  *rstd = r;
  if (gamma && beta)
    for (std::int64_t c = 0; c < C; ++c) o[c] = (xr[c] - m) * r * gamma[c] + beta[c];
  else if (gamma)
    for (std::int64_t c = 0; c < C; ++c) o[c] = (xr[c] - m) * r * gamma[c];
  else
    for (std::int64_t c = 0; c < C; ++c) o[c] = (xr[c] - m) * r + (beta ? beta[c] : T(0));
}

// dgamma, dbeta over columns [c0, c1), summed over the N rows in row order.
template <typename Isa, typename T>
inline void layer_norm_param_grads(T* dgamma, T* dbeta, const T* dout, const T* x, const T* mean,
                                   const T* rstd, std::int64_t N, std::int64_t C, std::int64_t c0,
                                   std::int64_t c1) {
  for (std::int64_t c = c0; c < c1; ++c) {
    if (dgamma) dgamma[c] = 0;
    if (dbeta) dbeta[c] = 0;
  }
  for (std::int64_t n = 0; n < N; ++n) {
    const T* d = dout + n * C;
    const T* xr = x + n * C;
    const T m = mean[n], r = rstd[n];
    if (dgamma)
      for (std::int64_t c = c0; c < c1; ++c) dgamma[c] += d[c] * ((xr[c] - m) * r);
    if (dbeta)
      for (std::int64_t c = c0; c < c1; ++c) dbeta[c] += d[c];
  }
}

// One row of dx.
template <typename Isa, typename T>
inline void layer_norm_backward_row(T* o, const T* d, const T* xr, T m, T r, const T* gamma,
                                    std::int64_t C) {
  T sg[8] = {}, sgx[8] = {};
  std::int64_t i = 0;
  for (; i + 8 <= C; i += 8)
    for (int l = 0; l < 8; ++l) {
      const T g = d[i + l] * (gamma ? gamma[i + l] : T(1));
      sg[l] += g;
      sgx[l] += g * ((xr[i + l] - m) * r);
    }
  for (; i < C; ++i) {
    const T g = d[i] * (gamma ? gamma[i] : T(1));
    sg[0] += g;
    sgx[0] += g * ((xr[i] - m) * r);
  }
  const T inv_c = T(1) / static_cast<T>(C);
  const T mg = (((sg[0] + sg[4]) + (sg[1] + sg[5])) + ((sg[2] + sg[6]) + (sg[3] + sg[7]))) * inv_c;
  const T mgx = (((sgx[0] + sgx[4]) + (sgx[1] + sgx[5])) + ((sgx[2] + sgx[6]) + (sgx[3] + sgx[7]))) * inv_c;
  for (std::int64_t c = 0; c < C; ++c) {
    const T g = d[c] * (gamma ? gamma[c] : T(1));
    o[c] = r * (g - mg - ((xr[c] - m) * r) * mgx);
  }
}

// The AVX-512 builds for fp32 (layernorm_avx512.cpp); call only on the avx512 tier.
void layer_norm_forward_row_avx512(float* o, float* mean, float* rstd, const float* xr, const float* gamma,
                                   const float* beta, std::int64_t C, float eps);
void layer_norm_param_grads_avx512(float* dgamma, float* dbeta, const float* dout, const float* x,
                                   const float* mean, const float* rstd, std::int64_t N, std::int64_t C,
                                   std::int64_t c0, std::int64_t c1);
void layer_norm_backward_row_avx512(float* o, const float* d, const float* xr, float m, float r,
                                    const float* gamma, std::int64_t C);

}  // namespace mixtrain::backend::cpu::detail
