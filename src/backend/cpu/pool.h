// 2-D max and average pooling (NCHW), forward and backward. Windows are KH x KW with one stride
// and zero padding on both axes; padding never wins a max and counts in the average's divisor
// (PyTorch's count_include_pad=True). Planes (n, c) run in parallel.
#pragma once

#include <cstdint>
#include "backend/types.h"

namespace mixtrain::backend::cpu {


// out (N, C, OH, OW) = window max; argmax (N, C, OH, OW) = index h * W + w of the max inside its
// input plane (first one on ties), kept for the backward. Requires pad <= K/2 (each window sees
// at least one input, as PyTorch requires).
template <typename T>
void max_pool2d_forward(T* out, std::int64_t* argmax, const T* x, const Pool2dShape& s);
// dx (N, C, H, W) = dout routed to the argmax positions (overwritten).
template <typename T>
void max_pool2d_backward(T* dx, const T* dout, const std::int64_t* argmax, const Pool2dShape& s);

// out = window sum / (KH * KW).
template <typename T>
void avg_pool2d_forward(T* out, const T* x, const Pool2dShape& s);
// dx (N, C, H, W) = each dout / (KH * KW) spread over its window (overwritten).
template <typename T>
void avg_pool2d_backward(T* dx, const T* dout, const Pool2dShape& s);

}  // namespace mixtrain::backend::cpu
