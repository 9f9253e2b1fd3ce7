// Statistics of sampled steps. Everything measured is decoded to fp32 first and analysed against
// a target format (numerics/stats.h), so one code path serves every storage dtype.
#include "train/stats_sampling.h"

#include <algorithm>
#include <cmath>

#include "numerics/convert.h"

namespace mixtrain::train {
namespace {

metrics::TensorStats tensor_stats(const std::string& param, const numerics::FormatStats& s, float amax) {
  metrics::TensorStats t;
  t.param = param;
  t.overflow = s.overflow_fraction();
  t.zeros = s.fraction(s.zeros);
  t.subnormal = s.subnormal_fraction();
  t.flush = s.flush_fraction();
  t.amax = amax;  // non-finite: written as null
  for (int i = 0; i < numerics::kHistBins; ++i)
    if (s.exponent_hist[i]) t.hist.emplace_back(i + numerics::kHistMinExponent, s.exponent_hist[i]);
  return t;
}

}  // namespace

void ActGrads::on_grad(const autograd::Node& producer, const Tensor& g) {
  // Only 16-bit activations: their gradients are where fp16 underflows.
  if (g.dtype() != DType::fp16 && g.dtype() != DType::bf16) return;
  const auto n = static_cast<std::size_t>(g.numel());
  scratch_.resize(n);
  numerics::decode(scratch_.data(), g.data(), g.dtype(), n);
  auto& e = by_node_[{micro_, &producer}];
  e.label = (producer.scope.empty() ? std::string("model") : producer.scope) + "/" + producer.op;
  e.module = producer.scope;
  e.dtype = g.dtype();
  e.stats = numerics::analyse(scratch_.data(), n, g.dtype());
  e.amax = numerics::abs_max(scratch_.data(), n);
}

float ActGrads::amax() const {
  float m = 0;
  for (const auto& [k, e] : by_node_)
    if (!(e.amax <= m)) m = e.amax;
  return m;
}

std::vector<metrics::TensorStats> ActGrads::merged() const {
  std::map<std::string, std::size_t> index;
  std::vector<Entry> merged;
  for (const auto& [node, e] : by_node_) {
    (void)node;
    auto [it, fresh] = index.emplace(e.label, merged.size());
    if (fresh) merged.push_back(e);
    else {
      merged[it->second].stats += e.stats;
      merged[it->second].amax = std::max(merged[it->second].amax, e.amax);
    }
  }
  std::sort(merged.begin(), merged.end(), [](const Entry& a, const Entry& b) { return a.label < b.label; });
  std::vector<metrics::TensorStats> out;
  for (const auto& e : merged) {
    auto t = tensor_stats(e.label, e.stats, e.amax);
    t.module = e.module.empty() ? std::string("model") : e.module;
    t.dtype = std::string(name(e.dtype));
    out.push_back(std::move(t));
  }
  return out;
}

void StatsSampler::finish(nn::Module& model, DType target, metrics::StepRecord& rec) {
  observe_.reset();
  capture_.reset();
  rec.sampled = true;
  float grad_amax = 0;
  std::vector<float> scratch;
  for (const auto& p : model.parameters()) {
    const Tensor& w = *p.tensor;
    const Tensor g = w.grad();
    if (g.defined() && w.dim() >= 2 && g.dtype() == DType::fp32) {
      const auto n = static_cast<std::size_t>(g.numel());
      const float amax = numerics::abs_max(g.data_as<const float>(), n);
      if (!(amax <= grad_amax)) grad_amax = amax;
      rec.grads.push_back(tensor_stats(p.name, numerics::analyse(g.data_as<const float>(), n, target), amax));
    }
    if (w.dim() >= 2 && w.dtype() != DType::fp64) {
      const auto n = static_cast<std::size_t>(w.numel());
      const float* data = w.data_as<const float>();
      if (w.dtype() != DType::fp32) {
        scratch.resize(n);
        numerics::decode(scratch.data(), w.data(), w.dtype(), n);
        data = scratch.data();
      }
      auto t = tensor_stats(p.name, numerics::analyse(data, n, w.dtype()), numerics::abs_max(data, n));
      t.dtype = std::string(name(w.dtype()));
      rec.weights.push_back(std::move(t));
    }
  }
  rec.stats_dtype = std::string(name(target));
  rec.grad_amax = grad_amax;
  const double fmax = numerics::max_value(numerics::spec(target));
  const float act_amax = acts_.amax();
  const float top = act_amax <= grad_amax ? grad_amax : act_amax;
  if (top > 0 && std::isfinite(top)) rec.headroom_log2 = std::log2(fmax / top);
  rec.acts = acts_.merged();
}

}  // namespace mixtrain::train
