// Convolution and pooling ops over NCHW tensors (the backend's conv and pool families): conv2d is a GEMM
// op (im2col + GEMM, fp32 accumulation; "lower" under autocast, named "conv2d"), max_pool2d and
// avg_pool2d are window ops. Each reads any floating dtype, computes in fp32 (fp64 when an input
// is fp64) and writes `out` (default: x's dtype after autocast) rounded to nearest even.
#pragma once

#include <cstdint>
#include <optional>

#include "tensor/tensor.h"

namespace mixtrain::ops {

// y (N, OC, OH, OW) = conv(x (N, C, H, W), w (OC, C, KH, KW)) + b (OC, or undefined), with one
// stride (> 0) and one zero padding (>= 0) on both axes: OH = (H + 2 pad - KH) / stride + 1.
// The bias is added in the compute dtype before the single rounding to `out`. Backward: dx, dw,
// db in the compute dtype; dw sums the images in order (deterministic).
// Throws mixtrain::Error for mismatched channels, a bad bias, or a kernel larger than the
// padded input.
Tensor conv2d(const Tensor& x, const Tensor& w, const Tensor& b = Tensor(), std::int64_t stride = 1,
              std::int64_t pad = 0, std::optional<DType> out = std::nullopt);

// y (N, C, OH, OW) = max over each k x k window of x (N, C, H, W); padding never wins a max.
// Requires pad <= k / 2. The backward routes each output gradient to its window's first maximum
// (indices kept in an 8-byte-per-output buffer from the caching allocator).
Tensor max_pool2d(const Tensor& x, std::int64_t k, std::int64_t stride, std::int64_t pad = 0,
                  std::optional<DType> out = std::nullopt);

// y (N, C, OH, OW) = window sum / (k * k): padding counts in the divisor (PyTorch's
// count_include_pad=True). Requires pad <= k / 2.
Tensor avg_pool2d(const Tensor& x, std::int64_t k, std::int64_t stride, std::int64_t pad = 0,
                  std::optional<DType> out = std::nullopt);

}  // namespace mixtrain::ops
