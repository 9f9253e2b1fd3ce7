// LossScale transitions; see loss_scale.h for the rules.
#include "amp/loss_scale.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "runtime/error.h"

namespace mixtrain::amp {

LossScale::LossScale(LossScaleOptions opt)
    : opt_(opt), scale_(opt.mode == ScaleMode::disabled ? 1.0 : opt.init_scale),
      hysteresis_left_(opt.hysteresis) {
  check(opt.init_scale > 0, "loss scale: init_scale must be positive");
  check(opt.growth_factor > 1.0, "loss scale: growth_factor must be > 1");
  check(opt.backoff_factor > 0.0 && opt.backoff_factor < 1.0, "loss scale: backoff_factor must be in (0, 1)");
  check(opt.growth_interval > 0, "loss scale: growth_interval must be positive");
  check(opt.hysteresis >= 1, "loss scale: hysteresis must be >= 1");
  check(opt.min_scale > 0 && opt.min_scale <= opt.max_scale, "loss scale: need 0 < min_scale <= max_scale");
}

bool LossScale::update(bool found_inf) {
  history_.push_back({steps_, scale_, found_inf});
  ++steps_;
  if (found_inf) ++skipped_;
  if (opt_.mode != ScaleMode::dynamic) return found_inf;
  if (found_inf) {
    growth_tracker_ = 0;
    if (--hysteresis_left_ <= 0) {
      scale_ = std::max(opt_.min_scale, scale_ * opt_.backoff_factor);
      hysteresis_left_ = opt_.hysteresis;
    }
    return true;
  }
  if (++growth_tracker_ >= opt_.growth_interval) {  // >=: a resumed run may shorten the interval
    scale_ = std::min(opt_.max_scale, scale_ * opt_.growth_factor);
    growth_tracker_ = 0;
    hysteresis_left_ = opt_.hysteresis;
  }
  return false;
}

void LossScale::restore(double scale, std::int64_t growth_tracker, std::int64_t hysteresis_left,
                        std::int64_t steps, std::int64_t skipped) {
  // A checkpoint is input like any other: state that no run can reach is refused here, before it
  // could turn every later update into inf/NaN and be written over a good checkpoint.
  check(std::isfinite(scale) && scale > 0, "loss scale state: scale must be a positive finite number, got " + std::to_string(scale));
  check(growth_tracker >= 0, "loss scale state: growth_tracker must be >= 0");
  check(hysteresis_left >= 0 && hysteresis_left <= opt_.hysteresis,
        "loss scale state: hysteresis_left must be in [0, " + std::to_string(opt_.hysteresis) + "]");
  check(steps >= 0 && skipped >= 0 && skipped <= steps, "loss scale state: need 0 <= skipped <= steps");
  scale_ = scale;
  growth_tracker_ = growth_tracker;
  hysteresis_left_ = hysteresis_left;
  steps_ = steps;
  skipped_ = skipped;
}

}  // namespace mixtrain::amp
