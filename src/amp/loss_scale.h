// The loss-scale state machine behind GradScaler, free of tensors so each rule is testable step by
// step. Semantics follow torch.cuda.amp.GradScaler:
//  - dynamic: after a step whose gradients had inf/NaN the scale is multiplied by backoff_factor
//    (0.5) and the step is skipped; after growth_interval consecutive clean steps it is multiplied
//    by growth_factor (2). Optional hysteresis: back off only after `hysteresis` overflows (the
//    count resets on growth), as in Megatron/DeepSpeed. Scale kept within [min_scale, max_scale].
//  - static: the scale never changes; overflowing steps are still skipped.
//  - disabled: scale 1, nothing skipped unless gradients are non-finite (then skipped: a NaN
//    update is never applied).
#pragma once

#include <cstdint>
#include <vector>

namespace mixtrain::amp {

enum class ScaleMode { dynamic, constant, disabled };

struct LossScaleOptions {
  ScaleMode mode = ScaleMode::dynamic;
  double init_scale = 65536.0;  // 2^16
  double growth_factor = 2.0;
  double backoff_factor = 0.5;
  std::int64_t growth_interval = 2000;
  std::int64_t hysteresis = 1;  // overflows tolerated before backing off (1 = back off at once)
  double min_scale = 1.0;
  double max_scale = 16777216.0 * 16777216.0;  // 2^48
};

struct LossScaleEvent {
  std::int64_t step;
  double scale;  // scale used for this step
  bool skipped;
};

class LossScale {
 public:
  explicit LossScale(LossScaleOptions opt = {});
  double scale() const { return scale_; }
  const LossScaleOptions& options() const { return opt_; }
  // Records the outcome of one optimizer step (found_inf = some gradient was inf/NaN) and updates
  // the scale for the next step. Returns true when the step must be skipped.
  bool update(bool found_inf);

  std::int64_t steps() const { return steps_; }
  std::int64_t skipped_steps() const { return skipped_; }
  std::int64_t growth_tracker() const { return growth_tracker_; }
  std::int64_t hysteresis_left() const { return hysteresis_left_; }
  const std::vector<LossScaleEvent>& history() const { return history_; }

  // Restores the evolving state (state_dict / load_state_dict of GradScaler).
  void restore(double scale, std::int64_t growth_tracker, std::int64_t hysteresis_left,
               std::int64_t steps, std::int64_t skipped);

 private:
  LossScaleOptions opt_;
  double scale_;
  std::int64_t growth_tracker_ = 0;
  std::int64_t hysteresis_left_;
  std::int64_t steps_ = 0;
  std::int64_t skipped_ = 0;
  std::vector<LossScaleEvent> history_;
};

}  // namespace mixtrain::amp
