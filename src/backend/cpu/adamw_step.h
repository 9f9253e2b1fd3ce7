// Internal: the AdamW element loop, shared by the portable build (optimizer_update.cpp) and the
// AVX-512 translation unit (adamw_step_avx512.cpp), which compiles the very same loop at 16
// lanes. Every operation is a correctly rounded IEEE operation (no FMA contraction: the library
// is built with -ffp-contract=off; sqrt and division are exact-rounded in every width), so both
// builds give the same bits. Internal linkage, one copy per translation unit (see
// gemm_pack_loads.h for why).
#pragma once

#include <cmath>
#include <cstdint>

namespace mixtrain::backend::cpu::detail {

struct AdamWConstants {
  float b1, b2;   // betas
  float c1, c2;   // 1 / (1 - b1^t), 1 / sqrt(1 - b2^t)
  float lr, decay, eps;  // decay: 1 - lr * weight_decay (1 without decay)
};

// The AVX-512 build of adamw_loop<float>; call only on the avx512 tier.
void adamw_step_avx512(float* w, const float* g, float* m, float* v, std::int64_t n,
                       const AdamWConstants& k);

namespace {  // NOLINT(google-build-namespaces): one copy per ISA translation unit

template <typename W>
inline void adamw_loop(W* __restrict w, const float* __restrict g, float* __restrict m,
                       float* __restrict v, std::int64_t n, const AdamWConstants& k) {
  const float b1 = k.b1, b2 = k.b2, c1 = k.c1, c2 = k.c2, lr = k.lr, eps = k.eps;
  const W decay = static_cast<W>(k.decay);
  for (std::int64_t i = 0; i < n; ++i) {
    m[i] = b1 * m[i] + (1 - b1) * g[i];
    v[i] = b2 * v[i] + (1 - b2) * g[i] * g[i];
    // PyTorch's form: w -= lr * mhat / (sqrt(v) / sqrt(1 - b2^t) + eps).
    const float upd = lr * (m[i] * c1) / (std::sqrt(v[i]) * c2 + eps);
    w[i] = static_cast<W>(w[i] * decay - static_cast<W>(upd));
  }
}

}  // namespace
}  // namespace mixtrain::backend::cpu::detail
