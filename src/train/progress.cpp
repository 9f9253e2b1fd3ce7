// Progress rendering. Redraws at most 10 times a second on a terminal, every ~10% (and at least
// every 30 s) otherwise, so logs stay short.
#include "train/progress.h"

#include <unistd.h>

#include <cmath>

namespace mixtrain::train {

Progress::Progress(std::string label, std::int64_t total_steps, std::int64_t samples_per_step,
                   std::FILE* out, int interactive)
    : label_(std::move(label)), total_(total_steps > 0 ? total_steps : 1),
      samples_per_step_(samples_per_step), out_(out),
      interactive_(interactive < 0 ? ::isatty(::fileno(out)) != 0 : interactive != 0),
      start_(std::chrono::steady_clock::now()) {}

std::string Progress::format_duration(double s) {
  if (!std::isfinite(s) || s < 0) return "?";
  const auto t = static_cast<long>(s + 0.5);
  char b[32];
  if (t >= 3600)
    std::snprintf(b, sizeof b, "%ldh%02ldm", t / 3600, (t / 60) % 60);
  else if (t >= 60)
    std::snprintf(b, sizeof b, "%ldm%02lds", t / 60, t % 60);
  else
    std::snprintf(b, sizeof b, "%lds", t);
  return b;
}

std::string Progress::line(std::int64_t done, const ProgressFields& f, double elapsed) const {
  const double frac = static_cast<double>(done) / static_cast<double>(total_);
  const double rate = elapsed > 0 ? static_cast<double>(done * samples_per_step_) / elapsed : 0;
  const double eta = done > 0 ? elapsed / static_cast<double>(done) * static_cast<double>(total_ - done) : NAN;
  char b[320];
  int n = std::snprintf(b, sizeof b, "%s %lld/%lld loss %.4f", label_.c_str(), static_cast<long long>(done),
                        static_cast<long long>(total_), f.loss);
  if (f.accuracy >= 0) n += std::snprintf(b + n, sizeof b - n, " acc %.2f%%", 100 * f.accuracy);
  if (f.loss_scale > 0) n += std::snprintf(b + n, sizeof b - n, " scale %g", f.loss_scale);
  if (f.skipped > 0) n += std::snprintf(b + n, sizeof b - n, " skipped %lld", static_cast<long long>(f.skipped));
  std::snprintf(b + n, sizeof b - n, " | %.0f samples/s ETA %s", rate, format_duration(eta).c_str());
  std::string s = b;
  if (interactive_) {
    const int width = 20;
    const int filled = static_cast<int>(frac * width);
    s = "\r[" + std::string(static_cast<std::size_t>(filled), '#') +
        std::string(static_cast<std::size_t>(width - filled), '.') + "] " + s + "\x1b[K";
  }
  return s;
}

void Progress::update(std::int64_t done, const ProgressFields& f) {
  const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  const std::int64_t every = total_ >= 10 ? total_ / 10 : 1;
  const bool due = interactive_ ? elapsed - last_print_ >= 0.1
                                : (done % every == 0 || elapsed - last_print_ >= 30.0);
  if (!due && done != total_) return;
  last_print_ = elapsed;
  printed_ = true;
  std::fputs(line(done, f, elapsed).c_str(), out_);
  if (!interactive_) std::fputc('\n', out_);
  std::fflush(out_);
}

void Progress::note(const std::string& message) {
  if (interactive_ && printed_) std::fputs("\r\033[K", out_);
  std::fprintf(out_, "%s %s\n", label_.c_str(), message.c_str());
  std::fflush(out_);
}

void Progress::finish() {
  if (interactive_ && printed_) std::fputc('\n', out_);
  std::fflush(out_);
}

}  // namespace mixtrain::train
