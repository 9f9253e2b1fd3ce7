// Elementwise ops over the backend's elementwise kernels (backend/kernels.h), in the compute
// dtype; same-shape fp32 operands take the fused mixed-dtype kernel.
#include "ops/elementwise.h"

#include "autograd/grad_info.h"
#include "backend/kernels.h"
#include "numerics/convert.h"
#include "ops/common.h"
#include "runtime/error.h"

namespace mixtrain::ops {
namespace {

using Bin = backend::BinaryOp;

// Raw binary op in compute dtype ct, result in compute dtype (no autograd).
Tensor binary_raw(Bin op, const Tensor& a, const Tensor& b, DType ct) {
  const Shape os = broadcast_shapes(a.shape(), b.shape());
  const Tensor ac = as_dtype(a, ct), bc = as_dtype(b, ct);
  Tensor o = Tensor::empty(os, ct);
  dispatch(ct, [&]<typename T>() {
    backend::real<T>().binary(op, o.data_as<T>(), ac.data_as<T>(), a.shape(), bc.data_as<T>(), b.shape(), os);
  });
  return o;
}

// Same-shape operands with an fp32 compute dtype (the residual adds of every model): one fused
// pass that decodes, computes in fp32 and rounds once into od. The same values and roundings as
// binary_raw followed by as_dtype, without the three full-size temporaries and the per-element
// index walk.
Tensor binary_same_shape_f32(Bin op, const Tensor& a, const Tensor& b, DType od) {
  Tensor r = Tensor::empty(a.shape(), od);
  backend::kernels().binary_f32(op, r.data(), od, a.data(), a.dtype(), b.data(), b.dtype(), a.numel());
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

using Un = backend::UnaryOp;

Tensor unary(Un op, const char* name, const Tensor& x0, std::optional<DType> out) {
  const Tensor x = autocast(name, x0, x0.dtype());
  const DType od = out.value_or(x.dtype());
  const DType ct = compute_dtype({x.dtype(), od});
  const Tensor xc = as_dtype(x, ct);
  Tensor y = Tensor::empty(x.shape(), ct);
  dispatch(ct, [&]<typename T>() { backend::real<T>().unary_forward(op, y.data_as<T>(), xc.data_as<T>(), x.numel()); });
  Tensor r = as_dtype(y, od);
  if (autograd::any_requires_grad({&x})) {
    // Saves the input (its own dtype) and the output (as returned) for the backward.
    autograd::record(r, name, {x}, [op, x, y = r.detach(), ct](const Tensor& g) -> std::vector<Tensor> {
      const Tensor gc = as_dtype(g, ct), xc2 = as_dtype(x, ct), yc = as_dtype(y, ct);
      Tensor gx = Tensor::empty(x.shape(), ct);
      dispatch(ct, [&]<typename T>() {
        backend::real<T>().unary_backward(op, gx.data_as<T>(), gc.data_as<T>(), xc2.data_as<T>(), yc.data_as<T>(),
                                          x.numel());
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
