// GradScaler implementation.
#include "amp/grad_scaler.h"

#include "backend/kernels.h"
#include "ops/elementwise.h"
#include "io/json_text.h"
#include "runtime/error.h"

namespace mixtrain::amp {

bool all_finite(const std::vector<Tensor>& tensors) {
  for (const Tensor& t : tensors) {
    if (!t.defined()) continue;
    // A scaled fp8 tensor is checked on its real values, code / scale, in fp32.
    const Tensor u = t.scale() == 1.0f || t.dtype() == DType::fp32 ? t : t.to(DType::fp32);
    if (!backend::kernels().all_finite(u.data(), u.dtype(), static_cast<std::size_t>(u.numel()))) return false;
  }
  return true;
}

GradScaler::GradScaler(LossScaleOptions options) : state_(options) {}

Tensor GradScaler::scale(const Tensor& loss) const {
  if (state_.options().mode == ScaleMode::disabled) return loss;
  return ops::scale(loss, state_.scale(), DType::fp32);
}

void GradScaler::unscale(ScalableOptimizer& opt) {
  check(!unscaled_, "GradScaler: unscale() called twice before update()");
  unscaled_ = true;
  found_inf_ = !all_finite(opt.gradients());
  if (!found_inf_ && state_.scale() != 1.0) opt.scale_gradients(1.0 / state_.scale());
}

bool GradScaler::step(ScalableOptimizer& opt) {
  check(!stepped_, "GradScaler: step() called twice before update()");
  if (!unscaled_) unscale(opt);
  stepped_ = true;
  if (found_inf_) return false;
  opt.step();
  return true;
}

void GradScaler::update() {
  check(stepped_ || unscaled_, "GradScaler: update() without step()");
  state_.update(found_inf_);
  unscaled_ = stepped_ = false;
}

nlohmann::json GradScaler::state_dict() const {
  return {{"scale", state_.scale()},
          {"growth_tracker", state_.growth_tracker()},
          {"hysteresis_left", state_.hysteresis_left()},
          {"steps", state_.steps()},
          {"skipped", state_.skipped_steps()}};
}

void GradScaler::load_state_dict(const nlohmann::json& j) {
  try {
    if (!j.is_object() || !j.contains("scale") || !j["scale"].is_number()) throw Error("'scale' is missing or not a number");
    constexpr std::int64_t kMax = std::int64_t{1} << 62;
    state_.restore(j["scale"].get<double>(), io::json_int(j, "growth_tracker", 0, kMax), io::json_int(j, "hysteresis_left", 0, kMax),
                   io::json_int(j, "steps", 0, kMax), io::json_int(j, "skipped", 0, kMax));
  } catch (const nlohmann::json::exception& e) {
    throw Error(std::string("GradScaler state: ") + e.what());
  }
}

}  // namespace mixtrain::amp
