// The GELU rows of bias_act on 16 fp32 lanes (bias_act_simd.h): the same per-lane operations as
// the 4- and 8-lane forms (gelu_math.h), so the same bits. AVX-512 is enabled by a target pragma
// after the baseline includes (see gemm_tile_avx512.cpp for why); gelu_math.h and vec_lanes.h are
// template-only headers, included inside the region so that their 16-lane instantiations are
// compiled for AVX-512 on both sides of every call.
#include <cstdint>

#include "backend/cpu/bias_act_simd.h"

#pragma GCC push_options
#pragma GCC target("avx2,fma,f16c,avx512f,avx512bw,avx512dq,avx512vl")

#include "backend/cpu/gelu_math.h"

namespace mixtrain::backend::cpu::detail {
namespace {

typedef float f32x16 __attribute__((vector_size(64)));
typedef std::int32_t i32x16 __attribute__((vector_size(64)));

}  // namespace

std::int64_t gelu_forward_avx512(float* o, const float* x, const float* bias, std::int64_t C) {
  return vec::gelu_forward_rows<f32x16, i32x16>(o, x, bias, C);
}

std::int64_t gelu_backward_avx512(float* dx, const float* d, const float* x, const float* bias, std::int64_t C) {
  return vec::gelu_backward_rows<f32x16, i32x16>(dx, d, x, bias, C);
}

}  // namespace mixtrain::backend::cpu::detail

#pragma GCC pop_options
