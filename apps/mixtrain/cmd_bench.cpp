// `mixtrain bench`: performance measurements, one JSON line each. `bench gemm` times
// the cpu backend's gemm with A and B stored in one dtype against OpenBLAS sgemm and (when built with
// libdnnl) oneDNN's matmul in the same run; `bench --model` times training steps.
#include <cstdio>
#include <functional>
#include <memory>
#include <optional>
#include <nlohmann/json.hpp>
#include <string>
#include <tuple>

#include "commands.h"
#include "dist/communicator.h"
#include "onednn_peer.h"
#include "train/trainer.h"
#include "train_options.h"
#include "backend/kernels.h"
#include "harness/gemm_bench.h"
#include "numerics/format.h"
#include "runtime/cpu_features.h"
#include "runtime/error.h"
#include "runtime/parallel.h"

namespace mixtrain::app {
namespace {

struct GemmArgs {
  std::int64_t m = 1024, n = 1024, k = 1024;
  std::string dtype = "fp32";
  int repeats = 10;
};

// Bounds of `bench gemm`: each side at most 65536 and each matrix at most 2^28 elements (1 GiB in
// fp32), so a typo is one clear error rather than an allocation failure or an hour-long run.
constexpr std::int64_t kMaxGemmSide = 65536;
constexpr std::int64_t kMaxGemmElements = std::int64_t{1} << 28;

void run_gemm(const GemmArgs& a) {
  train::check_int_range("--m", a.m, 1, kMaxGemmSide);
  train::check_int_range("--n", a.n, 1, kMaxGemmSide);
  train::check_int_range("--k", a.k, 1, kMaxGemmSide);
  for (const auto& [what, rows, cols] : {std::tuple{"A (--m x --k)", a.m, a.k}, std::tuple{"B (--k x --n)", a.k, a.n},
                                         std::tuple{"C (--m x --n)", a.m, a.n}})
    check(rows * cols <= kMaxGemmElements, std::string("matrix ") + what + " would have " + std::to_string(rows * cols) +
                                                " elements, more than " + std::to_string(kMaxGemmElements));
  train::check_int_range("--repeats", a.repeats, 1, 10000);
  const auto t = numerics::parse_dtype(a.dtype);
  check(t && *t != DType::fp64,
        "--dtype: expected fp32, fp16, bf16, e4m3 or e5m2, got '" + a.dtype + "'");
  // All timings are interleaved round by round (bench::compare_gemm) so that load from
  // other processes on a shared machine shifts them alike. The oneDNN peer takes bf16 inputs for
  // 16- and 8-bit dtypes (what PyTorch's autocast runs; oneDNN 2.x has no fp8 matmul here) and
  // f32 inputs otherwise, and f32 inputs for the fp32 comparison.
  const bool lowp = *t == DType::bf16 || *t == DType::fp16 || *t == DType::e4m3 || *t == DType::e5m2;
  std::optional<OnednnPeer> peer, peer32;
  std::string no_peer = "not built (install libdnnl-dev and reconfigure)";
  if (onednn_available()) {
    peer32 = make_onednn_matmul(a.m, a.n, a.k, false);
    // oneDNN has bf16 matmul only on CPUs with AVX-512 (avx512_core): elsewhere the low-precision
    // comparison has no peer, which the line says rather than failing the whole benchmark.
    try {
      if (lowp) peer = make_onednn_matmul(a.m, a.n, a.k, true);
    } catch (const Error& e) {
      no_peer = std::string("no bf16 matmul on this CPU (") + e.what() + ")";
    }
  }
  const OnednnPeer* main_peer = lowp ? (peer ? &*peer : nullptr) : (peer32 ? &*peer32 : nullptr);
  const auto c = bench::compare_gemm(a.m, a.n, a.k, *t, a.repeats,
                                            main_peer ? main_peer->run : std::function<void()>{},
                                            peer32 ? peer32->run : std::function<void()>{});
  nlohmann::ordered_json j;
  j["bench"] = "gemm";
  j["m"] = a.m;
  j["n"] = a.n;
  j["k"] = a.k;
  j["dtype"] = std::string(name(*t));
  j["isa_tier"] = std::string(runtime::tier_name(runtime::isa_tier()));
  j["kernel"] = std::string(backend::kernels().gemm_kernel_name(*t, *t));
  j["fp32_kernel"] =
      std::string(backend::kernels().gemm_kernel_name(DType::fp32, DType::fp32));
  j["threads"] = runtime::num_threads();
  j["repeats"] = a.repeats;
  j["ms"] = c.mixtrain.ms;
  j["gflops"] = c.mixtrain.gflops;
  j["fp32_ms"] = c.mixtrain_fp32.ms;
  j["fp32_gflops"] = c.mixtrain_fp32.gflops;
  j["ratio_vs_fp32"] = c.ratio_vs_fp32;  // medians of per-round ratios
  if (c.mixtrain_bf16.ms > 0) {
    j["bf16_gflops"] = c.mixtrain_bf16.gflops;
    j["ratio_vs_bf16"] = c.ratio_vs_bf16;
  }
  j["sgemm_ms"] = c.sgemm.ms;
  j["sgemm_gflops"] = c.sgemm.gflops;
  j["ratio_vs_sgemm"] = c.ratio_vs_sgemm;
  j["fp32_ratio_vs_sgemm"] = c.fp32_ratio_vs_sgemm;
  if (main_peer != nullptr) {
    j["onednn_dtype"] = main_peer->dtype;
    j["onednn_gflops"] = c.peer.gflops;
    j["ratio_vs_onednn"] = c.ratio_vs_peer;
    j["fp32_ratio_vs_onednn_f32"] = c.fp32_ratio_vs_peer;
  } else {
    j["onednn"] = no_peer;
  }
  std::printf("%s\n", j.dump().c_str());
}

// The profile as a table on stderr: ms per step by op, largest first, with the share of the
// median step.
void print_profile(const nlohmann::json& rows, double step_ms) {
  std::fprintf(stderr, "%-34s %10s %10s %10s %7s\n", "op", "fwd ms", "bwd ms", "other ms", "share");
  double sum = 0;
  for (const auto& r : rows) {
    const double f = r["forward_ms"].get<double>(), b = r["backward_ms"].get<double>(), o = r["other_ms"].get<double>();
    sum += f + b + o;
    std::fprintf(stderr, "%-34s %10.2f %10.2f %10.2f %6.1f%%\n", r["op"].get<std::string>().c_str(), f, b, o,
                 100.0 * (f + b + o) / step_ms);
  }
  std::fprintf(stderr, "%-34s %32.2f (median step %.2f ms)\n", "total", sum, step_ms);
}

}  // namespace

void register_bench(CLI::App& app) {
  CLI::App* bench = app.add_subcommand("bench", "Performance measurements (one JSON line each): "
                                                "`bench --model M ...` times training steps, `bench gemm` one GEMM");
  bench->require_subcommand(0, 1);
  // bench --model: median ms/step of real training steps (no files written, no evaluation).
  auto mf = std::make_shared<CliTrainFlags>();
  auto profile = std::make_shared<bool>(false);
  // Only the flags that change what is timed: no evaluation, no --stop-after, the autopilot's
  // defaults, and nothing to silence (the JSON line is the output).
  add_train_flags(bench, *mf, TrainFlagSet{.evaluation = false, .stop_after = false, .autopilot = false, .quiet = false});
  bench->add_flag("--profile", *profile,
                  "also time every op of the timed steps (forward, backward, optimizer): a \"profile\" field in the "
                  "JSON line and a table on stderr")->group(kGroupOutput);
  bench->get_option("--model")->required(false);
  bench->callback([bench, mf, profile] {
    if (!bench->get_subcommands().empty()) return;  // `bench gemm` ran
    check(bench->count("--model") > 0, "bench: give --model M (or the `gemm` subcommand)");
    train::RunSpec& c = mf->spec;
    if (!mf->steps && !mf->epochs) c.steps = 20;  // explicit values are range-checked by resolve_flags
    c.quiet = true;
    const train::ResolvedRun rc = resolve_flags(*mf);
    train::RunControls topt;
    topt.write_files = false;
    topt.evaluate = false;
    topt.warmup_steps_excluded = std::min<std::int64_t>(3, rc.spec.steps / 2);
    topt.profile = *profile;
    const auto s = train::run_training(rc, topt);
    nlohmann::ordered_json j;
    j["bench"] = "model";
    j["model"] = std::string(train::to_string(rc.spec.model));
    j["precision"] = std::string(train::to_string(rc.spec.precision));
    j["opt_level"] = std::string(amp::to_string(rc.policy.level));
    j["batch"] = rc.spec.batch;
    j["steps"] = rc.spec.steps;
    j["threads"] = s["threads"];
    j["isa_tier"] = s["isa_tier"];
    j["gemm_flops_by_kernel"] = s["gemm_flops_by_kernel"];
    j["median_ms"] = s["ms_per_step"];
    j["samples_per_s"] = s["samples_per_s"];
    j["peak_bytes"] = s["peak_bytes"];
    j["peak_bytes_by_dtype"] = s["peak_bytes_by_dtype"];
    j["peak_rss_bytes"] = s["peak_rss_bytes"];
    if (s.contains("profile")) {
      j["profile"] = s["profile"];
      print_profile(s["profile"], s["ms_per_step"].get<double>());
    }
    // Under mpirun (docs/DISTRIBUTED.md): samples_per_s is the whole job's (the global batch per
    // step); per rank, time in collectives and bytes sent besides. Rank 0 prints.
    if (s.contains("distributed") && s["samples_per_s"].is_number()) {
      j["distributed"] = s["distributed"];
      j["samples_per_s_per_rank"] = s["samples_per_s"].get<double>() / s["distributed"]["ranks"].get<double>();
    }
    if (dist::world().rank() != 0) return;
    std::printf("%s\n", j.dump().c_str());
  });
  auto g = std::make_shared<GemmArgs>();
  CLI::App* gemm = bench->add_subcommand(
      "gemm",
      "Time C(m,n) fp32 = A(m,k) B(k,n) with A and B stored in --dtype (fp8 with a per-tensor "
      "scale), next to mixtrain's fp32 GEMM (and bf16, for fp8 dtypes), OpenBLAS sgemm called "
      "directly with its own threads and, when built with libdnnl, oneDNN's matmul (bf16 inputs for "
      "16/8-bit dtypes, f32 otherwise), interleaved in one run; reports the ISA tier and kernel");
  gemm->add_option("--m", g->m, "rows of A and C, 1-65536 (default 1024; each matrix at most 2^28 elements)");
  gemm->add_option("--n", g->n, "columns of B and C, 1-65536 (default 1024)");
  gemm->add_option("--k", g->k, "columns of A, rows of B, 1-65536 (default 1024)");
  gemm->add_option("--dtype", g->dtype, "operand format: fp32 (default), fp16, bf16, e4m3, e5m2");
  gemm->add_option("--repeats", g->repeats, "timed rounds after 2 warm-up rounds, 1-10000; medians are reported (default 10)");
  gemm->callback([g] {
    try {
      run_gemm(*g);
    } catch (const Error& e) {
      throw Error(std::string("bench gemm: ") + e.what());
    }
  });
}

}  // namespace mixtrain::app
