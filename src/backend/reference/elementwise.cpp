// Reference elementwise kernels. Exact family: each element is the same fixed sequence of
// correctly rounded operations as in the cpu backend (libm's exp, tanh and log; GELU through
// scalar.h's gelu), so results match it bit for bit. The column sums (dbias) add rows in order
// 0..N-1 starting from 0, as the cpu kernels do, so they match too.
#include <algorithm>
#include <cmath>

#include "backend/reference/scalar.h"

namespace mixtrain::backend::reference {
namespace {

template <typename T>
T apply(BinaryOp op, T a, T b) {
  switch (op) {
    case BinaryOp::add: return a + b;
    case BinaryOp::sub: return a - b;
    case BinaryOp::mul: return a * b;
    case BinaryOp::div: return a / b;
  }
  return a;
}

// act(u), u = x + bias (x + 0 without a bias, which turns -0 into +0 as the cpu kernels do).
template <typename T>
T activate(Activation act, T u) {
  switch (act) {
    case Activation::identity: return u;
    case Activation::relu: return u > T(0) ? u : T(0);
    case Activation::gelu: return gelu(u);
  }
  return u;
}

// dout * act'(u); relu'(0) = 0 and relu passes dout through unmultiplied (no 0 * inf = NaN).
template <typename T>
T activate_backward(Activation act, T d, T u) {
  switch (act) {
    case Activation::identity: return d;
    case Activation::relu: return u > T(0) ? d : T(0);
    case Activation::gelu: return d * gelu_grad(u);
  }
  return d;
}

}  // namespace

template <typename T>
void binary(BinaryOp op, T* o, const T* a, const Shape& as, const T* b, const Shape& bs, const Shape& os) {
  const i64 n = numel(os);
  for (i64 k = 0; k < n; ++k) o[k] = apply(op, a[broadcast_offset(as, os, k)], b[broadcast_offset(bs, os, k)]);
}

// relu and gelu are the bias_act activations (as in the cpu backend); the rest are libm's.
template <typename T>
void unary_forward(UnaryOp op, T* y, const T* x, i64 n) {
  for (i64 i = 0; i < n; ++i) {
    const T v = x[i];
    switch (op) {
      case UnaryOp::relu: y[i] = activate(Activation::relu, v + T(0)); break;
      case UnaryOp::gelu: y[i] = activate(Activation::gelu, v + T(0)); break;
      case UnaryOp::sigmoid: y[i] = T(1) / (T(1) + std::exp(-v)); break;
      case UnaryOp::tanh: y[i] = std::tanh(v); break;
      case UnaryOp::exp: y[i] = std::exp(v); break;
      case UnaryOp::log: y[i] = std::log(v); break;
    }
  }
}

template <typename T>
void unary_backward(UnaryOp op, T* dx, const T* dy, const T* x, const T* y, i64 n) {
  for (i64 i = 0; i < n; ++i) {
    const T d = dy[i];
    switch (op) {
      case UnaryOp::relu: dx[i] = activate_backward(Activation::relu, d, x[i] + T(0)); break;
      case UnaryOp::gelu: dx[i] = activate_backward(Activation::gelu, d, x[i] + T(0)); break;
      case UnaryOp::sigmoid: dx[i] = d * (y[i] * (T(1) - y[i])); break;
      case UnaryOp::tanh: dx[i] = d * (T(1) - y[i] * y[i]); break;
      case UnaryOp::exp: dx[i] = d * y[i]; break;
      case UnaryOp::log: dx[i] = d * (T(1) / x[i]); break;
    }
  }
}

template <typename T>
void bias_act_forward(T* out, const T* x, const T* bias, i64 N, i64 C, Activation act) {
  for (i64 n = 0; n < N; ++n)
    for (i64 c = 0; c < C; ++c) out[n * C + c] = activate(act, x[n * C + c] + (bias ? bias[c] : T(0)));
}

// dbias[c] = sum over rows n = 0..N-1 of dx[n, c], from 0.
template <typename T>
void bias_act_backward(T* dx, T* dbias, const T* dout, const T* x, const T* bias, i64 N, i64 C, Activation act) {
  for (i64 n = 0; n < N; ++n)
    for (i64 c = 0; c < C; ++c)
      dx[n * C + c] = activate_backward(act, dout[n * C + c], x[n * C + c] + (bias ? bias[c] : T(0)));
  if (!dbias) return;
  for (i64 c = 0; c < C; ++c) dbias[c] = 0;
  for (i64 n = 0; n < N; ++n)
    for (i64 c = 0; c < C; ++c) dbias[c] += dx[n * C + c];
}

// Mean in fp64, elements in index order.
template <typename T>
T point_loss_forward(PointLoss kind, const T* p, const T* t, i64 n) {
  double acc = 0;
  for (i64 i = 0; i < n; ++i) {
    const double x = p[i], y = t[i];
    if (kind == PointLoss::mse)
      acc += (x - y) * (x - y);
    else  // softplus(x) - x y, in the form that cannot overflow
      acc += std::max(x, 0.0) - x * y + std::log1p(std::exp(-std::abs(x)));
  }
  return static_cast<T>(acc / double(n));
}

template <typename T>
void point_loss_backward(PointLoss kind, T* dp, T* dt, const T* p, const T* t, i64 n, T dloss) {
  const double dl = dloss;
  for (i64 i = 0; i < n; ++i) {
    const double x = p[i], y = t[i];
    if (kind == PointLoss::mse) {
      const double d = 2.0 * (x - y) / double(n) * dl;
      dp[i] = static_cast<T>(d);
      if (dt) dt[i] = static_cast<T>(-d);
    } else {
      const double s = 1.0 / (1.0 + std::exp(-x));
      dp[i] = static_cast<T>((s - y) / double(n) * dl);
      if (dt) dt[i] = static_cast<T>(-x / double(n) * dl);
    }
  }
}

void bias_act_forward_block(float* x, i64 ld, const float* bias, i64 rows, i64 C, Activation act) {
  for (i64 r = 0; r < rows; ++r)
    for (i64 c = 0; c < C; ++c) x[r * ld + c] = activate(act, x[r * ld + c] + (bias ? bias[c] : 0.0f));
}

void bias_act_backward_from(float* dx, float* dbias, const void* dout, DType dout_type, const void* x, DType x_type,
                            i64 N, i64 C, Activation act) {
  for (i64 i = 0; i < N * C; ++i) {
    const auto k = static_cast<std::size_t>(i);
    const float d = load_f32(dout, dout_type, k);
    dx[i] = act == Activation::identity ? d : activate_backward(act, d, load_f32(x, x_type, k) + 0.0f);
  }
  if (dbias) column_sums(dbias, dx, DType::fp32, N, C);
}

// dbias[c] = sum over rows n = 0..N-1 of x[n, c] in fp32, from 0.
void column_sums(float* dbias, const void* x, DType x_type, i64 N, i64 C) {
  for (i64 c = 0; c < C; ++c) dbias[c] = 0;
  for (i64 n = 0; n < N; ++n)
    for (i64 c = 0; c < C; ++c) dbias[c] += load_f32(x, x_type, static_cast<std::size_t>(n * C + c));
}

void binary_f32(BinaryOp op, void* r, DType r_type, const void* a, DType a_type, const void* b, DType b_type, i64 n) {
  for (i64 i = 0; i < n; ++i) {
    const auto k = static_cast<std::size_t>(i);
    store_f32(r, r_type, k, apply(op, load_f32(a, a_type, k), load_f32(b, b_type, k)));
  }
}

#define MIXTRAIN_REF_ELEMENTWISE(T)                                                                      \
  template void binary<T>(BinaryOp, T*, const T*, const Shape&, const T*, const Shape&, const Shape&);   \
  template void unary_forward<T>(UnaryOp, T*, const T*, i64);                                           \
  template void unary_backward<T>(UnaryOp, T*, const T*, const T*, const T*, i64);                      \
  template void bias_act_forward<T>(T*, const T*, const T*, i64, i64, Activation);                      \
  template void bias_act_backward<T>(T*, T*, const T*, const T*, const T*, i64, i64, Activation);       \
  template T point_loss_forward<T>(PointLoss, const T*, const T*, i64);                                 \
  template void point_loss_backward<T>(PointLoss, T*, T*, const T*, const T*, i64, T);
MIXTRAIN_REF_ELEMENTWISE(float)
MIXTRAIN_REF_ELEMENTWISE(double)
#undef MIXTRAIN_REF_ELEMENTWISE

}  // namespace mixtrain::backend::reference
