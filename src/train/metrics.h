// metrics.jsonl, typed: one struct per line type, the writer the trainer uses and the reader the
// doctor and `compare` use. This is the one place that knows the field names (the schema, with
// units: docs/METRICS.md). Every line is one JSON object; a line is
//   a config line     {"type": "config", "config": {...}, "policy": "..."}  (ConfigRecord)
//   a step line       {"step": N, "loss": ..., ...}, no "type"                (StepRecord)
//   a precision line  {"type": "precision", "step": N, "layer": ..., ...}    (PrecisionRecord)
//   an eval line      {"type": "eval", "step": N, "loss": ..., ...}          (EvalRecord)
// Lines of other types are skipped by the reader, so newer files stay readable.
#pragma once

#include <cstdint>
#include <istream>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "amp/autopilot.h"
#include "train/settings.h"

namespace mixtrain::train::metrics {

// The layout version of the files a run writes: the config line of metrics.jsonl, summary.json
// and the checkpoint's run metadata carry it as "schema_version". Raised when a field changes
// meaning or goes away (adding a field does not); files written before versioning have none and
// read as version 0, which every reader still accepts (docs/OUTPUTS.md).
inline constexpr int kSchemaVersion = 1;

// The run's settings as recorded: the config line's "config", which summary.json and the
// checkpoint's run metadata also carry. Read back leniently: a choice that is absent, not a string
// or not a known name is nullopt (runs of other versions stay readable).
struct ConfigRecord {
  std::optional<ModelFamily> model;
  std::optional<DataSet> data;
  std::optional<Precision> precision;
  std::string label;  // "bf16 O2", "fp16-noscale", ...
  std::optional<amp::OptLevel> opt_level;
  std::int64_t batch = 0;
  double lr = 0;      // the base learning rate
  std::optional<OptimizerKind> optimizer;
  std::optional<ScheduleKind> schedule;
  std::uint64_t seed = 0;
  std::int64_t context = 0;
  std::string precision_map;
  std::optional<amp::Fp8Recipe> fp8_recipe;
  std::optional<amp::Fp8Format> fp8_format;
  std::optional<DType> master;
  std::string loss_scale;           // "dynamic", "none" or the static scale ("" in older runs)
  std::string data_path, data_dir;  // written only when set
};

// One tensor's sampled statistics: an entry of grad_stats, weight_stats or act_grad_stats.
struct TensorStats {
  std::string param;   // parameter name; activation gradients: "module/op"
  std::string dtype;   // weights: storage dtype; activation gradients: theirs; "" for weight gradients
  std::string module;  // activation gradients: the producing module ("model" at the top); "" otherwise
  double overflow = 0, subnormal = 0, flush = 0, zeros = 0;  // fractions of all elements
  double amax = -1;    // -1: not recorded (older runs); NaN: null (non-finite)
  std::vector<std::pair<int, std::uint64_t>> hist;  // (floor(log2|x|), count), ascending
};

// One optimizer step.
struct StepRecord {
  std::int64_t step = 0;
  double loss = 0;     // NaN when the line says null (non-finite)
  double lr = 0;
  double loss_scale = 1;  // the scale this step's backward used
  bool skipped = false;   // the scaler skipped the update (inf/NaN gradients)
  std::optional<double> accuracy;   // classifiers
  std::optional<double> grad_norm;  // with --clip
  std::optional<double> ms;         // wall time; the one field that is not a function of (config, step)
  // Sampled steps only (--stats-every).
  bool sampled = false;
  std::vector<TensorStats> grads, weights;
  std::vector<TensorStats> acts;        // activation gradients, as the backward stored them
  std::string stats_dtype;              // dtype the gradients were checked against
  double grad_amax = 0;                 // NaN: null
  std::optional<double> headroom_log2;  // log2(max finite of stats_dtype / largest scaled gradient)
  // --precision auto, probe steps: {layer: {dtype, now, below}} (train/autopilot_driver.h).
  nlohmann::json autopilot_probe;       // null on other steps
};

// One autopilot decision.
struct PrecisionRecord {
  std::int64_t step = 0;
  std::string layer, from, to, reason;
};

// One held-out evaluation during or at the end of training (--eval-every N, and the final one).
struct EvalRecord {
  std::int64_t step = 0;           // optimizer steps completed when it ran
  std::string split;               // "test" (classifiers) or "val" (language models)
  double loss = 0;                 // NaN when the line says null
  std::optional<double> accuracy;  // classifiers
  std::optional<double> elapsed_s; // wall seconds since this process started training (not deterministic)
};

// ---- writing (each returns one line without its '\n') -----------------------------------------
nlohmann::json to_json(const ConfigRecord& c);
std::string config_line(const ConfigRecord& c, const std::string& policy);
std::string step_line(const StepRecord& s);
std::string precision_line(const PrecisionRecord& p);
std::string eval_line(const EvalRecord& e);
PrecisionRecord record_of(const amp::PrecisionEvent& e);

// ---- reading -----------------------------------------------------------------------------------
ConfigRecord config_from_json(const nlohmann::json& j);

struct MetricsLog {
  std::optional<ConfigRecord> config;  // the last config line (a resumed run repeats it)
  std::string policy;
  int schema_version = 0;  // of the last config line; 0: written before versioning
  std::vector<StepRecord> steps;
  std::vector<PrecisionRecord> precision_events;
  std::vector<EvalRecord> evals;
};

// Reads a whole file's lines. Throws mixtrain::Error "<what> line N ..." on a line that is not a
// JSON object (or nests deeper than io::kMaxJsonDepth) or has a malformed field.
MetricsLog read_metrics(std::istream& in, const std::string& what);

// The autopilot's rung per layer at a probe step ({} on other steps).
std::map<std::string, std::string> probe_dtypes(const StepRecord& s);

// The lines of a checkpoint's metrics before step `start` (eval lines: up to and including it, as
// they count completed steps), kept byte for byte, and the losses of their steps: what a resumed
// run starts its own metrics with. Lenient: lines that do not parse
// are dropped, as a run killed mid-write leaves them.
struct CarriedLines {
  std::string text;            // lines, each ending in '\n'
  std::vector<double> losses;  // per step, in order
};
CarriedLines carry_before(std::string_view text, std::int64_t start);

// The settings a resumed run must share with its checkpoint; "" when they agree, else the error.
std::string resume_mismatch(const nlohmann::json& saved, const ConfigRecord& now);

}  // namespace mixtrain::train::metrics
