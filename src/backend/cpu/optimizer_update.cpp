// The fused update pass (optimizer_update.h): chunks of up to 4096 values are decoded (when the
// parameter is its own low-precision master), updated, and encoded back; with a master, the
// master is updated in place and the model copy re-encoded from it in the same chunk loop.
#include "backend/cpu/optimizer_update.h"

#include <cmath>
#include <cstddef>
#include <type_traits>

#include "backend/cpu/adamw_step.h"
#include "numerics/convert.h"
#include "runtime/cpu_features.h"
#include "runtime/parallel.h"

namespace mixtrain::backend::cpu {

#if !MIXTRAIN_HAVE_AVX512_KERNELS
// Without the AVX-512 unit the entry point is the portable loop (never called by adamw_update).
void detail::adamw_step_avx512(float* w, const float* g, float* m, float* v, std::int64_t n,
                               const detail::AdamWConstants& k) {
  detail::adamw_loop(w, g, m, v, n, k);
}
#endif

namespace {

using i64 = std::int64_t;

template <typename W>
void sgd_update(const OptimizerHyper& h, W* w, const float* g, float* m, i64 n, bool decay) {
  const float wd = decay ? h.weight_decay : 0.0f;
  const float mom = h.momentum;
  const float lr = h.lr;
  for (i64 i = 0; i < n; ++i) {
    float d = g[i] + wd * static_cast<float>(w[i]);
    if (m) {
      m[i] = h.step == 1 ? d : mom * m[i] + d;  // PyTorch: the first step sets the buffer
      d = h.nesterov ? d + mom * m[i] : m[i];
    }
    w[i] = static_cast<W>(w[i] - static_cast<W>(lr * d));
  }
}

template <typename W>
void adamw_update(const OptimizerHyper& h, W* w, const float* g, float* m, float* v, i64 n, bool decay) {
  detail::AdamWConstants k;
  k.b1 = h.beta1;
  k.b2 = h.beta2;
  k.c1 = h.c1;
  k.c2 = h.c2;
  k.lr = h.lr;
  k.decay = decay ? h.adamw_decay : 1.0f;
  k.eps = h.eps;
#if MIXTRAIN_HAVE_AVX512_KERNELS
  if constexpr (std::is_same_v<W, float>)
    if (runtime::isa_at_least(runtime::IsaTier::avx512)) {
      detail::adamw_step_avx512(w, g, m, v, n, k);
      return;
    }
#endif
  detail::adamw_loop(w, g, m, v, n, k);
}

// Updates n values in place: w (master or decoded parameter), g (gradient already multiplied by
// the factor), m and v (state, may be null).
template <typename W>
void update(const OptimizerHyper& h, W* w, const float* g, float* m, float* v, i64 n, bool decay) {
  if (h.kind == OptimizerKind::adamw) adamw_update(h, w, g, m, v, n, decay);
  else sgd_update(h, w, g, m, n, decay);
}

}  // namespace

void optimizer_update(const OptimizerHyper& h, const ParamUpdate& p) {
  constexpr std::size_t kChunk = 4096;
  const float factor = p.grad_factor;
  const std::size_t es = size_of(p.param_dtype);
  runtime::parallel_for(static_cast<std::size_t>(p.n), kChunk, [&](std::size_t b, std::size_t e) {
    const auto k = static_cast<i64>(e - b);
    float g[kChunk];
    for (i64 i = 0; i < k; ++i) g[i] = p.grad[b + static_cast<std::size_t>(i)] * factor;
    float* m = p.m ? p.m + b : nullptr;
    float* v = p.v ? p.v + b : nullptr;
    // Stochastic rounding keys element i's bits on (seed, i), whatever the chunking.
    numerics::ConvertOptions co;
    co.index_offset = b;
    co.seed = p.seed;
    co.rounding = p.rounding;
    void* pdst = static_cast<unsigned char*>(p.param) + b * es;
    if (p.master && p.master_dtype == DType::fp64) {
      double* w = static_cast<double*>(p.master) + b;
      update(h, w, g, m, v, k, p.decay);
      numerics::encode(pdst, p.param_dtype, w, static_cast<std::size_t>(k), co);
    } else if (p.master) {
      float* w = static_cast<float*>(p.master) + b;
      update(h, w, g, m, v, k, p.decay);
      numerics::encode(pdst, p.param_dtype, w, static_cast<std::size_t>(k), co);
    } else if (p.param_dtype == DType::fp32) {
      update(h, static_cast<float*>(pdst), g, m, v, k, p.decay);
    } else if (p.param_dtype == DType::fp64) {
      update(h, static_cast<double*>(pdst), g, m, v, k, p.decay);
    } else {
      // O3: the low-precision parameter is its own master: decode, update, round back.
      float w[kChunk];
      numerics::decode(w, pdst, p.param_dtype, static_cast<std::size_t>(k));
      update(h, w, g, m, v, k, p.decay);
      numerics::encode(pdst, p.param_dtype, w, static_cast<std::size_t>(k), co);
    }
  });
}

}  // namespace mixtrain::backend::cpu
