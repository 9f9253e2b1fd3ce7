// Internal: the reference backend's per-element helpers (reading and writing one element of any
// dtype, the GELU of bias_act) and the declarations of its kernels, which the table in
// reference_backend.cpp points at. Everything here is plain scalar C++ on the calling thread.
#pragma once

#include <bit>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <utility>
#include <vector>

#include "backend/types.h"

namespace mixtrain::backend::reference {

using i64 = std::int64_t;

// ---- One element of a buffer of any dtype (convert.cpp) ----
// Element i as fp32 / fp64, exactly the value numerics::decode gives (fp64 -> fp32 rounds).
float load_f32(const void* p, DType t, std::size_t i);
double load_f64(const void* p, DType t, std::size_t i);
template <typename U>
U load(const void* p, DType t, std::size_t i) {
  if constexpr (sizeof(U) == 8) return load_f64(p, t, i);
  else return load_f32(p, t, i);
}
// Writes v into element i of a buffer of dtype t: as is when t is U's own dtype (the cpu kernels
// write such outputs in place, so a NaN keeps its payload), else rounded to nearest with the
// format's default overflow (numerics::encode with default options).
void store_f32(void* p, DType t, std::size_t i, float v);
void store_f64(void* p, DType t, std::size_t i, double v);
template <typename U>
void store(void* p, DType t, std::size_t i, U v) {
  if constexpr (sizeof(U) == 8) store_f64(p, t, i, v);
  else store_f32(p, t, i, v);
}

// ---- GELU (tanh form) as bias_act computes it ----
// 0.5 u (1 + tanh(z)) written as u * sigmoid(2z), z = sqrt(2/pi) (u + 0.044715 u^3): the cpu
// backend's formula (backend/cpu/gelu_math.h), so that GELU is exact across backends. Its exp is
// std::exp for fp64 and, for fp32, the Cephes-style polynomial of backend/cpu/vec_lanes.h
// (exp_poly below, one lane of it in scalar code): std::expf would differ in the last bits.
inline float exp_poly(float x) {
  if (x != x) return x;
  if (x < -87.3f) return 0.0f;
  const float xc = x > 88.0f ? 88.0f : x;
  const float magic = 12582912.0f;  // 1.5 * 2^23: adding it rounds to an integer
  const float fn = (xc * 1.44269504088896341f + magic) - magic;
  const float r = (xc - fn * 0.693359375f) - fn * -2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  const float y = p * r * r + r + 1.0f;
  const auto bits = static_cast<std::uint32_t>(static_cast<std::int32_t>(fn) + 127) << 23;  // 2^fn
  return y * std::bit_cast<float>(bits);
}
inline float gelu_exp(float x) { return exp_poly(x); }
inline double gelu_exp(double x) { return std::exp(x); }

template <typename T>
inline constexpr T kGeluC = T(0.7978845608028654);  // sqrt(2 / pi)
template <typename T>
inline constexpr T kGeluA = T(0.044715);

template <typename T>
T gelu(T u) {
  const T z = kGeluC<T> * (u + kGeluA<T> * u * u * u);
  return u / (T(1) + gelu_exp(T(-2) * z));
}
// d gelu / du with s = sigmoid(2z): s + u * 2 s (1 - s) dz/du.
template <typename T>
T gelu_grad(T u) {
  const T z = kGeluC<T> * (u + kGeluA<T> * u * u * u);
  const T s = T(1) / (T(1) + gelu_exp(T(-2) * z));
  return s + u * T(2) * s * (T(1) - s) * kGeluC<T> * (T(1) + T(3) * kGeluA<T> * u * u);
}

// ---- Kernels (one file per family; kernels.h states each contract) ----
// elementwise.cpp
template <typename T>
void binary(BinaryOp op, T* o, const T* a, const Shape& as, const T* b, const Shape& bs, const Shape& os);
template <typename T>
void unary_forward(UnaryOp op, T* y, const T* x, i64 n);
template <typename T>
void unary_backward(UnaryOp op, T* dx, const T* dy, const T* x, const T* y, i64 n);
template <typename T>
void bias_act_forward(T* out, const T* x, const T* bias, i64 N, i64 C, Activation act);
template <typename T>
void bias_act_backward(T* dx, T* dbias, const T* dout, const T* x, const T* bias, i64 N, i64 C, Activation act);
template <typename T>
T point_loss_forward(PointLoss kind, const T* p, const T* t, i64 n);
template <typename T>
void point_loss_backward(PointLoss kind, T* dp, T* dt, const T* p, const T* t, i64 n, T dloss);
void bias_act_forward_block(float* x, i64 ld, const float* bias, i64 rows, i64 C, Activation act);
void bias_act_backward_from(float* dx, float* dbias, const void* dout, DType dout_type, const void* x, DType x_type,
                            i64 N, i64 C, Activation act);
void column_sums(float* dbias, const void* x, DType x_type, i64 N, i64 C);
void layer_norm_forward_from(void* out, DType out_type, float* mean, float* rstd, const void* x, DType x_type,
                             const float* gamma, const float* beta, i64 N, i64 C, float eps);
void layer_norm_backward_from(float* dx, float* dgamma, float* dbeta, const void* dout, DType dout_type, const void* x,
                              DType x_type, const float* mean, const float* rstd, const float* gamma, i64 N, i64 C);
void binary_f32(BinaryOp op, void* r, DType r_type, const void* a, DType a_type, const void* b, DType b_type, i64 n);

// reduce.cpp
template <typename T>
void sum_to(T* dst, const T* src, const Shape& src_shape, const Shape& dst_shape);
template <typename T>
void broadcast_to(T* dst, const T* src, const Shape& src_shape, const Shape& dst_shape, T factor);
template <typename T>
void accumulate(T* acc, const T* x, i64 n);
bool all_finite(const void* x, DType dtype, std::size_t n);
double sum_squares(const float* x, std::size_t n, double acc);
// The flat offset, in an operand of shape s broadcast to os (NumPy rules: right-aligned, size-1
// dimensions repeat), of the operand element that output element k reads.
i64 broadcast_offset(const Shape& s, const Shape& os, i64 k);

// softmax.cpp
template <typename T>
void softmax_forward(T* y, const T* x, i64 N, i64 C);
template <typename T>
void softmax_backward(T* dx, const T* dy, const T* y, i64 N, i64 C);
template <typename T>
void log_softmax_forward(T* y, const T* x, i64 N, i64 C);
template <typename T>
void log_softmax_backward(T* dx, const T* dy, const T* y, i64 N, i64 C);
template <typename T>
T cross_entropy_forward(T* lse, const T* logits, const i64* labels, i64 N, i64 C);
template <typename T>
void cross_entropy_backward(T* dlogits, const T* logits, const T* lse, const i64* labels, T dloss, i64 N, i64 C);

// norms.cpp
template <typename T>
void layer_norm_forward(T* out, T* mean, T* rstd, const T* x, const T* gamma, const T* beta, i64 N, i64 C, T eps);
template <typename T>
void layer_norm_backward(T* dx, T* dgamma, T* dbeta, const T* dout, const T* x, const T* mean, const T* rstd,
                         const T* gamma, i64 N, i64 C);
template <typename T>
void batch_norm_forward_train(T* out, T* mean, T* rstd, T* running_mean, T* running_var, const T* x, const T* gamma,
                              const T* beta, i64 N, i64 C, i64 HW, T momentum, T eps);
template <typename T>
void batch_norm_forward_eval(T* out, const T* x, const T* gamma, const T* beta, const T* running_mean,
                             const T* running_var, i64 N, i64 C, i64 HW, T eps);
template <typename T>
void batch_norm_backward(T* dx, T* dgamma, T* dbeta, const T* dout, const T* x, const T* mean, const T* rstd,
                         const T* gamma, i64 N, i64 C, i64 HW);
template <typename T>
void batch_norm_inv_std(T* rstd, const T* var, i64 C, T eps);
template <typename T>
void batch_norm_backward_frozen(T* dx, T* dgamma, T* dbeta, const T* dout, const T* x, const T* mean, const T* rstd,
                                const T* gamma, i64 N, i64 C, i64 HW);

// conv_pool.cpp
template <typename T>
void conv2d_forward(T* out, const T* x, const T* w, const T* bias, const Conv2dShape& s);
template <typename T>
void conv2d_backward(T* dx, T* dw, T* db, const T* dout, const T* x, const T* w, const Conv2dShape& s);
template <typename T>
void max_pool2d_forward(T* out, i64* argmax, const T* x, const Pool2dShape& s);
template <typename T>
void max_pool2d_backward(T* dx, const T* dout, const i64* argmax, const Pool2dShape& s);
template <typename T>
void avg_pool2d_forward(T* out, const T* x, const Pool2dShape& s);
template <typename T>
void avg_pool2d_backward(T* dx, const T* dout, const Pool2dShape& s);

// attention.cpp
template <typename T>
void attention_probs(T* att, const T* q, const T* k, i64 B, i64 H, i64 Tn, i64 D);
template <typename T>
void attention_forward(T* out, T* att, const T* q, const T* k, const T* v, i64 B, i64 H, i64 Tn, i64 D);
template <typename T>
void attention_backward(T* dq, T* dk, T* dv, T* datt, const T* dout, const T* q, const T* k, const T* v,
                        const T* att, i64 B, i64 H, i64 Tn, i64 D);

// embedding_dropout.cpp
template <typename T>
void embedding_forward(T* out, const T* table, const i64* ids, i64 N, i64 V, i64 D);
template <typename T>
void embedding_backward(T* dtable, const T* dout, const i64* ids, i64 N, i64 V, i64 D);
template <typename T>
void dropout_forward(T* out, std::uint8_t* mask, const T* x, i64 n, double p, std::uint64_t seed,
                     std::uint64_t offset);
template <typename T>
void dropout_backward(T* dx, const T* dout, const std::uint8_t* mask, i64 n, double p);
void dropout_mask(std::uint8_t* mask, i64 n, double p, std::uint64_t seed, std::uint64_t offset);

// gemm.cpp
void gemm(i64 M, i64 N, i64 K, float alpha, const GemmOperand& A, const GemmOperand& B, float beta,
          const GemmOutput& C, const GemmEpilogue& epilogue);
void gemm_batched(i64 batch, i64 M, i64 N, i64 K, float alpha, const GemmOperand& A, i64 stride_a,
                  const GemmOperand& B, i64 stride_b, float beta, const GemmOutput& C, i64 stride_c);
GemmFlops gemm_flops();
void reset_gemm_flops();
std::vector<std::pair<std::string_view, double>> gemm_flops_by_kernel();

// layout.cpp
void permute(void* y, const void* x, std::size_t elem, const Shape& in, const std::vector<i64>& perm);
void gather_rows(void* dst, const void* table, std::size_t row_bytes, const i64* ids, i64 N);
void copy_rows(void* dst, std::size_t dst_stride, const void* src, std::size_t src_stride, i64 rows,
               std::size_t row_bytes);
template <typename U>
void to_heads(U* slabs, const void* rows, DType rows_type, i64 B, i64 T, i64 G, i64 H, i64 D);
template <typename U>
void from_heads(void* rows, DType rows_type, const U* slabs, i64 B, i64 T, i64 G, i64 H, i64 D);

// convert.cpp
float encode_f32(void* dst, DType to, const float* src, std::size_t n, const numerics::ConvertOptions& opt);
double encode_f64(void* dst, DType to, const double* src, std::size_t n, const numerics::ConvertOptions& opt);
void decode_f32(float* dst, const void* src, DType from, std::size_t n);
void decode_f64(double* dst, const void* src, DType from, std::size_t n);
double convert(void* dst, DType to, const void* src, DType from, std::size_t n, const numerics::ConvertOptions& opt);
float abs_max(const void* src, DType from, std::size_t n);

// optimizer.cpp
void optimizer_update(const OptimizerHyper& hyper, const ParamUpdate& p);

}  // namespace mixtrain::backend::reference
