// The metrics file and checkpoint commits of a run (protocol: train/run_dir.h).
#include "train/run_recorder.h"

#include <filesystem>

#include "io/atomic_file.h"
#include "runtime/error.h"
#include "train/checkpoint.h"

namespace mixtrain::train {

RunRecorder::RunRecorder(Session& s) : s_(s) {
  if (!s_.run_dir) return;
  metrics_.open(s_.run_dir->live_metrics_path(), std::ios::trunc);
  check(metrics_.good(), "train: cannot write " + s_.run_dir->live_metrics_path());
  metrics_ << s_.carried.text << metrics::config_line(s_.config, s_.policy.describe()) << '\n' << std::flush;
}

RunRecorder::~RunRecorder() {
  if (!s_.run_dir || closed_) return;
  metrics_.close();
  s_.run_dir->keep_failed_metrics();
}

void RunRecorder::step(const StepOutcome& o) {
  if (!s_.run_dir) return;
  metrics_ << metrics::step_line(o.record) << '\n';
  for (const auto& e : o.events) metrics_ << metrics::precision_line(metrics::record_of(e)) << '\n';
}

void RunRecorder::eval(const metrics::EvalRecord& e) {
  if (!s_.run_dir) return;
  metrics_ << metrics::eval_line(e) << '\n';
}

void RunRecorder::commit(std::int64_t step, const nlohmann::json& summary) {
  if (!s_.run_dir) return;
  // precision_map: the map the run ended with (the autopilot's choice under --precision auto),
  // which `eval` applies.
  nlohmann::json run_info{{"schema_version", metrics::kSchemaVersion}, {"step", step}, {"config", metrics::to_json(s_.config)},
                          {"precision_map", s_.policy.map.to_string()}};
  if (s_.pilot) run_info["autopilot"] = s_.pilot->autopilot().state();
  metrics_.flush();
  check(metrics_.good(), "train: failed writing " + s_.run_dir->live_metrics_path());
  s_.run_dir->commit(
      step, [&](const std::string& path) {
        save_checkpoint(path, s_.task->model(), *s_.opt, s_.scaler, run_info, s_.gathered_state ? &*s_.gathered_state : nullptr);
      },
      io::read_text_file(s_.run_dir->live_metrics_path()), summary.dump(2) + "\n", s_.controls.checkpoint_keep);
}

void RunRecorder::close() {
  closed_ = true;
  if (!s_.run_dir) return;
  metrics_.close();
  std::error_code ec;
  std::filesystem::remove(s_.run_dir->live_metrics_path(), ec);  // its lines are in the checkpoint
}

}  // namespace mixtrain::train
