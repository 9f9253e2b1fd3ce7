// The memory ledger: every tensor allocation is tagged with what it is for (weights, master
// weights, gradients, optimizer state, activations, workspace); live and peak bytes are kept per
// category and per dtype, so a run can say where its memory went and what mixed precision saved.
// Thread-safe; counting is exact (bytes requested by tensors, not allocator rounding).
//
// There is one MemoryLedger per device, owned by that device's allocator (device_allocator.h):
// bytes on a GPU and bytes in host memory are different budgets. `Ledger` is the static view of
// the cpu device's ledger that the layers above (trainer summary, tests) have always used.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <string_view>

#include "numerics/format.h"

namespace mixtrain::tensor {

enum class Category : std::uint8_t {
  weights, master_weights, gradients, optimizer_state, activations, workspace
};
inline constexpr int kCategories = 6;
inline constexpr Category kAllCategories[] = {Category::weights, Category::master_weights,
                                              Category::gradients, Category::optimizer_state,
                                              Category::activations, Category::workspace};
std::string_view to_string(Category c);

struct LedgerSnapshot {
  std::array<std::int64_t, kCategories> live{}, peak{};
  std::array<std::int64_t, std::size(kAllDTypes)> live_by_dtype{}, peak_by_dtype{};
  std::int64_t live_total = 0, peak_total = 0;
};

// One device's counters.
class MemoryLedger {
 public:
  MemoryLedger() = default;
  MemoryLedger(const MemoryLedger&) = delete;
  MemoryLedger& operator=(const MemoryLedger&) = delete;

  void on_alloc(Category c, DType t, std::int64_t bytes);
  void on_free(Category c, DType t, std::int64_t bytes);
  std::int64_t live(Category c) const;
  std::int64_t peak(Category c) const;
  std::int64_t live_total() const;
  std::int64_t peak_total() const;
  LedgerSnapshot snapshot() const;
  // Peaks restart from the current live values (live bytes are never reset: they are facts).
  void reset_peaks();

 private:
  static constexpr std::size_t kDTypes = std::size(kAllDTypes);
  std::atomic<std::int64_t> live_[kCategories]{}, peak_[kCategories]{};
  std::atomic<std::int64_t> live_dt_[kDTypes]{}, peak_dt_[kDTypes]{};
  std::atomic<std::int64_t> live_total_{0}, peak_total_{0};
};

// The cpu device's ledger, as static calls (what existed before devices did).
class Ledger {
 public:
  static MemoryLedger& cpu();
  static void on_alloc(Category c, DType t, std::int64_t bytes) { cpu().on_alloc(c, t, bytes); }
  static void on_free(Category c, DType t, std::int64_t bytes) { cpu().on_free(c, t, bytes); }
  static std::int64_t live(Category c) { return cpu().live(c); }
  static std::int64_t peak(Category c) { return cpu().peak(c); }
  static std::int64_t live_total() { return cpu().live_total(); }
  static std::int64_t peak_total() { return cpu().peak_total(); }
  static LedgerSnapshot snapshot() { return cpu().snapshot(); }
  static void reset_peaks() { cpu().reset_peaks(); }
};

// The category new tensors get on this thread (default: activations), whatever their device.
// Nestable RAII guard.
Category current_category();
class LedgerScope {
 public:
  explicit LedgerScope(Category c);
  ~LedgerScope();
  LedgerScope(const LedgerScope&) = delete;
  LedgerScope& operator=(const LedgerScope&) = delete;

 private:
  Category saved_;
};

}  // namespace mixtrain::tensor
