// The numerics of a sampled step (--stats-every), recorded on its metrics line for the doctor and
// the report (fields and units: docs/METRICS.md):
//  grads       weight gradients as computed (scaled), against the policy's low dtype (fp16 for
//              fp32 runs: "what fp16 would do"), with their amax;
//  weights     every weight in its storage dtype (decoded to fp32 in a scratch buffer outside the
//              ledger, so sampling does not move the memory peaks);
//  acts        gradients of 16-bit activations as the backward stored them, one entry per
//              producing module and op: values that flushed are zeros by then, so the subnormal
//              fraction (exact) is the sign of underflow, with the zero fraction beside it;
//  stats_dtype, grad_amax and headroom_log2: how many doublings of the loss scale are left before
//              the largest scaled weight or activation gradient overflows.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "autograd/grad_info.h"
#include "nn/module.h"
#include "numerics/stats.h"
#include "train/metrics.h"

namespace mixtrain::train {

// Observes a sampled step's backward: the gradient of every 16-bit activation, as stored.
class ActGrads : public autograd::RoundingObserver {
 public:
  void on_grad(const autograd::Node& producer, const Tensor& g) override;
  // Node addresses may be reused by the next micro-batch's graph: keys carry the micro-batch.
  void next_micro() { ++micro_; }
  float amax() const;
  // Per label, summed over micro-batches and repeated ops, sorted by label.
  std::vector<metrics::TensorStats> merged() const;

 private:
  struct Entry {
    std::string label, module;
    DType dtype = DType::fp16;
    numerics::FormatStats stats;
    float amax = 0;
  };
  std::int64_t micro_ = 0;
  std::vector<float> scratch_;
  std::map<std::pair<std::int64_t, const autograd::Node*>, Entry> by_node_;
};

// Samples one step: from construction (before the forward) module scopes are recorded in the
// graph and the backward's roundings observed; finish() (after the backward, before unscaling:
// the gradients as the low-precision backward produced them) stops that and fills `record`.
class StatsSampler {
 public:
  StatsSampler() : capture_(std::in_place), observe_(std::in_place, &acts_) {}
  StatsSampler(const StatsSampler&) = delete;
  StatsSampler& operator=(const StatsSampler&) = delete;
  void next_micro() { acts_.next_micro(); }
  void finish(nn::Module& model, DType target, metrics::StepRecord& record);

 private:
  ActGrads acts_;  // declared first: outlives the observer that points to it
  std::optional<autograd::ScopeCapture> capture_;
  std::optional<autograd::ObserveRounding> observe_;
};

}  // namespace mixtrain::train
