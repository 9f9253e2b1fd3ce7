// The cpu device's allocator: a caching host allocator. Freed blocks are kept in per-size free
// lists and handed out again, so a training step that allocates the same shapes every iteration
// does no malloc after the first. Blocks are 64-byte aligned (AVX loads, no false sharing).
// Thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>

#include "tensor/device_allocator.h"

namespace mixtrain::tensor {

class CachingHostAllocator final : public DeviceAllocator {
 public:
  CachingHostAllocator();
  ~CachingHostAllocator() override;
  void* allocate(std::size_t bytes) override;
  void deallocate(void* p, std::size_t bytes) override;
  std::size_t cached_bytes() const override;
  void empty_cache() override;
  // Number of times allocate() had to call the system allocator.
  std::uint64_t system_allocations() const;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

// The instance behind cpu_allocator().
CachingHostAllocator& cpu_caching_allocator();

// The cpu allocator as static calls (what existed before devices did).
class CachingAllocator {
 public:
  static void* allocate(std::size_t bytes) { return cpu_caching_allocator().allocate(bytes); }
  static void release(void* p, std::size_t bytes) { cpu_caching_allocator().deallocate(p, bytes); }
  // Bytes held in free lists (not in use by any tensor).
  static std::size_t cached_bytes() { return cpu_caching_allocator().cached_bytes(); }
  static std::uint64_t system_allocations() { return cpu_caching_allocator().system_allocations(); }
  // Returns every cached block to the system.
  static void empty_cache() { cpu_caching_allocator().empty_cache(); }
};

}  // namespace mixtrain::tensor
