// The seam between the differentiable ops and the code that computes: every kernel family a
// backend implements, as one table of function pointers per backend (in the spirit of PyTorch's
// DispatchStub). ops/, nn/, amp/, optim/, autograd/ and train/ call `backend::kernels()` (or
// `backend::real<T>()` for the families computed in fp32 or fp64) and never name a backend.
//
// A backend fills a `Kernels` with designated initialisers; -Wmissing-field-initializers (part
// of -Wextra, an error in CI) rejects a table that leaves a family out, and the registry refuses
// a null entry at registration. Pointers (not virtual functions) keep the per-dtype tables plain
// data and let a backend point straight at a template instantiation.
//
// Contracts every backend keeps (docs/ARCHITECTURE.md, "The backend seam"):
//  - Buffers are contiguous, row-major, on the backend's device; outputs never alias inputs
//    unless the entry says so.
//  - Exact families (conversions, elementwise, optimizer updates, copies, dropout, embedding
//    forward, pooling) give the same bits on every backend: each element's result is a fixed
//    sequence of correctly rounded operations. Summing families (GEMM, reductions, norms,
//    softmax, attention, convolution, gradient norm) may differ in summation order; each
//    backend documents its order and the cross-check suite states the bound.
//  - Results do not depend on the thread count.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <utility>
#include <vector>

#include "backend/types.h"
#include "tensor/conversions.h"
#include "tensor/device.h"

namespace mixtrain::backend {

using i64 = std::int64_t;

// Families computed in T = float (fp32) or double (fp64), the ops' compute dtypes.
template <typename T>
struct RealKernels {
  // Elementwise. binary broadcasts b and a to `os` (NumPy rules, shapes already checked); o may
  // alias a when as == os (the mean divides its sums in place).
  void (*binary)(BinaryOp op, T* o, const T* a, const Shape& as, const T* b, const Shape& bs, const Shape& os);
  void (*unary_forward)(UnaryOp op, T* y, const T* x, i64 n);
  // dx = dy * op'(x) (y = op(x), for the ops whose derivative reads it).
  void (*unary_backward)(UnaryOp op, T* dx, const T* dy, const T* x, const T* y, i64 n);
  // out = act(x + bias), x and out (N, C), bias (C) or nullptr; out may alias x.
  void (*bias_act_forward)(T* out, const T* x, const T* bias, i64 N, i64 C, Activation act);
  // dx = dout * act'(x + bias); dbias (C) = column sums of dx (nullptr to skip).
  void (*bias_act_backward)(T* dx, T* dbias, const T* dout, const T* x, const T* bias, i64 N, i64 C, Activation act);
  // Mean of a pointwise loss over n elements and its gradients (dp, dt; dt may be null).
  T (*point_loss_forward)(PointLoss kind, const T* p, const T* t, i64 n);
  void (*point_loss_backward)(PointLoss kind, T* dp, T* dt, const T* p, const T* t, i64 n, T dloss);

  // Reductions. sum_to: dst (dst_shape, zeroed by the kernel) = src summed over the dimensions
  // that dst_shape broadcasts (src_shape and dst_shape have equal rank). broadcast_to: the
  // reverse, dst (dst_shape) = src (src_shape, broadcastable) * factor.
  void (*sum_to)(T* dst, const T* src, const Shape& src_shape, const Shape& dst_shape);
  void (*broadcast_to)(T* dst, const T* src, const Shape& src_shape, const Shape& dst_shape, T factor);
  // acc[i] += x[i] (gradient accumulation).
  void (*accumulate)(T* acc, const T* x, i64 n);

  // Softmax and losses over rows (N, C).
  void (*softmax_forward)(T* y, const T* x, i64 N, i64 C);
  void (*softmax_backward)(T* dx, const T* dy, const T* y, i64 N, i64 C);
  void (*log_softmax_forward)(T* y, const T* x, i64 N, i64 C);
  void (*log_softmax_backward)(T* dx, const T* dy, const T* y, i64 N, i64 C);
  // Mean cross-entropy; lse (N) receives each row's log-sum-exp. Labels are checked in [0, C).
  T (*cross_entropy_forward)(T* lse, const T* logits, const i64* labels, i64 N, i64 C);
  void (*cross_entropy_backward)(T* dlogits, const T* logits, const T* lse, const i64* labels, T dloss, i64 N, i64 C);

