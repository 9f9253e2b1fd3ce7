// Tensors and devices: the device of new tensors and views, device names, the allocator registry
// (one allocator and one ledger per device), and the checked host access. No device but cpu has an
// allocator in this build, so the non-host paths run on a malloc-backed fake registered as cuda:0.
#include <gtest/gtest.h>

#include <cstdlib>
#include <string>
#include <vector>

#include "runtime/error.h"
#include "tensor/allocator.h"
#include "tensor/device.h"
#include "tensor/device_allocator.h"
#include "tensor/ledger.h"
#include "tensor/tensor.h"

using namespace mixtrain;
using tensor::Category;
using tensor::Device;
using tensor::DeviceType;
using tensor::kCpu;

namespace {

constexpr Device kCuda0{DeviceType::cuda, 0};

// Host memory that pretends to be a GPU's: only the allocator and ledger plumbing is exercised.
class FakeCudaAllocator final : public tensor::DeviceAllocator {
 public:
  FakeCudaAllocator() : DeviceAllocator(kCuda0) {}
  void* allocate(std::size_t bytes) override {
    ++allocations;
    return std::malloc(bytes == 0 ? 1 : bytes);
  }
  void deallocate(void* p, std::size_t) override {
    ++frees;
    std::free(p);
  }
  int allocations = 0, frees = 0;
};

// Registers the fake for the test's lifetime (declare it before any tensor on it).
struct FakeCuda {
  FakeCudaAllocator alloc;
  FakeCuda() { tensor::register_allocator(alloc); }
  ~FakeCuda() { tensor::unregister_allocator(kCuda0); }
};

template <typename F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "<no error>";
}

std::string not_host(const std::string& fn) {
  return fn + ": tensor on cuda:0 is not host-accessible; copy it to the cpu first";
}

std::string no_host_write(const std::string& fn) {
  return fn + ": cannot write values on cuda:0 from the host (it is not host-accessible; use empty() there)";
}

}  // namespace

TEST(tensor_device, NewTensorsAreOnTheCpu) {
  EXPECT_EQ(Tensor().device(), kCpu);
  EXPECT_EQ(Tensor::empty({2, 3}, DType::bf16).device(), kCpu);
  EXPECT_EQ(Tensor::zeros({2}).device(), kCpu);
  EXPECT_EQ(Tensor::ones({2}, DType::fp16, kCpu).device(), kCpu);
  EXPECT_EQ(Tensor::full({2}, 3.0).device(), kCpu);
  EXPECT_EQ(Tensor::from(std::vector<float>{1, 2}, {2}).device(), kCpu);
  EXPECT_EQ(Tensor::from(std::vector<double>{1, 2}, {2}, DType::fp64, kCpu).device(), kCpu);
  EXPECT_EQ(Tensor::randn({4}, 1).device(), kCpu);
  EXPECT_EQ(Tensor::uniform({4}, 0.0, 1.0, 1).device(), kCpu);
  const Tensor t = Tensor::full({2, 2}, 1.5, DType::fp32, kCpu);
  EXPECT_EQ(t.to(DType::bf16).device(), kCpu);
  EXPECT_EQ(t.clone().device(), kCpu);
  EXPECT_EQ(t.item_at(3), 1.5);  // host access on the cpu is unchanged
}

TEST(tensor_device, DeviceNames) {
  EXPECT_EQ(tensor::to_string(kCpu), "cpu");
  EXPECT_EQ(tensor::to_string(Device{DeviceType::cuda, 1}), "cuda:1");
  EXPECT_EQ(tensor::parse_device("cpu"), kCpu);
  EXPECT_EQ(tensor::parse_device("cpu:0"), kCpu);
  EXPECT_EQ(tensor::parse_device("cuda"), kCuda0);
  EXPECT_EQ(tensor::parse_device("cuda:0"), kCuda0);
  EXPECT_EQ(tensor::parse_device("cuda:12"), (Device{DeviceType::cuda, 12}));
  for (const char* bad : {"", "gpu", "CPU", "cuda:", "cuda:-1", "cuda:+1", "cuda:1x", "cuda: 1", "cpu:1",
                          "cuda:99999999999", "cuda:0:0", ":0", "cuda0"})
    EXPECT_EQ(error_of([&] { tensor::parse_device(bad); }),
              "device: unknown device '" + std::string(bad) + "' (expected cpu, cuda or cuda:N)")
        << bad;
  EXPECT_TRUE(tensor::host_accessible(kCpu));
  EXPECT_FALSE(tensor::host_accessible(kCuda0));
}

