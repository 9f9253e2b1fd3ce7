// The loop. Metrics lines hold only values that are a deterministic function of (config, step)
// except the "ms" field, so runs (and resumed runs) can be compared line by line.
#include "train/trainer.h"

#include <sys/resource.h>

#include <algorithm>
#include <bit>
#include <cstdio>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <vector>

#include "amp/autocast.h"
#include "amp/grad_scaler.h"
#include "autograd/grad_info.h"
#include "autograd/profiler.h"
#include "io/atomic_file.h"
#include "io/input_file.h"
#include "io/json_text.h"
#include "kernels/cpu/gemm.h"
#include "numerics/convert.h"
#include "numerics/stats.h"
#include "ops/elementwise.h"
#include "optim/lr_schedule.h"
#include "optim/optimizer.h"
#include "runtime/cpu_features.h"
#include "runtime/error.h"
#include "runtime/parallel.h"
#include "tensor/ledger.h"
#include "train/autopilot_driver.h"
#include "train/checkpoint.h"
#include "train/run_dir.h"
#include "train/progress.h"
#include "train/task.h"

namespace mixtrain::train {

std::int64_t peak_rss_bytes() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<std::int64_t>(u.ru_maxrss) * 1024;
}

namespace {

std::unique_ptr<optim::Optimizer> make_optimizer(const TrainConfig& c, nn::Module& m, const amp::Policy& p) {
  if (c.optimizer == "sgd")
    return std::make_unique<optim::SGD>(m.parameters(), p, optim::SGDOptions{.lr = c.lr, .momentum = c.momentum, .weight_decay = c.weight_decay});
  return std::make_unique<optim::AdamW>(m.parameters(), p, optim::AdamWOptions{.lr = c.lr, .weight_decay = c.weight_decay});
}

nlohmann::json config_json(const ResolvedConfig& rc) {
  const TrainConfig& c = rc.cfg;
  nlohmann::json j{{"model", c.model}, {"data", c.data}, {"precision", c.precision}, {"label", rc.label},
          {"opt_level", std::string(amp::to_string(rc.policy.level))}, {"batch", c.batch}, {"lr", c.lr},
          {"optimizer", c.optimizer}, {"schedule", c.schedule}, {"seed", c.seed}, {"context", c.context}, {"precision_map", rc.policy.map.to_string()},
          {"fp8_recipe", c.fp8_recipe}, {"fp8_format", c.fp8_format}, {"master", c.master}};
  // Where the data came from, so that `eval` finds it again without repeating flags.
  if (!c.data_path.empty()) j["data_path"] = c.data_path;
  if (!c.data_dir.empty()) j["data_dir"] = c.data_dir;
  return j;
}

// Sparse {exponent: count} of a histogram.
nlohmann::json sparse_hist(const numerics::FormatStats& s) {
  nlohmann::json h = nlohmann::json::object();
  for (int i = 0; i < numerics::kHistBins; ++i)
    if (s.exponent_hist[i]) h[std::to_string(i + numerics::kHistMinExponent)] = s.exponent_hist[i];
  return h;
}

nlohmann::json stats_entry(const std::string& param, const numerics::FormatStats& s, float amax) {
  return {{"param", param}, {"hist", sparse_hist(s)}, {"overflow", s.overflow_fraction()}, {"zeros", s.fraction(s.zeros)},
          {"subnormal", s.subnormal_fraction()}, {"flush", s.flush_fraction()},
          {"amax", std::isfinite(amax) ? nlohmann::json(amax) : nlohmann::json(nullptr)}};
}

// The sampled numerics of one step, added to its metrics line (the doctor reads them):
//  grad_stats    weight gradients as computed (scaled), against the policy's low dtype (fp16 for
//                fp32 runs: "what fp16 would do"), with their amax;
//  weight_stats  every weight in its storage dtype (decoded to fp32 in a scratch buffer outside
//                the ledger, so sampling does not move the memory peaks);
//  stats_dtype, grad_amax (scaled, over all weight gradients) and headroom_log2 =
//                log2(max finite of stats_dtype / largest scaled weight or activation gradient):
//                how many doublings of the loss scale are left before that gradient overflows.
//  act_grad_stats  gradients of 16-bit activations as the backward stored them (ActGrads, below),
//                one entry per producing module and op, e.g. {param: "fc2/linear", module: "fc2",
//                dtype, zeros, ...}: values that flushed are zeros by then, so the subnormal
//                fraction (exact) is the sign of underflow, with the zero fraction beside it.
// Observes a sampled step's backward: the gradient of every 16-bit activation, as stored.
class ActGrads : public autograd::RoundingObserver {
 public:
  void on_grad(const autograd::Node& producer, const Tensor& g) override {
    // Only 16-bit activations: their gradients are where fp16 underflows.
    if (g.dtype() != DType::fp16 && g.dtype() != DType::bf16) return;
    const auto n = static_cast<std::size_t>(g.numel());
    scratch_.resize(n);
    numerics::decode(scratch_.data(), g.data(), g.dtype(), n);
    auto& e = by_node_[{micro_, &producer}];
    e.label = (producer.scope.empty() ? std::string("model") : producer.scope) + "/" + producer.op;
    e.module = producer.scope;
    e.dtype = g.dtype();
    e.stats = numerics::analyse(scratch_.data(), n, g.dtype());
    e.amax = numerics::abs_max(scratch_.data(), n);
  }
  // Node addresses may be reused by the next micro-batch's graph: keys carry the micro-batch.
  void next_micro() { ++micro_; }
  float amax() const {
    float m = 0;
    for (const auto& [k, e] : by_node_)
      if (!(e.amax <= m)) m = e.amax;
    return m;
  }
  // Per label, summed over micro-batches and repeated ops, sorted by label.
  nlohmann::json to_json() const {
    std::map<std::string, std::size_t> index;
    std::vector<Entry> merged;
    for (const auto& [node, e] : by_node_) {
      (void)node;
      auto [it, fresh] = index.emplace(e.label, merged.size());
      if (fresh) merged.push_back(e);
      else {
        merged[it->second].stats += e.stats;
        merged[it->second].amax = std::max(merged[it->second].amax, e.amax);
      }
    }
    std::sort(merged.begin(), merged.end(), [](const Entry& a, const Entry& b) { return a.label < b.label; });
    nlohmann::json out = nlohmann::json::array();
    for (const auto& e : merged) {
      auto j = stats_entry(e.label, e.stats, e.amax);
      j["module"] = e.module.empty() ? std::string("model") : e.module;
      j["dtype"] = std::string(name(e.dtype));
      out.push_back(std::move(j));
    }
    return out;
  }

