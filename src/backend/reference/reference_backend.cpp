// The reference backend's table: every family points at this folder's scalar, single-threaded
// kernels (scalar.h lists them; docs/BACKENDS.md states each summing family's order).
#include "backend/reference/reference_backend.h"

#include "backend/reference/scalar.h"

namespace mixtrain::backend::reference {
namespace {

template <typename T>
constexpr RealKernels<T> real_table() {
  return {
      .binary = binary<T>,
      .unary_forward = unary_forward<T>,
      .unary_backward = unary_backward<T>,
      .bias_act_forward = bias_act_forward<T>,
      .bias_act_backward = bias_act_backward<T>,
      .point_loss_forward = point_loss_forward<T>,
      .point_loss_backward = point_loss_backward<T>,
      .sum_to = sum_to<T>,
      .broadcast_to = broadcast_to<T>,
      .accumulate = accumulate<T>,
      .softmax_forward = softmax_forward<T>,
      .softmax_backward = softmax_backward<T>,
      .log_softmax_forward = log_softmax_forward<T>,
      .log_softmax_backward = log_softmax_backward<T>,
      .cross_entropy_forward = cross_entropy_forward<T>,
      .cross_entropy_backward = cross_entropy_backward<T>,
      .layer_norm_forward = layer_norm_forward<T>,
      .layer_norm_backward = layer_norm_backward<T>,
      .batch_norm_forward_train = batch_norm_forward_train<T>,
      .batch_norm_forward_eval = batch_norm_forward_eval<T>,
      .batch_norm_backward = batch_norm_backward<T>,
      .batch_norm_inv_std = batch_norm_inv_std<T>,
      .batch_norm_backward_frozen = batch_norm_backward_frozen<T>,
      .conv2d_forward = conv2d_forward<T>,
      .conv2d_backward = conv2d_backward<T>,
      .max_pool2d_forward = max_pool2d_forward<T>,
      .max_pool2d_backward = max_pool2d_backward<T>,
      .avg_pool2d_forward = avg_pool2d_forward<T>,
      .avg_pool2d_backward = avg_pool2d_backward<T>,
      .attention_probs = attention_probs<T>,
      .attention_forward = attention_forward<T>,
      .attention_backward = attention_backward<T>,
      .embedding_forward = embedding_forward<T>,
      .embedding_backward = embedding_backward<T>,
      .dropout_forward = dropout_forward<T>,
      .dropout_backward = dropout_backward<T>,
  };
}

const Kernels kTable{
    .name = "reference",
    .device = tensor::kCpu,
    .f32 = real_table<float>(),
    .f64 = real_table<double>(),
    .gemm = gemm,
    .gemm_batched = gemm_batched,
    .gemm_flops = gemm_flops,
    .reset_gemm_flops = reset_gemm_flops,
    .gemm_flops_by_kernel = gemm_flops_by_kernel,
    .gemm_kernel_name = [](DType, DType) { return std::string_view("reference"); },
    .bias_act_forward_block = bias_act_forward_block,
    .bias_act_backward_from = bias_act_backward_from,
    .column_sums = column_sums,
    .layer_norm_forward_from = layer_norm_forward_from,
    .layer_norm_backward_from = layer_norm_backward_from,
    .binary_f32 = binary_f32,
    .permute = permute,
    .gather_rows = gather_rows,
    .copy_rows = copy_rows,
    .to_heads_f32 = to_heads<float>,
    .to_heads_f64 = to_heads<double>,
    .from_heads_f32 = from_heads<float>,
    .from_heads_f64 = from_heads<double>,
    .conversions = {.encode_f32 = encode_f32,
                    .encode_f64 = encode_f64,
                    .decode_f32 = decode_f32,
                    .decode_f64 = decode_f64,
                    .convert = convert,
                    .abs_max = abs_max},
    .all_finite = all_finite,
    .sum_squares = sum_squares,
    .dropout_mask = dropout_mask,
    .optimizer_update = optimizer_update,
    .tier = [] { return std::string_view("generic"); },
};

}  // namespace

const Kernels& table() { return kTable; }

}  // namespace mixtrain::backend::reference
