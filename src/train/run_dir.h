// The run directory: where a training run keeps its checkpoints, metrics and summary, and the
// protocol that commits them as one unit so that a kill -9, a full disk or a failed run never
// leaves a torn or lost checkpoint.
//
//   DIR/
//     step-000000000200/        a committed checkpoint, complete in itself:
//       checkpoint.safetensors    weights, masters, optimizer and scaler state, run metadata
//       metrics.jsonl             every metrics line up to this step
//       summary.json              the summary at this step ("complete": false before the end)
//     latest -> step-000000000200            THE commit point: a symlink switched by rename(2)
//     checkpoint.safetensors -> latest/checkpoint.safetensors   stable names for people and
//     metrics.jsonl -> latest/metrics.jsonl                     tools (eval, doctor, compare)
//     summary.json -> latest/summary.json
//     metrics.live.jsonl        the running run's metrics (kept on a kill, for the doctor)
//     failed.metrics.jsonl      the metrics of the last run here that failed (divergence, ...)
//     .lock                     flock()ed by the run writing DIR; a second writer is refused
//
// A checkpoint is written into step-N.partial/, each file fsynced, the directory renamed to
// step-N (exchanged atomically with an existing step-N), then `latest` is switched. Until that
// switch the previous checkpoint is the current one; anything newer than `latest` (a step
// directory whose switch a kill prevented), *.partial, *.deleting and *.tmp.* are leftovers that
// the next run writing DIR removes once it holds the lock. Old checkpoints beyond `keep` are
// renamed to *.deleting before removal, so a half-deleted one is never taken for a checkpoint.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>

namespace mixtrain::train {

// The checkpoint a run in `dir` would resume from: `latest`'s target when the link exists; else
// (a run directory of an older layout, or a step directory given directly) `dir` itself when it
// holds a checkpoint.safetensors; else the newest step-N directory. Returns the directory holding
// checkpoint.safetensors and metrics.jsonl; throws mixtrain::Error naming `dir` when there is none.
std::string resume_checkpoint_dir(const std::string& dir);

// Step-N directory name for step `step` ("step-000000000200").
std::string step_dir_name(std::int64_t step);

class RunDir {
 public:
  // Creates `dir` if needed, takes its lock (throws mixtrain::Error if another process holds it
  // or the directory is not writable) and removes the leftovers of interrupted runs.
  explicit RunDir(std::string dir);
  ~RunDir();
  RunDir(const RunDir&) = delete;
  RunDir& operator=(const RunDir&) = delete;

  const std::string& path() const { return dir_; }
  std::string live_metrics_path() const { return dir_ + "/metrics.live.jsonl"; }

  // Commits one checkpoint at `step` (the next step to run): `write_checkpoint(path)` writes the
  // checkpoint file, `metrics` (the whole metrics.jsonl) and `summary` are written beside it, then
  // the commit point moves. Keeps the `keep` newest committed checkpoints. On failure (a full
  // disk) the partial directory is removed and the previous checkpoint stays current.
  void commit(std::int64_t step, const std::function<void(const std::string&)>& write_checkpoint,
              const std::string& metrics, const std::string& summary, int keep);

  // Keeps the live metrics of a run that failed as failed.metrics.jsonl (best effort).
  void keep_failed_metrics() noexcept;

 private:
  void remove_leftovers();
  void prune(std::int64_t committed, int keep);

  std::string dir_;
  int lock_fd_ = -1;
};

}  // namespace mixtrain::train
