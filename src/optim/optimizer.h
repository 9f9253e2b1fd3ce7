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
  // The elements [lo, hi) of the parameter this optimizer updates: all of them, unless sharded
  // (ZeRO-1, shard()), when master, m and v hold only these hi - lo elements (1-D).
  std::int64_t lo = 0, hi = 0;
  bool has_master = false;  // whether the parameter has a master (on some rank, when sharded)
};

// One checkpointed tensor of the optimizer: `tensor` holds the elements [offset, offset +
// tensor->numel()) of a tensor of `full_shape` and `dtype` (all of it unless the optimizer is
// sharded; null when this rank's shard holds none of it). The list is the same on every rank.
struct StateSlot {
  std::string name;
  Tensor* tensor;
  Shape full_shape;
  DType dtype;
  std::int64_t offset;
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
  // Tensors to checkpoint (masters, states) with dotted names, and the step counter. Refused
  // when sharded: those hold a slice each (state_slots()).
  std::vector<std::pair<std::string, Tensor*>> state_tensors();
  std::vector<StateSlot> state_slots();
  // ZeRO-1: from now on this optimizer keeps masters and state for, and updates, only the
  // elements [flat_lo, flat_hi) of the parameters laid end to end in order; the caller gathers
  // the updated parameters (train/data_parallel.h). Masters are re-made from the parameters'
  // current values, so call it before any step or checkpoint load. Each element's update is the
  // unsharded one, so the result is bit-identical; stochastic rounding is refused (its stream is
  // counted per whole parameter).
  void shard(std::int64_t flat_lo, std::int64_t flat_hi);
  bool sharded() const { return sharded_; }
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
  bool sharded_ = false;
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
