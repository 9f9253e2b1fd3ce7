// FP8 per-tensor scaling recipes (Transformer Engine semantics).
//  - delayed: the scale used at step t comes from the amax history of steps before t:
//      amax = max(history) ("max") or history.back() ("most_recent");
//      scale = fp8_max / amax / 2^margin (kept when amax is 0 or non-finite).
//    After the step, the tensor's amax is pushed into the history (length `history_len`).
//  - current: scale from this tensor's own amax, computed just before quantising it.
// The quantised value is encode(x * scale); the GEMM multiplies by scale_inv = 1 / scale.
// Formats: `hybrid` = E4M3 for weights and activations, E5M2 for gradients; `e4m3` = E4M3 for all.
#pragma once

#include <cstdint>
#include <deque>
#include <string>
#include <vector>

#include "numerics/format.h"

namespace mixtrain::amp {

enum class Fp8Recipe { delayed, current };
enum class Fp8Format { hybrid, e4m3 };
enum class AmaxAlgo { max, most_recent };

struct Fp8Options {
  Fp8Recipe recipe = Fp8Recipe::delayed;
  Fp8Format format = Fp8Format::hybrid;
  int history_len = 16;
  int margin = 0;
  AmaxAlgo algo = AmaxAlgo::max;
};

// Which tensor of a GEMM a scaling state belongs to; decides the fp8 format.
enum class Fp8Role { weight, activation, gradient };
DType fp8_dtype(Fp8Format f, Fp8Role role);

// The scale for a given amax: fp8_max / amax / 2^margin; `fallback` when amax is 0/inf/NaN.
float scale_from_amax(float amax, DType fp8, int margin, float fallback);

// Scaling state of one tensor (e.g. "blocks.0.mlp.fc1.weight").
class Fp8ScalingState {
 public:
  Fp8ScalingState() = default;
  Fp8ScalingState(const Fp8Options& opt, Fp8Role role);
  DType dtype() const { return dtype_; }
  // The scale to quantise with now. For `current`, pass this tensor's amax.
  float scale_for(float current_amax) const;
  // Whether scale_for reads the tensor's own amax (the current recipe); a delayed recipe's scale
  // is known before the tensor is read, so its amax can come out of the quantising pass.
  bool needs_current_amax() const { return opt_.recipe == Fp8Recipe::current; }
  // Delayed recipe: records this step's amax and recomputes the scale for the next step.
  void record(float amax);
  float scale() const { return scale_; }
  const std::deque<float>& history() const { return history_; }
  void restore(float scale, std::vector<float> history);
  // Switches the fp8 format (the autopilot moving a gradient from E4M3 to E5M2), keeping the
  // amax history and recomputing the scale for the new format's max.
  void set_dtype(DType fp8);

 private:
  float history_amax() const;  // per the amax algorithm; history_ non-empty
  Fp8Options opt_;
  DType dtype_ = DType::e4m3;
  float scale_ = 1.0f;
  std::deque<float> history_;
};

}  // namespace mixtrain::amp
