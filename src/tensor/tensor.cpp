// Tensor storage, factories and conversions.
#include "tensor/tensor.h"

#include <cmath>
#include <cstring>
#include <numbers>

#include "numerics/encode.h"
#include "numerics/rng.h"
#include "numerics/stats.h"
#include "runtime/error.h"
#include "runtime/parallel.h"
#include "tensor/conversions.h"
#include "tensor/device_allocator.h"

namespace mixtrain {

std::int64_t numel(const Shape& s) {
  std::int64_t n = 1;
  for (auto d : s) n *= d;
  return n;
}

std::string to_string(const Shape& s) {
  std::string r = "[";
  for (std::size_t i = 0; i < s.size(); ++i) r += (i ? ", " : "") + std::to_string(s[i]);
  return r + "]";
}

namespace tensor {

Storage::Storage(std::size_t bytes, DType dtype, Category category, Device device)
    : allocator_(&allocator_for(device)),
      data_(allocator_->allocate(bytes)),
      bytes_(bytes),
      device_(device),
      dtype_(dtype),
      category_(category) {
  allocator_->ledger().on_alloc(category_, dtype_, static_cast<std::int64_t>(bytes_));
}

void Storage::recategorise(Category c) {
  if (c == category_) return;
  MemoryLedger& ledger = allocator_->ledger();
  ledger.on_free(category_, dtype_, static_cast<std::int64_t>(bytes_));
  category_ = c;
  ledger.on_alloc(category_, dtype_, static_cast<std::int64_t>(bytes_));
}

Storage::~Storage() {
  allocator_->ledger().on_free(category_, dtype_, static_cast<std::int64_t>(bytes_));
  allocator_->deallocate(data_, bytes_);
}

}  // namespace tensor

void Tensor::throw_not_host(const char* fn) const {
  if (!storage_) throw Error("tensor: use of an undefined tensor");
  throw Error(std::string(fn) + ": tensor on " + tensor::to_string(storage_->device()) +
              " is not host-accessible; copy it to the cpu first");
}

namespace {
// The factories that write values do so from the host: refuse other devices before allocating
// (an unknown device still gets the registry's "no allocator" error first).
void require_host_device(tensor::Device device, const char* fn) {
  if (tensor::host_accessible(device)) [[likely]] return;
  (void)tensor::allocator_for(device);
  throw Error(std::string(fn) + ": cannot write values on " + tensor::to_string(device) +
              " from the host (it is not host-accessible; use empty() there)");
}
}  // namespace

Tensor Tensor::empty(const Shape& shape, DType dtype, tensor::Device device) {
  for (auto d : shape) check(d >= 0, "tensor: negative dimension in shape " + to_string(shape));
  Tensor t;
  t.shape_ = shape;
  t.numel_ = mixtrain::numel(shape);
  t.dtype_ = dtype;
  t.storage_ = std::make_shared<tensor::Storage>(static_cast<std::size_t>(t.numel_) * size_of(dtype),
                                                 dtype, tensor::current_category(), device);
  return t;
}

Tensor Tensor::zeros(const Shape& shape, DType dtype, tensor::Device device) {
  require_host_device(device, "zeros");
  Tensor t = empty(shape, dtype, device);
  std::memset(t.data(), 0, t.nbytes());  // +0 is all-zero bits in every format
  return t;
}

Tensor Tensor::full(const Shape& shape, double value, DType dtype, tensor::Device device) {
  require_host_device(device, "full");
  Tensor t = empty(shape, dtype, device);
  t.fill(value);
  return t;
}

void Tensor::fill(double value) {
  auto* p = static_cast<unsigned char*>(host_data("fill"));
  const std::uint64_t code = numerics::encode(value * scale_, dtype_);
  const std::size_t es = element_size();
  for (std::int64_t i = 0; i < numel_; ++i) std::memcpy(p + static_cast<std::size_t>(i) * es, &code, es);
}

Tensor Tensor::from(const std::vector<float>& values, const Shape& shape, DType dtype, tensor::Device device) {
  check(static_cast<std::int64_t>(values.size()) == mixtrain::numel(shape),
        "tensor: " + std::to_string(values.size()) + " values do not fill shape " + to_string(shape));
  require_host_device(device, "from");
  Tensor t = empty(shape, dtype, device);
  tensor::conversions().encode_f32(t.data(), dtype, values.data(), values.size(), {});
  return t;
}

Tensor Tensor::from(const std::vector<double>& values, const Shape& shape, DType dtype, tensor::Device device) {
  check(static_cast<std::int64_t>(values.size()) == mixtrain::numel(shape),
        "tensor: " + std::to_string(values.size()) + " values do not fill shape " + to_string(shape));
  require_host_device(device, "from");
  Tensor t = empty(shape, dtype, device);
  tensor::conversions().encode_f64(t.data(), dtype, values.data(), values.size(), {});
  return t;
}

namespace {
// Uniform double in (0, 1) from (seed, index): 53 bits of two counter-based words.
double uniform01(std::uint64_t seed, std::uint64_t index) {
  const std::uint64_t a = numerics::stochastic_bits(seed, 2 * index);
  const std::uint64_t b = numerics::stochastic_bits(seed, 2 * index + 1);
  const std::uint64_t bits53 = ((a << 21) ^ b) & ((std::uint64_t{1} << 53) - 1);
  return (static_cast<double>(bits53) + 0.5) * 0x1p-53;
}
}  // namespace

Tensor Tensor::randn(const Shape& shape, std::uint64_t seed, double std, DType dtype, tensor::Device device) {
  require_host_device(device, "randn");
  const auto n = static_cast<std::size_t>(mixtrain::numel(shape));
  std::vector<double> v(n);
  runtime::parallel_for(n, 1 << 14, [&](std::size_t b, std::size_t e) {
    for (std::size_t i = b; i < e; ++i) {
      // Box-Muller on a per-element pair of counter-based uniforms.
      const double u1 = uniform01(seed, 2 * i), u2 = uniform01(seed, 2 * i + 1);
      v[i] = std * std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * std::numbers::pi * u2);
    }
  });
  return from(v, shape, dtype, device);
}