 private:
  struct Entry {
    std::string label, module;
    DType dtype = DType::fp16;
    numerics::FormatStats stats;
    float amax = 0;
  };
  std::int64_t micro_ = 0;
  std::vector<float> scratch_;
  std::map<std::pair<std::int64_t, const autograd::Node*>, Entry> by_node_;
};

void sample_stats(nn::Module& model, DType target, float act_amax, nlohmann::json& line) {
  nlohmann::json grads = nlohmann::json::array(), weights = nlohmann::json::array();
  float grad_amax = 0;
  std::vector<float> scratch;
  for (const auto& p : model.parameters()) {
    const Tensor& w = *p.tensor;
    const Tensor g = w.grad();
    if (g.defined() && w.dim() >= 2 && g.dtype() == DType::fp32) {
      const auto n = static_cast<std::size_t>(g.numel());
      const float amax = numerics::abs_max(g.data_as<const float>(), n);
      if (!(amax <= grad_amax)) grad_amax = amax;
      grads.push_back(stats_entry(p.name, numerics::analyse(g.data_as<const float>(), n, target), amax));
    }
    if (w.dim() >= 2 && w.dtype() != DType::fp64) {
      const auto n = static_cast<std::size_t>(w.numel());
      const float* data = w.data_as<const float>();
      if (w.dtype() != DType::fp32) {
        scratch.resize(n);
        numerics::decode(scratch.data(), w.data(), w.dtype(), n);
        data = scratch.data();
      }
      auto e = stats_entry(p.name, numerics::analyse(data, n, w.dtype()), numerics::abs_max(data, n));
      e["dtype"] = std::string(name(w.dtype()));
      weights.push_back(std::move(e));
    }
  }
  line["grad_stats"] = std::move(grads);
  line["weight_stats"] = std::move(weights);
  line["stats_dtype"] = std::string(name(target));
  const double fmax = numerics::max_value(numerics::spec(target));
  line["grad_amax"] = std::isfinite(grad_amax) ? nlohmann::json(grad_amax) : nlohmann::json(nullptr);
  const float top = act_amax <= grad_amax ? grad_amax : act_amax;
  line["headroom_log2"] = top > 0 && std::isfinite(top) ? nlohmann::json(std::log2(fmax / top)) : nlohmann::json(nullptr);
}

// Metrics lines carried over from the checkpoint a run resumes from: every line before `start`,
// and the losses of those steps (so the summary's final_train_loss covers the whole run).
struct CarriedMetrics {
  std::string text;            // lines, each ending in '\n'
  std::vector<double> losses;  // per step, in order
};

CarriedMetrics carry_metrics(const std::string& ck_dir, std::int64_t start) {
  CarriedMetrics out;
  const std::string path = ck_dir + "/metrics.jsonl";
  if (!io::is_regular_file(path)) return out;  // a bare checkpoint file: the metrics start here
  const std::string all = io::read_text_file(path);
  for (std::size_t pos = 0; pos < all.size();) {
    const std::size_t nl = std::min(all.find('\n', pos), all.size());
    const std::string_view line = std::string_view(all).substr(pos, nl - pos);
    pos = nl + 1;
    const auto j = io::try_parse_json(line);
    if (j.is_discarded() || !j.is_object()) continue;
    const auto st = j.find("step");
    const std::int64_t step = st != j.end() && st->is_number_integer() ? st->get<std::int64_t>() : -1;
    if (step >= start) continue;
    out.text.append(line).push_back('\n');
    const auto loss = j.find("loss");
    if (step >= 0 && !j.contains("type") && loss != j.end()) out.losses.push_back(loss->is_number() ? loss->get<double>() : NAN);
  }
  return out;
}

// Steps of the whole run, overflow-checked: a run longer than a checkpoint can record is refused.
std::int64_t total_steps(const TrainConfig& c, std::int64_t steps_per_epoch) {
  std::int64_t total = c.steps;
  if (c.steps <= 0 && __builtin_mul_overflow(c.epochs, steps_per_epoch, &total)) total = -1;
  if (total < 0 || total > kMaxCheckpointStep)
    throw Error("train: --epochs " + std::to_string(c.epochs) + " x " + std::to_string(steps_per_epoch) +
                " steps per epoch is more steps than a run may have (" + std::to_string(kMaxCheckpointStep) + ")");
  return total;
}

void validate(const TrainOptions& topt) {
  if (topt.checkpoint_every < 0 || topt.checkpoint_every > kMaxCheckpointStep)
    throw Error("--checkpoint-every must be a step count >= 1 (or 0: only at the end), got " + std::to_string(topt.checkpoint_every));
  if (topt.checkpoint_keep < 1 || topt.checkpoint_keep > 1000000)
    throw Error("--checkpoint-keep must be in [1, 1000000], got " + std::to_string(topt.checkpoint_keep));
}

}  // namespace

