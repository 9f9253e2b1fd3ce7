// Google Benchmark for backend::cpu::gemm: fp32, fp16, bf16 and e4m3 operands (both A and B in
// the dtype, C fp32) at 256/512/1024 cubed, next to OpenBLAS sgemm called directly (its own
// threads), the limit the fp32 path is held to. Run with OMP_WAIT_POLICY=PASSIVE.
#include <benchmark/benchmark.h>

#include <cstdint>

#include "harness/gemm_bench.h"

namespace {

using mixtrain::DType;
namespace kc = mixtrain::bench;

// Each iteration is the median of 3 timed runs (after warm-up) from the library harness, so the
// figures match `mixtrain bench gemm`; "GFLOP" is shown as a rate over that manual time (GFLOP/s).
void BM_gemm(benchmark::State& state, DType dtype) {
  const std::int64_t n = state.range(0);
  for (auto _ : state) state.SetIterationTime(kc::bench_gemm(n, n, n, dtype, 3).ms / 1e3);
  state.counters["GFLOP"] = benchmark::Counter(2e-9 * double(n) * double(n) * double(n),
                                                benchmark::Counter::kIsIterationInvariantRate);
}

void BM_cblas_sgemm(benchmark::State& state) {
  const std::int64_t n = state.range(0);
  for (auto _ : state) state.SetIterationTime(kc::direct_sgemm(n, n, n, 3).ms / 1e3);
  state.counters["GFLOP"] = benchmark::Counter(2e-9 * double(n) * double(n) * double(n),
                                                benchmark::Counter::kIsIterationInvariantRate);
}

}  // namespace

BENCHMARK(BM_cblas_sgemm)->Arg(256)->Arg(512)->Arg(1024)->UseManualTime()->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_gemm, fp32, DType::fp32)->Arg(256)->Arg(512)->Arg(1024)->UseManualTime()->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_gemm, fp16, DType::fp16)->Arg(256)->Arg(512)->Arg(1024)->UseManualTime()->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_gemm, bf16, DType::bf16)->Arg(256)->Arg(512)->Arg(1024)->UseManualTime()->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_gemm, e4m3, DType::e4m3)->Arg(256)->Arg(512)->Arg(1024)->UseManualTime()->Unit(benchmark::kMillisecond);

BENCHMARK_MAIN();
