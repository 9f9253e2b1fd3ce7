// GEMM timing as a library function, for `mixtrain bench gemm` and bench/bench_gemm.cpp:
// mixtrain's gemm() with both operands stored in one dtype, and OpenBLAS sgemm called directly
// (the limit the fp32 path is measured against). Median of `repeats` runs after warm-up.
#pragma once

#include <cstdint>
#include <functional>

#include "numerics/format.h"

namespace mixtrain::bench {

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

// The measurements `mixtrain bench gemm` reports, interleaved round by round (one run of each
// per round, after two warm-up rounds) so that a change in machine load shifts all of them alike
// and their ratios stay meaningful on a shared machine. Medians over `repeats` rounds.
struct GemmComparison {
  GemmBenchResult mixtrain;       // gemm() with A, B in dtype
  GemmBenchResult mixtrain_fp32;  // gemm() with A, B in fp32 (same values as the sgemm run)
  GemmBenchResult mixtrain_bf16;  // gemm() with A, B in bf16 (only for fp8 dtypes, else 0)
  GemmBenchResult sgemm;          // cblas_sgemm called directly, OpenBLAS's own threads
  GemmBenchResult peer;           // the caller's peer (e.g. oneDNN), when one was given, else 0
  // Medians over rounds of the per-round speed ratios (robust to load that changes between
  // rounds): mixtrain / mixtrain_fp32, mixtrain_fp32 / sgemm, mixtrain / sgemm, mixtrain /
  // mixtrain_bf16, mixtrain / peer and mixtrain_fp32 / peer (0 when not measured).
  double ratio_vs_fp32, fp32_ratio_vs_sgemm, ratio_vs_sgemm, ratio_vs_bf16, ratio_vs_peer,
      fp32_ratio_vs_peer;
};
// `peer`, when set, runs one GEMM of the same shape in another library (timed per round, between
// mixtrain's runs); `fp32_peer` the same for fp32 inputs (may be the same callable).
GemmComparison compare_gemm(std::int64_t m, std::int64_t n, std::int64_t k, DType dtype,
                            int repeats, const std::function<void()>& peer = {},
                            const std::function<void()>& fp32_peer = {});

}  // namespace mixtrain::bench
