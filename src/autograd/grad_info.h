// Autograd state attached to a tensor, and the graph node that produced it.
//
// A Node holds an edge per differentiable input (the input's autograd state, shape and dtype, not
// its data) and a closure that saves exactly the tensors its backward reads and maps the output
// gradient to one gradient per input (undefined = no gradient). Keeping only edges means an
// input no backward reads (a residual add's operands, the fp32 copy autocast made of a bf16
// activation) is freed when the forward drops it, as in PyTorch's saved-tensor model.
// Gradients of leaves accumulate into GradInfo::grad in fp32 (fp64 for fp64 leaves); gradients
// of intermediate low-precision tensors are rounded to the tensor's dtype, as a real fp16/bf16
// backward pass would store them (this is where fp16 gradients underflow without loss scaling).
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "tensor/tensor.h"

namespace mixtrain::autograd {

struct GradInfo;

struct Edge {
  std::shared_ptr<GradInfo> info;  // null: no gradient flows to this input
  Shape shape;
  DType dtype = DType::fp32;
  std::int64_t numel = 0;
  bool defined() const { return info != nullptr; }
  bool is_leaf() const;
};

struct Node {
  const char* op = "";
  std::string scope;  // module that recorded it; filled only under ScopeCapture (statistics)
  std::vector<Edge> inputs;  // one per differentiable input
  std::function<std::vector<Tensor>(const Tensor& grad_out)> backward;
  bool released = false;  // set after backward without retain_graph
};

struct GradInfo {
  bool requires_grad = false;
  Tensor grad;                      // accumulated (leaves) — fp32, or fp64 for fp64 leaves
  std::shared_ptr<Node> grad_fn;    // null for leaves
};

// Grad mode: when disabled (NoGradGuard), ops record nothing. Thread-local.
bool grad_enabled();
class NoGradGuard {
 public:
  NoGradGuard();
  ~NoGradGuard();
  NoGradGuard(const NoGradGuard&) = delete;
  NoGradGuard& operator=(const NoGradGuard&) = delete;

 private:
  bool saved_;
};

// Statistics hooks (the numerics doctor's activation gradients), off by default and costing one
// thread-local test when off:
//  - the module scope record() copies into Node::scope while a ScopeCapture is alive; nn's
//    module scope (amp::ModuleScope) keeps it current through set_scope;
//  - the observer sees the complete gradient of every node's output, in the dtype it was stored
//    in (16-bit for low-precision activations: values that flushed are zeros by then), just
//    before the node's backward consumes it.
const std::string* set_scope(const std::string* name);  // returns the previous one
class ScopeCapture {
 public:
  ScopeCapture();
  ~ScopeCapture();
  ScopeCapture(const ScopeCapture&) = delete;
  ScopeCapture& operator=(const ScopeCapture&) = delete;

 private:
  bool saved_;
};
class RoundingObserver {
 public:
  virtual ~RoundingObserver() = default;
  virtual void on_grad(const Node& producer, const Tensor& grad) = 0;
};
// Installs `o` on this thread for the guard's life (nullptr: none).
class ObserveRounding {
 public:
  explicit ObserveRounding(RoundingObserver* o);
  ~ObserveRounding();
  ObserveRounding(const ObserveRounding&) = delete;
  ObserveRounding& operator=(const ObserveRounding&) = delete;

 private:
  RoundingObserver* saved_;
};

// True when any input requires grad and grad mode is on.
bool any_requires_grad(std::initializer_list<const Tensor*> inputs);

// Attaches a node to `out`: out.requires_grad = true, out.grad_fn = node with these inputs
// (inputs that do not require grad are stored as undefined tensors and get no gradient).
void record(Tensor& out, const char* op, std::vector<Tensor> inputs,
            std::function<std::vector<Tensor>(const Tensor&)> backward);

}  // namespace mixtrain::autograd
