// Linear and LayerNorm.
#include "nn/linear.h"

#include <cmath>
#include <utility>
#include <vector>

#include "amp/autocast.h"
#include "numerics/stats.h"
#include "ops/common.h"
#include "ops/elementwise.h"
#include "ops/linear.h"
#include "ops/norm.h"
#include "runtime/error.h"

namespace mixtrain::nn {

Linear::Linear(const LinearOptions& o) : opt_(o) {
  check(o.in > 0 && o.out > 0, "Linear: in and out features must be positive");
  const double bound = 1.0 / std::sqrt(static_cast<double>(o.in));
  tensor::LedgerScope scope(tensor::Category::weights);
  weight_ = &register_parameter("weight", Tensor::uniform({o.out, o.in}, -bound, bound, o.seed));
  if (o.bias) bias_ = &register_parameter("bias", Tensor::uniform({o.out}, -bound, bound, o.seed ^ 0x5bd1e995ULL), false, false);
}

void Linear::on_policy(const amp::Policy& policy) {
  const DType d = policy.gemm_dtype(name());
  const bool was_fp8 = fp8_;
  gemm_dtype_ = d;
  fp8_ = numerics::spec(d).bits() == 8;
  fp8_opt_ = policy.fp8_options;
  // The map's e5m2 marks fp8 with E5M2 gradients for this layer (hybrid) whatever the run's
  // format; e4m3 marks the run's own format.
  if (d == DType::e5m2) fp8_opt_.format = amp::Fp8Format::hybrid;
  out_dtype_ = policy.low == DType::fp32 ? DType::bf16 : policy.low;
  if (!fp8_) return;
  if (was_fp8) {
    // Staying in fp8 (the autopilot re-applies the policy when any layer changes rung): keep
    // the scaling histories, retargeting the gradient's if its format changed.
    fp8_g_.set_dtype(amp::fp8_dtype(fp8_opt_.format, amp::Fp8Role::gradient));
    return;
  }
  fp8_x_ = amp::Fp8ScalingState(fp8_opt_, amp::Fp8Role::activation);
  fp8_w_ = amp::Fp8ScalingState(fp8_opt_, amp::Fp8Role::weight);
  fp8_g_ = amp::Fp8ScalingState(fp8_opt_, amp::Fp8Role::gradient);
  // A layer the autopilot moves down into fp8 starts its delayed-scaling histories from the
  // amaxes its last probe measured, not from scale 1.
  for (auto [st, a] : {std::pair{&fp8_x_, probe_amax_[0]}, std::pair{&fp8_w_, probe_amax_[1]}, std::pair{&fp8_g_, probe_amax_[2]}})
    if (a > 0 && std::isfinite(a)) st->record(a);
}

Tensor Linear::forward_impl(const Tensor& x) {
  if (fp8_ && amp::current_autocast() != nullptr) return forward_fp8(x);
  if (!probe_armed_ || !training()) return ops::linear(x, *weight_, bias_ ? *bias_ : Tensor(), opt_.activation);
  probe_operand(amp::Operand::input, x, std::nullopt, 1.0f);
  probe_operand(amp::Operand::weight, *weight_, std::nullopt, 1.0f);
  ops::GradHook hook = [this](const Tensor& dz) {
    probe_operand(amp::Operand::grad, dz, std::nullopt, 1.0f);
    return dz;
  };
  return ops::linear(x, *weight_, bias_ ? *bias_ : Tensor(), opt_.activation, std::nullopt, hook);
}

void Linear::probe_operand(amp::Operand op, const Tensor& t, std::optional<DType> fp8, float used_scale) {
  const auto i = static_cast<std::size_t>(op);
  // Decoded once; every measurement below reads this copy.
  const std::vector<float> v = t.to_vector();
  auto fit = [&](DType target, float scale) { return amp::OperandFit::from(numerics::analyse(v.data(), v.size(), target, scale)); };
  if (fp8) {
    // fp8 or hybrid rung: measured with the scale the recipe used. The rung below hybrid is
    // fp8 (E4M3 gradients): the forward operands are the same; the gradient is measured in E4M3
    // with the scale the same recipe state would give it (both scales are fp8_max / amax, so it
    // is this one times the ratio of the maxima): a delayed recipe's stale amax is part of what
    // E4M3 would face.
    probe_.now[i] = fit(*fp8, used_scale);
    if (op == amp::Operand::grad && *fp8 == DType::e5m2) {
      const double ratio = numerics::max_value(numerics::spec(DType::e4m3)) / numerics::max_value(numerics::spec(DType::e5m2));
      probe_.below[i] = fit(DType::e4m3, static_cast<float>(used_scale * ratio));
    } else {
      probe_.below[i] = probe_.now[i];
    }
    return;
  }
  if (gemm_dtype_ == DType::fp32) {
    // fp32 fits by definition; the rung below is the 16-bit dtype, as stored (no scale).
    probe_.now[i] = {0, 0, true};
    probe_.below[i] = fit(probe_half_, 1.0f);
    return;
  }
  // 16-bit rung, measured as stored; below it is hybrid (E4M3 forward, E5M2 gradients), with
  // the scale current scaling would take from this tensor's amax.
  const amp::Fp8Role role = op == amp::Operand::input ? amp::Fp8Role::activation
                            : op == amp::Operand::weight ? amp::Fp8Role::weight : amp::Fp8Role::gradient;
  const DType f8 = amp::fp8_dtype(amp::Fp8Format::hybrid, role);
  probe_amax_[i] = numerics::abs_max(v.data(), v.size());
  probe_.now[i] = fit(probe_half_, 1.0f);
  probe_.below[i] = fit(f8, amp::scale_from_amax(probe_amax_[i], f8, fp8_opt_.margin, 1.0f));
}

std::optional<amp::LayerProbe> Linear::take_probe() {
  probe_armed_ = false;
  const amp::LayerProbe p = std::exchange(probe_, amp::LayerProbe{});
  for (const auto& f : p.now)
    if (f.measured) return p;
  return std::nullopt;
}

namespace {
// Quantises t with a recipe state: current scaling from t's amax now; delayed scaling with the
// state's scale, recording t's amax for the next step when `record` (training only: evaluation
// must not move the histories, or a checkpoint written after the final evaluation would resume
// differently from the uninterrupted run). Returns the scale used through `used`.
Tensor quantise(const Tensor& t, amp::Fp8ScalingState& s, bool differentiable, bool record, float* used = nullptr) {
  // Current scaling needs the amax before it can quantise (two passes over t); delayed scaling
  // takes this step's amax from the quantising pass itself (one).
  float a = s.needs_current_amax() ? ops::amax(t) : 0.0f;
  const float scale = s.scale_for(a);
  float* fused = s.needs_current_amax() ? nullptr : &a;
  Tensor q = differentiable ? ops::cast(t, s.dtype(), scale, fused)
                            : t.to(s.dtype(), numerics::Rounding::nearest, 0, scale, fused);
  if (record) s.record(a);
  if (used != nullptr) *used = scale;
  return q;
}
}  // namespace

Tensor Linear::forward_fp8(const Tensor& x) {
  const bool train = training();
  const bool probe = probe_armed_ && train;
  float sx = 1, sw = 1;
  Tensor xq = quantise(x, fp8_x_, true, train, &sx);
  Tensor wq = quantise(*weight_, fp8_w_, true, train, &sw);
  if (probe) {
    probe_operand(amp::Operand::input, x, fp8_x_.dtype(), sx);
    probe_operand(amp::Operand::weight, *weight_, fp8_w_.dtype(), sw);
  }
  ops::GradHook hook;
  if (train)
    hook = [this, probe](const Tensor& dz) {
      float sg = 1;
      Tensor q = quantise(dz, fp8_g_, false, true, &sg);
      if (probe) probe_operand(amp::Operand::grad, dz, fp8_g_.dtype(), sg);
      return q;
    };
  return ops::linear(xq, wq, bias_ ? *bias_ : Tensor(), opt_.activation, out_dtype_, hook);
}

nlohmann::json Linear::extra_state() const {
  nlohmann::json j = nullptr;
  if (fp8_) {
    auto one = [](const amp::Fp8ScalingState& st) {
      return nlohmann::json{{"scale", st.scale()}, {"history", std::vector<float>(st.history().begin(), st.history().end())}};
    };
    j = {{"fp8_input", one(fp8_x_)}, {"fp8_weight", one(fp8_w_)}, {"fp8_grad", one(fp8_g_)}};
  }
  // The autopilot seeds fp8 histories from these when it moves the layer down into fp8.
  if (probe_amax_[0] != 0 || probe_amax_[1] != 0 || probe_amax_[2] != 0)
    j["probe_amax"] = std::vector<float>(std::begin(probe_amax_), std::end(probe_amax_));
  return j;
}

void Linear::load_extra_state(const nlohmann::json& j) {
  try {
    if (j.contains("probe_amax")) {
      const auto a = j.at("probe_amax").get<std::vector<float>>();
      check(a.size() == 3, "checkpoint: bad probe_amax for " + name());
      std::copy(a.begin(), a.end(), probe_amax_);
    }
    if (!fp8_) return;
    for (auto [key, st] : {std::pair{"fp8_input", &fp8_x_}, std::pair{"fp8_weight", &fp8_w_}, std::pair{"fp8_grad", &fp8_g_}})
      st->restore(j.at(key).at("scale").get<float>(), j.at(key).at("history").get<std::vector<float>>());
  } catch (const nlohmann::json::exception& e) {
    throw Error("checkpoint: bad fp8 state for " + name() + ": " + e.what());
  }
}

LayerNorm::LayerNorm(const LayerNormOptions& o) : opt_(o) {
  check(o.features > 0, "LayerNorm: features must be positive");
  tensor::LedgerScope scope(tensor::Category::weights);
  gamma_ = &register_parameter("weight", Tensor::ones({o.features}), true, false);
  beta_ = &register_parameter("bias", Tensor::zeros({o.features}), true, false);
}

// Statistics and parameters in fp32 (a fp32 op under autocast); the output is stored in the
// input's dtype, as BatchNorm2d does and as apex O2 does with cudnn: a bf16 residual stream stays
// bf16 instead of doubling every normalised activation.
Tensor LayerNorm::forward_impl(const Tensor& x) { return ops::layer_norm(x, *gamma_, *beta_, opt_.eps, x.dtype()); }

}  // namespace mixtrain::nn