TEST(tensor_device, DeviceWithoutAllocatorIsAnError) {
  const Device cuda5{DeviceType::cuda, 5};
  const std::string msg = "tensor: no allocator is registered for device cuda:5";
  EXPECT_EQ(error_of([&] { tensor::allocator_for(cuda5); }), msg);
  EXPECT_EQ(error_of([&] { Tensor::empty({2}, DType::fp32, cuda5); }), msg);
  // Value factories name the missing allocator too, not the host access they would need.
  EXPECT_EQ(error_of([&] { Tensor::zeros({2}, DType::fp32, cuda5); }), msg);
  EXPECT_EQ(error_of([&] { Tensor::randn({2}, 1, 1.0, DType::fp32, cuda5); }), msg);
}

TEST(tensor_device, RegistryHasOneAllocatorPerDevice) {
  EXPECT_EQ(&tensor::allocator_for(kCpu), &tensor::cpu_allocator());
  EXPECT_EQ(&tensor::cpu_allocator(), &tensor::cpu_caching_allocator());
  EXPECT_EQ(&tensor::Ledger::cpu(), &tensor::cpu_allocator().ledger());
  EXPECT_EQ(tensor::cpu_allocator().device(), kCpu);
  EXPECT_EQ(error_of([] { tensor::register_allocator(tensor::cpu_caching_allocator()); }),
            "tensor: the cpu device's allocator cannot be replaced");
  FakeCuda cuda;
  EXPECT_EQ(&tensor::allocator_for(kCuda0), &cuda.alloc);
  FakeCudaAllocator second;
  EXPECT_EQ(error_of([&] { tensor::register_allocator(second); }),
            "tensor: an allocator is already registered for device cuda:0");
}

TEST(tensor_device, ViewsShareTheDevice) {
  FakeCuda cuda;
  const Tensor c = Tensor::empty({4, 3}, DType::fp32, kCuda0);
  EXPECT_EQ(c.device(), kCuda0);
  EXPECT_EQ(c.view({12}).device(), kCuda0);
  EXPECT_EQ(c.narrow0(1, 3).device(), kCuda0);
  EXPECT_EQ(c.detach().device(), kCuda0);
  EXPECT_EQ(c.view({3, 4}).storage_id(), c.storage_id());
  const Tensor h = Tensor::zeros({4, 3});
  EXPECT_EQ(h.view({12}).device(), kCpu);
  EXPECT_EQ(h.narrow0(0, 2).device(), kCpu);
  EXPECT_EQ(cuda.alloc.allocations, 1);  // views allocate nothing
}

TEST(tensor_device, EachDeviceHasItsOwnLedger) {
  FakeCuda cuda;
  const tensor::MemoryLedger& gpu = cuda.alloc.ledger();
  const auto cpu_weights = tensor::Ledger::live(Category::weights);
  const auto cpu_grads = tensor::Ledger::live(Category::gradients);
  const auto cpu_fp16 = tensor::Ledger::snapshot().live_by_dtype[static_cast<std::size_t>(DType::fp16)];
  {
    tensor::LedgerScope scope(Category::weights);
    Tensor w = Tensor::empty({4, 8}, DType::fp16, kCuda0);  // 64 bytes on cuda:0
    Tensor h = Tensor::zeros({5}, DType::fp32);             // 20 bytes on the cpu
    EXPECT_EQ(w.category(), Category::weights);
    EXPECT_EQ(gpu.live(Category::weights), 64);
    EXPECT_EQ(gpu.live_total(), 64);
    EXPECT_EQ(gpu.snapshot().live_by_dtype[static_cast<std::size_t>(DType::fp16)], 64);
    EXPECT_EQ(tensor::Ledger::live(Category::weights) - cpu_weights, 20);
    EXPECT_EQ(tensor::Ledger::snapshot().live_by_dtype[static_cast<std::size_t>(DType::fp16)], cpu_fp16);
    w.recategorise(Category::gradients);  // moves within cuda:0's ledger
    EXPECT_EQ(gpu.live(Category::weights), 0);
    EXPECT_EQ(gpu.live(Category::gradients), 64);
    EXPECT_EQ(tensor::Ledger::live(Category::gradients), cpu_grads);
  }
  EXPECT_EQ(gpu.live_total(), 0);
  EXPECT_EQ(gpu.peak_total(), 64);
  EXPECT_EQ(gpu.peak(Category::weights), 64);
  EXPECT_EQ(tensor::Ledger::live(Category::weights), cpu_weights);
  cuda.alloc.ledger().reset_peaks();
  EXPECT_EQ(gpu.peak_total(), 0);
  EXPECT_EQ(cuda.alloc.allocations, 1);
  EXPECT_EQ(cuda.alloc.frees, 1);
}

