// Elementwise kernels over contiguous compute-dtype buffers. Binary ops take fast paths for equal
// shapes, scalars and row broadcasting (bias), and a general strided walk otherwise.
#include "ops/elementwise.h"

#include <algorithm>
#include <cmath>

#include "autograd/grad_info.h"
#include "kernels/cpu/bias_act.h"
#include "numerics/convert.h"
#include "ops/common.h"
#include "runtime/error.h"
#include "runtime/parallel.h"

namespace mixtrain::ops {
namespace {

enum class Bin { add, sub, mul, div };

template <typename T>
inline T apply(Bin op, T a, T b) {
  switch (op) {
    case Bin::add: return a + b;
    case Bin::sub: return a - b;
    case Bin::mul: return a * b;
    case Bin::div: return a / b;
  }
  return a;
}

template <typename T, Bin op>
void binary_loop(T* o, const T* a, const Shape& as, const T* b, const Shape& bs, const Shape& os) {
  const std::int64_t n = numel(os), na = numel(as), nb = numel(bs);
  constexpr std::size_t kGrain = 1 << 15;
  if (na == n && nb == n) {
    runtime::parallel_for(static_cast<std::size_t>(n), kGrain, [&](std::size_t s, std::size_t e) {
      for (std::size_t i = s; i < e; ++i) o[i] = apply(op, a[i], b[i]);
    });
    return;
  }
  if (na == n && nb == 1) {
    const T bv = b[0];
    for (std::int64_t i = 0; i < n; ++i) o[i] = apply(op, a[i], bv);
    return;
  }
  if (na == n && nb > 0 && n % nb == 0 && bs.size() <= os.size() &&
      std::equal(bs.begin(), bs.end(), os.end() - static_cast<std::ptrdiff_t>(bs.size()))) {
    // b broadcasts over leading dims only: (…, C) op (C).
    runtime::parallel_for(static_cast<std::size_t>(n / nb), 64, [&](std::size_t s, std::size_t e) {
      for (std::size_t r = s; r < e; ++r)
        for (std::int64_t c = 0; c < nb; ++c) {
          const std::size_t i = r * static_cast<std::size_t>(nb) + static_cast<std::size_t>(c);
          o[i] = apply(op, a[i], b[c]);
        }
    });
    return;
  }
  // General: strides with 0 on broadcast dimensions.
  const std::size_t nd = os.size();
  auto strides = [&](const Shape& s) {
    std::vector<std::int64_t> st(nd, 0);
    std::int64_t acc = 1;
    for (std::size_t i = 0; i < s.size(); ++i) {
      const std::size_t d = nd - 1 - i;
      const std::int64_t dim = s[s.size() - 1 - i];
      st[d] = dim == 1 ? 0 : acc;
      acc *= dim;
    }
    return st;
  };
  const auto sa = strides(as), sb = strides(bs);
  std::vector<std::int64_t> idx(nd, 0);
  std::int64_t ia = 0, ib = 0;
  for (std::int64_t k = 0; k < n; ++k) {
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

// Raw binary op in compute dtype ct, result in compute dtype (no autograd).
Tensor binary_raw(Bin op, const Tensor& a, const Tensor& b, DType ct) {
  const Shape os = broadcast_shapes(a.shape(), b.shape());
  const Tensor ac = as_dtype(a, ct), bc = as_dtype(b, ct);
  Tensor o = Tensor::empty(os, ct);
  dispatch(ct, [&]<typename T>() {
    const T* pa = ac.data_as<T>();
    const T* pb = bc.data_as<T>();
    T* po = o.data_as<T>();
    switch (op) {
      case Bin::add: binary_loop<T, Bin::add>(po, pa, a.shape(), pb, b.shape(), os); break;
      case Bin::sub: binary_loop<T, Bin::sub>(po, pa, a.shape(), pb, b.shape(), os); break;
      case Bin::mul: binary_loop<T, Bin::mul>(po, pa, a.shape(), pb, b.shape(), os); break;
      case Bin::div: binary_loop<T, Bin::div>(po, pa, a.shape(), pb, b.shape(), os); break;
    }
  });
  return o;
}

// Same-shape operands with an fp32 compute dtype (the residual adds of every model): one pass on
// the pool, each block decoded into stack buffers (read in place when fp32), computed in fp32 and
// rounded once into od. The same values and roundings as binary_raw followed by as_dtype, without
// the three full-size temporaries and the per-element index walk.
Tensor binary_same_shape_f32(Bin op, const Tensor& a, const Tensor& b, DType od) {
  Tensor r = Tensor::empty(a.shape(), od);
  const auto n = static_cast<std::size_t>(a.numel());
  const auto* pa = static_cast<const unsigned char*>(a.data());
  const auto* pb = static_cast<const unsigned char*>(b.data());
  auto* pr = static_cast<unsigned char*>(r.data());
  const std::size_t ea = a.element_size(), eb = b.element_size(), er = r.element_size();
  runtime::parallel_for(n, std::size_t{1} << 14, [&](std::size_t lo, std::size_t hi) {
    constexpr std::size_t kBlock = 1024;
    float ta[kBlock], tb[kBlock], to[kBlock];
    for (std::size_t i = lo; i < hi; i += kBlock) {
      const std::size_t k = std::min(kBlock, hi - i);
      const float* x = numerics::decoded(ta, pa + i * ea, a.dtype(), k);
      const float* y = numerics::decoded(tb, pb + i * eb, b.dtype(), k);
      float* z = od == DType::fp32 ? reinterpret_cast<float*>(pr + i * er) : to;
      switch (op) {
        case Bin::add: for (std::size_t j = 0; j < k; ++j) z[j] = x[j] + y[j]; break;
        case Bin::sub: for (std::size_t j = 0; j < k; ++j) z[j] = x[j] - y[j]; break;
        case Bin::mul: for (std::size_t j = 0; j < k; ++j) z[j] = x[j] * y[j]; break;
        case Bin::div: for (std::size_t j = 0; j < k; ++j) z[j] = x[j] / y[j]; break;
      }
      if (od != DType::fp32) numerics::encode(pr + i * er, od, to, k);
    }
  });
  return r;
}

Tensor binary(Bin op, const char* name, const Tensor& a0, const Tensor& b0, std::optional<DType> out) {
  const DType widest = promote(a0.dtype(), b0.dtype());
  const Tensor a = autocast(name, a0, widest), b = autocast(name, b0, widest);
  const DType od = out.value_or(promote(a.dtype(), b.dtype()));
  const DType ct = compute_dtype({a.dtype(), b.dtype(), od});
  const bool fast = ct == DType::fp32 && a.shape() == b.shape() && a.scale() == 1.0f && b.scale() == 1.0f &&
                    od != DType::fp64 && numerics::spec(od).bits() != 8;
  Tensor r = fast ? binary_same_shape_f32(op, a, b, od) : as_dtype(binary_raw(op, a, b, ct), od);
  if (autograd::any_requires_grad({&a, &b})) {
    autograd::record(r, name, {a, b}, [op, a, b, ct](const Tensor& g) -> std::vector<Tensor> {
      const Tensor gc = as_dtype(g, ct);
      Tensor ga, gb;
      switch (op) {
        case Bin::add:
          ga = sum_to(gc, a.shape());
          gb = sum_to(gc, b.shape());
          break;
        case Bin::sub:
          ga = sum_to(gc, a.shape());
          gb = sum_to(binary_raw(Bin::mul, gc, Tensor::full({1}, -1.0, ct), ct), b.shape());
          break;
        case Bin::mul:
          ga = sum_to(binary_raw(Bin::mul, gc, b, ct), a.shape());
          gb = sum_to(binary_raw(Bin::mul, gc, a, ct), b.shape());
          break;
        case Bin::div: {
          ga = sum_to(binary_raw(Bin::div, gc, b, ct), a.shape());
          const Tensor q = binary_raw(Bin::div, binary_raw(Bin::mul, gc, a, ct), binary_raw(Bin::mul, b, b, ct), ct);
          gb = sum_to(binary_raw(Bin::mul, q, Tensor::full({1}, -1.0, ct), ct), b.shape());
          break;
        }
      }
      return {ga, gb};
    });
  }
  return r;
}

enum class Un { relu, gelu, sigmoid, tanh, exp, log };

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
inline T unary_f(Un op, T x) {
  switch (op) {
    case Un::relu: return x > 0 ? x : T(0);
    case Un::gelu: return gelu_f(x);
    case Un::sigmoid: return 1 / (1 + std::exp(-x));
    case Un::tanh: return std::tanh(x);
    case Un::exp: return std::exp(x);
    case Un::log: return std::log(x);
  }
  return x;
}

// d op / dx at input x with output y.
template <typename T>
inline T unary_grad(Un op, T x, T y) {
  switch (op) {
    case Un::relu: return x > 0 ? T(1) : T(0);
    case Un::gelu: return gelu_grad(x);
    case Un::sigmoid: return y * (1 - y);
    case Un::tanh: return 1 - y * y;
    case Un::exp: return y;
    case Un::log: return 1 / x;
  }
  return T(1);
}

constexpr std::size_t kUnaryGrain = 1 << 14;

// The activations kernels/cpu/bias_act.h implements (vectorised), or nullopt for libm ones.
std::optional<kernels::cpu::Activation> kernel_activation(Un op) {
  if (op == Un::relu) return kernels::cpu::Activation::relu;
  if (op == Un::gelu) return kernels::cpu::Activation::gelu;
  return std::nullopt;
}

Tensor unary(Un op, const char* name, const Tensor& x0, std::optional<DType> out) {
  const Tensor x = autocast(name, x0, x0.dtype());
  const DType od = out.value_or(x.dtype());
  const DType ct = compute_dtype({x.dtype(), od});
  const Tensor xc = as_dtype(x, ct);
  Tensor y = Tensor::empty(x.shape(), ct);
  dispatch(ct, [&]<typename T>() {
    const T* px = xc.data_as<T>();
    T* py = y.data_as<T>();
    runtime::parallel_for(static_cast<std::size_t>(x.numel()), kUnaryGrain, [&](std::size_t s, std::size_t e) {
      if (const auto act = kernel_activation(op)) {
        // relu and gelu go through the vectorised bias+activation kernel (one row, no bias).
        kernels::cpu::bias_act_forward<T>(py + s, px + s, nullptr, 1, static_cast<std::int64_t>(e - s), *act);
        return;
      }
      for (std::size_t i = s; i < e; ++i) py[i] = unary_f(op, px[i]);
    });
  });
  Tensor r = as_dtype(y, od);
  if (autograd::any_requires_grad({&x})) {
    // Saves the input (its own dtype) and the output (as returned) for the backward.
    autograd::record(r, name, {x}, [op, x, y = r.detach(), ct](const Tensor& g) -> std::vector<Tensor> {
      const Tensor gc = as_dtype(g, ct), xc2 = as_dtype(x, ct), yc = as_dtype(y, ct);
      Tensor gx = Tensor::empty(x.shape(), ct);
      dispatch(ct, [&]<typename T>() {
        const T* pg = gc.data_as<T>();
        const T* px = xc2.data_as<T>();
        const T* py = yc.data_as<T>();
        T* po = gx.data_as<T>();
        runtime::parallel_for(static_cast<std::size_t>(x.numel()), kUnaryGrain, [&](std::size_t s, std::size_t e) {
          if (const auto act = kernel_activation(op)) {
            kernels::cpu::bias_act_backward<T>(po + s, nullptr, pg + s, px + s, nullptr, 1,
                                               static_cast<std::int64_t>(e - s), *act);
            return;
          }
          for (std::size_t i = s; i < e; ++i) po[i] = pg[i] * unary_grad(op, px[i], py[i]);
        });
      });
      return {gx};
    });
  }
  return r;
}

}  // namespace

Tensor add(const Tensor& a, const Tensor& b, std::optional<DType> out) { return binary(Bin::add, "add", a, b, out); }
Tensor sub(const Tensor& a, const Tensor& b, std::optional<DType> out) { return binary(Bin::sub, "sub", a, b, out); }
Tensor mul(const Tensor& a, const Tensor& b, std::optional<DType> out) { return binary(Bin::mul, "mul", a, b, out); }
Tensor div(const Tensor& a, const Tensor& b, std::optional<DType> out) { return binary(Bin::div, "div", a, b, out); }

Tensor scale(const Tensor& a, double s, std::optional<DType> out) {
  const DType od = out.value_or(a.dtype());
  const DType ct = compute_dtype({a.dtype(), od});
  Tensor sc = Tensor::full({1}, s, ct);
  Tensor r = as_dtype(binary_raw(Bin::mul, a, sc, ct), od);
  if (autograd::any_requires_grad({&a})) {
    autograd::record(r, "scale", {a}, [sc, ct](const Tensor& g) -> std::vector<Tensor> {
      return {binary_raw(Bin::mul, as_dtype(g, ct), sc, ct)};
    });
  }
  return r;
}

Tensor relu(const Tensor& x, std::optional<DType> out) { return unary(Un::relu, "relu", x, out); }
Tensor gelu(const Tensor& x, std::optional<DType> out) { return unary(Un::gelu, "gelu", x, out); }
Tensor sigmoid(const Tensor& x, std::optional<DType> out) { return unary(Un::sigmoid, "sigmoid", x, out); }
Tensor tanh(const Tensor& x, std::optional<DType> out) { return unary(Un::tanh, "tanh", x, out); }
Tensor exp(const Tensor& x, std::optional<DType> out) { return unary(Un::exp, "exp", x, out); }
Tensor log(const Tensor& x, std::optional<DType> out) { return unary(Un::log, "log", x, out); }

Tensor cast(const Tensor& x, DType dtype, float fp8_scale, float* amax) {
  Tensor r = x.to(dtype, numerics::Rounding::nearest, 0, fp8_scale, amax);
  if (autograd::any_requires_grad({&x})) {
    const DType in = x.dtype();
    autograd::record(r, "cast", {x}, [in](const Tensor& g) -> std::vector<Tensor> {
      // Gradients of a widening/narrowing cast pass through; leaves accumulate in fp32 anyway.
      return {in == DType::fp64 ? as_dtype(g, DType::fp64) : g};
    });
  }
  return r;
}

}  // namespace mixtrain::ops
