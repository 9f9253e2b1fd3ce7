// Reference fused optimizer step (backend/types.h: ParamUpdate), one element at a time. Exact
// family: every element is the cpu backend's sequence of fp32 (fp64 for an fp64 master or
// parameter) operations, no FMA, and the parameter is rounded from the master with element i's
// stochastic bits drawn from (seed, i), so results match the cpu backend bit for bit.
#include <cmath>

#include "backend/reference/scalar.h"
#include "numerics/encode.h"
#include "numerics/rng.h"

namespace mixtrain::backend::reference {
namespace {

// SGD (PyTorch form): d = g + wd * w; with momentum, m = (first step ? d : mom * m + d) and
// d = nesterov ? d + mom * m : m; w -= lr * d.
template <typename W>
W sgd(const OptimizerHyper& h, W w, float g, float* m, bool decay) {
  const float wd = decay ? h.weight_decay : 0.0f;
  float d = g + wd * static_cast<float>(w);
  if (m) {
    *m = h.step == 1 ? d : h.momentum * *m + d;
    d = h.nesterov ? d + h.momentum * *m : *m;
  }
  return static_cast<W>(w - static_cast<W>(h.lr * d));
}

// AdamW (PyTorch form): m = b1 m + (1 - b1) g, v = b2 v + (1 - b2) g^2,
// w = w * decay - lr * (m c1) / (sqrt(v) c2 + eps).
template <typename W>
W adamw(const OptimizerHyper& h, W w, float g, float* m, float* v, bool decay) {
  const W keep = static_cast<W>(decay ? h.adamw_decay : 1.0f);
  *m = h.beta1 * *m + (1 - h.beta1) * g;
  *v = h.beta2 * *v + (1 - h.beta2) * g * g;
  const float upd = h.lr * (*m * h.c1) / (std::sqrt(*v) * h.c2 + h.eps);
  return static_cast<W>(w * keep - static_cast<W>(upd));
}

template <typename W>
W step(const OptimizerHyper& h, const ParamUpdate& p, W w, std::int64_t i) {
  const float g = p.grad[i] * p.grad_factor;
  float* m = p.m ? p.m + i : nullptr;
  float* v = p.v ? p.v + i : nullptr;
  return h.kind == OptimizerKind::adamw ? adamw(h, w, g, m, v, p.decay) : sgd(h, w, g, m, p.decay);
}

// The parameter's element i rounded from w with the update's rounding and stochastic bits.
template <typename W>
void recast(const ParamUpdate& p, std::int64_t i, W w) {
  const numerics::FormatSpec& f = numerics::spec(p.param_dtype);
  const auto k = static_cast<std::uint64_t>(i);
  const std::uint32_t r = p.rounding == numerics::Rounding::stochastic ? numerics::stochastic_bits(p.seed, k) : 0;
  const std::uint64_t code = numerics::encode(w, f, p.rounding, f.default_overflow, r);
  auto* dst = static_cast<unsigned char*>(p.param) + k * static_cast<std::uint64_t>(f.bytes());
  for (int b = 0; b < f.bytes(); ++b) dst[b] = static_cast<unsigned char>(code >> (8 * b));  // little-endian
}

}  // namespace

void optimizer_update(const OptimizerHyper& h, const ParamUpdate& p) {
  for (std::int64_t i = 0; i < p.n; ++i) {
    if (p.master && p.master_dtype == DType::fp64) {  // fp64 master, parameter re-cast from it
      double& w = static_cast<double*>(p.master)[i];
      w = step(h, p, w, i);
      recast(p, i, w);
    } else if (p.master) {  // fp32 master
      float& w = static_cast<float*>(p.master)[i];
      w = step(h, p, w, i);
      recast(p, i, w);
    } else if (p.param_dtype == DType::fp32) {  // its own master, updated in place
      float& w = static_cast<float*>(p.param)[i];
      w = step(h, p, w, i);
    } else if (p.param_dtype == DType::fp64) {
      double& w = static_cast<double*>(p.param)[i];
      w = step(h, p, w, i);
    } else {  // O3: a low-precision parameter decoded, updated in fp32 and rounded back
      const float w = step(h, p, load_f32(p.param, p.param_dtype, static_cast<std::size_t>(i)), i);
      recast(p, i, w);
    }
  }
}

}  // namespace mixtrain::backend::reference