Tensor Tensor::uniform(const Shape& shape, double lo, double hi, std::uint64_t seed, DType dtype,
                       tensor::Device device) {
  require_host_device(device, "uniform");
  const auto n = static_cast<std::size_t>(mixtrain::numel(shape));
  std::vector<double> v(n);
  for (std::size_t i = 0; i < n; ++i) v[i] = lo + (hi - lo) * uniform01(seed, i);
  return from(v, shape, dtype, device);
}

std::int64_t Tensor::size(std::int64_t d) const {
  const std::int64_t nd = dim();
  if (d < 0) d += nd;
  check(d >= 0 && d < nd, "tensor: dimension " + std::to_string(d) + " out of range for shape " + to_string(shape_));
  return shape_[static_cast<std::size_t>(d)];
}

tensor::Category Tensor::category() const { return storage_ ? storage_->category() : tensor::Category::workspace; }

Tensor Tensor::to(DType dtype, numerics::Rounding rounding, std::uint64_t seed, float scale, float* amax) const {
  require_host("to");
  // The real values' amax from the codes' (dividing by a positive scale is monotonic).
  auto real_amax = [this](float codes_amax) { return scale_ != 1.0f ? codes_amax / scale_ : codes_amax; };
  auto scan_amax = [&] {
    if (amax != nullptr)
      *amax = real_amax(tensor::conversions().abs_max(data(), dtype_, static_cast<std::size_t>(numel_)));
  };
  Tensor t = empty(shape_, dtype, device());
  const bool fp8 = numerics::spec(dtype).bits() == 8;
  if (dtype == dtype_ && (fp8 ? scale : 1.0f) == scale_) {
    // Same format and scale: every code maps to itself under any rounding, so copy the bytes
    // (the convert path would decode and re-encode each element).
    std::memcpy(t.data(), data(), nbytes());
    t.scale_ = scale_;
    scan_amax();
    return t;
  }
  if (scale_ == 1.0f && (dtype == DType::fp64 || (dtype == DType::fp32 && (dtype_ != DType::fp64 ||
                                                                           rounding == numerics::Rounding::nearest)))) {
    // Widening to fp32/fp64 (the ops' compute dtypes) is an exact decode, vectorised for every
    // source; numerics::convert would re-encode each decoded value into fp32 one by one.
    if (dtype == DType::fp64) tensor::conversions().decode_f64(t.data_as<double>(), data(), dtype_, static_cast<std::size_t>(numel_));
    else tensor::conversions().decode_f32(t.data_as<float>(), data(), dtype_, static_cast<std::size_t>(numel_));
    scan_amax();
    return t;
  }
  numerics::ConvertOptions opt;
  opt.rounding = rounding;
  opt.seed = seed;
  // Real value r = decode(code)/scale_ ; target code = encode(r * scale).
  opt.scale = static_cast<double>(fp8 ? scale : 1.0f) / static_cast<double>(scale_);
  const double a = tensor::conversions().convert(t.data(), dtype, data(), dtype_, static_cast<std::size_t>(numel_), opt);
  if (amax != nullptr) *amax = real_amax(static_cast<float>(a));
  t.scale_ = fp8 ? scale : 1.0f;
  return t;
}

