// Setup and resume of a run: everything before the first step.
#include <algorithm>
#include <cstdio>
#include <string>

#include "dist/communicator.h"
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

// The loss scaling the run applies, as the config records it (the doctor's advice depends on it).
std::string loss_scale_name(const amp::LossScaleOptions& s) {
  switch (s.mode) {
    case amp::ScaleMode::dynamic: return "dynamic";
    case amp::ScaleMode::disabled: return "none";
    case amp::ScaleMode::constant: break;
  }
  char b[32];
  std::snprintf(b, sizeof b, "%g", s.init_scale);
  return b;
}

metrics::ConfigRecord config_record(const ResolvedRun& r) {
  const RunSpec& c = r.spec;
  return {.model = c.model, .data = c.data, .precision = c.precision, .label = r.label, .opt_level = r.policy.level,
          .batch = c.batch, .lr = c.lr, .optimizer = c.optimizer, .schedule = c.schedule, .seed = c.seed,
          .context = c.context, .precision_map = r.policy.map.to_string(), .fp8_recipe = c.fp8_recipe,
          .fp8_format = c.fp8_format, .master = c.master, .loss_scale = loss_scale_name(r.scale),
          .data_path = c.data_path, .data_dir = c.data_dir};
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

// The settings every rank must share, as one string for DataParallel::check_same.
std::string settings_digest(const ResolvedRun& run, const RunControls& controls) {
  const RunSpec& c = run.spec;
  nlohmann::json j = metrics::to_json(config_record(run));
  j["policy"] = run.policy.describe();
  for (auto [k, v] : {std::pair<const char*, std::int64_t>{"epochs", c.epochs}, {"steps", c.steps}, {"accumulate", c.accumulate},
                      {"growth_interval", c.growth_interval}, {"stop_after", c.stop_after}, {"stats_every", c.stats_every},
                      {"eval_batches", c.eval_batches}, {"auto_every", c.auto_every}, {"shard", c.shard_optimizer ? 1 : 0},
                      {"allreduce_fast", c.allreduce_fast ? 1 : 0}, {"comm_bf16", c.comm_dtype == DType::bf16 ? 1 : 0},
                      {"checkpoint_every", controls.checkpoint_every}, {"checkpoint_keep", controls.checkpoint_keep},
                      {"eval_every", controls.eval_every}})
    j[k] = v;
  for (auto [k, v] : {std::pair<const char*, double>{"clip", c.clip}, {"warmup", c.warmup}, {"weight_decay", c.weight_decay},
                      {"momentum", c.momentum}, {"init_scale", c.init_scale}})
    j[k] = v;
  j["out"] = c.out_dir;
  j["resume"] = c.resume_dir;
  return j.dump();
}

// Under mpirun, before any data is read: the ranks agree on their settings, and the run is one
// this version trains data-parallel. Every rank finds the same answer, so each throws the same
// dist::CollectiveError (rank 0 prints it) instead of one rank aborting the others.
void check_launch(const ResolvedRun& run, const RunControls& controls, DataParallel& dp) {
  const RunSpec& c = run.spec;
  dp.check_same(settings_digest(run, controls));
  const std::int64_t n = dp.size();
  if (c.batch % (n * c.accumulate) != 0)
    throw dist::CollectiveError("--batch " + std::to_string(c.batch) + " does not split into " + std::to_string(n) + " ranks x " +
                                std::to_string(c.accumulate) + " micro-batch(es) (--accumulate) of equal size; use a multiple of " +
                                std::to_string(n * c.accumulate));
  if (c.allreduce_fast && c.comm_dtype != DType::fp32)
    throw dist::CollectiveError("--allreduce fast sums fp32 gradients with MPI's own reduction; it does not combine with --comm-dtype bf16");
  if (run.autopilot)
    throw dist::CollectiveError("--precision auto is not supported under mpirun yet (each rank's probe would see only its own micro-batch); train it in one process");
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
  if (c.threads > 0) runtime::set_num_threads(c.threads);  // per rank under mpirun
  auto s = std::make_unique<Session>(run, controls);
  dist::Communicator& world = dist::world();
  if (world.size() > 1) {
    s->dp.emplace(world, std::vector<nn::Parameter>{});  // the parameters come with the model, below
    check_launch(run, controls, *s->dp);
  }
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
  if (s->dp) {
    // Buffers change in the forward (batch-norm statistics, dropout's counter): each rank would
    // update them from its own micro-batch, and the ranks' models would drift apart.
    if (!model.buffers().empty())
      throw dist::CollectiveError("the " + std::string(to_string(c.model)) + " model keeps buffers (batch-norm statistics or dropout) that " +
                                  "each rank would update from its own micro-batch; under mpirun train mlp, cnn or gpt for now");
    s->dp.emplace(world, model.parameters(), CommOptions{.fast = c.allreduce_fast, .dtype = c.comm_dtype});
    // ZeRO-1: this rank's optimizer keeps masters and state for its chunk only (before the
    // checkpoint load, which then takes just that slice, and before the peaks are reset).
    if (c.shard_optimizer) s->opt->shard(s->dp->chunk_lo(world.rank()), s->dp->chunk_hi(world.rank()));
  }
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
