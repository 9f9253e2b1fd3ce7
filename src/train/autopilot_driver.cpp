// The autopilot in the training loop (autopilot_driver.h).
#include "train/autopilot_driver.h"

#include <map>

#include "runtime/error.h"

namespace mixtrain::train {

std::vector<nn::Linear*> autopilot_layers(nn::Module& model, const amp::PrecisionMap& pins) {
  std::vector<nn::Linear*> out;
  for (nn::Module* m : model.modules()) {
    auto* lin = dynamic_cast<nn::Linear*>(m);
    if (lin != nullptr && !pins.lookup(lin->name())) out.push_back(lin);
  }
  return out;
}

namespace {
std::vector<std::string> names_of(const std::vector<nn::Linear*>& layers) {
  std::vector<std::string> n;
  for (const auto* l : layers) n.push_back(l->name());
  return n;
}
}  // namespace

AutopilotDriver::AutopilotDriver(nn::Module& model, amp::Policy& policy, const amp::AutopilotOptions& options,
                                 std::int64_t every)
    : model_(model),
      policy_(policy),
      user_(policy.map),
      layers_(autopilot_layers(model, policy.map)),
      pilot_(options, policy.low, names_of(layers_),
             policy.fp8_options.format == amp::Fp8Format::e4m3 ? amp::Rung::fp8 : amp::Rung::hybrid),
      every_(every) {
  check(every_ >= 1, "autopilot: the probe interval must be >= 1");
  check(!layers_.empty(), "--precision auto: the model has no Linear layer that --precision-map leaves to the autopilot");
  sync_map();
}

void AutopilotDriver::sync_map() {
  amp::PrecisionMap m = pilot_.map();
  for (const auto& r : user_.rules()) m.add(r.pattern, r.dtype);
  policy_.map = m;
}

void AutopilotDriver::arm() {
  for (auto* l : layers_) l->arm_probe(policy_.low);
}

std::vector<amp::PrecisionEvent> AutopilotDriver::finish_probe(std::int64_t step) {
  std::map<std::string, amp::LayerProbe> probes;
  // The dense early probes look for promotions only: a demotion needs `stable_window` probes a
  // full interval apart, not a handful of consecutive early steps.
  const bool regular = step % every_ == 0;
  for (auto* l : layers_)
    if (auto p = l->take_probe()) {
      if (!regular) p->below = {};
      probes.emplace(l->name(), *p);
    }
  auto fits = [](const std::array<amp::OperandFit, amp::kOperands>& f) {
    nlohmann::json j = nlohmann::json::object();
    for (int i = 0; i < amp::kOperands; ++i) {
      const amp::OperandFit& fi = f[static_cast<std::size_t>(i)];
      if (fi.measured) j[std::string(amp::to_string(static_cast<amp::Operand>(i)))] = {fi.overflow, fi.underflow};
    }
    return j;
  };
  last_ = nlohmann::json::object();
  for (const auto& [name, p] : probes)
    last_[name] = {{"dtype", std::string(mixtrain::name(pilot_.dtype(name)))}, {"now", fits(p.now)}, {"below", fits(p.below)}};
  auto events = pilot_.observe(step, probes);
  if (!events.empty()) {
    sync_map();
    model_.apply_policy(policy_);
  }
  return events;
}

void AutopilotDriver::restore(const nlohmann::json& state) {
  pilot_.restore(state);
  sync_map();
}

}  // namespace mixtrain::train
