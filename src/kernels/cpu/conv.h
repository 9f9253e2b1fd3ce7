// 2-D convolution (NCHW, square-free: separate kernel height/width, one stride and one zero
// padding for both axes) by im2col + GEMM, forward and backward, and the im2col/col2im
// primitives. GEMMs accumulate in fp32 (fp64 for double) through kernels::cpu::gemm.
// Workspace: per-thread scratch of C*KH*KW*OH*OW elements (workspace.h), reused across calls.
#pragma once

#include <cstdint>

namespace mixtrain::kernels::cpu {

struct Conv2dShape {
  std::int64_t N, C, H, W;  // input (N, C, H, W)
  std::int64_t OC, KH, KW;  // weight (OC, C, KH, KW)
  std::int64_t stride = 1, pad = 0;
  std::int64_t oh() const { return (H + 2 * pad - KH) / stride + 1; }
  std::int64_t ow() const { return (W + 2 * pad - KW) / stride + 1; }
  std::int64_t col_rows() const { return C * KH * KW; }
  std::int64_t col_cols() const { return oh() * ow(); }
};

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

// Naive twins: direct 7-deep loops.
template <typename T>
void conv2d_forward_naive(T* out, const T* x, const T* w, const T* bias, const Conv2dShape& s);
template <typename T>
void conv2d_backward_naive(T* dx, T* dw, T* db, const T* dout, const T* x, const T* w,
                           const Conv2dShape& s);

}  // namespace mixtrain::kernels::cpu
