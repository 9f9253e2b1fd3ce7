// The comparison report: one self-contained HTML page (inline SVG, no scripts from the network)
// with loss curves per precision, the loss-scale timeline with skipped steps marked, per-layer
// gradient-exponent histograms with each format's representable range drawn over them, and memory
// by ledger category per precision.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "numerics/stats.h"

namespace mixtrain::train {

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
};

struct ReportOptions {
  std::string title = "mixtrain precision comparison";
  std::vector<std::string> summary_columns{};  // order of the summary table's columns
};

// Renders the page. Pure function of its inputs; the caller writes it (atomically).
std::string render_report(const std::vector<ReportRun>& runs, const ReportOptions& opt = {});

}  // namespace mixtrain::train
