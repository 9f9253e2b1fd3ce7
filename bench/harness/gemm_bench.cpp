// Timing harness behind gemm_bench.h. Operands are built once per call, outside the timed
// region; each timed run is one full GEMM.
#include "harness/gemm_bench.h"

#include <cblas.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstddef>
#include <random>
#include <thread>
#include <vector>

#include "backend/cpu/gemm.h"
#include "numerics/convert.h"
#include "runtime/error.h"
#include "runtime/parallel.h"

namespace mixtrain::bench {

// The harness times the cpu backend's GEMM itself (its kernel choice is what is measured).
using backend::GemmOperand;
using backend::GemmOutput;
using backend::cpu::gemm;
using backend::cpu::set_blas_num_threads;
namespace {

std::vector<float> random_fp32(std::size_t n, unsigned seed) {
  std::mt19937 gen(seed);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  std::vector<float> v(n);
  for (float& x : v) x = dist(gen);
  return v;
}

double now_ms() {
  return std::chrono::duration<double, std::milli>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

GemmBenchResult summarise(std::vector<double> ms, std::int64_t m, std::int64_t n,
                          std::int64_t k) {
  std::sort(ms.begin(), ms.end());
  const std::size_t h = ms.size() / 2;
  const double med = ms.size() % 2 ? ms[h] : 0.5 * (ms[h - 1] + ms[h]);
  return {med, 2.0 * double(m) * double(n) * double(k) / (med * 1e6)};
}

template <typename Fn>
GemmBenchResult time_it(std::int64_t m, std::int64_t n, std::int64_t k, int repeats, Fn&& fn) {
  check(m > 0 && n > 0 && k > 0, "bench gemm: sizes must be positive");
  check(repeats >= 1, "bench gemm: repeats must be >= 1");
  fn();
  fn();
  std::vector<double> ms;
  for (int r = 0; r < repeats; ++r) {
    const double t0 = now_ms();
    fn();
    ms.push_back(now_ms() - t0);
  }
  return summarise(std::move(ms), m, n, k);
}

// OpenBLAS's pthread workers keep spinning (sched_yield) for 2^28 TSC cycles (~0.1 s here)
// after each multi-threaded call before they sleep. On two cores that spinner halves whatever
// runs next, so after timing OpenBLAS with its own threads we wait for it to park before timing
// anything else.
void settle_blas_threads() { std::this_thread::sleep_for(std::chrono::milliseconds(250)); }

struct Stored {
  std::vector<unsigned char> bytes;
  float scale_inv = 1.0f;
};

Stored store(const std::vector<float>& x, DType t) {
  Stored s;
  s.bytes.resize(x.size() * size_of(t));
  numerics::ConvertOptions opt;
  if (t == DType::e4m3 || t == DType::e5m2) {
    float amax = 0.0f;
    for (float v : x) amax = std::max(amax, std::fabs(v));
    const double scale = numerics::max_value(numerics::spec(t)) / double(amax);
    opt.scale = scale;
    s.scale_inv = static_cast<float>(1.0 / scale);
  }
  numerics::encode(s.bytes.data(), t, x.data(), x.size(), opt);
  return s;
}

}  // namespace

GemmBenchResult bench_gemm(std::int64_t m, std::int64_t n, std::int64_t k, DType dtype,
                           int repeats) {
  check(m > 0 && n > 0 && k > 0, "bench gemm: sizes must be positive");
  const auto sa = store(random_fp32(static_cast<std::size_t>(m * k), 1), dtype);
  const auto sb = store(random_fp32(static_cast<std::size_t>(k * n), 2), dtype);
  std::vector<float> c(static_cast<std::size_t>(m * n));
  const GemmOperand A{sa.bytes.data(), dtype, k, false, sa.scale_inv};
  const GemmOperand B{sb.bytes.data(), dtype, n, false, sb.scale_inv};
  const GemmOutput C{c.data(), DType::fp32, n};
  return time_it(m, n, k, repeats, [&] { gemm(m, n, k, 1.0f, A, B, 0.0f, C); });
}

GemmComparison compare_gemm(std::int64_t m, std::int64_t n, std::int64_t k, DType dtype,
                            int repeats, const std::function<void()>& peer,
                            const std::function<void()>& fp32_peer) {
  check(m > 0 && n > 0 && k > 0, "bench gemm: sizes must be positive");
  check(repeats >= 1, "bench gemm: repeats must be >= 1");
  const auto a32 = random_fp32(static_cast<std::size_t>(m * k), 1);
  const auto b32 = random_fp32(static_cast<std::size_t>(k * n), 2);
  const auto sa = store(a32, dtype), sb = store(b32, dtype);
  const bool fp8 = dtype == DType::e4m3 || dtype == DType::e5m2;
  const auto ha = store(a32, DType::bf16), hb = store(b32, DType::bf16);
  std::vector<float> c(static_cast<std::size_t>(m * n));
  const GemmOperand A{sa.bytes.data(), dtype, k, false, sa.scale_inv};
  const GemmOperand B{sb.bytes.data(), dtype, n, false, sb.scale_inv};
  const GemmOperand A16{ha.bytes.data(), DType::bf16, k}, B16{hb.bytes.data(), DType::bf16, n};
  const GemmOperand A32{a32.data(), DType::fp32, k}, B32{b32.data(), DType::fp32, n};
  const GemmOutput C{c.data(), DType::fp32, n};
  const int threads = runtime::num_threads();
  auto timed = [](auto&& fn) {
    const double t0 = now_ms();
    fn();
    return now_ms() - t0;
  };
  std::vector<double> t_mix, t_f32, t_bf16, t_blas, t_peer, t_fpeer;
  for (int r = -2; r < repeats; ++r) {
    const double d_mix = timed([&] { gemm(m, n, k, 1.0f, A, B, 0.0f, C); });
    const double d_peer = peer ? timed(peer) : 0.0;
    const double d_f32 = timed([&] { gemm(m, n, k, 1.0f, A32, B32, 0.0f, C); });
    const double d_fpeer = fp32_peer ? timed(fp32_peer) : 0.0;
    const double d_bf16 = fp8 ? timed([&] { gemm(m, n, k, 1.0f, A16, B16, 0.0f, C); }) : 0.0;
    set_blas_num_threads(threads);
    const double d_blas = timed([&] {
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, int(m), int(n), int(k), 1.0f,
                  a32.data(), int(k), b32.data(), int(n), 0.0f, c.data(), int(n));
    });
    set_blas_num_threads(1);
    settle_blas_threads();
    if (r < 0) continue;  // warm-up rounds
    t_mix.push_back(d_mix);
    t_f32.push_back(d_f32);
    t_bf16.push_back(d_bf16);
    t_blas.push_back(d_blas);
    t_peer.push_back(d_peer);
    t_fpeer.push_back(d_fpeer);
  }
  auto median_ratio = [](const std::vector<double>& slow, const std::vector<double>& fast) {
    if (slow.empty() || slow[0] == 0.0) return 0.0;
    std::vector<double> r;
    for (std::size_t i = 0; i < slow.size(); ++i) r.push_back(slow[i] / fast[i]);
    std::sort(r.begin(), r.end());
    const std::size_t h = r.size() / 2;
    return r.size() % 2 ? r[h] : 0.5 * (r[h - 1] + r[h]);
  };
  auto summary = [&](const std::vector<double>& t) {
    return t.empty() || t[0] == 0.0 ? GemmBenchResult{0, 0} : summarise(t, m, n, k);
  };
  GemmComparison out{};
  out.mixtrain = summary(t_mix);
  out.mixtrain_fp32 = summary(t_f32);
  out.mixtrain_bf16 = summary(t_bf16);
  out.sgemm = summary(t_blas);
  out.peer = summary(t_peer);
  out.ratio_vs_fp32 = median_ratio(t_f32, t_mix);
  out.fp32_ratio_vs_sgemm = median_ratio(t_blas, t_f32);
  out.ratio_vs_sgemm = median_ratio(t_blas, t_mix);
  out.ratio_vs_bf16 = median_ratio(t_bf16, t_mix);
  out.ratio_vs_peer = median_ratio(t_peer, t_mix);
  out.fp32_ratio_vs_peer = median_ratio(t_fpeer, t_f32);
  return out;
}

GemmBenchResult direct_sgemm(std::int64_t m, std::int64_t n, std::int64_t k, int repeats) {
  check(m > 0 && n > 0 && k > 0, "bench gemm: sizes must be positive");
  const auto a = random_fp32(static_cast<std::size_t>(m * k), 1);
  const auto b = random_fp32(static_cast<std::size_t>(k * n), 2);
  std::vector<float> c(static_cast<std::size_t>(m * n));
  set_blas_num_threads(runtime::num_threads());
  const GemmBenchResult r = time_it(m, n, k, repeats, [&] {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, int(m), int(n), int(k), 1.0f, a.data(),
                int(k), b.data(), int(n), 0.0f, c.data(), int(n));
  });
  set_blas_num_threads(1);
  settle_blas_threads();
  return r;
}

}  // namespace mixtrain::bench
