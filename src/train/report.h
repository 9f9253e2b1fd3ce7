// The comparison report: one self-contained HTML page (inline SVG, no scripts from the network)
// with loss curves per precision, the loss-scale timeline with skipped steps marked, per-layer
// gradient-exponent histograms with each format's representable range drawn over them, and memory
// by ledger category per precision; the sampled numerics of every tensor at the last sample
// (amax and the fractions that overflow, turn subnormal or flush in the dtype it runs in); and,
// for --precision auto, each layer's precision over the run.
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
  std::vector<std::pair<std::int64_t, double>> eval_loss{};   // (step, loss), may be empty
  std::vector<std::pair<std::int64_t, double>> loss_scale{};  // (step, scale used)
  std::vector<std::int64_t> skipped_steps{};
  // Per layer: histogram of floor(log2|g|) of its weight gradient, bins as numerics::FormatStats.
  std::map<std::string, std::array<std::uint64_t, numerics::kHistBins>> grad_exponents{};
  std::map<std::string, std::int64_t> peak_bytes{};  // ledger category -> peak bytes
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
