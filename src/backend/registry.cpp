#include "backend/registry.h"

#include <algorithm>
#include <atomic>
#include <cstddef>
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
// the middle of a run. From `begin` on, the tables are plain pointers (or structs of them), so the
// bytes are scanned as pointer-sized words; no hand-kept list of entries to forget one in.
template <typename Table>
bool all_entries_set(const Table& t, std::size_t begin = 0) {
  const auto* words = reinterpret_cast<const unsigned char*>(&t);
  for (std::size_t off = begin; off < sizeof(Table); off += sizeof(void*)) {
    bool zero = true;
    for (std::size_t b = 0; b < sizeof(void*); ++b) zero = zero && words[off + b] == 0;
    if (zero) return false;
  }
  return true;
}
// Kernels holds its name, device and the two per-dtype tables first; every member from `gemm` to
// the end is a function pointer or a struct of them.
constexpr std::size_t kFirstPointer = offsetof(Kernels, gemm);
static_assert(sizeof(RealKernels<float>) % sizeof(void*) == 0 && (sizeof(Kernels) - kFirstPointer) % sizeof(void*) == 0);

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
  check(all_entries_set(table, kFirstPointer),
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
