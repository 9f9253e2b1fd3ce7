// Tensor: a dtype (any format of numerics/format.h), a shape and contiguous row-major storage
// on a device (cpu unless asked), from that device's allocator and accounted in that device's
// memory ledger under the category that was current when it was created. fp8 tensors carry a
// per-tensor scale: real value = decode(code) / scale.
//
// Host access (data(), item(), to_vector(), ...) is explicit and checked: on a device that is not
// host-accessible it is a mixtrain::Error, never a wild pointer. The check is one compare.
//
// Views: reshape and a slice of the leading dimension share storage (they are free for
// contiguous data); transpose/permute/other slices are copies made by the ops layer. Autograd
// state (requires_grad, grad, the node that produced the tensor) hangs off an opaque pointer that
// only the autograd layer interprets, so this layer does not depend on it.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <memory>
#include <string>
#include <vector>

#include "numerics/convert.h"
#include "numerics/format.h"
#include "tensor/device.h"
#include "tensor/ledger.h"

namespace mixtrain {

namespace autograd {
struct GradInfo;  // defined in autograd/grad_info.h
}

using Shape = std::vector<std::int64_t>;
std::int64_t numel(const Shape& s);
std::string to_string(const Shape& s);

namespace tensor {
class DeviceAllocator;

// One allocation on a device, freed back to that device's allocator (and ledger) when the last
// tensor using it goes away.
class Storage {
 public:
  Storage(std::size_t bytes, DType dtype, Category category, Device device = kCpu);
  ~Storage();
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;
  void* data() const { return data_; }
  std::size_t bytes() const { return bytes_; }
  Category category() const { return category_; }
  Device device() const { return device_; }
  // Moves the bytes to another ledger category (a tensor taken over for a new role).
  void recategorise(Category c);

 private:
  DeviceAllocator* allocator_;  // first: data_ is allocated from it
  void* data_;
  std::size_t bytes_;
  Device device_;
  DType dtype_;
  Category category_;
};
}  // namespace tensor

class Tensor {
 public:
  Tensor() = default;  // undefined tensor

  // Uninitialised storage (category: tensor::current_category()) on `device`, which must have an
  // allocator registered (tensor/device_allocator.h; a mixtrain::Error naming it otherwise).
  static Tensor empty(const Shape& shape, DType dtype, tensor::Device device = tensor::kCpu);
  // The factories below write values from the host, so their device must be host-accessible.
  static Tensor zeros(const Shape& shape, DType dtype = DType::fp32, tensor::Device device = tensor::kCpu);
  static Tensor full(const Shape& shape, double value, DType dtype = DType::fp32,
                     tensor::Device device = tensor::kCpu);
  static Tensor ones(const Shape& shape, DType dtype = DType::fp32, tensor::Device device = tensor::kCpu) {
    return full(shape, 1.0, dtype, device);
  }
  // Values rounded to nearest into dtype.
  static Tensor from(const std::vector<float>& values, const Shape& shape, DType dtype = DType::fp32,
                     tensor::Device device = tensor::kCpu);
  static Tensor from(const std::vector<double>& values, const Shape& shape, DType dtype,
                     tensor::Device device = tensor::kCpu);
  // Seeded N(0, std^2) / U(lo, hi) values (deterministic for a seed, thread-count independent).
  static Tensor randn(const Shape& shape, std::uint64_t seed, double std = 1.0, DType dtype = DType::fp32,
                      tensor::Device device = tensor::kCpu);
  static Tensor uniform(const Shape& shape, double lo, double hi, std::uint64_t seed, DType dtype = DType::fp32,
                        tensor::Device device = tensor::kCpu);

  bool defined() const { return storage_ != nullptr; }
  const Shape& shape() const { return shape_; }
  std::int64_t dim() const { return static_cast<std::int64_t>(shape_.size()); }
  std::int64_t size(std::int64_t d) const;  // negative d counts from the end
  std::int64_t numel() const { return numel_; }
  DType dtype() const { return dtype_; }
  std::size_t element_size() const { return size_of(dtype_); }
  std::size_t nbytes() const { return static_cast<std::size_t>(numel_) * element_size(); }
  tensor::Category category() const;
  // Where the storage lives (cpu for an undefined tensor). Views share their base's device.
  tensor::Device device() const { return storage_ ? storage_->device() : tensor::kCpu; }

