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
#include "tensor/allocator.h"

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

Storage::Storage(std::size_t bytes, DType dtype, Category category)
    : data_(CachingAllocator::allocate(bytes)), bytes_(bytes), dtype_(dtype), category_(category) {
  Ledger::on_alloc(category_, dtype_, static_cast<std::int64_t>(bytes_));
}

void Storage::recategorise(Category c) {
  if (c == category_) return;
  Ledger::on_free(category_, dtype_, static_cast<std::int64_t>(bytes_));
  category_ = c;
  Ledger::on_alloc(category_, dtype_, static_cast<std::int64_t>(bytes_));
}

Storage::~Storage() {
  Ledger::on_free(category_, dtype_, static_cast<std::int64_t>(bytes_));
  CachingAllocator::release(data_, bytes_);
}

}  // namespace tensor

Tensor Tensor::empty(const Shape& shape, DType dtype) {
  for (auto d : shape) check(d >= 0, "tensor: negative dimension in shape " + to_string(shape));
  Tensor t;
  t.shape_ = shape;
  t.numel_ = mixtrain::numel(shape);
  t.dtype_ = dtype;
  t.storage_ = std::make_shared<tensor::Storage>(static_cast<std::size_t>(t.numel_) * size_of(dtype),
                                                 dtype, tensor::current_category());
  return t;
}

Tensor Tensor::zeros(const Shape& shape, DType dtype) {
  Tensor t = empty(shape, dtype);
  std::memset(t.data(), 0, t.nbytes());  // +0 is all-zero bits in every format
  return t;
}

Tensor Tensor::full(const Shape& shape, double value, DType dtype) {
  Tensor t = empty(shape, dtype);
  t.fill(value);
  return t;
}

void Tensor::fill(double value) {
  const std::uint64_t code = numerics::encode(value * scale_, dtype_);
  const std::size_t es = element_size();
  auto* p = static_cast<unsigned char*>(data());
  for (std::int64_t i = 0; i < numel_; ++i) std::memcpy(p + static_cast<std::size_t>(i) * es, &code, es);
}

Tensor Tensor::from(const std::vector<float>& values, const Shape& shape, DType dtype) {
  check(static_cast<std::int64_t>(values.size()) == mixtrain::numel(shape),
        "tensor: " + std::to_string(values.size()) + " values do not fill shape " + to_string(shape));
  Tensor t = empty(shape, dtype);
  numerics::encode(t.data(), dtype, values.data(), values.size());
  return t;
}

Tensor Tensor::from(const std::vector<double>& values, const Shape& shape, DType dtype) {
  check(static_cast<std::int64_t>(values.size()) == mixtrain::numel(shape),
        "tensor: " + std::to_string(values.size()) + " values do not fill shape " + to_string(shape));
  Tensor t = empty(shape, dtype);
  numerics::encode(t.data(), dtype, values.data(), values.size());
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

Tensor Tensor::randn(const Shape& shape, std::uint64_t seed, double std, DType dtype) {
  const auto n = static_cast<std::size_t>(mixtrain::numel(shape));
  std::vector<double> v(n);
  runtime::parallel_for(n, 1 << 14, [&](std::size_t b, std::size_t e) {
    for (std::size_t i = b; i < e; ++i) {
      // Box-Muller on a per-element pair of counter-based uniforms.
      const double u1 = uniform01(seed, 2 * i), u2 = uniform01(seed, 2 * i + 1);
      v[i] = std * std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * std::numbers::pi * u2);
    }
  });
  return from(v, shape, dtype);
}

Tensor Tensor::uniform(const Shape& shape, double lo, double hi, std::uint64_t seed, DType dtype) {
  const auto n = static_cast<std::size_t>(mixtrain::numel(shape));
  std::vector<double> v(n);
  for (std::size_t i = 0; i < n; ++i) v[i] = lo + (hi - lo) * uniform01(seed, i);
  return from(v, shape, dtype);
}

