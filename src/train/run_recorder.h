// What a run leaves on disk while it trains: metrics lines as they happen (the live file of
// train/run_dir.h) and checkpoint commits, each holding the checkpoint, the metrics so far and the
// summary. A run that throws keeps its metrics as failed.metrics.jsonl, for the doctor.
#pragma once

#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "train/session.h"

namespace mixtrain::train {

class RunRecorder {
 public:
  // Starts the live metrics with the resumed run's lines and this run's config line. Records
  // nothing when the session writes no files.
  explicit RunRecorder(Session& s);
  ~RunRecorder();
  RunRecorder(const RunRecorder&) = delete;
  RunRecorder& operator=(const RunRecorder&) = delete;

  void step(const StepOutcome& o);
  void eval(const metrics::EvalRecord& e);
  // Commits a checkpoint at `step` (the next step to run) with the metrics so far and `summary`.
  void commit(std::int64_t step, const nlohmann::json& summary);
  // After the final commit: the live file's lines are in the checkpoint, and a later failure of
  // the caller no longer marks the run as failed.
  void close();

 private:
  Session& s_;
  std::ofstream metrics_;
  bool closed_ = false;
};

}  // namespace mixtrain::train
