// The parts of train::run_training (trainer.cpp), each on its own: setup and resume
// (train_setup.cpp), one optimizer step (train_step.cpp), the summary with the held-out
// evaluation (train_summary.cpp). The statistics of sampled steps are stats_sampling.h's, the
// metrics file and checkpoint commits run_recorder.h's. Internal to src/train.
#pragma once

#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <vector>

#include "amp/grad_scaler.h"
#include "autograd/profiler.h"
#include "optim/lr_schedule.h"
#include "optim/optimizer.h"
#include "train/autopilot_driver.h"
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
};

// What the loop has measured so far (the summary's inputs besides the session).
struct RunTally {
  std::vector<double> step_ms, losses;
  double last_accuracy = -1;
  std::int64_t nonfinite_streak = 0;
  std::int64_t precision_events = 0;
  std::optional<autograd::OpProfiler> profiler;  // resumed for the steps it times
  std::int64_t profiled_steps = 0;
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

// The summary of the run after `steps_done` steps; `final` adds the held-out evaluation.
nlohmann::json summarize(Session& s, const RunTally& tally, std::int64_t steps_done, bool final);

}  // namespace mixtrain::train
