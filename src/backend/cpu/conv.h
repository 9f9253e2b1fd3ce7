// 2-D convolution (NCHW, square-free: separate kernel height/width, one stride and one zero
// padding for both axes) by im2col + GEMM, forward and backward, and the im2col/col2im
// primitives. GEMMs accumulate in fp32 (fp64 for double) through backend::cpu::gemm.
// Workspace: per-thread scratch of C*KH*KW*OH*OW elements (workspace.h), reused across calls.
#pragma once

#include <cstdint>
#include "backend/types.h"

namespace mixtrain::backend::cpu {


// col (C*KH*KW, OH*OW) from one image x (C, H, W); padding reads as 0.
template <typename T>
void im2col(T* col, const T* x, const Conv2dShape& s);
// dx (C, H, W) += the columns scattered back (the adjoint of im2col). dx is accumulated.
template <typename T>
void col2im(T* dx, const T* col, const Conv2dShape& s);

// out (N, OC, OH, OW) = conv(x (N, C, H, W), w (OC, C, KH, KW)) + bias (OC, or nullptr).
// Throws mixtrain::Error for an empty output or non-positive stride.
template <typename T>
void conv2d_forward(T* out, const T* x, const T* w, const T* bias, const Conv2dShape& s);

// dx (N, C, H, W), dw (OC, C, KH, KW), db (OC): each overwritten, each may be nullptr to skip.
// dw sums the images in order (deterministic).
template <typename T>
void conv2d_backward(T* dx, T* dw, T* db, const T* dout, const T* x, const T* w,
                     const Conv2dShape& s);

}  // namespace mixtrain::backend::cpu
