// Reverse-mode execution: topological order by depth-first search from the root, gradients summed
// per tensor in fp32/fp64, rounded to each intermediate tensor's dtype, and accumulated into leaves.
#include <unordered_map>
#include <unordered_set>

#include "autograd/grad_info.h"
#include "ops/elementwise.h"
#include "runtime/error.h"

namespace mixtrain {
namespace autograd {
namespace {

thread_local bool t_grad_enabled = true;

DType accumulation_dtype(DType t) { return t == DType::fp64 ? DType::fp64 : DType::fp32; }

// a + b in the accumulation dtype (no autograd).
Tensor accumulate(const Tensor& a, const Tensor& b) {
  if (!a.defined()) return b;
  NoGradGuard ng;
  return ops::add(a, b, accumulation_dtype(a.dtype()));
}

}  // namespace

bool grad_enabled() { return t_grad_enabled; }
NoGradGuard::NoGradGuard() : saved_(t_grad_enabled) { t_grad_enabled = false; }
NoGradGuard::~NoGradGuard() { t_grad_enabled = saved_; }

bool any_requires_grad(std::initializer_list<const Tensor*> inputs) {
  if (!t_grad_enabled) return false;
  for (const Tensor* t : inputs)
    if (t && t->defined() && t->requires_grad()) return true;
  return false;
}

void record(Tensor& out, const char* op, std::vector<Tensor> inputs,
            std::function<std::vector<Tensor>(const Tensor&)> backward) {
  auto node = std::make_shared<Node>();
  node->op = op;
  for (auto& t : inputs)
    if (t.defined() && !t.requires_grad()) t = Tensor();
  node->inputs = std::move(inputs);
  node->backward = std::move(backward);
  auto& gi = out.grad_info();
  gi = std::make_shared<GradInfo>();
  gi->requires_grad = true;
  gi->grad_fn = std::move(node);
}

}  // namespace autograd

bool Tensor::requires_grad() const { return grad_info_ && grad_info_->requires_grad; }

Tensor& Tensor::set_requires_grad(bool on) {
  check(!grad_info_ || !grad_info_->grad_fn, "set_requires_grad: only leaf tensors can change requires_grad");
  if (!grad_info_) grad_info_ = std::make_shared<autograd::GradInfo>();
  grad_info_->requires_grad = on;
  return *this;
}

Tensor Tensor::grad() const { return grad_info_ ? grad_info_->grad : Tensor(); }

void Tensor::set_grad(const Tensor& g) {
  if (!grad_info_) grad_info_ = std::make_shared<autograd::GradInfo>();
  grad_info_->grad = g;
}

void Tensor::zero_grad() {
  if (grad_info_) grad_info_->grad = Tensor();
}

bool Tensor::is_leaf() const { return !grad_info_ || !grad_info_->grad_fn; }

void Tensor::backward() const { backward(Tensor(), false); }

void Tensor::backward(const Tensor& seed, bool retain_graph) const {
  using autograd::Node;
  check(requires_grad(), "backward: tensor does not require grad");
  Tensor g = seed;
  if (!g.defined()) {
    check(numel_ == 1, "backward: tensor of shape " + to_string(shape_) +
                           " is not a scalar; pass a seed gradient of the same shape");
    tensor::LedgerScope scope(tensor::Category::gradients);
    g = Tensor::ones(shape_, autograd::accumulation_dtype(dtype_));
  }
  check(g.numel() == numel_, "backward: seed gradient shape " + to_string(g.shape()) + " does not match " + to_string(shape_));
  if (is_leaf()) {
    tensor::LedgerScope scope(tensor::Category::gradients);
    grad_info_->grad = autograd::accumulate(grad_info_->grad, g.view(shape_));
    return;
  }
  // Topological order of nodes (post-order DFS, iterative to survive deep graphs).
  std::vector<Node*> order;
  std::unordered_set<Node*> seen;
  std::vector<std::pair<Node*, std::size_t>> stack{{grad_info_->grad_fn.get(), 0}};
  seen.insert(stack.back().first);
  while (!stack.empty()) {
    auto& [node, i] = stack.back();
    if (node->released)
      throw Error(std::string("backward: the graph through '") + node->op +
                  "' was already freed; call backward(seed, /*retain_graph=*/true) the first time");
    if (i < node->inputs.size()) {
      const Tensor& in = node->inputs[i++];
      if (in.defined() && !in.is_leaf()) {
        Node* child = in.grad_info()->grad_fn.get();
        if (seen.insert(child).second) stack.push_back({child, 0});
      }
      continue;
    }
    order.push_back(node);
    stack.pop_back();
  }
  // Gradients per node output, and per leaf.
  std::unordered_map<Node*, Tensor> pending;
  std::unordered_map<autograd::GradInfo*, Tensor> leaf_grads;
  std::vector<autograd::GradInfo*> leaf_order;
  pending[grad_info_->grad_fn.get()] = g.view(shape_);
  for (auto it = order.rbegin(); it != order.rend(); ++it) {
    Node* node = *it;
    auto found = pending.find(node);
    if (found == pending.end()) continue;  // no gradient reached this node
    Tensor gout = std::move(found->second);
    pending.erase(found);
    std::vector<Tensor> gin;
    {
      tensor::LedgerScope scope(tensor::Category::activations);
      gin = node->backward(gout);
    }
    check(gin.size() == node->inputs.size(), std::string("autograd: op '") + node->op + "' returned a wrong number of gradients");
    for (std::size_t k = 0; k < gin.size(); ++k) {
      const Tensor& in = node->inputs[k];
      if (!in.defined() || !gin[k].defined()) continue;
      check(gin[k].numel() == in.numel(), std::string("autograd: op '") + node->op + "' gradient shape mismatch");
      if (in.is_leaf()) {
        auto* gi = in.grad_info().get();
        if (!leaf_grads.count(gi)) leaf_order.push_back(gi);
        leaf_grads[gi] = autograd::accumulate(leaf_grads[gi], gin[k].view(in.shape()));
      } else {
        Node* child = in.grad_info()->grad_fn.get();
        Tensor acc = autograd::accumulate(pending[child], gin[k].view(in.shape()));
        // An intermediate low-precision tensor's gradient is stored in its own dtype.
        if (acc.dtype() != in.dtype() && in.dtype() != DType::fp32 && in.dtype() != DType::fp64 &&
            numerics::spec(in.dtype()).bits() == 16)
          acc = acc.to(in.dtype());
        pending[child] = std::move(acc);
      }
    }
    if (!retain_graph) {
      node->released = true;
      node->backward = nullptr;
    }
  }
  tensor::LedgerScope scope(tensor::Category::gradients);
  for (auto* gi : leaf_order) {
    Tensor add = leaf_grads[gi];
    if (gi->grad.defined()) {
      gi->grad = autograd::accumulate(gi->grad, add);
    } else {
      // Leaf gradients live in fp32 (fp64 for fp64 graphs) under the gradients category.
      Tensor owned = Tensor::empty(add.shape(), autograd::accumulation_dtype(add.dtype()));
      owned.copy_from(add);
      gi->grad = owned;
    }
  }
}

}  // namespace mixtrain
