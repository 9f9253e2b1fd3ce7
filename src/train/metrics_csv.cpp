// The CSV form of metrics.jsonl. Rows keep the file's order (steps then the evaluation after
// them), so a plot by `step` per `kind` needs no sorting.
#include "train/metrics_csv.h"

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <optional>
#include <vector>

namespace mixtrain::train::metrics {
namespace {

// Round-trip precision; non-finite values as pandas and spreadsheets read them.
std::string cell(double v) {
  if (std::isnan(v)) return "nan";
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  char b[32];
  std::snprintf(b, sizeof b, "%.17g", v);
  return b;
}
std::string cell(const std::optional<double>& v) { return v ? cell(*v) : ""; }

constexpr const char* kHeader = "kind,step,loss,accuracy,lr,loss_scale,skipped,grad_norm,grad_amax,headroom_log2,ms,split,elapsed_s\n";

}  // namespace

std::string to_csv(const MetricsLog& log) {
  std::string out = kHeader;
  // Eval lines follow the step they count (an eval after N completed steps comes after step N-1).
  std::size_t next_eval = 0;
  auto evals_through = [&](std::int64_t completed) {
    for (; next_eval < log.evals.size() && log.evals[next_eval].step <= completed; ++next_eval) {
      const EvalRecord& e = log.evals[next_eval];
      out += "eval," + std::to_string(e.step) + "," + cell(e.loss) + "," + cell(e.accuracy) + ",,,,,,,," + e.split + "," +
             cell(e.elapsed_s) + "\n";
    }
  };
  for (const StepRecord& s : log.steps) {
    evals_through(s.step);
    out += "train," + std::to_string(s.step) + "," + cell(s.loss) + "," + cell(s.accuracy) + "," + cell(s.lr) + "," +
           cell(s.loss_scale) + "," + (s.skipped ? "1" : "0") + "," + cell(s.grad_norm) + "," +
           (s.sampled ? cell(s.grad_amax) : "") + "," + cell(s.headroom_log2) + "," + cell(s.ms) + ",,\n";
  }
  evals_through(INT64_MAX);
  return out;
}

}  // namespace mixtrain::train::metrics
