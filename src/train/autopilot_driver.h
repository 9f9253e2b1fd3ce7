// Runs the precision autopilot (amp/autopilot.h) inside the training loop: finds the eligible
// layers (every Linear the user's --precision-map does not pin), arms their probes on probe
// steps, feeds the measurements to the autopilot and re-applies the policy when a layer changes
// rung (its weights change storage dtype only when it reaches or leaves fp32).
#pragma once

#include <string>
#include <vector>

#include "amp/autopilot.h"
#include "amp/policy.h"
#include "nn/linear.h"
#include "nn/module.h"

namespace mixtrain::train {

class AutopilotDriver {
 public:
  // `policy` is the run's policy: its map becomes the autopilot's choice (user rules last, so
  // they win) and is kept up to date. Call before model.apply_policy(policy).
  AutopilotDriver(nn::Module& model, amp::Policy& policy, const amp::AutopilotOptions& options, std::int64_t every);

  // Every `every` steps, and more densely before that (steps 0, 1, 2, 4, 8, ...): numerics move
  // fastest at the start, and a layer left in a format that cannot hold its gradients for the
  // first `every` steps of a high learning rate does not recover (docs/RESULTS.md).
  bool probe_step(std::int64_t step) const {
    return step % every_ == 0 || (step < every_ && (step & (step - 1)) == 0);
  }
  void arm();
  // After the step's backward and optimizer update: feeds the probes, applies the decisions
  // (policy map and model) and returns them.
  std::vector<amp::PrecisionEvent> finish_probe(std::int64_t step);

  // The last probe's measurements, {layer: {dtype, now: {input: [overflow, underflow], ...},
  // below: {...}}}, for metrics.jsonl (the report draws the rungs over time from these).
  const nlohmann::json& last_probe() const { return last_; }
  amp::Autopilot& autopilot() { return pilot_; }
  // The current map, reusable as --precision-map (the user's pins included).
  std::string map_string() const { return policy_.map.to_string(); }
  // Restores a checkpoint's autopilot state and re-derives the policy map (before apply_policy).
  void restore(const nlohmann::json& state);

 private:
  void sync_map();

  nn::Module& model_;
  amp::Policy& policy_;
  amp::PrecisionMap user_;
  std::vector<nn::Linear*> layers_;
  amp::Autopilot pilot_;
  std::int64_t every_;
  nlohmann::json last_;
};

// The eligible layers of a model for the autopilot: its Linear modules not named by `pins`.
std::vector<nn::Linear*> autopilot_layers(nn::Module& model, const amp::PrecisionMap& pins);

}  // namespace mixtrain::train
