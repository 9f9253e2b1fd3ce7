// Ledger counters: atomics with a compare-and-swap peak update, so allocation from several
// threads never loses a peak.
#include "tensor/ledger.h"

#include <atomic>

namespace mixtrain::tensor {
namespace {

constexpr std::size_t kDTypes = std::size(kAllDTypes);
std::atomic<std::int64_t> g_live[kCategories];
std::atomic<std::int64_t> g_peak[kCategories];
std::atomic<std::int64_t> g_live_dt[kDTypes];
std::atomic<std::int64_t> g_peak_dt[kDTypes];
std::atomic<std::int64_t> g_live_total;
std::atomic<std::int64_t> g_peak_total;
thread_local Category t_category = Category::activations;

void raise_peak(std::atomic<std::int64_t>& peak, std::int64_t value) {
  std::int64_t p = peak.load(std::memory_order_relaxed);
  while (value > p && !peak.compare_exchange_weak(p, value, std::memory_order_relaxed)) {
  }
}

}  // namespace

std::string_view to_string(Category c) {
  switch (c) {
    case Category::weights: return "weights";
    case Category::master_weights: return "master_weights";
    case Category::gradients: return "gradients";
    case Category::optimizer_state: return "optimizer_state";
    case Category::activations: return "activations";
    case Category::workspace: return "workspace";
  }
  return "?";
}

void Ledger::on_alloc(Category c, DType t, std::int64_t bytes) {
  const auto ci = static_cast<std::size_t>(c), ti = static_cast<std::size_t>(t);
  raise_peak(g_peak[ci], g_live[ci].fetch_add(bytes) + bytes);
  raise_peak(g_peak_dt[ti], g_live_dt[ti].fetch_add(bytes) + bytes);
  raise_peak(g_peak_total, g_live_total.fetch_add(bytes) + bytes);
}

void Ledger::on_free(Category c, DType t, std::int64_t bytes) {
  g_live[static_cast<std::size_t>(c)].fetch_sub(bytes);
  g_live_dt[static_cast<std::size_t>(t)].fetch_sub(bytes);
  g_live_total.fetch_sub(bytes);
}

std::int64_t Ledger::live(Category c) { return g_live[static_cast<std::size_t>(c)].load(); }
std::int64_t Ledger::peak(Category c) { return g_peak[static_cast<std::size_t>(c)].load(); }
std::int64_t Ledger::live_total() { return g_live_total.load(); }
std::int64_t Ledger::peak_total() { return g_peak_total.load(); }

LedgerSnapshot Ledger::snapshot() {
  LedgerSnapshot s;
  for (int i = 0; i < kCategories; ++i) {
    s.live[i] = g_live[i].load();
    s.peak[i] = g_peak[i].load();
  }
  for (std::size_t i = 0; i < kDTypes; ++i) {
    s.live_by_dtype[i] = g_live_dt[i].load();
    s.peak_by_dtype[i] = g_peak_dt[i].load();
  }
  s.live_total = g_live_total.load();
  s.peak_total = g_peak_total.load();
  return s;
}

void Ledger::reset_peaks() {
  for (int i = 0; i < kCategories; ++i) g_peak[i].store(g_live[i].load());
  for (std::size_t i = 0; i < kDTypes; ++i) g_peak_dt[i].store(g_live_dt[i].load());
  g_peak_total.store(g_live_total.load());
}

Category current_category() { return t_category; }
LedgerScope::LedgerScope(Category c) : saved_(t_category) { t_category = c; }
LedgerScope::~LedgerScope() { t_category = saved_; }

}  // namespace mixtrain::tensor
