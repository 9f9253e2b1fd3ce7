// One allocator per device, behind an interface, and the registry that finds it. Each allocator
// owns its device's memory ledger, so "one ledger per device" holds by construction. The cpu
// allocator (allocator.h: the caching host allocator) is always there; a backend with memory of
// its own (a future cuda one) registers its allocator at start-up and tensors can then be created
// on that device (Tensor::empty(shape, dtype, device)).
#pragma once

#include <cstddef>

#include "tensor/device.h"
#include "tensor/ledger.h"

namespace mixtrain::tensor {

class DeviceAllocator {
 public:
  explicit DeviceAllocator(Device device) : device_(device) {}
  virtual ~DeviceAllocator() = default;
  DeviceAllocator(const DeviceAllocator&) = delete;
  DeviceAllocator& operator=(const DeviceAllocator&) = delete;

  Device device() const { return device_; }
  // Bytes for one tensor's storage (bytes may be 0); throws std::bad_alloc when out of memory.
  virtual void* allocate(std::size_t bytes) = 0;
  // Gives back a block from allocate() with the same byte count.
  virtual void deallocate(void* p, std::size_t bytes) = 0;
  // Bytes kept for reuse and not in use by any tensor; empty_cache() returns them.
  virtual std::size_t cached_bytes() const { return 0; }
  virtual void empty_cache() {}
  // What the tensors on this device hold, by category and dtype (kept by Storage, not here:
  // the allocator sees bytes, the storage knows what they are for).
  MemoryLedger& ledger() { return ledger_; }

 private:
  Device device_;
  MemoryLedger ledger_;
};

// The process's cpu allocator (never destroyed: tensors may outlive static destructors).
DeviceAllocator& cpu_allocator();

// The allocator registered for a device; a mixtrain::Error naming the device when there is none.
DeviceAllocator& allocator_for(Device d);
// Registers an allocator for its device (a mixtrain::Error if the device has one already; cpu
// always does). The allocator must outlive every tensor created on its device.
void register_allocator(DeviceAllocator& a);
// Removes a registration (tests); tensors still on that device must be gone.
void unregister_allocator(Device d);

}  // namespace mixtrain::tensor
