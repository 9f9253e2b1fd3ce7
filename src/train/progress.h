// Training progress output: a single redrawn bar on a terminal (loss, accuracy, loss scale,
// samples/s, ETA), or plain periodic lines when stderr is not a terminal (logs, CI).
#pragma once

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>

namespace mixtrain::train {

struct ProgressFields {
  double loss = 0;
  double accuracy = -1;   // < 0: not shown
  double loss_scale = 0;  // 0: not shown
  std::int64_t skipped = 0;
};

class Progress {
 public:
  // total_steps > 0. `label` prefixes every line ("bf16 O2"). Output goes to `out` (stderr by
  // default); `interactive` defaults to isatty(out).
  Progress(std::string label, std::int64_t total_steps, std::int64_t samples_per_step,
           std::FILE* out = stderr, int interactive = -1);
  // Called after each step (1-based count of finished steps).
  void update(std::int64_t done, const ProgressFields& f);
  // A message on its own line (an autopilot decision): on a terminal it replaces the bar, which
  // the next update redraws below it.
  void note(const std::string& message);
  // Final newline / summary line.
  void finish();
  // "3m05s" style.
  static std::string format_duration(double seconds);

 private:
  std::string line(std::int64_t done, const ProgressFields& f, double elapsed) const;
  std::string label_;
  std::int64_t total_, samples_per_step_;
  std::FILE* out_;
  bool interactive_;
  std::chrono::steady_clock::time_point start_;
  double last_print_ = -1e9;
  bool printed_ = false;
};

}  // namespace mixtrain::train
