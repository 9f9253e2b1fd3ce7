// Autocast: a scoped, thread-local, nestable guard that makes ops run in the policy's dtypes
// (PyTorch's torch.autocast). Each op's category comes from amp/op_table.h; GEMM ops ask the
// current module (ModuleScope, set by nn::Module::forward) for its dtype, so the per-layer
// precision map applies. Casts of leaf tensors (weights) are cached for the life of the guard:
// each weight is cast once per forward however often it is used.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <utility>

#include "amp/policy.h"
#include "ops/common.h"

namespace mixtrain::amp {

class Autocast : public ops::AutocastHook {
 public:
  explicit Autocast(const Policy& policy, bool enabled = true);
  ~Autocast() override;
  Autocast(const Autocast&) = delete;
  Autocast& operator=(const Autocast&) = delete;

  std::optional<DType> input_dtype(std::string_view op, DType widest) const override;
  Tensor cast(const Tensor& t, DType dtype) const override;
  const Policy& policy() const { return policy_; }
  // Number of casts served from the cache (for tests and the cast-once guarantee).
  std::int64_t cache_hits() const { return hits_; }

 private:
  Policy policy_;
  bool enabled_;
  const ops::AutocastHook* saved_;
  mutable std::map<std::pair<const void*, DType>, std::pair<Tensor, Tensor>> cache_;  // source, cast
  mutable std::int64_t hits_ = 0;
};

// The dotted name of the module whose forward is running on this thread ("" outside any).
const std::string& current_module();
class ModuleScope {
 public:
  explicit ModuleScope(const std::string& name);
  ~ModuleScope();
  ModuleScope(const ModuleScope&) = delete;
  ModuleScope& operator=(const ModuleScope&) = delete;

 private:
  const std::string* saved_;
};

// The active Autocast guard of this thread, or nullptr.
const Autocast* current_autocast();

}  // namespace mixtrain::amp
