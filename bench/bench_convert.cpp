// Conversion throughput: fp32 -> {bf16, fp16, e4m3, e5m2} and back on a 64 MiB fp32 buffer, next
// to memcpy of the same buffer, single-threaded and with all threads. Bandwidth counts bytes read
// plus bytes written, for memcpy as for the conversions, so the two compare directly.
//   OMP_WAIT_POLICY=PASSIVE build/release/bin/bench_convert --benchmark_min_time=1
#include <benchmark/benchmark.h>

#include <cstring>
#include <random>
#include <thread>
#include <vector>

#include "numerics/convert.h"
#include "runtime/parallel.h"

namespace {

using mixtrain::DType;
constexpr std::size_t kBytes = std::size_t{64} << 20;
constexpr std::size_t kElems = kBytes / 4;

const std::vector<float>& source() {
  static const std::vector<float> x = [] {
    std::vector<float> v(kElems);
    std::mt19937 gen(1);
    std::normal_distribution<float> d(0.0f, 3.0f);
    for (auto& e : v) e = d(gen);
    return v;
  }();
  return x;
}

void set_threads(const benchmark::State& state) {
  mixtrain::runtime::set_num_threads(static_cast<int>(state.range(0)));
}

void BM_memcpy(benchmark::State& state) {
  set_threads(state);
  const auto& x = source();
  std::vector<float> y(kElems);
  for (auto _ : state) {
    // memcpy split like the conversions, so "all threads" means the same thing for both.
    mixtrain::runtime::parallel_for(kElems, std::size_t{1} << 16, [&](std::size_t b, std::size_t e) {
      std::memcpy(y.data() + b, x.data() + b, (e - b) * 4);
    });
    benchmark::DoNotOptimize(y.data());
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * 2 * kBytes));
}

void BM_encode(benchmark::State& state, DType to, mixtrain::numerics::Rounding r) {
  set_threads(state);
  const auto& x = source();
  std::vector<std::uint8_t> y(kElems * mixtrain::size_of(to));
  mixtrain::numerics::ConvertOptions opt;
  opt.rounding = r;
  for (auto _ : state) {
    benchmark::DoNotOptimize(mixtrain::numerics::encode(y.data(), to, x.data(), kElems, opt));
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * (kBytes + y.size())));
}

void BM_decode(benchmark::State& state, DType from) {
  set_threads(state);
  const auto& x = source();
  std::vector<std::uint8_t> codes(kElems * mixtrain::size_of(from));
  mixtrain::numerics::encode(codes.data(), from, x.data(), kElems);
  std::vector<float> y(kElems);
  for (auto _ : state) {
    mixtrain::numerics::decode(y.data(), codes.data(), from, kElems);
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * (kBytes + codes.size())));
}

using mixtrain::numerics::Rounding;
void threads(benchmark::internal::Benchmark* b) {
  b->Arg(1)->Arg(static_cast<std::int64_t>(std::thread::hardware_concurrency()))->ArgName("threads")
      ->Unit(benchmark::kMillisecond)->UseRealTime();
}

BENCHMARK(BM_memcpy)->Apply(threads);
BENCHMARK_CAPTURE(BM_encode, bf16, DType::bf16, Rounding::nearest)->Apply(threads);
BENCHMARK_CAPTURE(BM_encode, fp16, DType::fp16, Rounding::nearest)->Apply(threads);
BENCHMARK_CAPTURE(BM_encode, e4m3, DType::e4m3, Rounding::nearest)->Apply(threads);
BENCHMARK_CAPTURE(BM_encode, e5m2, DType::e5m2, Rounding::nearest)->Apply(threads);
BENCHMARK_CAPTURE(BM_encode, bf16_stochastic, DType::bf16, Rounding::stochastic)->Apply(threads);
BENCHMARK_CAPTURE(BM_encode, e4m3_stochastic, DType::e4m3, Rounding::stochastic)->Apply(threads);
BENCHMARK_CAPTURE(BM_decode, bf16, DType::bf16)->Apply(threads);
BENCHMARK_CAPTURE(BM_decode, fp16, DType::fp16)->Apply(threads);
BENCHMARK_CAPTURE(BM_decode, e4m3, DType::e4m3)->Apply(threads);
BENCHMARK_CAPTURE(BM_decode, e5m2, DType::e5m2)->Apply(threads);

}  // namespace

BENCHMARK_MAIN();
