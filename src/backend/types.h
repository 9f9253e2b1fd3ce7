// Argument types shared by every backend's kernels (backend/kernels.h). They describe work, not
// how it is done, so a kernel family has one signature whatever device or ISA runs it.
#pragma once

#include <cstdint>
#include <functional>
#include <string_view>
#include <utility>
#include <vector>

#include "numerics/convert.h"
#include "numerics/format.h"
#include "tensor/tensor.h"

namespace mixtrain::backend {

// ---- GEMM -------------------------------------------------------------------------------------

struct GemmOperand {
  const void* data;
  DType dtype;
  std::int64_t ld;         // leading dimension (row-major): elements between consecutive rows
  bool transposed = false; // op(X) = X^T
  float scale_inv = 1.0f;  // value = decode(code) * scale_inv (fp8 per-tensor scaling)
};

struct GemmOutput {
  void* data;
  DType dtype;
  std::int64_t ld;
};

// Finished fp32 results handed to the caller before they are rounded into C's dtype: rows
// [row0, row0 + rows) and columns [col0, col0 + cols) of C, at c (row stride ldc), to be updated
// in place. Called once per block of final rows while they are still in cache (so a bias,
// activation or second output costs no extra pass over C), possibly concurrently for disjoint
// blocks. Not for all-fp64 products, which have no fp32 stage.
using GemmEpilogue = std::function<void(std::int64_t row0, std::int64_t col0, std::int64_t rows,
                                        std::int64_t cols, float* c, std::int64_t ldc)>;

// GEMM work done since the last reset, 2*M*N*K per product, by operand precision: `fp8` when
// both operands are 8-bit (what an FP8 tensor core runs), `half` when the widest is 16-bit,
// `full` otherwise.
struct GemmFlops {
  double fp8 = 0, half = 0, full = 0;
  double total() const { return fp8 + half + full; }
};

// ---- Elementwise ------------------------------------------------------------------------------

enum class Activation : std::uint8_t { identity, relu, gelu };
enum class BinaryOp : std::uint8_t { add, sub, mul, div };
enum class UnaryOp : std::uint8_t { relu, gelu, sigmoid, tanh, exp, log };
enum class PointLoss : std::uint8_t { mse, bce_with_logits };

// ---- Convolution and pooling ------------------------------------------------------------------

struct Conv2dShape {
  std::int64_t N, C, H, W;  // input (N, C, H, W)
  std::int64_t OC, KH, KW;  // weight (OC, C, KH, KW)
  std::int64_t stride = 1, pad = 0;
  std::int64_t oh() const { return (H + 2 * pad - KH) / stride + 1; }
  std::int64_t ow() const { return (W + 2 * pad - KW) / stride + 1; }
  std::int64_t col_rows() const { return C * KH * KW; }
  std::int64_t col_cols() const { return oh() * ow(); }
};

struct Pool2dShape {
  std::int64_t N, C, H, W;  // input (N, C, H, W)
  std::int64_t KH, KW;
  std::int64_t stride, pad = 0;
  std::int64_t oh() const { return (H + 2 * pad - KH) / stride + 1; }
  std::int64_t ow() const { return (W + 2 * pad - KW) / stride + 1; }
};

// ---- Optimizer update -------------------------------------------------------------------------

enum class OptimizerKind : std::uint8_t { sgd, adamw };

// The hyper-parameters of one optimizer step, already resolved for this step number.
struct OptimizerHyper {
  OptimizerKind kind = OptimizerKind::sgd;
  std::int64_t step = 1;  // 1-based step count (SGD's first step sets the momentum buffer)
  float lr = 0;
  // SGD
  float momentum = 0, weight_decay = 0;
  bool nesterov = false;
  // AdamW, in the form the update uses: c1 = 1 / (1 - b1^t), c2 = 1 / sqrt(1 - b2^t), and
  // adamw_decay = 1 - lr * weight_decay (formed in fp64, rounded once; applied only to parameters
  // with ParamUpdate::decay).
  float beta1 = 0.9f, beta2 = 0.999f, c1 = 1, c2 = 1, eps = 1e-8f, adamw_decay = 1;
};

// One parameter's fused step: read the fp32 gradient times `grad_factor` (1/loss-scale times the
// clipping coefficient), update the master (fp32 or fp64; or, without a master, the parameter
// itself: fp32/fp64 in place, low precision decoded, updated in fp32 and rounded back), update the
// fp32 state m and v (either may be null), and re-cast the parameter from the master with
// `rounding` (stochastic: element i's bits come from (seed, i), whatever the chunking).
struct ParamUpdate {
  void* param;           // the model's copy, dtype param_dtype
  DType param_dtype;
  void* master;          // nullptr: the parameter is its own master
  DType master_dtype;    // fp32 or fp64 when master != nullptr
  const float* grad;
  float* m;
  float* v;
  std::int64_t n;
  float grad_factor = 1;
  bool decay = true;     // weight decay applies to this parameter
  numerics::Rounding rounding = numerics::Rounding::nearest;
  std::uint64_t seed = 0;
};

}  // namespace mixtrain::backend
