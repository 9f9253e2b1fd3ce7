// The comparison report: one self-contained HTML page (inline SVG and one inline script for the
// optional hover readout; nothing from the network) with, per precision, the training and
// evaluation loss, the loss difference to the first run (curves that overlap stay readable: each
// run also has its own line style), accuracy, learning rate and the loss scale of runs that
// scaled (skipped steps marked), each by step or, with a switch that needs no script, by wall-clock
// time; per-layer gradient-exponent histograms with each format's representable range drawn over
// them; memory by ledger category per precision; the sampled numerics of every tensor at the last
// sample (amax and the fractions that overflow, turn subnormal or flush in the dtype it runs in);
// and, for --precision auto, each layer's precision over the run.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "numerics/stats.h"

namespace mixtrain::train {

// One autopilot decision (a "precision" line of metrics.jsonl).
struct PrecisionChange {
  std::int64_t step = 0;
  std::string layer, from, to;
};

// A tensor's sampled numerics (one entry of grad_stats / weight_stats / act_grad_stats).
struct NumericsRow {
  std::string kind;    // "weight", "weight grad", "activation grad"
  std::string tensor;  // parameter name, or module/op for activation gradients
  std::string dtype;   // the dtype the fractions are measured against
  double amax = 0, overflow = 0, subnormal = 0, flush = 0;
};

struct ReportRun {
  std::string name;  // "fp32", "bf16", "fp16-noscale", ...
  std::vector<std::pair<std::int64_t, double>> train_loss{};  // (step, loss)
  // Held-out evaluations (metrics' eval lines): (completed steps, value); may be empty.
  std::vector<std::pair<std::int64_t, double>> eval_loss{};
  std::vector<std::pair<std::int64_t, double>> eval_accuracy{};
  std::vector<std::pair<std::int64_t, double>> train_accuracy{};  // (step, batch accuracy), classifiers
  std::vector<std::pair<std::int64_t, double>> lr{};              // (step, learning rate)
  // (step, wall-clock seconds of training when the step ended: the steps' "ms" summed); empty
  // when the metrics have no times, and then the page offers no wall-clock axis for the run.
  std::vector<std::pair<std::int64_t, double>> seconds{};
  std::vector<std::pair<std::int64_t, double>> loss_scale{};  // (step, scale used)
  bool scaled = false;  // a loss scaler ran (also assumed when a scale other than 1 was used)
  std::vector<std::int64_t> skipped_steps{};
  // Per layer: histogram of floor(log2|g|) of its weight gradient, bins as numerics::FormatStats.
  std::map<std::string, std::array<std::uint64_t, numerics::kHistBins>> grad_exponents{};
  std::map<std::string, std::int64_t> peak_bytes{};  // ledger category -> that category's peak bytes
  std::int64_t peak_total = 0;  // the peak of the categories' sum (what the summary table shows); 0: unknown
  std::map<std::string, std::string> summary{};      // shown as a table row (already formatted)
  std::int64_t sampled_step = -1;                    // the step `numerics` was sampled at
  std::vector<NumericsRow> numerics{};
  // --precision auto: each layer's dtype at the first probe, the decisions, and the run length.
  std::map<std::string, std::string> initial_precision{};
  std::vector<PrecisionChange> precision_events{};
  std::int64_t steps = 0;
};

struct ReportOptions {
  std::string title = "mixtrain precision comparison";
  std::vector<std::string> summary_columns{};  // order of the summary table's columns
};

// Renders the page. Pure function of its inputs; the caller writes it (atomically).
std::string render_report(const std::vector<ReportRun>& runs, const ReportOptions& opt = {});

}  // namespace mixtrain::train