  // Norms. LayerNorm over rows (N, C); BatchNorm over (N, C, HW) per channel.
  void (*layer_norm_forward)(T* out, T* mean, T* rstd, const T* x, const T* gamma, const T* beta, i64 N, i64 C, T eps);
  void (*layer_norm_backward)(T* dx, T* dgamma, T* dbeta, const T* dout, const T* x, const T* mean, const T* rstd,
                              const T* gamma, i64 N, i64 C);
  void (*batch_norm_forward_train)(T* out, T* mean, T* rstd, T* running_mean, T* running_var, const T* x,
                                   const T* gamma, const T* beta, i64 N, i64 C, i64 HW, T momentum, T eps);
  void (*batch_norm_forward_eval)(T* out, const T* x, const T* gamma, const T* beta, const T* running_mean,
                                  const T* running_var, i64 N, i64 C, i64 HW, T eps);
  // dx with batch statistics (training mode); dgamma, dbeta may be null.
  void (*batch_norm_backward)(T* dx, T* dgamma, T* dbeta, const T* dout, const T* x, const T* mean, const T* rstd,
                              const T* gamma, i64 N, i64 C, i64 HW);
  // rstd[c] = 1 / sqrt(var[c] + eps) (evaluation mode's statistics).
  void (*batch_norm_inv_std)(T* rstd, const T* var, i64 C, T eps);
  // dx = dout * gamma * rstd with fixed statistics (evaluation mode), and dgamma, dbeta sums.
  void (*batch_norm_backward_frozen)(T* dx, T* dgamma, T* dbeta, const T* dout, const T* x, const T* mean,
                                     const T* rstd, const T* gamma, i64 N, i64 C, i64 HW);

  // Convolution (bias may be null; db may be null) and pooling.
  void (*conv2d_forward)(T* out, const T* x, const T* w, const T* bias, const Conv2dShape& s);
  void (*conv2d_backward)(T* dx, T* dw, T* db, const T* dout, const T* x, const T* w, const Conv2dShape& s);
  void (*max_pool2d_forward)(T* out, i64* argmax, const T* x, const Pool2dShape& s);
  void (*max_pool2d_backward)(T* dx, const T* dout, const i64* argmax, const Pool2dShape& s);
  void (*avg_pool2d_forward)(T* out, const T* x, const Pool2dShape& s);
  void (*avg_pool2d_backward)(T* dx, const T* dout, const Pool2dShape& s);

  // Causal scaled-dot-product attention over (B, H, Tn, D) slabs; att (B, H, Tn, Tn) holds the
  // probabilities for the backward.
  void (*attention_probs)(T* att, const T* q, const T* k, i64 B, i64 H, i64 Tn, i64 D);
  void (*attention_forward)(T* out, T* att, const T* q, const T* k, const T* v, i64 B, i64 H, i64 Tn, i64 D);
  void (*attention_backward)(T* dq, T* dk, T* dv, T* datt, const T* dout, const T* q, const T* k, const T* v,
                             const T* att, i64 B, i64 H, i64 Tn, i64 D);

  // Embedding rows (ids checked in [0, V)); the backward adds into dtable.
  void (*embedding_forward)(T* out, const T* table, const i64* ids, i64 N, i64 V, i64 D);
  void (*embedding_backward)(T* dtable, const T* dout, const i64* ids, i64 N, i64 V, i64 D);

  // Dropout with a counter-based mask: element i is kept from (seed, offset + i) alone.
  void (*dropout_forward)(T* out, std::uint8_t* mask, const T* x, i64 n, double p, std::uint64_t seed,
                          std::uint64_t offset);
  void (*dropout_backward)(T* dx, const T* dout, const std::uint8_t* mask, i64 n, double p);
};

struct Kernels {
  std::string_view name;  // "cpu", "reference"
  tensor::Device device;

  RealKernels<float> f32;
  RealKernels<double> f64;

  // ---- GEMM (backend/cpu/gemm.h states the contracts) ----
  // C = alpha * op(A) op(B) + beta * C, row-major; the epilogue sees fp32 results first.
  void (*gemm)(i64 M, i64 N, i64 K, float alpha, const GemmOperand& A, const GemmOperand& B, float beta,
               const GemmOutput& C, const GemmEpilogue& epilogue);
  void (*gemm_batched)(i64 batch, i64 M, i64 N, i64 K, float alpha, const GemmOperand& A, i64 stride_a,
                       const GemmOperand& B, i64 stride_b, float beta, const GemmOutput& C, i64 stride_c);
  GemmFlops (*gemm_flops)();
  void (*reset_gemm_flops)();
  // (kernel name, flops) since the last reset, only kernels that ran.
  std::vector<std::pair<std::string_view, double>> (*gemm_flops_by_kernel)();
  // The kernel gemm() would run for operands of these formats now (for reports).
  std::string_view (*gemm_kernel_name)(DType a, DType b);

