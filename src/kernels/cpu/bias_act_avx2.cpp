// The GELU rows of bias_act on 8 fp32 lanes (bias_act_simd.h), compiled with -mavx2 -mfma; the
// portable kernels call them after checking the CPU. Same per-lane operations as the 4-lane
// forms, so the same bits.
#include "kernels/cpu/bias_act_simd.h"

#include <cstring>

#include "kernels/cpu/gelu_math.h"

namespace mixtrain::kernels::cpu::detail {
namespace {

typedef float f32x8 __attribute__((vector_size(32)));
typedef std::int32_t i32x8 __attribute__((vector_size(32)));

f32x8 load8(const float* p) {
  f32x8 v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
void store8(float* p, f32x8 v) { std::memcpy(p, &v, sizeof v); }

}  // namespace

std::int64_t gelu_forward_avx2(float* o, const float* x, const float* bias, std::int64_t C) {
  std::int64_t c = 0;
  for (; c + 8 <= C; c += 8) {
    const f32x8 u = load8(x + c) + (bias ? load8(bias + c) : f32x8{});
    store8(o + c, vec::gelu_n<f32x8, i32x8>(u));
  }
  return c;
}

std::int64_t gelu_backward_avx2(float* dx, const float* d, const float* x, const float* bias, std::int64_t C) {
  std::int64_t c = 0;
  for (; c + 8 <= C; c += 8) {
    const f32x8 u = load8(x + c) + (bias ? load8(bias + c) : f32x8{});
    store8(dx + c, load8(d + c) * vec::gelu_grad_n<f32x8, i32x8>(u));
  }
  return c;
}

}  // namespace mixtrain::kernels::cpu::detail