std::int64_t Tensor::size(std::int64_t d) const {
  const std::int64_t nd = dim();
  if (d < 0) d += nd;
  check(d >= 0 && d < nd, "tensor: dimension " + std::to_string(d) + " out of range for shape " + to_string(shape_));
  return shape_[static_cast<std::size_t>(d)];
}

tensor::Category Tensor::category() const { return storage_ ? storage_->category() : tensor::Category::workspace; }

void* Tensor::data() const {
  check(defined(), "tensor: use of an undefined tensor");
  return static_cast<unsigned char*>(storage_->data()) + static_cast<std::size_t>(offset_) * element_size();
}

Tensor Tensor::to(DType dtype, numerics::Rounding rounding, std::uint64_t seed, float scale, float* amax) const {
  // The real values' amax from the codes' (dividing by a positive scale is monotonic).
  auto real_amax = [this](float codes_amax) { return scale_ != 1.0f ? codes_amax / scale_ : codes_amax; };
  auto scan_amax = [&] {
    if (amax != nullptr)
      *amax = real_amax(numerics::abs_max(data(), dtype_, static_cast<std::size_t>(numel_)));
  };
  Tensor t = empty(shape_, dtype);
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
    if (dtype == DType::fp64) numerics::decode(t.data_as<double>(), data(), dtype_, static_cast<std::size_t>(numel_));
    else numerics::decode(t.data_as<float>(), data(), dtype_, static_cast<std::size_t>(numel_));
    scan_amax();
    return t;
  }
  numerics::ConvertOptions opt;
  opt.rounding = rounding;
  opt.seed = seed;
  // Real value r = decode(code)/scale_ ; target code = encode(r * scale).
  opt.scale = static_cast<double>(fp8 ? scale : 1.0f) / static_cast<double>(scale_);
  const double a = numerics::convert(t.data(), dtype, data(), dtype_, static_cast<std::size_t>(numel_), opt);
  if (amax != nullptr) *amax = real_amax(static_cast<float>(a));
  t.scale_ = fp8 ? scale : 1.0f;
  return t;
}

Tensor Tensor::clone() const {
  Tensor t = empty(shape_, dtype_);
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
  std::vector<float> v(static_cast<std::size_t>(numel_));
  numerics::decode(v.data(), data(), dtype_, v.size());
  if (scale_ != 1.0f)
    for (auto& x : v) x /= scale_;
  return v;
}

std::vector<double> Tensor::to_vector_f64() const {
  std::vector<double> v(static_cast<std::size_t>(numel_));
  numerics::decode(v.data(), data(), dtype_, v.size());
  if (scale_ != 1.0f)
    for (auto& x : v) x /= static_cast<double>(scale_);
  return v;
}

double Tensor::item() const {
  check(numel_ == 1, "item: tensor of shape " + to_string(shape_) + " has " + std::to_string(numel_) + " elements");
  return to_vector_f64()[0];
}

double Tensor::item_at(std::int64_t flat_index) const {
  check(flat_index >= 0 && flat_index < numel_,
        "item_at: index " + std::to_string(flat_index) + " out of range for shape " + to_string(shape_));
  double v = 0;
  numerics::decode(&v, static_cast<const unsigned char*>(data()) + static_cast<std::size_t>(flat_index) * element_size(),
                   dtype_, 1);
  return v / static_cast<double>(scale_);
}

double Tensor::at(std::initializer_list<std::int64_t> index) const {
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
  check(src.numel() == numel_, "copy_from: " + to_string(src.shape()) + " into " + to_string(shape_));
  numerics::ConvertOptions opt;
  opt.scale = static_cast<double>(scale_) / static_cast<double>(src.scale_);
  numerics::convert(data(), dtype_, src.data(), src.dtype_, static_cast<std::size_t>(numel_), opt);
}

}  // namespace mixtrain
