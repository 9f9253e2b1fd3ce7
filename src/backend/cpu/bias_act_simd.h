// Internal: the AVX2 and AVX-512 GELU rows of bias_act (bias_act_avx2.cpp, bias_act_avx512.cpp). Each processes the longest
// multiple of 8 columns and returns how many it did; the caller finishes the row. Call only when
// gelu_avx2_available().
#pragma once

#include <cstdint>

namespace mixtrain::backend::cpu::detail {

bool gelu_avx2_available();
std::int64_t gelu_forward_avx2(float* o, const float* x, const float* bias, std::int64_t C);
std::int64_t gelu_backward_avx2(float* dx, const float* d, const float* x, const float* bias, std::int64_t C);

// The same on 16 lanes (bias_act_avx512.cpp); call only when gelu_avx512_available().
bool gelu_avx512_available();
std::int64_t gelu_forward_avx512(float* o, const float* x, const float* bias, std::int64_t C);
std::int64_t gelu_backward_avx512(float* dx, const float* d, const float* x, const float* bias, std::int64_t C);

}  // namespace mixtrain::backend::cpu::detail
