// Learning-rate schedules: constant, and linear warm-up followed by cosine decay to min_lr.
#pragma once

#include <cstdint>

namespace mixtrain::optim {

struct LrSchedule {
  enum class Kind { constant, warmup_cosine } kind = Kind::constant;
  double base_lr = 1e-3;
  std::int64_t warmup_steps = 0;
  std::int64_t total_steps = 1;
  double min_lr = 0.0;

  // LR for 0-based step `step`: warm-up ramps (step+1)/warmup * base_lr, then cosine from base_lr
  // at the end of warm-up to min_lr at total_steps (and min_lr after).
  double at(std::int64_t step) const;
};

}  // namespace mixtrain::optim
