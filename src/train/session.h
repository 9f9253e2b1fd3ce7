// The parts of train::run_training (trainer.cpp), each on its own: setup and resume
// (train_setup.cpp), one optimizer step (train_step.cpp), the summary with the held-out
// evaluation (train_summary.cpp). The statistics of sampled steps are stats_sampling.h's, the
// metrics file and checkpoint commits run_recorder.h's. Internal to src/train.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <vector>

#include "amp/grad_scaler.h"
#include "autograd/profiler.h"
#include "backend/types.h"
#include "optim/lr_schedule.h"
#include "optim/optimizer.h"
#include "train/autopilot_driver.h"
#include "train/data_parallel.h"
#include "train/metrics.h"
#include "train/run_dir.h"
#include "train/task.h"
#include "train/trainer.h"

namespace mixtrain::train {

// Everything a run holds while it trains. Built in place (the autopilot keeps a reference to
// `policy`), hence handed around by unique_ptr.
struct Session {
  Session(const ResolvedRun& r, const RunControls& c) : run(r), controls(c), scaler(r.scale) {}
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  const ResolvedRun& run;
  const RunControls& controls;
  std::optional<RunDir> run_dir;       // absent when the caller writes no files
  std::unique_ptr<Task> task;
  amp::Policy policy;                  // under --precision auto the autopilot changes its map
  std::optional<AutopilotDriver> pilot;
  std::unique_ptr<optim::Optimizer> opt;
  amp::GradScaler scaler;
  metrics::ConfigRecord config;        // the settings as metrics, summary and checkpoint record them
  optim::LrSchedule schedule;
  std::int64_t total = 0;              // steps of the whole run
  std::int64_t start = 0;              // the first step to run (a resume's checkpoint step)
  std::int64_t end = 0;                // one past the last step this process runs (--stop-after)
  std::int64_t stats_every = 0;
  metrics::CarriedLines carried;       // a resume's metrics before `start`
  // Under mpirun with more than one rank: this rank's part of the data-parallel step.
  std::optional<DataParallel> dp;
  // --shard-optimizer: the whole optimizer state gathered on rank 0 for the next commit.
  std::optional<std::vector<std::pair<std::string, Tensor>>> gathered_state;
};

// What the loop has measured so far (the summary's inputs besides the session).
struct RunTally {
  std::vector<double> step_ms, losses;
  double last_accuracy = -1;
  std::int64_t nonfinite_streak = 0;
  std::int64_t precision_events = 0;
  std::optional<autograd::OpProfiler> profiler;  // resumed for the steps it times
  std::int64_t profiled_steps = 0;
  std::chrono::steady_clock::time_point started = std::chrono::steady_clock::now();
  // The GEMM work of the held-out evaluations, kept out of the summary's training GEMM work.
  backend::GemmFlops eval_flops;
  std::map<std::string, double> eval_flops_by_kernel;
  double elapsed_s() const { return std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count(); }
};

// Setup and resume: the run directory, the task and model, the policy (and autopilot), optimizer,
// scaler and schedule, then the checkpoint's state when resuming. Throws mixtrain::Error on bad
// input before any training work.
std::unique_ptr<Session> open_session(const ResolvedRun& run, const RunControls& controls);

// One optimizer step: forward and backward of each micro-batch, the sampled statistics, unscale,
// clip, update, the autopilot's probe. Returns the step's metrics record and the autopilot's
// decisions; the tally gets the step's loss, time and profile.
struct StepOutcome {
  metrics::StepRecord record;
  std::vector<amp::PrecisionEvent> events;
  bool finite = true;  // every micro-batch's loss was finite
};
StepOutcome run_step(Session& s, RunTally& tally, std::int64_t step);

// The held-out evaluation under the policy the run has now (--eval-every and the one at the end);
// its GEMM work goes to the tally's eval counters, not the training's.
EvalResult evaluate_held_out(Session& s, RunTally& tally);
// The eval line of metrics.jsonl for `ev` after `steps_done` steps.
metrics::EvalRecord eval_record(const Session& s, const RunTally& tally, std::int64_t steps_done, const EvalResult& ev);

// The summary of the run after `steps_done` steps, with the held-out evaluation `eval` when given.
nlohmann::json summarize(Session& s, const RunTally& tally, std::int64_t steps_done, const EvalResult* eval);

}  // namespace mixtrain::train
