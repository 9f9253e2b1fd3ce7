// The run's summary (summary.json and the return value of run_training): its settings, GEMM work,
// losses, the held-out evaluation at the end, speed and memory.
#include <algorithm>
#include <cmath>
#include <sys/resource.h>

#include "backend/kernels.h"
#include "backend/registry.h"
#include "runtime/cpu_features.h"
#include "runtime/parallel.h"
#include "tensor/ledger.h"
#include "train/session.h"

namespace mixtrain::train {

std::int64_t peak_rss_bytes() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<std::int64_t>(u.ru_maxrss) * 1024;
}

namespace {

// The GEMM work of the training steps this run executed (evaluation excluded), by operand
// precision: fp8_gemm_flop_fraction is the share run with both operands in fp8.
void add_gemm_work(const RunTally& t, nlohmann::json& summary) {
  backend::GemmFlops flops = backend::kernels().gemm_flops();
  flops.fp8 -= t.eval_flops.fp8;
  flops.half -= t.eval_flops.half;
  flops.full -= t.eval_flops.full;
  summary["gemm_flops"] = {{"fp8", flops.fp8}, {"half", flops.half}, {"full", flops.full}};
  summary["fp8_gemm_flop_fraction"] = flops.total() > 0 ? flops.fp8 / flops.total() : 0.0;
  // Which backend and ISA tier the kernels ran at (backend/registry.h, runtime/cpu_features.h)
  // and which GEMM kernels did the work.
  summary["backend"] = std::string(backend::active_backend());
  summary["isa_tier"] = std::string(backend::kernels().tier());
  summary["gemm_flops_by_kernel"] = nlohmann::json::object();
  for (const auto& [kernel, f] : backend::kernels().gemm_flops_by_kernel()) {
    const auto e = t.eval_flops_by_kernel.find(std::string(kernel));
    summary["gemm_flops_by_kernel"][std::string(kernel)] = f - (e == t.eval_flops_by_kernel.end() ? 0.0 : e->second);
  }
}

void add_evaluation(const Session& s, const EvalResult& ev, nlohmann::json& summary) {
  if (s.task->is_language_model()) {
    summary["val_loss"] = ev.loss;
  } else {
    summary["test_loss"] = ev.loss;
    summary["test_accuracy"] = ev.accuracy;
  }
}

void add_profile(const RunTally& t, nlohmann::json& summary) {
  const auto n = static_cast<double>(t.profiled_steps);
  nlohmann::json p = nlohmann::json::array();
  for (const auto& r : t.profiler->rows())
    p.push_back({{"op", r.op}, {"forward_ms", r.forward_ms / n}, {"backward_ms", r.backward_ms / n},
                 {"other_ms", r.other_ms / n}, {"forward_calls", static_cast<double>(r.forward_calls) / n},
                 {"backward_calls", static_cast<double>(r.backward_calls) / n}});
  summary["profile"] = p;
  summary["profiled_steps"] = t.profiled_steps;
}

void add_memory(nlohmann::json& summary) {
  const auto snap = tensor::Ledger::snapshot();
  nlohmann::json peaks = nlohmann::json::object();
  for (auto cat : tensor::kAllCategories) peaks[std::string(tensor::to_string(cat))] = snap.peak[static_cast<int>(cat)];
  peaks["total"] = snap.peak_total;
  summary["peak_bytes"] = peaks;
  // The same peaks by storage dtype (all categories): where the bytes that stayed fp32 are.
  nlohmann::json by_dtype = nlohmann::json::object();
  for (std::size_t i = 0; i < std::size(kAllDTypes); ++i)
    if (snap.peak_by_dtype[i] > 0) by_dtype[std::string(name(kAllDTypes[i]))] = snap.peak_by_dtype[i];
  summary["peak_bytes_by_dtype"] = by_dtype;
  summary["peak_rss_bytes"] = peak_rss_bytes();
}

// Mean loss of the last 20 steps: one step's loss is too noisy to compare runs by.
double tail_loss(const std::vector<double>& losses) {
  const std::size_t tail = std::min<std::size_t>(losses.size(), 20);
  double sum = 0;
  for (std::size_t i = losses.size() - tail; i < losses.size(); ++i) sum += losses[i];
  return tail > 0 ? sum / static_cast<double>(tail) : NAN;
}

}  // namespace

EvalResult evaluate_held_out(Session& s, RunTally& t) {
  const backend::GemmFlops before = backend::kernels().gemm_flops();
  const auto by_kernel_before = backend::kernels().gemm_flops_by_kernel();
  const EvalResult ev = s.task->evaluate(s.policy);
  const backend::GemmFlops after = backend::kernels().gemm_flops();
  t.eval_flops.fp8 += after.fp8 - before.fp8;
  t.eval_flops.half += after.half - before.half;
  t.eval_flops.full += after.full - before.full;
  for (const auto& [kernel, f] : backend::kernels().gemm_flops_by_kernel()) {
    double was = 0;
    for (const auto& [k, b] : by_kernel_before)
      if (k == kernel) was = b;
    t.eval_flops_by_kernel[std::string(kernel)] += f - was;
  }
  return ev;
}

metrics::EvalRecord eval_record(const Session& s, const RunTally& t, std::int64_t steps_done, const EvalResult& ev) {
  metrics::EvalRecord r;
  r.step = steps_done;
  r.split = s.task->is_language_model() ? "val" : "test";
  r.loss = ev.loss;
  if (ev.accuracy >= 0) r.accuracy = ev.accuracy;
  r.elapsed_s = t.elapsed_s();
  return r;
}

nlohmann::json summarize(Session& s, const RunTally& t, std::int64_t steps_done, const EvalResult* eval) {
  nlohmann::json summary = metrics::to_json(s.config);
  summary["schema_version"] = metrics::kSchemaVersion;
  summary["policy"] = s.policy.describe();
  summary["precision_map"] = s.policy.map.to_string();
  add_gemm_work(t, summary);
  if (s.pilot) summary["precision_events"] = t.precision_events;
  summary["steps"] = steps_done;
  summary["complete"] = steps_done == s.total;  // false for --stop-after and periodic checkpoints
  summary["final_train_loss"] = tail_loss(t.losses);
  if (t.last_accuracy >= 0) summary["final_train_accuracy"] = t.last_accuracy;
  if (eval) add_evaluation(s, *eval, summary);
  summary["skipped_steps"] = s.scaler.state().skipped_steps();
  summary["final_loss_scale"] = s.scaler.get_scale();
  std::vector<double> sorted = t.step_ms;
  std::sort(sorted.begin(), sorted.end());
  const double median = sorted.empty() ? NAN : sorted[sorted.size() / 2];
  summary["ms_per_step"] = median;
  if (t.profiler && t.profiled_steps > 0) add_profile(t, summary);
  summary["samples_per_s"] = sorted.empty() ? NAN : 1000.0 * static_cast<double>(s.task->samples_per_step()) / median;
  add_memory(summary);
  summary["parameters"] = s.task->model().parameter_count();
  summary["threads"] = runtime::num_threads();
  summary["elapsed_s"] = t.elapsed_s();  // this process's wall time, evaluations included
  return summary;
}

}  // namespace mixtrain::train
