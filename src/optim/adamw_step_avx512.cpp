// The AdamW element loop at AVX-512 width (adamw_step.h); the same bits as the portable build.
#include "optim/adamw_step.h"

namespace mixtrain::optim::detail {

void adamw_step_avx512(float* w, const float* g, float* m, float* v, std::int64_t n,
                       const AdamWConstants& k) {
  adamw_loop(w, g, m, v, n, k);
}

}  // namespace mixtrain::optim::detail
