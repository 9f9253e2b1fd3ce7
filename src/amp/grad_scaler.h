// GradScaler (torch.cuda.amp.GradScaler semantics) over the LossScale state machine:
//   scaler.scale(loss).backward();
//   scaler.unscale(opt);          // optional: before clipping. One read-only pass over the
//                                 // (scaled) gradients finds inf/NaN; the 1/scale factor is
//                                 // handed to the optimizer, which applies it inside its fused
//                                 // update pass (no separate multiply over the gradients).
//   optim::clip_grad_norm(opt, 1.0);
//   scaler.step(opt);             // skipped when any gradient is non-finite
//   scaler.update();              // back off / grow
// Modes: dynamic (default), static, disabled (the default for bf16: scale 1, but non-finite
// steps are still skipped).
#pragma once

#include <nlohmann/json.hpp>
#include <vector>

#include "amp/loss_scale.h"
#include "tensor/tensor.h"

namespace mixtrain::amp {

// What the scaler needs from an optimizer (optim::Optimizer implements it).
class ScalableOptimizer {
 public:
  virtual ~ScalableOptimizer() = default;
  // Gradients of all parameters (undefined tensors are skipped).
  virtual std::vector<Tensor> gradients() const = 0;
  // Multiplies the factor applied to gradients by the next step().
  virtual void scale_gradients(double factor) = 0;
  virtual void step() = 0;
};

// True when every value of every defined tensor is finite (one pass, any dtype).
bool all_finite(const std::vector<Tensor>& tensors);

class GradScaler {
 public:
  explicit GradScaler(LossScaleOptions options = {});
  Tensor scale(const Tensor& loss) const;
  void unscale(ScalableOptimizer& opt);
  // Returns true when the update was applied.
  bool step(ScalableOptimizer& opt);
  void update();
  double get_scale() const { return state_.scale(); }
  bool found_inf() const { return found_inf_; }
  const LossScale& state() const { return state_; }
  nlohmann::json state_dict() const;
  void load_state_dict(const nlohmann::json& j);

 private:
  LossScale state_;
  bool unscaled_ = false;
  bool found_inf_ = false;
  bool stepped_ = false;
};

}  // namespace mixtrain::amp
