// Linear layer y = act(x W^T + b), W (out, in). Under an fp8 policy (or an fp8 entry in the
// precision map) its GEMMs run in fp8 with per-tensor scaling: x and W quantised to E4M3 with
// their recipe scales, the output gradient to E5M2 (hybrid) — the scaling state is kept here and
// saved with the model.
#pragma once

#include <optional>

#include "amp/autopilot.h"
#include "amp/fp8_scaling.h"
#include "backend/types.h"
#include "nn/module.h"

namespace mixtrain::nn {

struct LinearOptions {
  std::int64_t in = 0, out = 0;
  bool bias = true;
  backend::Activation activation = backend::Activation::identity;
  std::uint64_t seed = 0;  // initialisation: U(-1/sqrt(in), 1/sqrt(in)) as PyTorch
};

class Linear : public Module {
 public:
  explicit Linear(const LinearOptions& o);
  std::string type() const override { return "Linear"; }
  Tensor& weight() { return *weight_; }
  const LinearOptions& options() const { return opt_; }
  // fp8 state (empty unless fp8 is active for this layer).
  bool fp8_active() const { return fp8_; }
  amp::Fp8ScalingState& fp8_input() { return fp8_x_; }
  amp::Fp8ScalingState& fp8_weight() { return fp8_w_; }
  amp::Fp8ScalingState& fp8_grad() { return fp8_g_; }
  nlohmann::json extra_state() const override;
  void load_extra_state(const nlohmann::json& j) override;
  // The dtype its GEMMs run in (e4m3 marks fp8 with the recipe's formats).
  DType gemm_dtype() const { return gemm_dtype_; }

  // Autopilot probe. While armed, every training forward/backward measures the three GEMM
  // operands (input, weight, output gradient) in the format of the rung the layer runs on now
  // (fp8 with the scales actually used) and of the rung below (fp8 with the scale the recipe
  // would take from the tensor's amax); take_probe() returns the last measurement and disarms.
  void arm_probe(DType half) {
    probe_half_ = half;
    probe_armed_ = true;
    probe_ = {};
  }
  std::optional<amp::LayerProbe> take_probe();

 protected:
  Tensor forward_impl(const Tensor& x) override;
  void on_policy(const amp::Policy& policy) override;

 private:
  Tensor forward_fp8(const Tensor& x);
  // fp8: the format the operand was quantised to with `used_scale` (nullopt: not an fp8 rung).
  void probe_operand(amp::Operand op, const Tensor& t, std::optional<DType> fp8, float used_scale);
  LinearOptions opt_;
  Tensor* weight_;
  Tensor* bias_ = nullptr;
  bool fp8_ = false;
  amp::Fp8Options fp8_opt_;
  DType out_dtype_ = DType::bf16;
  amp::Fp8ScalingState fp8_x_, fp8_w_, fp8_g_;
  DType gemm_dtype_ = DType::fp32;
  bool probe_armed_ = false;
  DType probe_half_ = DType::bf16;
  amp::LayerProbe probe_;
  float probe_amax_[amp::kOperands] = {0, 0, 0};  // amaxes of the last 16-bit-rung probe
};

struct LayerNormOptions {
  std::int64_t features = 0;
  double eps = 1e-5;
};

class LayerNorm : public Module {
 public:
  explicit LayerNorm(const LayerNormOptions& o);
  std::string type() const override { return "LayerNorm"; }

 protected:
  Tensor forward_impl(const Tensor& x) override;

 private:
  LayerNormOptions opt_;
  Tensor* gamma_;
  Tensor* beta_;
};

}  // namespace mixtrain::nn
