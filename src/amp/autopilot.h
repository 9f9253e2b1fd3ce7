// Precision autopilot (`--precision auto`): chooses each GEMM layer's precision from the numerics
// it measures while training. The ladder, lowest first:
//
//   fp8      E4M3 for every operand (the `e4m3` fp8 format)       map marker e4m3
//   hybrid   E4M3 forward, E5M2 output gradients                   map marker e5m2
//   16-bit   bf16 (or fp16)
//   fp32
//
// Every eligible layer starts on the lowest rung the run's fp8 format allows (fp8 for `e4m3`,
// hybrid for `hybrid`) and climbs when a probe finds one of its GEMM operands (input, weight,
// output gradient) leaving the rung's format range: more than `overflow_threshold` of the values
// overflowing (saturating, for fp8) or more than its underflow threshold (`underflow_threshold`
// for gradients, `forward_underflow_threshold` for inputs and weights) flushing to zero or
// landing in the subnormal range (where fp8 keeps fewer than 3 significant bits), on `patience`
// consecutive probes. From fp8 a layer whose only failing operand is the gradient moves to
// hybrid (E5M2's wider range, still an fp8 GEMM); any other failure skips to 16-bit. A promoted
// layer keeps being probed against the rung below (with the scale the fp8 recipe would take from
// the tensor's amax); when that fits with margin (every fraction below threshold x
// `demote_margin`) for `stable_window` consecutive probes it steps back down. Each promotion
// doubles the window that layer needs before its next demotion, so a layer whose numerics sit
// near a threshold settles instead of oscillating.
//
// This class is the rule only: probes in, decisions and events out. Layers measure (nn::Linear's
// probe), the trainer feeds the probes and applies the decisions (train/autopilot_driver).
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "amp/precision_map.h"
#include "numerics/format.h"
#include "numerics/stats.h"

namespace mixtrain::amp {

enum class Rung : int { fp8 = 0, hybrid = 1, half = 2, fp32 = 3 };

// The GEMM operands of a layer, in the order probes report them.
enum class Operand : int { input = 0, weight = 1, grad = 2 };
inline constexpr int kOperands = 3;
std::string_view to_string(Operand o);

// What a format does to one operand on one probe (fractions of all its values).
struct OperandFit {
  double overflow = 0;   // overflow (or saturate) after scaling
  double underflow = 0;  // flush to zero, or become subnormal
  bool measured = false;
  static OperandFit from(const numerics::FormatStats& s);
};

// One layer's probe: each operand measured in the format of the rung it runs on now, and in the
// format of the rung below (absent on the lowest rung, and on probes that only look for
// promotions: a missing rung-below measurement neither extends nor breaks a demotion streak).
struct LayerProbe {
  std::array<OperandFit, kOperands> now;
  std::array<OperandFit, kOperands> below;
};

struct AutopilotOptions {
  double overflow_threshold = 1e-3;
  // Underflow thresholds differ by role. A flushed forward value is below amax * 2^-15 (E4M3)
  // and its share of any output is bounded by that: GELU's long negative tail puts a few percent
  // of a GPT MLP's inputs there harmlessly. A gradient that underflows is learning signal lost
  // every step: in GPT's attention the bulk of the Q/K/V gradient sits 2^15 below its outliers
  // and E4M3 flushes most of it (docs/RESULTS.md measures what that costs).
  double underflow_threshold = 1e-2;          // output gradients
  double forward_underflow_threshold = 0.1;   // inputs and weights
  int patience = 2;           // consecutive failing probes before a promotion
  int stable_window = 4;      // consecutive fitting probes (first promotion) before a demotion
  double demote_margin = 0.5; // the rung below must fit with thresholds scaled by this
  bool allow_fp32 = true;     // the ladder's top rung is fp32 (else the 16-bit dtype)
};

struct PrecisionEvent {
  std::int64_t step = 0;
  std::string layer;
  DType from, to;
  std::string reason;  // "grad underflow 3.20% > 1.00% on 2 probes"
  nlohmann::json to_json() const;
};

class Autopilot {
 public:
  // `layers`: the eligible layers' names; `half`: the 16-bit dtype (bf16 or fp16); `lowest`:
  // the rung every layer starts on and never goes below (fp8 or hybrid).
  Autopilot(AutopilotOptions options, DType half, std::vector<std::string> layers, Rung lowest = Rung::hybrid);

  // Feeds one probe per layer (layers without a probe keep their streaks) and returns the
  // changes decided at this step. Unknown layer names throw.
  std::vector<PrecisionEvent> observe(std::int64_t step, const std::map<std::string, LayerProbe>& probes);

  Rung rung(const std::string& layer) const;
  DType dtype(Rung r) const;
  DType dtype(const std::string& layer) const { return dtype(rung(layer)); }
  // The current choice as a precision map ("fc1=e4m3,fc2=bf16"), reusable as --precision-map.
  PrecisionMap map() const;
  const std::vector<std::string>& layers() const { return order_; }
  const AutopilotOptions& options() const { return opt_; }

  // Streaks and rungs, for checkpoints (a resumed run decides as the uninterrupted one would).
  nlohmann::json state() const;
  void restore(const nlohmann::json& j);

 private:
  struct Failure {
    std::string why;
    bool gradient_only;  // the output gradient is the only operand that fails
  };
  struct Layer {
    Rung rung = Rung::fp8;
    int bad = 0;        // consecutive probes failing on the current rung
    int fit_below = 0;  // consecutive probes fitting the rung below with margin
    int promotions = 0;
  };
  // The worst operand of a probe against thresholds scaled by `k`: empty when all fit.
  std::optional<Failure> failure(const std::array<OperandFit, kOperands>& fits, double k) const;
  Rung top() const { return opt_.allow_fp32 ? Rung::fp32 : Rung::half; }

  AutopilotOptions opt_;
  DType half_;
  Rung lowest_;
  std::vector<std::string> order_;
  std::map<std::string, Layer> layers_;
};

}  // namespace mixtrain::amp
