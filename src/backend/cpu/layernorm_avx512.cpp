// The layer-norm row loops (layernorm_rows.h) built for AVX-512: the same operations in the same
// order as the portable build, so the same bits, at 16 lanes for the per-element passes. The ISA
// comes from a target pragma after the baseline includes (see gemm_tile_avx512.cpp).
#include <cstdint>

#pragma GCC push_options
#pragma GCC target("avx2,fma,f16c,avx512f,avx512bw,avx512dq,avx512vl")

#include "backend/cpu/layernorm_rows.h"

namespace mixtrain::backend::cpu::detail {
namespace {
struct Avx512 {};  // this unit's tag: internal-linkage instantiations
}  // namespace

void layer_norm_forward_row_avx512(float* o, float* mean, float* rstd, const float* xr, const float* gamma,
                                   const float* beta, std::int64_t C, float eps) {
  layer_norm_forward_row<Avx512>(o, mean, rstd, xr, gamma, beta, C, eps);
}

void layer_norm_param_grads_avx512(float* dgamma, float* dbeta, const float* dout, const float* x,
                                   const float* mean, const float* rstd, std::int64_t N, std::int64_t C,
                                   std::int64_t c0, std::int64_t c1) {
  layer_norm_param_grads<Avx512>(dgamma, dbeta, dout, x, mean, rstd, N, C, c0, c1);
}

void layer_norm_backward_row_avx512(float* o, const float* d, const float* xr, float m, float r,
                                    const float* gamma, std::int64_t C) {
  layer_norm_backward_row<Avx512>(o, d, xr, m, r, gamma, C);
}

}  // namespace mixtrain::backend::cpu::detail

#pragma GCC pop_options