Tensor Tensor::clone() const {
  require_host("clone");
  Tensor t = empty(shape_, dtype_, device());
  std::memcpy(t.data(), data(), nbytes());
  t.scale_ = scale_;
  return t;
}

Tensor Tensor::view(const Shape& shape) const {
  check(mixtrain::numel(shape) == numel_, "view: cannot view shape " + to_string(shape_) + " as " + to_string(shape));
  Tensor t = *this;
  t.grad_info_.reset();
  t.shape_ = shape;
  return t;
}

Tensor Tensor::narrow0(std::int64_t begin, std::int64_t end) const {
  check(dim() >= 1 && 0 <= begin && begin <= end && end <= shape_[0],
        "narrow0: rows [" + std::to_string(begin) + ", " + std::to_string(end) + ") out of range for " + to_string(shape_));
  Tensor t = *this;
  t.grad_info_.reset();
  const std::int64_t row = shape_[0] == 0 ? 0 : numel_ / shape_[0];
  t.offset_ += begin * row;
  t.shape_[0] = end - begin;
  t.numel_ = row * (end - begin);
  return t;
}

std::vector<float> Tensor::to_vector() const {
  const void* src = host_data("to_vector");
  std::vector<float> v(static_cast<std::size_t>(numel_));
  tensor::conversions().decode_f32(v.data(), src, dtype_, v.size());
  if (scale_ != 1.0f)
    for (auto& x : v) x /= scale_;
  return v;
}

std::vector<double> Tensor::to_vector_f64() const {
  const void* src = host_data("to_vector_f64");
  std::vector<double> v(static_cast<std::size_t>(numel_));
  tensor::conversions().decode_f64(v.data(), src, dtype_, v.size());
  if (scale_ != 1.0f)
    for (auto& x : v) x /= static_cast<double>(scale_);
  return v;
}

double Tensor::item() const {
  require_host("item");
  check(numel_ == 1, "item: tensor of shape " + to_string(shape_) + " has " + std::to_string(numel_) + " elements");
  return to_vector_f64()[0];
}

double Tensor::item_at(std::int64_t flat_index) const {
  require_host("item_at");
  check(flat_index >= 0 && flat_index < numel_,
        "item_at: index " + std::to_string(flat_index) + " out of range for shape " + to_string(shape_));
  double v = 0;
  numerics::decode(&v, static_cast<const unsigned char*>(host_data("item_at")) +
                           static_cast<std::size_t>(flat_index) * element_size(),
                   dtype_, 1);
  return v / static_cast<double>(scale_);
}

double Tensor::at(std::initializer_list<std::int64_t> index) const {
  require_host("at");
  check(static_cast<std::int64_t>(index.size()) == dim(),
        "at: " + std::to_string(index.size()) + " indices for shape " + to_string(shape_));
  std::int64_t flat = 0;
  std::size_t d = 0;
  for (std::int64_t i : index) {
    check(i >= 0 && i < shape_[d], "at: index " + std::to_string(i) + " out of range for shape " + to_string(shape_));
    flat = flat * shape_[d++] + i;
  }
  return item_at(flat);
}

void Tensor::copy_from(const Tensor& src) {
  require_host("copy_from");
  src.require_host("copy_from");
  check(src.numel() == numel_, "copy_from: " + to_string(src.shape()) + " into " + to_string(shape_));
  numerics::ConvertOptions opt;
  opt.scale = static_cast<double>(scale_) / static_cast<double>(src.scale_);
  tensor::conversions().convert(host_data("copy_from"), dtype_, src.host_data("copy_from"), src.dtype_,
                    static_cast<std::size_t>(numel_), opt);
}

}  // namespace mixtrain
