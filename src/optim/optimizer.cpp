// The fused update pass: per parameter, chunks of up to 4096 values are decoded (when the
// parameter is its own low-precision master), updated, and encoded back; with masters, the
// master is updated in place and the model copy re-encoded from it in the same chunk loop.
#include "optim/optimizer.h"

#include <cmath>
#include <type_traits>
#include <cstring>

#include "numerics/convert.h"
#include "optim/adamw_step.h"
#include "runtime/cpu_features.h"
#include "runtime/error.h"
#include "runtime/parallel.h"

namespace mixtrain::optim {

Optimizer::Optimizer(std::vector<nn::Parameter> params, const amp::Policy& policy, double lr)
    : lr_(lr), policy_(policy) {
  for (auto& p : params) states_.push_back({p, Tensor(), Tensor(), Tensor()});
  // Masters: only for parameters whose storage is narrower than the master dtype.
  tensor::LedgerScope scope(tensor::Category::master_weights);
  for (auto& s : states_) {
    const DType d = s.param.tensor->dtype();
    const bool needs_master = policy.masters() && d != policy.master && (d != DType::fp32 || policy.master == DType::fp64);
    if (needs_master) s.master = s.param.tensor->to(policy.master);
  }
}

void Optimizer::init_states() {
  tensor::LedgerScope scope(tensor::Category::optimizer_state);
  for (auto& s : states_) {
    if (state_count() >= 1 && !s.m.defined()) s.m = Tensor::zeros(s.param.tensor->shape(), DType::fp32);
    if (state_count() >= 2 && !s.v.defined()) s.v = Tensor::zeros(s.param.tensor->shape(), DType::fp32);
  }
  states_ready_ = true;
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
  const float factor = static_cast<float>(grad_factor_);
  grad_factor_ = 1.0;
  const bool sr = policy_.stochastic_rounding;
  for (std::size_t pi = 0; pi < states_.size(); ++pi) {
    ParamState& s = states_[pi];
    Tensor& p = *s.param.tensor;
    const Tensor grad = p.grad();
    if (!grad.defined()) continue;
    check(grad.dtype() == DType::fp32, "optimizer: gradients must be fp32 (got " + std::string(mixtrain::name(grad.dtype())) + ")");
    const std::int64_t n = p.numel();
    const float* g_all = grad.data_as<const float>();
    float* m_all = s.m.defined() ? s.m.data_as<float>() : nullptr;
    float* v_all = s.v.defined() ? s.v.data_as<float>() : nullptr;
    const bool decay = s.param.decay;
    constexpr std::size_t kChunk = 4096;
    runtime::parallel_for(static_cast<std::size_t>(n), kChunk, [&](std::size_t b, std::size_t e) {
      const auto k = static_cast<std::int64_t>(e - b);
      float g[kChunk];
      for (std::int64_t i = 0; i < k; ++i) g[i] = g_all[b + static_cast<std::size_t>(i)] * factor;
      float* m = m_all ? m_all + b : nullptr;
      float* v = v_all ? v_all + b : nullptr;
      numerics::ConvertOptions co;
      co.index_offset = b;
      co.seed = static_cast<std::uint64_t>(steps_) * 1000003ULL + pi;
      co.rounding = sr ? numerics::Rounding::stochastic : numerics::Rounding::nearest;
      const std::size_t es = p.element_size();
      void* pdst = static_cast<unsigned char*>(p.data()) + b * es;
      if (s.master.defined() && s.master.dtype() == DType::fp64) {
        double* w = s.master.data_as<double>() + b;
        update(w, g, m, v, k, decay);
        numerics::encode(pdst, p.dtype(), w, static_cast<std::size_t>(k), co);
      } else if (s.master.defined()) {
        float* w = s.master.data_as<float>() + b;
        update(w, g, m, v, k, decay);
        numerics::encode(pdst, p.dtype(), w, static_cast<std::size_t>(k), co);
      } else if (p.dtype() == DType::fp32) {
        update(p.data_as<float>() + b, g, m, v, k, decay);
      } else if (p.dtype() == DType::fp64) {
        update(p.data_as<double>() + b, g, m, v, k, decay);
      } else {
        // O3: the low-precision parameter is its own master: decode, update, round back.
        float w[kChunk];
        numerics::decode(w, pdst, p.dtype(), static_cast<std::size_t>(k));
        update(w, g, m, v, k, decay);
        numerics::encode(pdst, p.dtype(), w, static_cast<std::size_t>(k), co);
      }
    });
  }
}

SGD::SGD(std::vector<nn::Parameter> params, const amp::Policy& policy, SGDOptions o)
    : Optimizer(std::move(params), policy, o.lr), o_(o) {}

template <typename W>
void SGD::update_impl(W* w, const float* g, float* m, std::int64_t n, bool decay) {
  const float wd = decay ? static_cast<float>(o_.weight_decay) : 0.0f;
  const float mom = static_cast<float>(o_.momentum);
  const auto lr = static_cast<float>(lr_);
  for (std::int64_t i = 0; i < n; ++i) {
    float d = g[i] + wd * static_cast<float>(w[i]);
    if (m) {
      m[i] = steps_ == 1 ? d : mom * m[i] + d;  // PyTorch: the first step sets the buffer
      d = o_.nesterov ? d + mom * m[i] : m[i];
    }
    w[i] = static_cast<W>(w[i] - static_cast<W>(lr * d));
  }
}
void SGD::update(float* w, const float* g, float* m, float*, std::int64_t n, bool decay) { update_impl(w, g, m, n, decay); }
void SGD::update(double* w, const float* g, float* m, float*, std::int64_t n, bool decay) { update_impl(w, g, m, n, decay); }

AdamW::AdamW(std::vector<nn::Parameter> params, const amp::Policy& policy, AdamWOptions o)
    : Optimizer(std::move(params), policy, o.lr), o_(o) {}

#if !MIXTRAIN_HAVE_AVX512_KERNELS
// Without the AVX-512 unit the entry point is the portable loop (never called by update_impl).
void detail::adamw_step_avx512(float* w, const float* g, float* m, float* v, std::int64_t n,
                               const detail::AdamWConstants& k) {
  detail::adamw_loop(w, g, m, v, n, k);
}
#endif

template <typename W>
void AdamW::update_impl(W* w, const float* g, float* m, float* v, std::int64_t n, bool decay) {
  const auto t = static_cast<double>(steps_);
  detail::AdamWConstants k;
  k.b1 = static_cast<float>(o_.beta1);
  k.b2 = static_cast<float>(o_.beta2);
  k.c1 = static_cast<float>(1.0 / (1.0 - std::pow(o_.beta1, t)));
  k.c2 = static_cast<float>(1.0 / std::sqrt(1.0 - std::pow(o_.beta2, t)));
  k.lr = static_cast<float>(lr_);
  k.decay = decay ? static_cast<float>(1.0 - lr_ * o_.weight_decay) : 1.0f;
  k.eps = static_cast<float>(o_.eps);
#if MIXTRAIN_HAVE_AVX512_KERNELS
  if constexpr (std::is_same_v<W, float>)
    if (runtime::isa_at_least(runtime::IsaTier::avx512)) {
      detail::adamw_step_avx512(w, g, m, v, n, k);
      return;
    }
#endif
  detail::adamw_loop(w, g, m, v, n, k);
}
void AdamW::update(float* w, const float* g, float* m, float* v, std::int64_t n, bool decay) { update_impl(w, g, m, v, n, decay); }
void AdamW::update(double* w, const float* g, float* m, float* v, std::int64_t n, bool decay) { update_impl(w, g, m, v, n, decay); }

double clip_grad_norm(Optimizer& opt, double max_norm) {
  double sq = 0;
  for (const Tensor& g : opt.gradients()) {
    if (!g.defined()) continue;
    const float* p = g.data_as<const float>();
    for (std::int64_t i = 0; i < g.numel(); ++i) sq += static_cast<double>(p[i]) * p[i];
  }
  const double norm = std::sqrt(sq) * opt.grad_factor();
  if (std::isfinite(norm) && norm > max_norm) opt.scale_gradients(max_norm / (norm + 1e-6));
  return norm;
}

}  // namespace mixtrain::optim
