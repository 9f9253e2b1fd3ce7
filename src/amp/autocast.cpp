// Autocast decisions and the cast cache.
#include "amp/autocast.h"

#include "amp/op_table.h"
#include "autograd/grad_info.h"
#include "ops/elementwise.h"

namespace mixtrain::amp {
namespace {
const std::string kNoModule;
thread_local const std::string* t_module = &kNoModule;

int width(DType t) { return numerics::spec(t).bits(); }
}  // namespace

Autocast::Autocast(const Policy& policy, bool enabled)
    : policy_(policy), enabled_(enabled && policy.autocast()), saved_(ops::autocast_hook()) {
  // A disabled guard still installs itself, so it switches autocast off inside an enabled one.
  ops::set_autocast_hook(enabled_ ? this : nullptr);
}

Autocast::~Autocast() { ops::set_autocast_hook(saved_); }

const Autocast* current_autocast() { return dynamic_cast<const Autocast*>(ops::autocast_hook()); }

std::optional<DType> Autocast::input_dtype(std::string_view op, DType widest) const {
  if (widest == DType::fp64) return std::nullopt;  // fp64 graphs (gradient checks) are left alone
  switch (op_category(op)) {
    case OpCategory::lower: {
      // Operands already quantised to fp8 (by nn::Linear) are used as they are.
      if (width(widest) == 8) return std::nullopt;
      const DType d = policy_.gemm_dtype(*t_module);
      // fp8 GEMMs are quantised by nn::Linear with their scaling state; plain ops use bf16.
      return width(d) == 8 ? policy_.low : d;
    }
    case OpCategory::fp32: return DType::fp32;
    case OpCategory::promote: return widest;
    case OpCategory::none: return std::nullopt;
  }
  return std::nullopt;
}

Tensor Autocast::cast(const Tensor& t, DType dtype) const {
  // Only parameters (leaves that require grad) are cached. Under no-grad every tensor is a leaf,
  // and activations' storage is recycled by the caching allocator, so keying them by storage
  // would return stale casts.
  if (!t.is_leaf() || !t.requires_grad()) return ops::cast(t, dtype);
  const auto key = std::make_pair(t.storage_id(), dtype);
  auto it = cache_.find(key);
  if (it != cache_.end()) {
    ++hits_;
    return it->second.second;
  }
  Tensor c = ops::cast(t, dtype);
  // The entry keeps the source alive, so its storage cannot be recycled under the same key.
  cache_.emplace(key, std::make_pair(t, c));
  return c;
}

const std::string& current_module() { return *t_module; }
// The autograd scope follows the module scope so that statistics can name a gradient's layer.
ModuleScope::ModuleScope(const std::string& name) : saved_(t_module) {
  t_module = &name;
  autograd::set_scope(&name);
}
ModuleScope::~ModuleScope() {
  t_module = saved_;
  autograd::set_scope(saved_);
}

}  // namespace mixtrain::amp