  // The first element, for host code: a mixtrain::Error on an undefined tensor or one on a
  // device that is not host-accessible ("data: tensor on cuda:0 is not host-accessible; ...").
  void* data() const { return host_data("data"); }
  template <typename T>
  T* data_as() const { return static_cast<T*>(host_data("data_as")); }

  // fp8 per-tensor scale (1 for other dtypes): real value = decode(code) / scale.
  float scale() const { return scale_; }
  void set_scale(float s) { scale_ = s; }

  // Everything below that reads or writes values needs a host-accessible tensor (an Error naming
  // the call and the device otherwise); view, narrow0, detach and the metadata do not.
  // A copy converted to dtype (not recorded by autograd; ops::cast is the differentiable one).
  // fp8 targets use `scale` (real * scale is encoded) and remember it. `amax`, when given,
  // receives the largest |real value| of this tensor (NaN if any is NaN), taken from the
  // conversion's own pass where it has one, so that delayed fp8 scaling reads the tensor once.
  Tensor to(DType dtype, numerics::Rounding rounding = numerics::Rounding::nearest,
            std::uint64_t seed = 0, float scale = 1.0f, float* amax = nullptr) const;
  // Deep copy in the same dtype and device, category of the current scope.
  Tensor clone() const;
  // Same storage, new shape (numel must match). Not recorded by autograd (ops::reshape is).
  Tensor view(const Shape& shape) const;
  // Same storage and shape without autograd state (for saving outputs inside their own node).
  Tensor detach() const { return view(shape_); }
  // Rows [begin, end) of the leading dimension, sharing storage. Not recorded by autograd.
  Tensor narrow0(std::int64_t begin, std::int64_t end) const;

  // Values decoded to fp32 / fp64 (fp8 divided by its scale).
  std::vector<float> to_vector() const;
  std::vector<double> to_vector_f64() const;
  // The single value of a one-element tensor.
  double item() const;
  // Element access for tests and debugging (decoded to fp64, fp8 divided by its scale): by flat
  // row-major index, or by one index per dimension. Bounds-checked (mixtrain::Error).
  double item_at(std::int64_t flat_index) const;
  double at(std::initializer_list<std::int64_t> index) const;
  // Copies another tensor's values in (converting dtype); shapes must have the same numel.
  void copy_from(const Tensor& src);
  void fill(double value);

  // Autograd (implemented in the autograd layer).
  bool requires_grad() const;
  Tensor& set_requires_grad(bool on);
  Tensor grad() const;
  void set_grad(const Tensor& g);
  void zero_grad();  // drops the accumulated gradient
  // Reverse-mode from this tensor: a scalar needs no seed; others need a seed gradient of the
  // same shape. Without retain_graph the graph is freed (a second backward is an Error).
  void backward() const;
  void backward(const Tensor& seed, bool retain_graph = false) const;
  bool is_leaf() const;
  const std::shared_ptr<autograd::GradInfo>& grad_info() const { return grad_info_; }
  std::shared_ptr<autograd::GradInfo>& grad_info() { return grad_info_; }

  // Identity of the underlying storage (cast caches key on it).
  const void* storage_id() const { return storage_.get(); }
  // True when no other Tensor (view or copy of this handle) shares the storage: the autograd
  // engine may then keep it as a leaf's gradient instead of copying it.
  bool sole_owner() const { return storage_ && storage_.use_count() == 1; }
  // Moves the storage to another ledger category.
  void recategorise(tensor::Category c) const { storage_->recategorise(c); }

 private:
  // data() for the accessor `fn`: one compare for the device on the way (hot path).
  void* host_data(const char* fn) const {
    if (!storage_ || !tensor::host_accessible(storage_->device())) [[unlikely]] throw_not_host(fn);
    return static_cast<unsigned char*>(storage_->data()) + static_cast<std::size_t>(offset_) * element_size();
  }
  // The Error for host_data / require_host (undefined tensor, or a device the host cannot read).
  [[noreturn]] void throw_not_host(const char* fn) const;
  // The device check alone, at the top of accessors (before they allocate or compute anything).
  void require_host(const char* fn) const {
    if (storage_ && !tensor::host_accessible(storage_->device())) [[unlikely]] throw_not_host(fn);
  }

  std::shared_ptr<tensor::Storage> storage_;
  std::int64_t offset_ = 0;  // in elements
  Shape shape_;
  std::int64_t numel_ = 0;
  DType dtype_ = DType::fp32;
  float scale_ = 1.0f;
  std::shared_ptr<autograd::GradInfo> grad_info_;
};

}  // namespace mixtrain
