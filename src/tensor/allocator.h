// A caching host allocator: freed blocks are kept in per-size free lists and handed out again, so
// a training step that allocates the same shapes every iteration does no malloc after the first.
// Blocks are 64-byte aligned (AVX loads, no false sharing). Thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>

namespace mixtrain::tensor {

class CachingAllocator {
 public:
  static void* allocate(std::size_t bytes);
  static void release(void* p, std::size_t bytes);
  // Bytes held in free lists (not in use by any tensor).
  static std::size_t cached_bytes();
  // Number of times allocate() had to call the system allocator.
  static std::uint64_t system_allocations();
  // Returns every cached block to the system.
  static void empty_cache();
};

}  // namespace mixtrain::tensor
