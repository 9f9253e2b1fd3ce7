// Setup and resume of a run: everything before the first step.
#include <algorithm>
#include <cstdio>
#include <string>

#include "io/atomic_file.h"
#include "io/input_file.h"
#include "runtime/error.h"
#include "runtime/parallel.h"
#include "tensor/ledger.h"
#include "train/checkpoint.h"
#include "train/session.h"

namespace mixtrain::train {
namespace {

void validate(const RunControls& controls) {
  if (controls.checkpoint_every < 0 || controls.checkpoint_every > kMaxCheckpointStep)
    throw Error("--checkpoint-every must be a step count >= 1 (or 0: only at the end), got " + std::to_string(controls.checkpoint_every));
  if (controls.checkpoint_keep < 1 || controls.checkpoint_keep > 1000000)
    throw Error("--checkpoint-keep must be in [1, 1000000], got " + std::to_string(controls.checkpoint_keep));
}

std::unique_ptr<optim::Optimizer> make_optimizer(const RunSpec& c, nn::Module& m, const amp::Policy& p) {
  switch (c.optimizer) {
    case OptimizerKind::sgd:
      return std::make_unique<optim::SGD>(m.parameters(), p, optim::SGDOptions{.lr = c.lr, .momentum = c.momentum, .weight_decay = c.weight_decay});
    case OptimizerKind::adamw:
      break;
  }
  return std::make_unique<optim::AdamW>(m.parameters(), p, optim::AdamWOptions{.lr = c.lr, .weight_decay = c.weight_decay});
}

// Steps of the whole run, overflow-checked: a run longer than a checkpoint can record is refused.
std::int64_t total_steps(const RunSpec& c, std::int64_t steps_per_epoch) {
  std::int64_t total = c.steps;
  if (c.steps <= 0 && __builtin_mul_overflow(c.epochs, steps_per_epoch, &total)) total = -1;
  if (total < 0 || total > kMaxCheckpointStep)
    throw Error("train: --epochs " + std::to_string(c.epochs) + " x " + std::to_string(steps_per_epoch) +
                " steps per epoch is more steps than a run may have (" + std::to_string(kMaxCheckpointStep) + ")");
  return total;
}

metrics::ConfigRecord config_record(const ResolvedRun& r) {
  const RunSpec& c = r.spec;
  return {.model = c.model, .data = c.data, .precision = c.precision, .label = r.label, .opt_level = r.policy.level,
          .batch = c.batch, .lr = c.lr, .optimizer = c.optimizer, .schedule = c.schedule, .seed = c.seed,
          .context = c.context, .precision_map = r.policy.map.to_string(), .fp8_recipe = c.fp8_recipe,
          .fp8_format = c.fp8_format, .master = c.master, .data_path = c.data_path, .data_dir = c.data_dir};
}

// The effective precision map: each layer's GEMM dtype and its weights' storage dtype.
void print_effective_precision(nn::Module& model, const amp::Policy& policy) {
  std::string line;
  for (const auto& p : model.parameters()) {
    if (!p.name.ends_with(".weight") || p.tensor->dim() < 2) continue;
    const std::string layer = p.name.substr(0, p.name.size() - 7);
    line += " " + layer + "=" + std::string(name(policy.level == amp::OptLevel::O0 ? DType::fp32 : policy.gemm_dtype(layer))) +
            "/" + std::string(name(p.tensor->dtype()));
  }
  std::fprintf(stderr, "effective precision (layer=gemm/weights):%s\n", line.c_str());
}

// Restores everything the checkpoint holds and carries its metrics before the saved step.
void resume(Session& s, const std::string& ck_dir, const std::string& ck) {
  const nlohmann::json info = load_checkpoint(ck, s.task->model(), s.opt.get(), &s.scaler);
  s.start = info.at("step").get<std::int64_t>();  // validated by load_checkpoint
  const std::string mismatch = metrics::resume_mismatch(info.value("config", nlohmann::json::object()), s.config);
  if (!mismatch.empty()) throw Error(mismatch);
  check(s.start <= s.total, "resume: checkpoint is at step " + std::to_string(s.start) + ", past --steps " + std::to_string(s.total));
  if (io::is_regular_file(ck_dir + "/metrics.jsonl"))  // else a bare checkpoint file: the metrics start here
    s.carried = metrics::carry_before(io::read_text_file(ck_dir + "/metrics.jsonl"), s.start);
}

// stats_every < 0 turns sampling off (to measure its cost). The default takes about ten samples a
// run but never more than one step in 20 (plus the last): a sample costs about half a step of the
// MLP (docs/RESULTS.md), so this bounds the overhead to a few percent.
std::int64_t sampling_interval(const RunSpec& c, std::int64_t total) {
  return c.stats_every > 0 ? c.stats_every : std::max<std::int64_t>(20, total / 10);
}

}  // namespace

std::unique_ptr<Session> open_session(const ResolvedRun& run, const RunControls& controls) {
  const RunSpec& c = run.spec;
  validate(controls);
  if (c.threads > 0) runtime::set_num_threads(c.threads);
  auto s = std::make_unique<Session>(run, controls);
  // The run directory first: a bad --out, or another run writing there, fails before any work.
  if (controls.write_files) s->run_dir.emplace(c.out_dir);
  // The checkpoint a resume starts from (found before the model is built).
  const std::string ck_dir = c.resume_dir.empty() ? "" : resume_checkpoint_dir(c.resume_dir);
  const std::string ck = ck_dir.empty() ? "" : ck_dir + "/checkpoint.safetensors";
  tensor::Ledger::reset_peaks();
  {
    tensor::LedgerScope scope(tensor::Category::weights);
    s->task = make_task(run);
  }
  nn::Module& model = s->task->model();
  s->policy = run.policy;
  if (run.autopilot) {
    s->pilot.emplace(model, s->policy, c.auto_options, c.auto_every);
    // The autopilot's map decides the policy applied below, so its state is read ahead of the
    // full load (read_checkpoint_info reads the whole file: only here, not on every resume).
    if (!ck.empty()) {
      const nlohmann::json info = read_checkpoint_info(ck);
      if (info.contains("autopilot")) s->pilot->restore(info.at("autopilot"));
    }
  }
  model.apply_policy(s->policy);
  if (!c.quiet) print_effective_precision(model, s->policy);
  s->opt = make_optimizer(c, model, s->policy);
  // Peaks count training, not the one-off fp32 initialisation that apply_policy converted.
  tensor::Ledger::reset_peaks();
  s->total = total_steps(c, s->task->steps_per_epoch());
  s->config = config_record(run);
  if (!ck.empty()) resume(*s, ck_dir, ck);
  s->end = c.stop_after > 0 ? std::min(s->total, c.stop_after) : s->total;
  s->stats_every = sampling_interval(c, s->total);
  s->schedule.kind = c.schedule;
  s->schedule.base_lr = c.lr;
  s->schedule.total_steps = s->total;
  s->schedule.warmup_steps = static_cast<std::int64_t>(c.warmup * static_cast<double>(s->total));
  return s;
}

}  // namespace mixtrain::train
