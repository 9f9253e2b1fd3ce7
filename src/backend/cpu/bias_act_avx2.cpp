// The GELU rows of bias_act on 8 fp32 lanes (bias_act_simd.h, vec::gelu_*_rows), compiled with
// -mavx2 -mfma; the portable kernels call them after checking the CPU. Same per-lane operations
// as the 4-lane forms, so the same bits.
#include "backend/cpu/bias_act_simd.h"

#include "backend/cpu/gelu_math.h"

namespace mixtrain::backend::cpu::detail {
namespace {

typedef float f32x8 __attribute__((vector_size(32)));
typedef std::int32_t i32x8 __attribute__((vector_size(32)));

}  // namespace

std::int64_t gelu_forward_avx2(float* o, const float* x, const float* bias, std::int64_t C) {
  return vec::gelu_forward_rows<f32x8, i32x8>(o, x, bias, C);
}

std::int64_t gelu_backward_avx2(float* dx, const float* d, const float* x, const float* bias, std::int64_t C) {
  return vec::gelu_backward_rows<f32x8, i32x8>(dx, d, x, bias, C);
}

}  // namespace mixtrain::backend::cpu::detail