nlohmann::json run_training(const ResolvedConfig& rc, const TrainOptions& topt) {
  const TrainConfig& c = rc.cfg;
  validate(topt);
  if (c.threads > 0) runtime::set_num_threads(c.threads);
  // The run directory first: a bad --out, or another run writing there, fails before any work.
  std::optional<RunDir> run_dir;
  if (topt.write_files) run_dir.emplace(c.out_dir);
  // The checkpoint a resume starts from (found before the model is built).
  std::string resume_ck_dir, resume_ck;
  if (!c.resume_dir.empty()) {
    resume_ck_dir = resume_checkpoint_dir(c.resume_dir);
    resume_ck = resume_ck_dir + "/checkpoint.safetensors";
  }
  tensor::Ledger::reset_peaks();
  std::unique_ptr<Task> task;
  {
    tensor::LedgerScope scope(tensor::Category::weights);
    task = make_task(rc);
  }
  nn::Module& model = task->model();
  // The run's policy; under --precision auto the autopilot owns its map and changes it.
  amp::Policy policy = rc.policy;
  std::optional<AutopilotDriver> pilot;
  if (rc.autopilot) {
    pilot.emplace(model, policy, c.auto_options, c.auto_every);
    // The autopilot's map decides the policy applied below, so its state is read ahead of the
    // full load (read_checkpoint_info reads the whole file: only here, not on every resume).
    if (!resume_ck.empty()) {
      const nlohmann::json info = read_checkpoint_info(resume_ck);
      if (info.contains("autopilot")) pilot->restore(info.at("autopilot"));
    }
  }
  model.apply_policy(policy);
  if (!c.quiet) {
    // The effective precision map: each layer's GEMM dtype and its weights' storage dtype.
    std::string line;
    for (const auto& p : model.parameters()) {
      if (!p.name.ends_with(".weight") || p.tensor->dim() < 2) continue;
      const std::string layer = p.name.substr(0, p.name.size() - 7);
      line += " " + layer + "=" + std::string(name(policy.level == amp::OptLevel::O0 ? DType::fp32 : policy.gemm_dtype(layer))) +
              "/" + std::string(name(p.tensor->dtype()));
    }
    std::fprintf(stderr, "effective precision (layer=gemm/weights):%s\n", line.c_str());
  }
  auto opt = make_optimizer(c, model, policy);
  amp::GradScaler scaler(rc.scale);
  // Peaks count training, not the one-off fp32 initialisation that apply_policy converted.
  tensor::Ledger::reset_peaks();
  const std::int64_t total = total_steps(c, task->steps_per_epoch());

  // Resume: restore everything, then continue at the saved step.
  std::int64_t start = 0;
  CarriedMetrics carried;
  if (!resume_ck.empty()) {
    const nlohmann::json info = load_checkpoint(resume_ck, model, opt.get(), &scaler);
    start = info.at("step").get<std::int64_t>();  // validated by load_checkpoint
    const nlohmann::json saved = info.value("config", nlohmann::json::object());
    const nlohmann::json now = config_json(rc);
    for (const char* k : {"model", "precision", "opt_level", "batch", "optimizer", "seed"})
      if (saved.contains(k) && saved[k] != now[k])
        throw Error(std::string("resume: checkpoint was trained with ") + k + "=" + saved[k].dump() +
                    ", this run has " + now[k].dump());
    check(start <= total, "resume: checkpoint is at step " + std::to_string(start) + ", past --steps " + std::to_string(total));
    carried = carry_metrics(resume_ck_dir, start);
  }

  // Metrics go to the live file as they happen; each checkpoint commits a copy of it.
  std::ofstream metrics;
  if (run_dir) {
    metrics.open(run_dir->live_metrics_path(), std::ios::trunc);
    check(metrics.good(), "train: cannot write " + run_dir->live_metrics_path());
    metrics << carried.text << nlohmann::json{{"type", "config"}, {"config", config_json(rc)}, {"policy", policy.describe()}}.dump()
            << '\n' << std::flush;
  }
  // A run that throws from here on keeps its metrics as failed.metrics.jsonl, for the doctor.
  struct KeepMetricsOnFailure {
    RunDir* dir;
    std::ofstream& metrics;
    bool succeeded = false;
    ~KeepMetricsOnFailure() {
      if (!dir || succeeded) return;
      metrics.close();
      dir->keep_failed_metrics();
    }
  } on_failure{run_dir ? &*run_dir : nullptr, metrics};
  Progress progress(rc.label + " " + c.model, total, task->samples_per_step());
  // stats_every < 0 turns sampling off (to measure its cost). The default takes about ten
  // samples a run but never more than one step in 20 (plus the last): a sample costs about half
  // a step of the MLP (docs/RESULTS.md), so this bounds the overhead to a few percent.
  const std::int64_t stats_every = c.stats_every > 0 ? c.stats_every : std::max<std::int64_t>(20, total / 10);
  optim::LrSchedule schedule;
  schedule.kind = c.schedule == "cosine" ? optim::LrSchedule::Kind::warmup_cosine : optim::LrSchedule::Kind::constant;
  schedule.base_lr = c.lr;
  schedule.total_steps = total;
  schedule.warmup_steps = static_cast<std::int64_t>(c.warmup * static_cast<double>(total));
  std::vector<double> step_ms, losses = carried.losses;
  std::int64_t bad_streak = 0;
  double last_acc = -1;
  const std::int64_t end = c.stop_after > 0 ? std::min(total, c.stop_after) : total;
  kernels::cpu::reset_gemm_flops();
  std::int64_t precision_events = 0;
  std::optional<autograd::OpProfiler> profiler;  // resumed for the steps it times
  if (topt.profile) profiler.emplace();
  std::int64_t profiled_steps = 0;
  // The summary of the run so far: at the end (final: with the held-out evaluation) and beside
  // every periodic checkpoint.
  auto summarize = [&](std::int64_t steps_done, bool final) {
    const kernels::cpu::GemmFlops flops = kernels::cpu::gemm_flops();
    nlohmann::json summary = config_json(rc);
    summary["policy"] = policy.describe();
    summary["precision_map"] = policy.map.to_string();
    // The GEMM work of the training steps this run executed (evaluation excluded), by operand
    // precision: fp8_gemm_flop_fraction is the share run with both operands in fp8.
    summary["gemm_flops"] = {{"fp8", flops.fp8}, {"half", flops.half}, {"full", flops.full}};
    summary["fp8_gemm_flop_fraction"] = flops.total() > 0 ? flops.fp8 / flops.total() : 0.0;
    // Which CPU tier the kernels ran at (runtime/cpu_features.h) and which GEMM kernels did the work.
    summary["isa_tier"] = std::string(runtime::tier_name(runtime::isa_tier()));
    summary["gemm_flops_by_kernel"] = nlohmann::json::object();
    for (const auto& [kernel, f] : kernels::cpu::gemm_flops_by_kernel())
      summary["gemm_flops_by_kernel"][std::string(kernel)] = f;
    if (pilot) summary["precision_events"] = precision_events;
    summary["steps"] = steps_done;
    summary["complete"] = steps_done == total;  // false for --stop-after and periodic checkpoints
    const std::size_t tail = std::min<std::size_t>(losses.size(), 20);
    double tail_loss = 0;
    for (std::size_t i = losses.size() - tail; i < losses.size(); ++i) tail_loss += losses[i];
    summary["final_train_loss"] = tail > 0 ? tail_loss / static_cast<double>(tail) : NAN;
    if (last_acc >= 0) summary["final_train_accuracy"] = last_acc;
    if (final && topt.evaluate) {
      const EvalResult ev = task->evaluate(policy);
      if (task->is_language_model()) {
        summary["val_loss"] = ev.loss;
      } else {
        summary["test_loss"] = ev.loss;
        summary["test_accuracy"] = ev.accuracy;
      }
    }
    summary["skipped_steps"] = scaler.state().skipped_steps();
    summary["final_loss_scale"] = scaler.get_scale();
    std::vector<double> sorted = step_ms;
    std::sort(sorted.begin(), sorted.end());
    const double median = sorted.empty() ? NAN : sorted[sorted.size() / 2];
    summary["ms_per_step"] = median;
    if (profiler && profiled_steps > 0) {
      const auto n = static_cast<double>(profiled_steps);
      nlohmann::json p = nlohmann::json::array();
      for (const auto& r : profiler->rows())
        p.push_back({{"op", r.op}, {"forward_ms", r.forward_ms / n}, {"backward_ms", r.backward_ms / n},
                     {"other_ms", r.other_ms / n}, {"forward_calls", static_cast<double>(r.forward_calls) / n},
                     {"backward_calls", static_cast<double>(r.backward_calls) / n}});
      summary["profile"] = p;
      summary["profiled_steps"] = profiled_steps;
    }
    summary["samples_per_s"] = sorted.empty() ? NAN : 1000.0 * static_cast<double>(task->samples_per_step()) / median;
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
    summary["parameters"] = model.parameter_count();
    summary["threads"] = runtime::num_threads();
    return summary;
  };
  // Commits a checkpoint at `step` (the next step to run) with its metrics and summary.
  auto commit = [&](std::int64_t step, const nlohmann::json& summary) {
    // precision_map: the map the run ended with (the autopilot's choice under --precision auto),
    // which `eval` applies.
    nlohmann::json run_info{{"step", step}, {"config", config_json(rc)}, {"precision_map", policy.map.to_string()}};
    if (pilot) run_info["autopilot"] = pilot->autopilot().state();
    metrics.flush();
    check(metrics.good(), "train: failed writing " + run_dir->live_metrics_path());
    run_dir->commit(step, [&](const std::string& path) { save_checkpoint(path, model, *opt, scaler, run_info); },
                    io::read_text_file(run_dir->live_metrics_path()), summary.dump(2) + "\n", topt.checkpoint_keep);
  };
  for (std::int64_t step = start; step < end; ++step) {
    const auto t0 = std::chrono::steady_clock::now();
    opt->set_lr(schedule.at(step));
    double loss_sum = 0, acc_sum = 0;
    bool finite = true;
    // Sampled steps record module scopes in the graph and observe the backward's roundings.
    const bool sample = c.stats_every >= 0 && (step % stats_every == 0 || step + 1 == total);
    std::optional<ActGrads> act_grads;
    std::optional<autograd::ScopeCapture> capture;
    std::optional<autograd::ObserveRounding> observe;
    const bool probe = pilot && pilot->probe_step(step);
    if (probe) pilot->arm();
    if (sample) {
      act_grads.emplace();
      capture.emplace();
      observe.emplace(&*act_grads);
    }
    const bool profiled = profiler && !sample && step - start >= topt.warmup_steps_excluded;
    if (profiled) profiler->resume();
    for (std::int64_t micro = 0; micro < c.accumulate; ++micro) {
      Tensor loss;
      double acc = -1;
      {
        amp::Autocast guard(policy);
        loss = task->loss(step, micro, c.accumulate, &acc);
      }
      const double lv = loss.item();
      finite = finite && std::isfinite(lv);
      loss_sum += lv;
      acc_sum += acc;
      if (c.accumulate > 1) loss = ops::scale(loss, 1.0 / static_cast<double>(c.accumulate));
      scaler.scale(loss).backward();
      if (act_grads) act_grads->next_micro();
    }
    const double loss_v = loss_sum / static_cast<double>(c.accumulate);
    const double acc_v = acc_sum / static_cast<double>(c.accumulate);
    const double used_scale = scaler.get_scale();
    nlohmann::json stats;
    if (sample) {
      // Sampled before unscaling: the gradients as the low-precision backward produced them.
      observe.reset();
      capture.reset();
      stats = nlohmann::json::object();
      sample_stats(model, policy.low == DType::fp32 ? DType::fp16 : policy.low, act_grads->amax(), stats);
      stats["act_grad_stats"] = act_grads->to_json();
    }
    scaler.unscale(*opt);
    double grad_norm = -1;
    if (c.clip > 0) grad_norm = optim::clip_grad_norm(*opt, c.clip);
    const bool applied = scaler.step(*opt);
    scaler.update();
    opt->zero_grad();
    if (profiled) {
      profiler->mark("(optimizer and loss scaling)");
      profiler->pause();
      ++profiled_steps;
    }
    std::vector<amp::PrecisionEvent> events;
    if (probe) events = pilot->finish_probe(step);
    const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    if (step - start >= topt.warmup_steps_excluded) step_ms.push_back(ms);
    losses.push_back(loss_v);
    last_acc = acc_v;
    bad_streak = finite ? 0 : bad_streak + 1;
    if (bad_streak >= 10)
      throw Failure("training diverged: the loss is non-finite for 10 consecutive steps (at step " + std::to_string(step) +
                    ", lr " + std::to_string(c.lr) + "); lower --lr" +
                    (rc.scale.mode == amp::ScaleMode::dynamic ? " or --init-scale" : "") +
                    " (the last checkpoint committed before this point is kept)");
    if (run_dir) {
      nlohmann::json line{{"step", step}, {"loss", std::isfinite(loss_v) ? nlohmann::json(loss_v) : nlohmann::json(nullptr)},
                          {"lr", opt->lr()}, {"loss_scale", used_scale}, {"skipped", !applied}};
      if (acc_v >= 0) line["accuracy"] = acc_v;
      if (grad_norm >= 0) line["grad_norm"] = grad_norm;
      if (!stats.is_null()) line.update(stats);
      if (probe) line["autopilot_probe"] = pilot->last_probe();
      line["ms"] = ms;
      metrics << line.dump() << '\n';
      for (const auto& e : events) metrics << e.to_json().dump() << '\n';
    }
    precision_events += static_cast<std::int64_t>(events.size());
    if (!c.quiet)
      for (const auto& e : events)
        progress.note("autopilot: step " + std::to_string(e.step) + " " + e.layer + " " + std::string(name(e.from)) + " -> " +
                      std::string(name(e.to)) + " (" + e.reason + ")");
    if (!c.quiet) progress.update(step + 1, {loss_v, acc_v, rc.scale.mode == amp::ScaleMode::disabled ? 0.0 : scaler.get_scale(),
                               scaler.state().skipped_steps()});
    // Periodic checkpoints (the one at `end` is the final commit below).
    if (run_dir && topt.checkpoint_every > 0 && (step + 1) % topt.checkpoint_every == 0 && step + 1 < end)
      commit(step + 1, summarize(step + 1, false));
  }
  progress.finish();

  const nlohmann::json summary = summarize(end, true);
  if (run_dir) {
    commit(end, summary);
    metrics.close();
    std::error_code ec;
    std::filesystem::remove(run_dir->live_metrics_path(), ec);  // its lines are in the checkpoint
  }
  on_failure.succeeded = true;
  return summary;
}

}  // namespace mixtrain::train
