// LR schedule evaluation.
#include "optim/lr_schedule.h"

#include <cmath>
#include <numbers>

namespace mixtrain::optim {

double LrSchedule::at(std::int64_t step) const {
  if (kind == Kind::constant) return base_lr;
  if (step < warmup_steps) return base_lr * static_cast<double>(step + 1) / static_cast<double>(warmup_steps);
  const std::int64_t decay = total_steps - warmup_steps;
  if (decay <= 0 || step >= total_steps) return min_lr;
  const double t = static_cast<double>(step - warmup_steps) / static_cast<double>(decay);
  return min_lr + 0.5 * (base_lr - min_lr) * (1.0 + std::cos(std::numbers::pi * t));
}

}  // namespace mixtrain::optim
