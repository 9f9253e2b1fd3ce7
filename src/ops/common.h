// Shared machinery of the ops layer: dtype rules (compute in fp32, or fp64 when an input is fp64;
// write the requested output dtype), conversion in and out of the compute dtype, broadcasting,
// and the autocast hook through which the amp layer decides the dtypes ops run in.
#pragma once

#include <initializer_list>
#include <optional>
#include <string_view>

#include "autograd/grad_info.h"
#include "tensor/tensor.h"

namespace mixtrain::ops {

// fp64 when any input is fp64, else fp32: the dtype every op computes (and accumulates) in.
DType compute_dtype(std::initializer_list<DType> inputs);
// Promotion for mixed inputs: the widest (fp64 > fp32 > 16-bit > 8-bit); fp16 with bf16 -> fp32.
DType promote(DType a, DType b);

// t itself when it already has dtype ct (shared storage), else a converted copy. Copies widened
// to fp32/fp64 (inputs converted for the kernels) are tagged workspace in the memory ledger.
Tensor as_dtype(const Tensor& t, DType ct);
// Calls fn.template operator()<T>() with T = float for fp32 and T = double for fp64.
template <typename Fn>
decltype(auto) dispatch(DType ct, Fn&& fn) {
  if (ct == DType::fp64) return fn.template operator()<double>();
  return fn.template operator()<float>();
}

// Broadcast shape of a and b (NumPy rules); throws mixtrain::Error naming both shapes.
Shape broadcast_shapes(const Shape& a, const Shape& b);
// Sums g (compute dtype) down to `shape` over broadcast dimensions (no autograd). Sums run in
// g's dtype in an order fixed by the shapes alone (deterministic whatever the thread count).
Tensor sum_to(const Tensor& g, const Shape& shape);

// max |x| over the decoded values (fp8: divided by the scale); NaN if any value is NaN.
float amax(const Tensor& x);

// The autocast hook. amp::Autocast installs one per thread; without one, ops keep input dtypes.
class AutocastHook {
 public:
  virtual ~AutocastHook() = default;
  // The dtype an op's floating inputs should be cast to (nullopt: leave them), given the op's
  // name and its widest input dtype.
  virtual std::optional<DType> input_dtype(std::string_view op, DType widest) const = 0;
  // Casts t to dtype (differentiable; may return a cached cast of a weight).
  virtual Tensor cast(const Tensor& t, DType dtype) const = 0;
};
const AutocastHook* autocast_hook();
void set_autocast_hook(const AutocastHook* hook);

// Applies the hook to one input of `op` whose inputs' widest dtype is `widest`.
Tensor autocast(std::string_view op, const Tensor& t, DType widest);

}  // namespace mixtrain::ops
