// Progress rendering. Redraws at most 10 times a second on a terminal, every ~10% (and at least
// every 30 s) otherwise, so logs stay short. On a terminal the line never wraps: the fields that
// matter least are dropped first, then the bar shrinks, so a narrow window still gets one line.
#include "train/progress.h"

#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <vector>

namespace mixtrain::train {

Progress::Progress(std::string label, std::int64_t total_steps, std::int64_t samples_per_step, std::int64_t steps_per_epoch,
                   std::int64_t first_step, std::FILE* out, int interactive, int width)
    : label_(std::move(label)), total_(total_steps > 0 ? total_steps : 1), samples_per_step_(samples_per_step),
      steps_per_epoch_(steps_per_epoch), first_step_(first_step), out_(out),
      interactive_(interactive < 0 ? ::isatty(::fileno(out)) != 0 : interactive != 0), width_(width),
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

int Progress::terminal_width(std::FILE* out) {
  winsize ws{};
  if (::ioctl(::fileno(out), TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0) return ws.ws_col;
  if (const char* c = std::getenv("COLUMNS")) {
    const int n = std::atoi(c);
    if (n > 0 && n < 10000) return n;
  }
  return 80;
}

namespace {

std::string printf_string(const char* f, auto... v) {
  char b[128];
  std::snprintf(b, sizeof b, f, v...);
  return b;
}

}  // namespace

std::string Progress::render(std::int64_t done, const ProgressFields& f, double elapsed) const {
  const std::int64_t ran = done - first_step_;
  const double rate = elapsed > 0 && ran > 0 ? static_cast<double>(ran * samples_per_step_) / elapsed : 0;
  const double eta = ran > 0 ? elapsed / static_cast<double>(ran) * static_cast<double>(total_ - done) : NAN;
  // Fields in display order, each with a drop order: on a narrow terminal the highest go first;
  // the step count and the loss (0) stay.
  struct Field {
    std::string text;
    int drop_order;
  };
  std::vector<Field> fields{{label_, 4}};
  if (steps_per_epoch_ > 0) {
    const std::int64_t epochs = (total_ + steps_per_epoch_ - 1) / steps_per_epoch_;
    const std::int64_t epoch = std::min(epochs, (done > 0 ? done - 1 : 0) / steps_per_epoch_ + 1);
    fields.push_back({printf_string("epoch %lld/%lld", static_cast<long long>(epoch), static_cast<long long>(epochs)), 3});
  }
  fields.push_back({printf_string("step %lld/%lld", static_cast<long long>(done), static_cast<long long>(total_)), 0});
  fields.push_back({printf_string("loss %.4f", f.loss), 0});
  if (f.accuracy >= 0) fields.push_back({printf_string("acc %.2f%%", 100 * f.accuracy), 5});
  if (f.loss_scale > 0) fields.push_back({printf_string("scale %g", f.loss_scale), 7});
  if (f.skipped > 0) fields.push_back({printf_string("skipped %lld", static_cast<long long>(f.skipped)), 6});
  fields.push_back({printf_string("| %.0f samples/s", rate), 8});
  fields.push_back({"elapsed " + format_duration(elapsed), 2});
  fields.push_back({"ETA " + format_duration(eta), 1});
  auto join = [&fields] {
    std::string s;
    for (const auto& x : fields) s += (s.empty() ? "" : " ") + x.text;
    return s;
  };
  std::string text = join();
  if (!interactive_) return text;
  // A terminal: the bar and the text in width - 1 columns (the last column would wrap on some
  // terminals). From 60 columns on, a bar of at least 10 is kept and the text gets the rest; the
  // bar takes what the text leaves, up to 30 columns.
  const int width = width_ > 0 ? width_ : terminal_width(out_);
  const auto cols = static_cast<std::size_t>(std::max(width - 1, 10));
  const std::size_t budget = cols >= 60 ? cols - 13 : cols;
  for (int order = 8; order >= 1 && text.size() > budget; --order) {
    std::erase_if(fields, [order](const Field& x) { return x.drop_order == order; });
    text = join();
  }
  if (text.size() > cols) text.resize(cols);
  const std::size_t room = cols - text.size();
  if (room < 13) return text;
  const std::size_t bar = std::min<std::size_t>(30, room - 3);
  const double frac = std::clamp(static_cast<double>(done) / static_cast<double>(total_), 0.0, 1.0);
  const auto filled = static_cast<std::size_t>(frac * static_cast<double>(bar));
  // Appended piece by piece: `"[" + std::string(...)` trips GCC 12's -Wrestrict false positive.
  std::string line(1, '[');
  line.append(filled, '#').append(bar - filled, '.').append("] ").append(text);
  return line;
}

void Progress::update(std::int64_t done, const ProgressFields& f) {
  const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  const std::int64_t every = total_ >= 10 ? total_ / 10 : 1;
  const bool due = interactive_ ? elapsed - last_print_ >= 0.1
                                : (done % every == 0 || elapsed - last_print_ >= 30.0);
  if (!due && done != total_) return;
  last_print_ = elapsed;
  printed_ = true;
  const std::string s = render(done, f, elapsed);
  if (interactive_)
    std::fprintf(out_, "\r%s\x1b[K", s.c_str());
  else
    std::fprintf(out_, "%s\n", s.c_str());
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
