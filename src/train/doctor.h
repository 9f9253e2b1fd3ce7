// The numerics doctor behind `mixtrain doctor RUN_DIR`: parses a run directory (metrics.jsonl with
// its sampled statistics, summary.json) into plain structs, and applies one rule per known
// mixed-precision failure mode, each a pure function returning findings tied to the measured
// numbers and the layers concerned, with a recommendation. No I/O outside load_run.
#pragma once

#include <cstdint>
#include <istream>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "train/metrics.h"

namespace mixtrain::train::doctor {

// The metrics lines the rules read (typed and parsed by train/metrics.h).
using TensorStats = metrics::TensorStats;
using Point = metrics::StepRecord;

struct Run {
  metrics::ConfigRecord config;                       // the metrics' config line
  nlohmann::json summary = nlohmann::json::object();  // summary.json ({} if the run did not finish)
  std::vector<Point> points;
  bool finished = true;  // false when the metrics are a failed, live or killed run's
};

// Parses metrics lines; throws mixtrain::Error naming `what` and the line on malformed input.
Run parse_metrics(std::istream& in, const std::string& what);
// Reads DIR/metrics.jsonl (or DIR/metrics.jsonl.tmp when it is newer: a run that diverged) and
// DIR/summary.json. Throws mixtrain::Error (one line) when the directory or metrics are missing or
// corrupt, or when no step was recorded.
Run load_run(const std::string& dir);

// How much a finding matters. Only problems make `mixtrain doctor` exit 1, so a healthy run
// passes a user's CI whatever the doctor notes about it.
//   problem  the run failed or trained badly: NaN/inf or runaway loss, a collapsed loss scale,
//            lost O3 updates, fp16 gradients underflowing with no loss scaling at all
//   warning  it trained, but the numerics waste work or accuracy: many skipped steps, fp16
//            underflow under a loss scale, gradients past the format's range with no step skipped
//   note     worth knowing, nothing to fix: memory that mixed precision did not reduce
enum class Severity { problem, warning, note };
std::string_view to_string(Severity s);

struct Finding {
  Severity severity = Severity::problem;
  std::string rule;      // nonfinite_loss, loss_diverged, scale_collapse, skipped_steps, fp16_flush, headroom, lost_updates, memory
  std::string title;     // one line
  std::string evidence;  // the measured numbers
  std::vector<std::string> layers;  // parameters (or ledger categories) concerned
  std::string recommendation;
  std::string precision_map;        // a --precision-map string to paste, when the fix is one
};

// The thresholds of the rules, named so tests can pin them.
struct Thresholds {
  // scale_collapse: final scale below the first step's by this factor (2^8 = eight back-offs net),
  // or at the scaler's floor of 1.
  double collapse_factor = 256.0;
  // skipped_steps: more than this fraction of steps skipped for inf/NaN gradients.
  double skipped_fraction = 0.10;
  // fp16_flush: a tensor (weight or activation gradient) whose mean underflow fraction (flushed
  // + subnormal in fp16) over the samples reaches this.
  double underflow_fraction = 0.01;
  // ... and whose own amax is below 2^(span - 14), i.e. whose underflowing values (< 2^-14) are
  // within 2^span of its largest: further below they are 2^5 under fp16's resolution (2^-11) of
  // that largest value, and losing them is the format's range, not something to fix.
  int relevant_span_log2 = 16;
  // lost_updates (O3 without stochastic rounding): relative loss improvement between the first
  // and the last fifth of the run below this while lr > 0 ...
  double plateau_improvement = 0.01;
  // ... or (AdamW, whose steps are about lr per element) at least this fraction of a weight's
  // elements so large that lr is below half an ulp, so every update rounds away.
  double stalled_fraction = 0.5;
  // memory: the peak saved less than this versus a generous fp32 estimate of the same run.
  double min_memory_saving = 0.10;
  // loss_diverged: the mean finite loss of the last tenth of the run (at least 5 steps) exceeds
  // the lowest loss reached before it by this factor.
  double divergence_factor = 3.0;
};

std::vector<Finding> check_nonfinite_loss(const Run& r, const Thresholds& t = {});
std::vector<Finding> check_scale_collapse(const Run& r, const Thresholds& t = {});
// A finite loss that ran away (no NaN, so check_nonfinite_loss is silent).
std::vector<Finding> check_divergence(const Run& r, const Thresholds& t = {});
std::vector<Finding> check_skipped_steps(const Run& r, const Thresholds& t = {});
std::vector<Finding> check_fp16_flush(const Run& r, const Thresholds& t = {});
// A sampled gradient beyond the checked format's range (negative headroom) while no step was
// skipped: nothing overflowed only because the weight gradients are held in fp32.
std::vector<Finding> check_headroom(const Run& r, const Thresholds& t = {});
std::vector<Finding> check_lost_updates(const Run& r, const Thresholds& t = {});
std::vector<Finding> check_memory(const Run& r, const Thresholds& t = {});

// All rules in the order above, then ordered by severity (problems first; stable within one).
std::vector<Finding> diagnose(const Run& r, const Thresholds& t = {});

// Findings per severity, and the verdict: true when any is a problem (exit status 1).
struct Tally {
  int problems = 0, warnings = 0, notes = 0;
};
Tally tally(const std::vector<Finding>& findings);

// Module of a parameter name ("blocks.0.fc1.weight" -> "blocks.0.fc1").
std::string module_of(const std::string& param);

nlohmann::json to_json(const Finding& f);
// The whole verdict as `mixtrain doctor --json` prints it: {"run", "finished", "steps", "problems",
// "warnings", "notes", "findings": [to_json(f), ...]}. One place, so every front end agrees.
nlohmann::json verdict_json(const std::string& run_dir, const Run& r, const std::vector<Finding>& findings);

}  // namespace mixtrain::train::doctor
