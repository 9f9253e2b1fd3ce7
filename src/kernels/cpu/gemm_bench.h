// GEMM timing as a library function, for `mixtrain bench gemm` and bench/bench_gemm.cpp:
// mixtrain's gemm() with both operands stored in one dtype, and OpenBLAS sgemm called directly
// (the limit the fp32 path is measured against). Median of `repeats` runs after warm-up.
#pragma once

#include <cstdint>

#include "numerics/format.h"

namespace mixtrain::kernels::cpu {

struct GemmBenchResult {
  double ms;      // median wall time of one C = A * B, milliseconds
  double gflops;  // 2 * m * n * k / time
};

// Times gemm() for C (m, n) fp32 = A (m, k) * B (k, n), A and B stored in `dtype` (random values
// in [-1, 1); e4m3/e5m2 quantised with a per-tensor scale that maps the amax to the format's
// max, passed back as scale_inv). Two warm-up runs, then the median of `repeats` (>= 1).
GemmBenchResult bench_gemm(std::int64_t m, std::int64_t n, std::int64_t k, DType dtype,
                           int repeats);

// Times cblas_sgemm on the same fp32 problem called directly, with OpenBLAS's own threads set to
// the pool's thread count (what a program calling OpenBLAS gets); puts BLAS back to one thread.
GemmBenchResult direct_sgemm(std::int64_t m, std::int64_t n, std::int64_t k, int repeats);

// The three measurements `mixtrain bench gemm` reports, interleaved round by round (one run of
// each per round, after two warm-up rounds) so that a change in machine load shifts all of them
// alike and their ratios stay meaningful on a shared machine. Medians over `repeats` rounds.
struct GemmComparison {
  GemmBenchResult mixtrain;       // gemm() with A, B in dtype
  GemmBenchResult mixtrain_fp32;  // gemm() with A, B in fp32 (same values as the sgemm run)
  GemmBenchResult sgemm;          // cblas_sgemm called directly, OpenBLAS's own threads
  // Medians over rounds of the per-round speed ratios (robust to load that changes between
  // rounds): mixtrain / mixtrain_fp32, mixtrain_fp32 / sgemm, mixtrain / sgemm.
  double ratio_vs_fp32, fp32_ratio_vs_sgemm, ratio_vs_sgemm;
};
GemmComparison compare_gemm(std::int64_t m, std::int64_t n, std::int64_t k, DType dtype,
                            int repeats);

}  // namespace mixtrain::kernels::cpu
