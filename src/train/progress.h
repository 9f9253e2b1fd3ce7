// Training progress output: a single redrawn bar on a terminal (epoch, step, loss, accuracy, loss
// scale, samples/s, elapsed time and ETA, cut to the terminal's width), or plain periodic lines
// when stderr is not a terminal (logs, CI), which carry the same fields and no bar.
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
  // total_steps > 0. `label` prefixes every line ("bf16 O2 mlp"). steps_per_epoch > 0 shows the
  // epoch; first_step is where a resumed run starts (speed and ETA count this process's steps).
  // Output goes to `out` (stderr by default); `interactive` defaults to isatty(out); `width`
  // (columns) defaults to the terminal's (TIOCGWINSZ, else $COLUMNS, else 80).
  Progress(std::string label, std::int64_t total_steps, std::int64_t samples_per_step, std::int64_t steps_per_epoch = 0,
           std::int64_t first_step = 0, std::FILE* out = stderr, int interactive = -1, int width = -1);
  // Called after each step (1-based count of finished steps).
  void update(std::int64_t done, const ProgressFields& f);
  // A message on its own line (an autopilot decision, an evaluation): on a terminal it replaces
  // the bar, which the next update redraws below it.
  void note(const std::string& message);
  // Final newline.
  void finish();
  // "3m05s" style.
  static std::string format_duration(double seconds);
  // Columns of the terminal behind `out`: TIOCGWINSZ, else $COLUMNS, else 80.
  static int terminal_width(std::FILE* out);
  // One rendering, for tests: what update() prints after `done` steps and `elapsed` seconds
  // (without the leading carriage return and trailing erase of a terminal).
  std::string render(std::int64_t done, const ProgressFields& f, double elapsed) const;

 private:
  std::string label_;
  std::int64_t total_, samples_per_step_, steps_per_epoch_, first_step_;
  std::FILE* out_;
  bool interactive_;
  int width_;  // < 0: ask the terminal at each redraw (it may be resized)
  std::chrono::steady_clock::time_point start_;
  double last_print_ = -1e9;
  bool printed_ = false;
};

}  // namespace mixtrain::train
