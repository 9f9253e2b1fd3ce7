#include "backend/registry.h"

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <map>
#include <mutex>

#include "backend/cpu/cpu_backend.h"
#include "backend/reference/reference_backend.h"
#include "runtime/error.h"
#include "tensor/conversions.h"

namespace mixtrain::backend {
namespace {

// Every entry of a table must be set: a missing family would otherwise surface as a null call in
// the middle of a run. The tables are plain structs of pointers, so they are scanned as such.
template <typename Table>
bool all_entries_set(const Table& t) {
  static_assert(sizeof(Table) % sizeof(void*) == 0);
  const auto* words = reinterpret_cast<const unsigned char*>(&t);
  for (std::size_t off = 0; off < sizeof(Table); off += sizeof(void*)) {
    bool zero = true;
    for (std::size_t b = 0; b < sizeof(void*); ++b) zero = zero && words[off + b] == 0;
    if (zero) return false;
  }
  return true;
}

struct Registry {
  std::mutex mutex;
  std::map<std::string, const Kernels*, std::less<>> tables;
  std::atomic<const Kernels*> active{nullptr};
};

// Makes `table` the active backend, and its conversions the tensor layer's (Tensor::to and
// friends sit below this layer and are handed the backend's conversion kernels).
void activate(Registry& r, const Kernels& table) {
  tensor::set_conversions(table.conversions);
  r.active.store(&table, std::memory_order_release);
}

void add(Registry& r, const Kernels& table) {
  check(!table.name.empty(), "backend registry: a backend needs a name");
  check(all_entries_set(table.f32) && all_entries_set(table.f64),
        "backend registry: backend '" + std::string(table.name) + "' leaves a kernel family unset");
  check(table.gemm && table.gemm_batched && table.gemm_flops && table.reset_gemm_flops && table.gemm_flops_by_kernel &&
            table.gemm_kernel_name && table.bias_act_forward_block && table.bias_act_backward_from &&
            table.column_sums && table.binary_f32 && table.permute && table.gather_rows && table.copy_rows && table.to_heads_f32 && table.to_heads_f64 &&
            table.from_heads_f32 && table.from_heads_f64 && all_entries_set(table.conversions) && table.all_finite &&
            table.sum_squares && table.dropout_mask && table.optimizer_update && table.tier,
        "backend registry: backend '" + std::string(table.name) + "' leaves a kernel family unset");
  const auto [it, fresh] = r.tables.emplace(std::string(table.name), &table);
  check(fresh, "backend registry: backend '" + std::string(table.name) + "' is registered twice");
}

std::string known(const Registry& r) {
  std::string s;
  for (const auto& [name, table] : r.tables) s += (s.empty() ? "" : ", ") + name;
  return s;
}

const Kernels& find(Registry& r, std::string_view name, std::string_view what) {
  const auto it = r.tables.find(name);
  if (it == r.tables.end())
    throw Error(std::string(what) + ": unknown backend '" + std::string(name) + "' (known: " + known(r) + ")");
  return *it->second;
}

Registry& registry() {
  static Registry* r = [] {
    auto* reg = new Registry;  // never destroyed: kernels may run during static destruction
    add(*reg, cpu::table());
    add(*reg, reference::table());
    const char* env = std::getenv("MIXTRAIN_BACKEND");
    activate(*reg, find(*reg, env != nullptr && *env != '\0' ? env : "cpu", "MIXTRAIN_BACKEND"));
    return reg;
  }();
  return *r;
}

}  // namespace

const Kernels& kernels() {
  // One acquire load on the hot path; the registry is built on first use.
  static Registry& r = registry();
  return *r.active.load(std::memory_order_acquire);
}

void register_backend(const Kernels& table) {
  Registry& r = registry();
  std::lock_guard lock(r.mutex);
  add(r, table);
}

void select_backend(std::string_view name, std::string_view what) {
  Registry& r = registry();
  std::lock_guard lock(r.mutex);
  activate(r, find(r, name, what));
}

std::string_view active_backend() { return kernels().name; }

std::vector<std::string> backend_names() {
  Registry& r = registry();
  std::lock_guard lock(r.mutex);
  std::vector<std::string> names;
  for (const auto& [name, table] : r.tables) names.push_back(name);
  return names;
}

const Kernels& backend_table(std::string_view name) {
  Registry& r = registry();
  std::lock_guard lock(r.mutex);
  return find(r, name, "backend");
}

BackendScope::BackendScope(std::string_view name) : saved_(active_backend()) { select_backend(name, "backend"); }
BackendScope::~BackendScope() { select_backend(saved_, "backend"); }

}  // namespace mixtrain::backend
