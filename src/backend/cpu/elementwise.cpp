// Elementwise kernels (elementwise.h). Binary ops take fast paths for equal shapes, scalars and
// row broadcasting (bias), and a general strided walk otherwise; relu and gelu go through the
// vectorised bias+activation kernel, the other unary functions through libm.
#include "backend/cpu/elementwise.h"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <optional>
#include <vector>

#include "backend/cpu/bias_act.h"
#include "numerics/convert.h"
#include "runtime/parallel.h"

namespace mixtrain::backend::cpu {
namespace {

using i64 = std::int64_t;

template <typename T>
inline T apply(BinaryOp op, T a, T b) {
  switch (op) {
    case BinaryOp::add: return a + b;
    case BinaryOp::sub: return a - b;
    case BinaryOp::mul: return a * b;
    case BinaryOp::div: return a / b;
  }
  return a;
}

// The op is a template argument so that each loop body is one instruction, not a switch.
template <typename T, BinaryOp op>
void binary_loop(T* o, const T* a, const Shape& as, const T* b, const Shape& bs, const Shape& os) {
  const i64 n = numel(os), na = numel(as), nb = numel(bs);
  constexpr std::size_t kGrain = 1 << 15;
  if (na == n && nb == n) {
    runtime::parallel_for(static_cast<std::size_t>(n), kGrain, [&](std::size_t s, std::size_t e) {
      for (std::size_t i = s; i < e; ++i) o[i] = apply(op, a[i], b[i]);
    });
    return;
  }
  if (na == n && nb == 1) {
    const T bv = b[0];
    for (i64 i = 0; i < n; ++i) o[i] = apply(op, a[i], bv);
    return;
  }
  if (na == n && nb > 0 && n % nb == 0 && bs.size() <= os.size() &&
      std::equal(bs.begin(), bs.end(), os.end() - static_cast<std::ptrdiff_t>(bs.size()))) {
    // b broadcasts over leading dims only: (…, C) op (C).
    runtime::parallel_for(static_cast<std::size_t>(n / nb), 64, [&](std::size_t s, std::size_t e) {
      for (std::size_t r = s; r < e; ++r)
        for (i64 c = 0; c < nb; ++c) {
          const std::size_t i = r * static_cast<std::size_t>(nb) + static_cast<std::size_t>(c);
          o[i] = apply(op, a[i], b[c]);
        }
    });
    return;
  }
  // General: strides with 0 on broadcast dimensions.
  const std::size_t nd = os.size();
  auto strides = [&](const Shape& s) {
    std::vector<i64> st(nd, 0);
    i64 acc = 1;
    for (std::size_t i = 0; i < s.size(); ++i) {
      const std::size_t d = nd - 1 - i;
      const i64 dim = s[s.size() - 1 - i];
      st[d] = dim == 1 ? 0 : acc;
      acc *= dim;
    }
    return st;
  };
  const auto sa = strides(as), sb = strides(bs);
  std::vector<i64> idx(nd, 0);
  i64 ia = 0, ib = 0;
  for (i64 k = 0; k < n; ++k) {
    o[k] = apply(op, a[ia], b[ib]);
    for (std::size_t d = nd; d-- > 0;) {
      ++idx[d];
      ia += sa[d];
      ib += sb[d];
      if (idx[d] < os[d]) break;
      ia -= sa[d] * idx[d];
      ib -= sb[d] * idx[d];
      idx[d] = 0;
    }
  }
}

template <typename T>
inline T gelu_f(T x) {
  const T c = static_cast<T>(0.7978845608028654);  // sqrt(2/pi)
  return static_cast<T>(0.5) * x * (1 + std::tanh(c * (x + static_cast<T>(0.044715) * x * x * x)));
}
template <typename T>
inline T gelu_grad(T x) {
  const T c = static_cast<T>(0.7978845608028654);
  const T u = c * (x + static_cast<T>(0.044715) * x * x * x);
  const T t = std::tanh(u);
  const T du = c * (1 + static_cast<T>(3 * 0.044715) * x * x);
  return static_cast<T>(0.5) * (1 + t) + static_cast<T>(0.5) * x * (1 - t * t) * du;
}

template <typename T>
inline T unary_f(UnaryOp op, T x) {
  switch (op) {
    case UnaryOp::relu: return x > 0 ? x : T(0);
    case UnaryOp::gelu: return gelu_f(x);
    case UnaryOp::sigmoid: return 1 / (1 + std::exp(-x));
    case UnaryOp::tanh: return std::tanh(x);
    case UnaryOp::exp: return std::exp(x);
    case UnaryOp::log: return std::log(x);
  }
  return x;
}

// d op / dx at input x with output y.
template <typename T>
inline T unary_grad(UnaryOp op, T x, T y) {
  switch (op) {
    case UnaryOp::relu: return x > 0 ? T(1) : T(0);
    case UnaryOp::gelu: return gelu_grad(x);
    case UnaryOp::sigmoid: return y * (1 - y);
    case UnaryOp::tanh: return 1 - y * y;
    case UnaryOp::exp: return y;
    case UnaryOp::log: return 1 / x;
  }
  return T(1);
}

constexpr std::size_t kUnaryGrain = 1 << 14;

// The activations bias_act.h implements (vectorised), or nullopt for the libm ones.
std::optional<Activation> kernel_activation(UnaryOp op) {
  if (op == UnaryOp::relu) return Activation::relu;
  if (op == UnaryOp::gelu) return Activation::gelu;
  return std::nullopt;
}

}  // namespace

template <typename T>
void binary(BinaryOp op, T* o, const T* a, const Shape& as, const T* b, const Shape& bs, const Shape& os) {
  switch (op) {
    case BinaryOp::add: binary_loop<T, BinaryOp::add>(o, a, as, b, bs, os); break;
    case BinaryOp::sub: binary_loop<T, BinaryOp::sub>(o, a, as, b, bs, os); break;
    case BinaryOp::mul: binary_loop<T, BinaryOp::mul>(o, a, as, b, bs, os); break;
    case BinaryOp::div: binary_loop<T, BinaryOp::div>(o, a, as, b, bs, os); break;
  }
}

template <typename T>
void unary_forward(UnaryOp op, T* y, const T* x, i64 n) {
  runtime::parallel_for(static_cast<std::size_t>(n), kUnaryGrain, [&](std::size_t s, std::size_t e) {
    if (const auto act = kernel_activation(op)) {
      // relu and gelu go through the vectorised bias+activation kernel (one row, no bias).
      bias_act_forward<T>(y + s, x + s, nullptr, 1, static_cast<i64>(e - s), *act);
      return;
    }
    for (std::size_t i = s; i < e; ++i) y[i] = unary_f(op, x[i]);
  });
}

template <typename T>
void unary_backward(UnaryOp op, T* dx, const T* dy, const T* x, const T* y, i64 n) {
  runtime::parallel_for(static_cast<std::size_t>(n), kUnaryGrain, [&](std::size_t s, std::size_t e) {
    if (const auto act = kernel_activation(op)) {
      bias_act_backward<T>(dx + s, nullptr, dy + s, x + s, nullptr, 1, static_cast<i64>(e - s), *act);
      return;
    }
    for (std::size_t i = s; i < e; ++i) dx[i] = dy[i] * unary_grad(op, x[i], y[i]);
  });
}

// Serial fp64 sums: n is a loss's element count, small next to the layers that produce it.
template <typename T>
T point_loss_forward(PointLoss kind, const T* p, const T* t, i64 n) {
  double acc = 0;
  for (i64 i = 0; i < n; ++i) {
    if (kind == PointLoss::mse) {
      const double d = double(p[i]) - double(t[i]);
      acc += d * d;
    } else {
      // softplus(x) - x y = max(x, 0) - x y + log1p(exp(-|x|)): no overflow for large |x|.
      const double xv = p[i];
      acc += std::max(xv, 0.0) - xv * double(t[i]) + std::log1p(std::exp(-std::abs(xv)));
    }
  }
  return static_cast<T>(acc / double(n));
}

template <typename T>
void point_loss_backward(PointLoss kind, T* dp, T* dt, const T* p, const T* t, i64 n, T dloss) {
  const double dl = dloss;
  for (i64 i = 0; i < n; ++i) {
    if (kind == PointLoss::mse) {
      const double d = 2.0 * (double(p[i]) - double(t[i])) / double(n) * dl;
      dp[i] = static_cast<T>(d);
      if (dt) dt[i] = static_cast<T>(-d);
    } else {
      const double s = 1.0 / (1.0 + std::exp(-double(p[i])));
      dp[i] = static_cast<T>((s - double(t[i])) / double(n) * dl);
      if (dt) dt[i] = static_cast<T>(-double(p[i]) / double(n) * dl);
    }
  }
}

// One pass on the pool, each block decoded into stack buffers (read in place when fp32),
// computed in fp32 and rounded once into r_type: the same values and roundings as widening both
// operands, `binary` in fp32 and narrowing the result, without the full-size temporaries.
void binary_f32(BinaryOp op, void* r, DType r_type, const void* a, DType a_type, const void* b, DType b_type, i64 n) {
  const auto* pa = static_cast<const unsigned char*>(a);
  const auto* pb = static_cast<const unsigned char*>(b);
  auto* pr = static_cast<unsigned char*>(r);
  const std::size_t ea = size_of(a_type), eb = size_of(b_type), er = size_of(r_type);
  runtime::parallel_for(static_cast<std::size_t>(n), std::size_t{1} << 14, [&](std::size_t lo, std::size_t hi) {
    constexpr std::size_t kBlock = 1024;
    float ta[kBlock], tb[kBlock], to[kBlock];
    for (std::size_t i = lo; i < hi; i += kBlock) {
      const std::size_t k = std::min(kBlock, hi - i);
      const float* x = numerics::decoded(ta, pa + i * ea, a_type, k);
      const float* y = numerics::decoded(tb, pb + i * eb, b_type, k);
      float* z = r_type == DType::fp32 ? reinterpret_cast<float*>(pr + i * er) : to;
      switch (op) {
        case BinaryOp::add: for (std::size_t j = 0; j < k; ++j) z[j] = x[j] + y[j]; break;
        case BinaryOp::sub: for (std::size_t j = 0; j < k; ++j) z[j] = x[j] - y[j]; break;
        case BinaryOp::mul: for (std::size_t j = 0; j < k; ++j) z[j] = x[j] * y[j]; break;
        case BinaryOp::div: for (std::size_t j = 0; j < k; ++j) z[j] = x[j] / y[j]; break;
      }
      if (r_type != DType::fp32) numerics::encode(pr + i * er, r_type, to, k);
    }
  });
}

#define MIXTRAIN_ELEMENTWISE_INSTANTIATE(T)                                                          \
  template void binary<T>(BinaryOp, T*, const T*, const Shape&, const T*, const Shape&, const Shape&); \
  template void unary_forward<T>(UnaryOp, T*, const T*, i64);                                        \
  template void unary_backward<T>(UnaryOp, T*, const T*, const T*, const T*, i64);                  \
  template T point_loss_forward<T>(PointLoss, const T*, const T*, i64);                              \
  template void point_loss_backward<T>(PointLoss, T*, T*, const T*, const T*, i64, T);
MIXTRAIN_ELEMENTWISE_INSTANTIATE(float)
MIXTRAIN_ELEMENTWISE_INSTANTIATE(double)
#undef MIXTRAIN_ELEMENTWISE_INSTANTIATE

}  // namespace mixtrain::backend::cpu
