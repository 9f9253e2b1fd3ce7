// Optimizer state and the step: per parameter one call of the backend's fused update
// (backend/kernels.h: optimizer_update), with the hyper-parameters each optimizer resolves for
// the step number.
#include "optim/optimizer.h"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstring>
#include <vector>

#include "backend/kernels.h"
#include "numerics/format.h"
#include "runtime/error.h"

namespace mixtrain::optim {

Optimizer::Optimizer(std::vector<nn::Parameter> params, const amp::Policy& policy, double lr)
    : lr_(lr), policy_(policy) {
  for (auto& p : params) states_.push_back({p, Tensor(), Tensor(), Tensor(), 0, p.tensor->numel()});
  // Masters: only for parameters whose storage is narrower than the master dtype.
  tensor::LedgerScope scope(tensor::Category::master_weights);
  for (auto& s : states_) {
    const DType d = s.param.tensor->dtype();
    const bool needs_master = policy.masters() && d != policy.master && (d != DType::fp32 || policy.master == DType::fp64);
    if (needs_master) s.master = s.param.tensor->to(policy.master);
    s.has_master = needs_master;
  }
}

void Optimizer::init_states() {
  tensor::LedgerScope scope(tensor::Category::optimizer_state);
  for (auto& s : states_) {
    if (s.hi <= s.lo) continue;  // another rank's shard
    const Shape shape = sharded_ ? Shape{s.hi - s.lo} : s.param.tensor->shape();
    if (state_count() >= 1 && !s.m.defined()) s.m = Tensor::zeros(shape, DType::fp32);
    if (state_count() >= 2 && !s.v.defined()) s.v = Tensor::zeros(shape, DType::fp32);
  }
  states_ready_ = true;
}

void Optimizer::shard(std::int64_t flat_lo, std::int64_t flat_hi) {
  check(!states_ready_ && steps_ == 0, "optimizer: shard() must come before the first step");
  check(!policy_.stochastic_rounding, "--shard-optimizer does not support stochastic rounding yet (its random stream is per whole parameter)");
  sharded_ = true;
  tensor::LedgerScope scope(tensor::Category::master_weights);
  std::int64_t at = 0;
  for (auto& s : states_) {
    const std::int64_t n = s.param.tensor->numel();
    s.lo = std::clamp<std::int64_t>(flat_lo - at, 0, n);
    s.hi = std::clamp<std::int64_t>(flat_hi - at, 0, n);
    at += n;
    if (!s.master.defined()) continue;
    const DType md = s.master.dtype();
    s.master = Tensor();  // the full master goes before the slice is made: the ledger peaks at 1/N
    if (s.hi <= s.lo) continue;
    // The slice of the parameter's own values, converted exactly as the constructor converted all of it.
    const std::size_t elem = static_cast<std::size_t>(numerics::spec(s.param.tensor->dtype()).bits() / 8);
    Tensor part = Tensor::empty({s.hi - s.lo}, s.param.tensor->dtype());
    std::memcpy(part.data(), static_cast<const std::byte*>(s.param.tensor->data()) + static_cast<std::size_t>(s.lo) * elem,
                static_cast<std::size_t>(s.hi - s.lo) * elem);
    s.master = part.to(md);
  }
}

std::vector<StateSlot> Optimizer::state_slots() {
  if (!states_ready_) init_states();
  std::vector<StateSlot> out;
  for (auto& s : states_) {
    const Shape full = s.param.tensor->shape();
    const std::int64_t off = sharded_ ? s.lo : 0;
    const bool mine = s.hi > s.lo;
    if (s.has_master) out.push_back({"master." + s.param.name, mine ? &s.master : nullptr, full, policy_.master, off});
    if (state_count() >= 1) out.push_back({"optim.m." + s.param.name, mine ? &s.m : nullptr, full, DType::fp32, off});
    if (state_count() >= 2) out.push_back({"optim.v." + s.param.name, mine ? &s.v : nullptr, full, DType::fp32, off});
  }
  return out;
}

void Optimizer::zero_grad() {
  for (auto& s : states_) s.param.tensor->zero_grad();
}

std::vector<Tensor> Optimizer::gradients() const {
  std::vector<Tensor> g;
  for (const auto& s : states_) g.push_back(s.param.tensor->grad());
  return g;
}

std::vector<std::pair<std::string, Tensor*>> Optimizer::state_tensors() {
  check(!sharded_, "optimizer: a sharded optimizer's state is a slice per rank (use state_slots())");
  if (!states_ready_) init_states();
  std::vector<std::pair<std::string, Tensor*>> out;
  for (auto& s : states_) {
    if (s.master.defined()) out.emplace_back("master." + s.param.name, &s.master);
    if (s.m.defined()) out.emplace_back("optim.m." + s.param.name, &s.m);
    if (s.v.defined()) out.emplace_back("optim.v." + s.param.name, &s.v);
  }
  return out;
}

void Optimizer::step() {
  if (!states_ready_) init_states();
  ++steps_;
  const backend::OptimizerHyper h = hyper();
  const float factor = static_cast<float>(grad_factor_);
  grad_factor_ = 1.0;
  const bool sr = policy_.stochastic_rounding;
  const backend::Kernels& k = backend::kernels();
  for (std::size_t pi = 0; pi < states_.size(); ++pi) {
    ParamState& s = states_[pi];
    Tensor& p = *s.param.tensor;
    const Tensor grad = p.grad();
    if (!grad.defined() || s.hi <= s.lo) continue;
    check(grad.dtype() == DType::fp32, "optimizer: gradients must be fp32 (got " + std::string(mixtrain::name(grad.dtype())) + ")");
    // Unsharded: lo = 0 and hi = numel. Sharded: the parameter and gradient from element lo on,
    // and the state slices, which start at the slice.
    const std::size_t elem = static_cast<std::size_t>(numerics::spec(p.dtype()).bits() / 8);
    backend::ParamUpdate u;
    u.param = static_cast<std::byte*>(p.data()) + static_cast<std::size_t>(s.lo) * elem;
    u.param_dtype = p.dtype();
    u.master = s.master.defined() ? s.master.data() : nullptr;
    u.master_dtype = s.master.defined() ? s.master.dtype() : DType::fp32;
    u.grad = grad.data_as<const float>() + s.lo;
    u.m = s.m.defined() ? s.m.data_as<float>() : nullptr;
    u.v = s.v.defined() ? s.v.data_as<float>() : nullptr;
    u.n = s.hi - s.lo;
    u.grad_factor = factor;
    u.decay = s.param.decay;
    u.rounding = sr ? numerics::Rounding::stochastic : numerics::Rounding::nearest;
    // A fresh stream per (step, parameter), so that stochastic rounding never repeats its bits.
    u.seed = static_cast<std::uint64_t>(steps_) * 1000003ULL + pi;
    k.optimizer_update(h, u);
  }
}

SGD::SGD(std::vector<nn::Parameter> params, const amp::Policy& policy, SGDOptions o)
    : Optimizer(std::move(params), policy, o.lr), o_(o) {}

backend::OptimizerHyper SGD::hyper() const {
  backend::OptimizerHyper h;
  h.kind = backend::OptimizerKind::sgd;
  h.step = steps_;
  h.lr = static_cast<float>(lr_);
  h.momentum = static_cast<float>(o_.momentum);
  h.weight_decay = static_cast<float>(o_.weight_decay);
  h.nesterov = o_.nesterov;
  return h;
}

AdamW::AdamW(std::vector<nn::Parameter> params, const amp::Policy& policy, AdamWOptions o)
    : Optimizer(std::move(params), policy, o.lr), o_(o) {}

backend::OptimizerHyper AdamW::hyper() const {
  // The bias corrections and the decay factor are formed in fp64 and rounded once, so they do
  // not depend on the fp32 betas' rounding.
  const auto t = static_cast<double>(steps_);
  backend::OptimizerHyper h;
  h.kind = backend::OptimizerKind::adamw;
  h.step = steps_;
  h.lr = static_cast<float>(lr_);
  h.beta1 = static_cast<float>(o_.beta1);
  h.beta2 = static_cast<float>(o_.beta2);
  h.c1 = static_cast<float>(1.0 / (1.0 - std::pow(o_.beta1, t)));
  h.c2 = static_cast<float>(1.0 / std::sqrt(1.0 - std::pow(o_.beta2, t)));
  h.eps = static_cast<float>(o_.eps);
  h.adamw_decay = static_cast<float>(1.0 - lr_ * o_.weight_decay);
  return h;
}

double clip_grad_norm(Optimizer& opt, double max_norm) {
  // The squares are summed as one sequence over all gradients in parameter order, with one fp64
  // accumulator carried from tensor to tensor (the norm and the clipping factor are part of a
  // run's reproducible record).
  double sq = 0;
  for (const Tensor& g : opt.gradients())
    if (g.defined()) sq = backend::kernels().sum_squares(g.data_as<const float>(), static_cast<std::size_t>(g.numel()), sq);
  const double norm = std::sqrt(sq) * opt.grad_factor();
  if (std::isfinite(norm) && norm > max_norm) opt.scale_gradients(max_norm / (norm + 1e-6));
  return norm;
}

}  // namespace mixtrain::optim
