// Ledger counters: atomics with a compare-and-swap peak update, so allocation from several
// threads never loses a peak.
#include "tensor/ledger.h"

#include "tensor/device_allocator.h"

namespace mixtrain::tensor {
namespace {

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

void MemoryLedger::on_alloc(Category c, DType t, std::int64_t bytes) {
  const auto ci = static_cast<std::size_t>(c), ti = static_cast<std::size_t>(t);
  raise_peak(peak_[ci], live_[ci].fetch_add(bytes) + bytes);
  raise_peak(peak_dt_[ti], live_dt_[ti].fetch_add(bytes) + bytes);
  raise_peak(peak_total_, live_total_.fetch_add(bytes) + bytes);
}

void MemoryLedger::on_free(Category c, DType t, std::int64_t bytes) {
  live_[static_cast<std::size_t>(c)].fetch_sub(bytes);
  live_dt_[static_cast<std::size_t>(t)].fetch_sub(bytes);
  live_total_.fetch_sub(bytes);
}

std::int64_t MemoryLedger::live(Category c) const { return live_[static_cast<std::size_t>(c)].load(); }
std::int64_t MemoryLedger::peak(Category c) const { return peak_[static_cast<std::size_t>(c)].load(); }
std::int64_t MemoryLedger::live_total() const { return live_total_.load(); }
std::int64_t MemoryLedger::peak_total() const { return peak_total_.load(); }

LedgerSnapshot MemoryLedger::snapshot() const {
  LedgerSnapshot s;
  for (std::size_t i = 0; i < static_cast<std::size_t>(kCategories); ++i) {
    s.live[i] = live_[i].load();
    s.peak[i] = peak_[i].load();
  }
  for (std::size_t i = 0; i < kDTypes; ++i) {
    s.live_by_dtype[i] = live_dt_[i].load();
    s.peak_by_dtype[i] = peak_dt_[i].load();
  }
  s.live_total = live_total_.load();
  s.peak_total = peak_total_.load();
  return s;
}

void MemoryLedger::reset_peaks() {
  for (std::size_t i = 0; i < static_cast<std::size_t>(kCategories); ++i) peak_[i].store(live_[i].load());
  for (std::size_t i = 0; i < kDTypes; ++i) peak_dt_[i].store(live_dt_[i].load());
  peak_total_.store(live_total_.load());
}

MemoryLedger& Ledger::cpu() { return cpu_allocator().ledger(); }

Category current_category() { return t_category; }
LedgerScope::LedgerScope(Category c) : saved_(t_category) { t_category = c; }
LedgerScope::~LedgerScope() { t_category = saved_; }

}  // namespace mixtrain::tensor
