// The memory ledger: every tensor allocation is tagged with what it is for (weights, master
// weights, gradients, optimizer state, activations, workspace); live and peak bytes are kept per
// category and per dtype, so a run can say where its memory went and what mixed precision saved.
// Thread-safe; counting is exact (bytes requested by tensors, not allocator rounding).
#pragma once

#include <array>
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

class Ledger {
 public:
  static void on_alloc(Category c, DType t, std::int64_t bytes);
  static void on_free(Category c, DType t, std::int64_t bytes);
  static std::int64_t live(Category c);
  static std::int64_t peak(Category c);
  static std::int64_t live_total();
  static std::int64_t peak_total();
  static LedgerSnapshot snapshot();
  // Peaks restart from the current live values (live bytes are never reset: they are facts).
  static void reset_peaks();
};

// The category new tensors get on this thread (default: activations). Nestable RAII guard.
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
