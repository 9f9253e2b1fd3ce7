// Reverse-mode execution: topological order by depth-first search from the root, gradients summed
// per tensor in fp32/fp64, rounded to each intermediate tensor's dtype, and accumulated into leaves.
#include <chrono>
#include <unordered_map>
#include <unordered_set>

#include "autograd/grad_info.h"
#include "autograd/profiler.h"
#include "backend/kernels.h"
#include "runtime/error.h"

namespace mixtrain {
namespace autograd {
namespace {

thread_local bool t_grad_enabled = true;
thread_local bool t_capture_scope = false;
thread_local const std::string* t_scope = nullptr;
thread_local RoundingObserver* t_observer = nullptr;

DType accumulation_dtype(DType t) { return t == DType::fp64 ? DType::fp64 : DType::fp32; }

// a + b in the accumulation dtype (fp64 if either is fp64, else fp32), into a new tensor: a and b
// may be shared with other pending gradients, so neither is modified. The engine does its own
// sum rather than calling ops::add, which sits above this layer.
Tensor accumulate(const Tensor& a, const Tensor& b) {
  if (!a.defined()) return b;
  const DType ad = a.dtype() == DType::fp64 || b.dtype() == DType::fp64 ? DType::fp64 : DType::fp32;
  Tensor out = a.to(ad);
  const Tensor bc = b.dtype() == ad && b.scale() == 1.0f ? b : b.to(ad);
  if (ad == DType::fp64) backend::kernels().f64.accumulate(out.data_as<double>(), bc.data_as<double>(), out.numel());
  else backend::kernels().f32.accumulate(out.data_as<float>(), bc.data_as<float>(), out.numel());
  return out;
}

// Adds g into a leaf's .grad, which lives in fp32 (fp64 for fp64 leaves) under the gradients
// category of the ledger and is always a tensor the engine owns (never the caller's seed).
void accumulate_leaf(GradInfo& gi, const Tensor& g, DType leaf_dtype) {
  tensor::LedgerScope scope(tensor::Category::gradients);
  if (gi.grad.defined()) {
    gi.grad = accumulate(gi.grad, g);
  } else if (g.sole_owner() && g.dtype() == accumulation_dtype(leaf_dtype) && g.scale() == 1.0f) {
    // A gradient only the engine holds (a closure's fresh output) becomes .grad as it is: no
    // copy of every parameter's gradient per step.
    g.recategorise(tensor::Category::gradients);
    gi.grad = g;
  } else {
    gi.grad = g.to(accumulation_dtype(leaf_dtype));
  }
}

}  // namespace

bool grad_enabled() { return t_grad_enabled; }
NoGradGuard::NoGradGuard() : saved_(t_grad_enabled) { t_grad_enabled = false; }
NoGradGuard::~NoGradGuard() { t_grad_enabled = saved_; }

const std::string* set_scope(const std::string* name) {
  const std::string* prev = t_scope;
  t_scope = name;
  return prev;
}
ScopeCapture::ScopeCapture() : saved_(t_capture_scope) { t_capture_scope = true; }
ScopeCapture::~ScopeCapture() { t_capture_scope = saved_; }
ObserveRounding::ObserveRounding(RoundingObserver* o) : saved_(t_observer) { t_observer = o; }
ObserveRounding::~ObserveRounding() { t_observer = saved_; }

bool any_requires_grad(std::initializer_list<const Tensor*> inputs) {
  if (!t_grad_enabled) return false;
  for (const Tensor* t : inputs)
    if (t && t->defined() && t->requires_grad()) return true;
  return false;
}

bool Edge::is_leaf() const { return !info || !info->grad_fn; }

void record(Tensor& out, const char* op, std::vector<Tensor> inputs,
            std::function<std::vector<Tensor>(const Tensor&)> backward) {
  auto node = std::make_shared<Node>();
  node->op = op;
  if (t_capture_scope && t_scope) node->scope = *t_scope;
  node->inputs.reserve(inputs.size());
  for (const auto& t : inputs) {
    Edge e;
    if (t.defined() && t.requires_grad()) e = {t.grad_info(), t.shape(), t.dtype(), t.numel()};
    node->inputs.push_back(std::move(e));
  }
  node->backward = std::move(backward);
  auto& gi = out.grad_info();
  gi = std::make_shared<GradInfo>();
  gi->requires_grad = true;
  gi->grad_fn = std::move(node);
  if (OpProfiler* prof = OpProfiler::active()) prof->forward_op(op);
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
  if (autograd::OpProfiler* prof = autograd::OpProfiler::active()) prof->mark("(between forward and backward)");
  const auto t_entry = std::chrono::steady_clock::now();
  double node_ms = 0;
  Tensor g = seed;
  if (!g.defined()) {
    check(numel_ == 1, "backward: tensor of shape " + to_string(shape_) +
                           " is not a scalar; pass a seed gradient of the same shape");
    tensor::LedgerScope scope(tensor::Category::gradients);
    g = Tensor::ones(shape_, autograd::accumulation_dtype(dtype_));
  }
  check(g.numel() == numel_, "backward: seed gradient shape " + to_string(g.shape()) + " does not match " + to_string(shape_));
  if (is_leaf()) {
    autograd::accumulate_leaf(*grad_info_, g.view(shape_), dtype_);
    return;
  }
  // Topological order of nodes (post-order DFS, iterative to survive deep graphs). `order` owns
  // the nodes: releasing a node below drops its inputs, which may hold the last reference to
  // the nodes that are processed after it.
  std::vector<std::shared_ptr<Node>> order;
  std::unordered_set<Node*> seen;
  std::vector<std::pair<std::shared_ptr<Node>, std::size_t>> stack{{grad_info_->grad_fn, 0}};
  seen.insert(stack.back().first.get());
  while (!stack.empty()) {
    auto& [node, i] = stack.back();
    if (node->released)
      throw Error(std::string("backward: the graph through '") + node->op +
                  "' was already freed; call backward(seed, /*retain_graph=*/true) the first time");
    if (i < node->inputs.size()) {
      const autograd::Edge& in = node->inputs[i++];
      if (in.defined() && !in.is_leaf()) {
        const std::shared_ptr<Node>& child = in.info->grad_fn;
        if (seen.insert(child.get()).second) stack.push_back({child, 0});
      }
      continue;
    }
    order.push_back(std::move(node));
    stack.pop_back();
  }
  // Gradients per node output, and per leaf.
  std::unordered_map<Node*, Tensor> pending;
  std::unordered_map<autograd::GradInfo*, Tensor> leaf_grads;
  std::vector<autograd::GradInfo*> leaf_order;
  std::unordered_map<autograd::GradInfo*, DType> leaf_dtypes;
  pending[grad_info_->grad_fn.get()] = g.view(shape_);
  for (auto it = order.rbegin(); it != order.rend(); ++it) {
    Node* node = it->get();
    auto found = pending.find(node);
    if (found == pending.end()) continue;  // no gradient reached this node
    Tensor gout = std::move(found->second);
    pending.erase(found);
    if (autograd::t_observer) autograd::t_observer->on_grad(*node, gout);
    autograd::OpProfiler* prof = autograd::OpProfiler::active();
    const auto t0 = prof ? std::chrono::steady_clock::now() : std::chrono::steady_clock::time_point{};
    std::vector<Tensor> gin;
    {
      tensor::LedgerScope scope(tensor::Category::activations);
      gin = node->backward(gout);
    }
    check(gin.size() == node->inputs.size(), std::string("autograd: op '") + node->op + "' returned a wrong number of gradients");
    for (std::size_t k = 0; k < gin.size(); ++k) {
      const autograd::Edge& in = node->inputs[k];
      if (!in.defined() || !gin[k].defined()) continue;
      check(gin[k].numel() == in.numel, std::string("autograd: op '") + node->op + "' gradient shape mismatch");
      if (in.is_leaf()) {
        auto* gi = in.info.get();
        if (!leaf_grads.count(gi)) {
          leaf_order.push_back(gi);
          leaf_dtypes[gi] = in.dtype;
        }
        leaf_grads[gi] = autograd::accumulate(leaf_grads[gi], gin[k].view(in.shape));
      } else {
        Node* child = in.info->grad_fn.get();
        Tensor acc = autograd::accumulate(pending[child], gin[k].view(in.shape));
        // An intermediate low-precision tensor's gradient is stored in its own dtype.
        if (acc.dtype() != in.dtype && numerics::spec(in.dtype).bits() == 16) acc = acc.to(in.dtype);
        pending[child] = std::move(acc);
      }
    }
    if (prof) {
      const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
      prof->backward_op(node->op, ms);
      node_ms += ms;
    }
    if (!retain_graph) {
      // Frees the saved tensors now, as PyTorch does, instead of when the output goes away.
      node->released = true;
      node->backward = nullptr;
      node->inputs.clear();
    }
  }
  for (auto* gi : leaf_order) autograd::accumulate_leaf(*gi, leaf_grads[gi], leaf_dtypes[gi]);
  if (autograd::OpProfiler* prof = autograd::OpProfiler::active()) {
    // The engine's own time (ordering, bookkeeping, leaf accumulation): the whole backward less
    // the nodes already counted.
    prof->backward_op("(autograd engine)", std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t_entry).count() - node_ms);
    prof->restart();
  }
}

}  // namespace mixtrain
