// The training loop behind `mixtrain train`, `compare` and `bench`: builds the task, applies the
// precision policy, runs the steps (autocast forward, scaled backward, unscale, clip, step,
// update), commits checkpoints with their metrics and summary into the run directory (layout and
// commit protocol: train/run_dir.h; DIR/checkpoint.safetensors, DIR/metrics.jsonl and
// DIR/summary.json name the newest), and resumes from a checkpoint so that the resumed run's
// metrics equal an uninterrupted run's. Its parts: train/session.h.
#pragma once

#include <nlohmann/json.hpp>

#include "train/config.h"

namespace mixtrain::train {

// How a caller drives the loop, beside the run itself (RunSpec): `train` writes files and
// evaluates, `bench --model` does neither and may profile.
struct RunControls {
  bool write_files = true;   // metrics, summary, checkpoint into cfg.out_dir (train/run_dir.h)
  bool evaluate = true;      // held-out evaluation at the end
  // Also evaluate every N completed steps (0: only at the end), each an "eval" line of
  // metrics.jsonl; needs `evaluate`.
  std::int64_t eval_every = 0;
  std::int64_t warmup_steps_excluded = 2;  // from the ms/step median
  // Per-op wall time (autograd/profiler.h) of the timed steps that sample no statistics, as
  // summary["profile"]: ms per step for each op, forward and backward, and the optimizer.
  bool profile = false;
  // Checkpoints (train/run_dir.h): every N steps besides the one at the end (0: only at the end),
  // keeping the newest K in the run directory.
  std::int64_t checkpoint_every = 0;
  int checkpoint_keep = 2;
};

// Runs the whole training; returns the summary (also written to out_dir/summary.json). Throws
// mixtrain::Error on bad input and mixtrain::Failure when the run fails on good input (the loss
// stays non-finite, a write fails); either way the last committed checkpoint stays current.
nlohmann::json run_training(const ResolvedRun& run, const RunControls& controls = {});

// Peak resident set size of this process in bytes.
std::int64_t peak_rss_bytes();

}  // namespace mixtrain::train
