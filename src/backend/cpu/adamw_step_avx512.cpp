// The AdamW element loop at AVX-512 width (adamw_step.h); the same bits as the portable build.
#include <cmath>
#include <cstdint>

// AVX-512 code is enabled by this pragma for the definitions below it, not by command-line
// flags: the headers above stay at the baseline ISA, so the inline functions and templates they
// define (std:: and our own) are never emitted with AVX-512 instructions into a COMDAT copy that
// the linker could pick for the whole program and run on a CPU without AVX-512.
#pragma GCC push_options
#pragma GCC target("avx2,fma,f16c,avx512f,avx512bw,avx512dq,avx512vl")

#include "backend/cpu/adamw_step.h"  // its loop template is defined, so compiled, for AVX-512 here

namespace mixtrain::backend::cpu::detail {

void adamw_step_avx512(float* w, const float* g, float* m, float* v, std::int64_t n,
                       const AdamWConstants& k) {
  adamw_loop(w, g, m, v, n, k);
}

}  // namespace mixtrain::backend::cpu::detail

#pragma GCC pop_options
