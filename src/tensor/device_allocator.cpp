// The allocator registry. cpu is answered without a lock (it is looked up on every tensor
// creation); other devices are few and looked up per allocation, so a mutex over a short list is
// enough.
#include "tensor/device_allocator.h"

#include <algorithm>
#include <mutex>
#include <vector>

#include "runtime/error.h"

namespace mixtrain::tensor {
namespace {

struct Registry {
  std::mutex mutex;
  std::vector<DeviceAllocator*> allocators;  // non-cpu devices
};

Registry& registry() {
  static Registry* r = new Registry();  // never destroyed, like the allocators it points to
  return *r;
}

}  // namespace

DeviceAllocator& allocator_for(Device d) {
  if (d == kCpu) return cpu_allocator();
  Registry& r = registry();
  {
    std::lock_guard<std::mutex> lock(r.mutex);
    for (DeviceAllocator* a : r.allocators)
      if (a->device() == d) return *a;
  }
  throw Error("tensor: no allocator is registered for device " + to_string(d));
}

void register_allocator(DeviceAllocator& a) {
  const Device d = a.device();
  check(d != kCpu, "tensor: the cpu device's allocator cannot be replaced");
  Registry& r = registry();
  std::lock_guard<std::mutex> lock(r.mutex);
  for (const DeviceAllocator* b : r.allocators)
    check(b->device() != d, "tensor: an allocator is already registered for device " + to_string(d));
  r.allocators.push_back(&a);
}

void unregister_allocator(Device d) {
  Registry& r = registry();
  std::lock_guard<std::mutex> lock(r.mutex);
  std::erase_if(r.allocators, [d](const DeviceAllocator* a) { return a->device() == d; });
}

}  // namespace mixtrain::tensor
