// Linear and LayerNorm.
#include "nn/linear.h"

#include <cmath>

#include "amp/autocast.h"
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
  fp8_ = numerics::spec(d).bits() == 8;
  fp8_opt_ = policy.fp8_options;
  out_dtype_ = policy.low == DType::fp32 ? DType::bf16 : policy.low;
  if (fp8_) {
    fp8_x_ = amp::Fp8ScalingState(fp8_opt_, amp::Fp8Role::activation);
    fp8_w_ = amp::Fp8ScalingState(fp8_opt_, amp::Fp8Role::weight);
    fp8_g_ = amp::Fp8ScalingState(fp8_opt_, amp::Fp8Role::gradient);
  }
}

Tensor Linear::forward_impl(const Tensor& x) {
  if (fp8_ && amp::current_autocast() != nullptr) return forward_fp8(x);
  return ops::linear(x, *weight_, bias_ ? *bias_ : Tensor(), opt_.activation);
}

namespace {
// Quantises t with a recipe state: current scaling from t's amax now; delayed scaling with the
// state's scale, recording t's amax for the next step.
Tensor quantise(const Tensor& t, amp::Fp8ScalingState& s, bool differentiable) {
  const float a = ops::amax(t);
  const float scale = s.scale_for(a);
  s.record(a);
  return differentiable ? ops::cast(t, s.dtype(), scale) : t.to(s.dtype(), numerics::Rounding::nearest, 0, scale);
}
}  // namespace

Tensor Linear::forward_fp8(const Tensor& x) {
  const bool train = training();
  Tensor xq = quantise(x, fp8_x_, true);
  Tensor wq = quantise(*weight_, fp8_w_, true);
  ops::GradHook hook;
  if (train) hook = [this](const Tensor& dz) { return quantise(dz, fp8_g_, false); };
  return ops::linear(xq, wq, bias_ ? *bias_ : Tensor(), opt_.activation, out_dtype_, hook);
}

nlohmann::json Linear::extra_state() const {
  if (!fp8_) return nullptr;
  auto one = [](const amp::Fp8ScalingState& st) {
    return nlohmann::json{{"scale", st.scale()}, {"history", std::vector<float>(st.history().begin(), st.history().end())}};
  };
  return {{"fp8_input", one(fp8_x_)}, {"fp8_weight", one(fp8_w_)}, {"fp8_grad", one(fp8_g_)}};
}

void Linear::load_extra_state(const nlohmann::json& j) {
  if (!fp8_) return;
  try {
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

Tensor LayerNorm::forward_impl(const Tensor& x) { return ops::layer_norm(x, *gamma_, *beta_, opt_.eps); }

}  // namespace mixtrain::nn