TEST(tensor_device, HostAccessToANonHostTensorIsAnError) {
  FakeCuda cuda;
  Tensor c = Tensor::empty({2, 2}, DType::fp32, kCuda0);
  const Tensor one = Tensor::empty({1}, DType::fp32, kCuda0);
  Tensor h = Tensor::zeros({2, 2});
  EXPECT_EQ(error_of([&] { (void)c.data(); }), not_host("data"));
  EXPECT_EQ(error_of([&] { (void)c.data_as<float>(); }), not_host("data_as"));
  EXPECT_EQ(error_of([&] { (void)one.item(); }), not_host("item"));
  EXPECT_EQ(error_of([&] { (void)c.to_vector(); }), not_host("to_vector"));
  EXPECT_EQ(error_of([&] { (void)c.to_vector_f64(); }), not_host("to_vector_f64"));
  EXPECT_EQ(error_of([&] { (void)c.item_at(0); }), not_host("item_at"));
  EXPECT_EQ(error_of([&] { (void)c.at({0, 1}); }), not_host("at"));
  EXPECT_EQ(error_of([&] { c.copy_from(h); }), not_host("copy_from"));
  EXPECT_EQ(error_of([&] { h.copy_from(c); }), not_host("copy_from"));
  EXPECT_EQ(error_of([&] { c.fill(1.0); }), not_host("fill"));
  EXPECT_EQ(error_of([&] { (void)c.to(DType::bf16); }), not_host("to"));
  EXPECT_EQ(error_of([&] { (void)c.clone(); }), not_host("clone"));
  // Views are metadata: they work, and their host access is refused the same way.
  EXPECT_EQ(error_of([&] { (void)c.narrow0(1, 2).to_vector(); }), not_host("to_vector"));
  EXPECT_EQ(c.view({4}).nbytes(), 16u);
  // The value factories refuse before allocating anything.
  EXPECT_EQ(error_of([] { Tensor::zeros({2}, DType::fp32, kCuda0); }), no_host_write("zeros"));
  EXPECT_EQ(error_of([] { Tensor::full({2}, 1.0, DType::fp32, kCuda0); }), no_host_write("full"));
  EXPECT_EQ(error_of([] { Tensor::ones({2}, DType::fp32, kCuda0); }), no_host_write("full"));
  EXPECT_EQ(error_of([] { Tensor::from(std::vector<float>{1, 2}, {2}, DType::fp32, kCuda0); }),
            no_host_write("from"));
  EXPECT_EQ(error_of([] { Tensor::from(std::vector<double>{1, 2}, {2}, DType::fp64, kCuda0); }),
            no_host_write("from"));
  EXPECT_EQ(error_of([] { Tensor::randn({2}, 1, 1.0, DType::fp32, kCuda0); }), no_host_write("randn"));
  EXPECT_EQ(error_of([] { Tensor::uniform({2}, 0.0, 1.0, 1, DType::fp32, kCuda0); }), no_host_write("uniform"));
  EXPECT_EQ(cuda.alloc.allocations, 2);  // c and one: no refused call allocated on cuda:0
  EXPECT_EQ(cuda.alloc.ledger().live_total(), 20);
  // An undefined tensor keeps its own message.
  EXPECT_EQ(error_of([] { (void)Tensor().data(); }), "tensor: use of an undefined tensor");
}
