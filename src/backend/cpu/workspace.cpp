// Per-thread scratch (workspace.h): one growing byte buffer per slot and thread, counted in a
// process-wide atomic so the ledger can see kernel workspace.
#include "backend/cpu/workspace.h"

#include <atomic>
#include <cstdint>
#include <memory>

namespace mixtrain::backend::cpu {
namespace {

std::atomic<std::size_t> g_bytes{0};

struct Slot {
  std::unique_ptr<unsigned char[]> p;
  std::size_t bytes = 0;
  Slot() = default;
  Slot(const Slot&) = delete;
  Slot& operator=(const Slot&) = delete;
  ~Slot() { g_bytes -= bytes; }
};

struct Slots {
  Slot s[static_cast<int>(Scratch::count)];
};

}  // namespace

template <typename T>
T* thread_scratch(Scratch slot, std::size_t n) {
  thread_local Slots slots;
  Slot& s = slots.s[static_cast<int>(slot)];
  const std::size_t want = n * sizeof(T);
  if (want > s.bytes) {
    // new[] of unsigned char is aligned for any fundamental type.
    s.p = std::make_unique_for_overwrite<unsigned char[]>(want);
    g_bytes += want - s.bytes;
    s.bytes = want;
  }
  return reinterpret_cast<T*>(s.p.get());
}

template float* thread_scratch<float>(Scratch, std::size_t);
template double* thread_scratch<double>(Scratch, std::size_t);
template std::uint16_t* thread_scratch<std::uint16_t>(Scratch, std::size_t);
template std::uint32_t* thread_scratch<std::uint32_t>(Scratch, std::size_t);

std::size_t scratch_bytes() { return g_bytes.load(); }

}  // namespace mixtrain::backend::cpu
