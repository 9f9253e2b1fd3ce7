// Module: named parameters, buffers and children, train/eval, and the precision hooks. As in
// libtorch, forward() is public and non-virtual (it sets the module scope that autocast and the
// precision map consult), forward_impl() is what layers implement.
#pragma once

#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "amp/policy.h"
#include "tensor/tensor.h"

namespace mixtrain::nn {

struct Parameter {
  std::string name;   // dotted, e.g. "blocks.0.attn.qkv.weight"
  Tensor* tensor;
  bool is_norm;       // norm parameters stay fp32 in O2
  bool decay;         // weight decay applies (not to biases and norm parameters)
};

class Module {
 public:
  virtual ~Module() = default;
  Module() = default;
  Module(const Module&) = delete;
  Module& operator=(const Module&) = delete;

  Tensor forward(const Tensor& x);
  Tensor operator()(const Tensor& x) { return forward(x); }

  // All parameters of this module and its children, in registration order.
  std::vector<Parameter> parameters();
  std::vector<std::pair<std::string, Tensor*>> buffers();
  std::int64_t parameter_count();
  void train(bool on = true);
  void eval() { train(false); }
  bool training() const { return training_; }
  const std::string& name() const { return name_; }
  // Stores every parameter in the policy's dtype (O2/O3: low precision; norms fp32 in O2) and
  // lets layers prepare their own state (fp8 scaling). Gradients are dropped.
  void apply_policy(const amp::Policy& policy);
  // Each module with its dotted name (for printing the effective precision map).
  std::vector<const Module*> modules() const;
  std::vector<Module*> modules();
  virtual std::string type() const = 0;
  // Extra state a layer keeps outside tensors (fp8 scaling histories), for checkpoints; keyed by
  // the module's dotted name. The default has none.
  virtual nlohmann::json extra_state() const { return nullptr; }
  virtual void load_extra_state(const nlohmann::json&) {}
  // Every module's extra state, {name: state}, and its restoration.
  nlohmann::json collect_extra_state() const;
  void restore_extra_state(const nlohmann::json& all);

 protected:
  Tensor& register_parameter(const std::string& name, Tensor t, bool is_norm = false, bool decay = true);
  Tensor& register_buffer(const std::string& name, Tensor t);
  template <typename M>
  M* register_module(const std::string& name, std::unique_ptr<M> m) {
    M* raw = m.get();
    add_child(name, std::move(m));
    return raw;
  }
  virtual Tensor forward_impl(const Tensor& x) = 0;
  virtual void on_policy(const amp::Policy&) {}

 private:
  void add_child(const std::string& name, std::unique_ptr<Module> m);
  void rename(const std::string& prefix);
  std::string qualify(const std::string& local) const { return name_.empty() ? local : name_ + "." + local; }

  struct Slot {
    std::string local;
    std::unique_ptr<Tensor> tensor;
    bool is_norm, decay;
  };
  std::string name_;
  bool training_ = true;
  std::vector<Slot> params_;
  std::vector<Slot> buffers_;
  std::vector<std::pair<std::string, std::unique_ptr<Module>>> children_;
};

}  // namespace mixtrain::nn