  // ---- Epilogue helpers on fp32 blocks (GEMM epilogues and their backward) ----
  void (*bias_act_forward_block)(float* x, i64 ld, const float* bias, i64 rows, i64 C, Activation act);
  // dx (fp32) = dout * act'(x + bias), dout and x in any dtype; dbias = column sums of dx.
  void (*bias_act_backward_from)(float* dx, float* dbias, const void* dout, DType dout_type, const void* x,
                                 DType x_type, i64 N, i64 C, Activation act);
  // dbias (C) = column sums of x (N, C) in any dtype, accumulated in fp32.
  void (*column_sums)(float* dbias, const void* x, DType x_type, i64 N, i64 C);

  // ---- LayerNorm with 16-bit (or any unscaled) inputs and outputs, computed in fp32 ----
  // Exactly the fp32 layer_norm on x decoded to fp32, with out rounded once into out_type (to
  // nearest even), without the fp32 copies of x and out; mean and rstd in fp32.
  void (*layer_norm_forward_from)(void* out, DType out_type, float* mean, float* rstd, const void* x, DType x_type,
                                  const float* gamma, const float* beta, i64 N, i64 C, float eps);
  // Exactly the fp32 layer_norm_backward on dout and x decoded to fp32; dx in fp32.
  void (*layer_norm_backward_from)(float* dx, float* dgamma, float* dbeta, const void* dout, DType dout_type,
                                   const void* x, DType x_type, const float* mean, const float* rstd,
                                   const float* gamma, i64 N, i64 C);
  // r = a op b over n elements of any dtypes, computed in fp32 and rounded once into r's dtype.
  void (*binary_f32)(BinaryOp op, void* r, DType r_type, const void* a, DType a_type, const void* b,
                     DType b_type, i64 n);

  // ---- Layout ----
  // y = x permuted (element bytes of size elem), x of shape `in`, y of shape in[perm[i]].
  void (*permute)(void* y, const void* x, std::size_t elem, const Shape& in, const std::vector<i64>& perm);
  // Byte rows: dst row i = table row ids[i] (ids checked by the caller), rows of row_bytes.
  void (*gather_rows)(void* dst, const void* table, std::size_t row_bytes, const i64* ids, i64 N);
  // A strided 2-D byte copy: `rows` rows of row_bytes, src rows src_stride bytes apart, dst rows
  // dst_stride bytes apart (slice and concat).
  void (*copy_rows)(void* dst, std::size_t dst_stride, const void* src, std::size_t src_stride, i64 rows,
                    std::size_t row_bytes);
  // Rows (B*T, G*H*D) of any dtype <-> G slabs (B*H, T, D) in fp32/fp64 (attention heads).
  void (*to_heads_f32)(float* slabs, const void* rows, DType rows_type, i64 B, i64 T, i64 G, i64 H, i64 D);
  void (*to_heads_f64)(double* slabs, const void* rows, DType rows_type, i64 B, i64 T, i64 G, i64 H, i64 D);
  void (*from_heads_f32)(void* rows, DType rows_type, const float* slabs, i64 B, i64 T, i64 G, i64 H, i64 D);
  void (*from_heads_f64)(void* rows, DType rows_type, const double* slabs, i64 B, i64 T, i64 G, i64 H, i64 D);

  // ---- Format conversion (numerics/convert.h states the contract; exact on every backend) ----
  // encode, decode, convert and abs_max, as the set the tensor layer uses for Tensor::to and
  // friends: the registry installs the active backend's (tensor/conversions.h).
  tensor::Conversions conversions;

  // ---- Training-step families ----
  // True when no element is inf or NaN once read as fp32 (an fp64 value beyond fp32's range
  // counts as infinite: gradients are checked as the fp32 values the update will use).
  bool (*all_finite)(const void* x, DType dtype, std::size_t n);
  // acc + the squares of n fp32 values, added one by one in index order onto the fp64 acc (the
  // gradient norm: one running sum over all gradients, so its value is part of the contract).
  double (*sum_squares)(const float* x, std::size_t n, double acc);
  void (*dropout_mask)(std::uint8_t* mask, i64 n, double p, std::uint64_t seed, std::uint64_t offset);
  // One parameter's fused optimizer step (types.h: ParamUpdate).
  void (*optimizer_update)(const OptimizerHyper& hyper, const ParamUpdate& p);

  // Which ISA tier the backend's kernels run at now ("generic" for the reference backend).
  std::string_view (*tier)();
};

// The active backend's table (the one `select_backend` chose; cpu by default, or the
// MIXTRAIN_BACKEND environment variable's choice on first use).
const Kernels& kernels();

template <typename T>
const RealKernels<T>& real() {
  if constexpr (sizeof(T) == 8) return kernels().f64;
  else return kernels().f32;
}

}  // namespace mixtrain::backend
