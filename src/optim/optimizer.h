// Optimizers on master weights. For every parameter one fused pass (the backend's
// optimizer_update, with the hyper-parameters the optimizer resolves for the step) reads the fp32
// gradient, applies the pending gradient factor (1/loss-scale from GradScaler::unscale, times the
// clipping coefficient), updates the fp32 master (fp64 on request) and the fp32 optimizer state,
// and re-casts the low-precision model copy (round to nearest, or stochastic when the policy
// asks). Without masters (O0/O1: fp32 parameters; O3: low-precision parameters) the parameter
// itself is read, updated in fp32 and written back rounded.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "amp/grad_scaler.h"
#include "amp/policy.h"
#include "backend/types.h"
#include "nn/module.h"

namespace mixtrain::optim {

struct ParamState {
  nn::Parameter param;
  Tensor master;  // undefined when the parameter is its own master
  Tensor m, v;    // optimizer state (fp32), undefined when unused
};

class Optimizer : public amp::ScalableOptimizer {
 public:
  Optimizer(std::vector<nn::Parameter> params, const amp::Policy& policy, double lr);
  ~Optimizer() override = default;

  void zero_grad();
  void step() override;
  std::vector<Tensor> gradients() const override;
  void scale_gradients(double factor) override { grad_factor_ *= factor; }
  double grad_factor() const { return grad_factor_; }

  double lr() const { return lr_; }
  void set_lr(double lr) { lr_ = lr; }
  std::int64_t steps() const { return steps_; }
  std::vector<ParamState>& states() { return states_; }
  // Tensors to checkpoint (masters, states) with dotted names, and the step counter.
  std::vector<std::pair<std::string, Tensor*>> state_tensors();
  void set_steps(std::int64_t s) { steps_ = s; }
  virtual std::string name() const = 0;

 protected:
  // This step's hyper-parameters for the backend's fused update (steps_ already counts the step).
  virtual backend::OptimizerHyper hyper() const = 0;
  virtual int state_count() const = 0;  // 0, 1 (m) or 2 (m, v)

  double lr_;
  std::int64_t steps_ = 0;

 private:
  void init_states();
  std::vector<ParamState> states_;
  amp::Policy policy_;
  double grad_factor_ = 1.0;
  bool states_ready_ = false;
};

struct SGDOptions {
  double lr = 0.01, momentum = 0.0, weight_decay = 0.0;
  bool nesterov = false;
};

class SGD : public Optimizer {
 public:
  SGD(std::vector<nn::Parameter> params, const amp::Policy& policy, SGDOptions o);
  std::string name() const override { return "sgd"; }

 protected:
  backend::OptimizerHyper hyper() const override;
  int state_count() const override { return o_.momentum != 0.0 ? 1 : 0; }

 private:
  SGDOptions o_;
};

struct AdamWOptions {
  double lr = 1e-3, beta1 = 0.9, beta2 = 0.999, eps = 1e-8, weight_decay = 0.01;
};

// Adam with decoupled weight decay (AdamW); weight_decay = 0 gives Adam.
class AdamW : public Optimizer {
 public:
  AdamW(std::vector<nn::Parameter> params, const amp::Policy& policy, AdamWOptions o);
  std::string name() const override { return "adamw"; }

 protected:
  backend::OptimizerHyper hyper() const override;
  int state_count() const override { return 2; }

 private:
  AdamWOptions o_;
};

// Clips the global L2 norm of the gradients the optimizer will apply (after unscaling) to
// max_norm by folding the coefficient into the pending gradient factor. Returns the norm before
// clipping (unscaled); non-finite norms leave the factor unchanged (the scaler skips that step).
double clip_grad_norm(Optimizer& opt, double max_norm);

}  // namespace mixtrain::optim
