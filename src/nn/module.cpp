// Module bookkeeping.
#include "nn/module.h"

#include "amp/autocast.h"
#include "runtime/error.h"

namespace mixtrain::nn {

Tensor Module::forward(const Tensor& x) {
  check(x.defined(), type() + " '" + name_ + "': undefined input");
  amp::ModuleScope scope(name_);
  return forward_impl(x);
}

Tensor& Module::register_parameter(const std::string& name, Tensor t, bool is_norm, bool decay) {
  t.set_requires_grad(true);
  params_.push_back({name, std::make_unique<Tensor>(std::move(t)), is_norm, decay});
  return *params_.back().tensor;
}

Tensor& Module::register_buffer(const std::string& name, Tensor t) {
  buffers_.push_back({name, std::make_unique<Tensor>(std::move(t)), false, false});
  return *buffers_.back().tensor;
}

void Module::add_child(const std::string& name, std::unique_ptr<Module> m) {
  m->rename(qualify(name));
  children_.emplace_back(name, std::move(m));
}

void Module::rename(const std::string& full) {
  name_ = full;
  for (auto& [local, child] : children_) child->rename(qualify(local));
}

std::vector<Parameter> Module::parameters() {
  std::vector<Parameter> out;
  for (auto& s : params_) out.push_back({qualify(s.local), s.tensor.get(), s.is_norm, s.decay});
  for (auto& [local, child] : children_) {
    auto sub = child->parameters();
    out.insert(out.end(), sub.begin(), sub.end());
  }
  return out;
}

std::vector<std::pair<std::string, Tensor*>> Module::buffers() {
  std::vector<std::pair<std::string, Tensor*>> out;
  for (auto& s : buffers_) out.emplace_back(qualify(s.local), s.tensor.get());
  for (auto& [local, child] : children_) {
    auto sub = child->buffers();
    out.insert(out.end(), sub.begin(), sub.end());
  }
  return out;
}

std::int64_t Module::parameter_count() {
  std::int64_t n = 0;
  for (const auto& p : parameters()) n += p.tensor->numel();
  return n;
}

void Module::train(bool on) {
  training_ = on;
  for (auto& [local, child] : children_) child->train(on);
}

void Module::apply_policy(const amp::Policy& policy) {
  for (auto& s : params_) {
    const DType d = policy.param_dtype(qualify(s.local), s.is_norm);
    if (s.tensor->dtype() != d) {
      tensor::LedgerScope scope(tensor::Category::weights);
      Tensor t = s.tensor->to(d);
      t.set_requires_grad(true);
      *s.tensor = t;
    }
  }
  for (auto& [local, child] : children_) child->apply_policy(policy);
  on_policy(policy);
}

nlohmann::json Module::collect_extra_state() const {
  nlohmann::json all = nlohmann::json::object();
  for (const Module* m : modules()) {
    nlohmann::json s = m->extra_state();
    if (!s.is_null()) all[m->name()] = std::move(s);
  }
  return all;
}

void Module::restore_extra_state(const nlohmann::json& all) {
  if (!all.is_null() && all.contains(name_)) load_extra_state(all.at(name_));
  for (auto& [local, child] : children_) child->restore_extra_state(all);
}

std::vector<Module*> Module::modules() {
  std::vector<Module*> out{this};
  for (auto& [local, child] : children_) {
    auto sub = child->modules();
    out.insert(out.end(), sub.begin(), sub.end());
  }
  return out;
}

std::vector<const Module*> Module::modules() const {
  std::vector<const Module*> out{this};
  for (const auto& [local, child] : children_) {
    auto sub = child->modules();
    out.insert(out.end(), sub.begin(), sub.end());
  }
  return out;
}

}  // namespace mixtrain::nn
