// Free lists keyed by the rounded block size. Sizes are rounded up to a multiple of 64 bytes
// (small) or of 1/8 of their power of two (large), which bounds waste at 12.5% while letting
// slightly different shapes share blocks.
#include "tensor/allocator.h"

#include <bit>
#include <cstdlib>
#include <mutex>
#include <new>
#include <unordered_map>
#include <vector>

namespace mixtrain::tensor {
namespace {

std::size_t round_size(std::size_t bytes) {
  if (bytes <= 4096) return (bytes + 63) & ~std::size_t{63};
  const std::size_t step = std::bit_floor(bytes) / 8;
  return (bytes + step - 1) / step * step;
}

}  // namespace

struct CachingHostAllocator::State {
  mutable std::mutex mutex;
  std::unordered_map<std::size_t, std::vector<void*>> free;
  std::size_t cached = 0;
  std::uint64_t system_allocs = 0;
};

CachingHostAllocator::CachingHostAllocator() : DeviceAllocator(kCpu), state_(std::make_unique<State>()) {}

CachingHostAllocator::~CachingHostAllocator() { empty_cache(); }

void* CachingHostAllocator::allocate(std::size_t bytes) {
  const std::size_t size = round_size(bytes == 0 ? 1 : bytes);
  State& s = *state_;
  {
    std::lock_guard<std::mutex> lock(s.mutex);
    auto it = s.free.find(size);
    if (it != s.free.end() && !it->second.empty()) {
      void* p = it->second.back();
      it->second.pop_back();
      s.cached -= size;
      return p;
    }
    ++s.system_allocs;
  }
  void* p = std::aligned_alloc(64, size);
  if (!p) throw std::bad_alloc();
  return p;
}

void CachingHostAllocator::deallocate(void* p, std::size_t bytes) {
  if (!p) return;
  const std::size_t size = round_size(bytes == 0 ? 1 : bytes);
  State& s = *state_;
  std::lock_guard<std::mutex> lock(s.mutex);
  s.free[size].push_back(p);
  s.cached += size;
}

std::size_t CachingHostAllocator::cached_bytes() const {
  std::lock_guard<std::mutex> lock(state_->mutex);
  return state_->cached;
}

std::uint64_t CachingHostAllocator::system_allocations() const {
  std::lock_guard<std::mutex> lock(state_->mutex);
  return state_->system_allocs;
}

void CachingHostAllocator::empty_cache() {
  State& s = *state_;
  std::lock_guard<std::mutex> lock(s.mutex);
  for (auto& [size, blocks] : s.free)
    for (void* p : blocks) std::free(p);
  s.free.clear();
  s.cached = 0;
}

CachingHostAllocator& cpu_caching_allocator() {
  static CachingHostAllocator* a = new CachingHostAllocator();  // never destroyed (see header)
  return *a;
}

DeviceAllocator& cpu_allocator() { return cpu_caching_allocator(); }

}  // namespace mixtrain::tensor
