// Dropout.
#include "nn/dropout.h"

#include "ops/dropout.h"
#include "runtime/error.h"

namespace mixtrain::nn {
namespace {
// splitmix64 finaliser: decorrelates the per-step seeds (seed, seed + 1, ... would give masks
// that the op's counter hash keeps independent anyway, but mixing costs nothing).
std::uint64_t mix64(std::uint64_t z) {
  z += 0x9e3779b97f4a7c15ULL;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}
}  // namespace

Dropout::Dropout(const DropoutOptions& o) : opt_(o) {
  check(o.p >= 0 && o.p <= 1, "Dropout: p must be in [0, 1], got " + std::to_string(o.p));
  tensor::LedgerScope scope(tensor::Category::weights);
  // fp64 holds every step count up to 2^53 exactly.
  step_ = &register_buffer("step", Tensor::zeros({1}, DType::fp64));
}

std::int64_t Dropout::step() const { return static_cast<std::int64_t>(step_->item()); }

Tensor Dropout::forward_impl(const Tensor& x) {
  if (!training() || opt_.p == 0.0) return x;
  const std::int64_t s = step();
  step_->data_as<double>()[0] = static_cast<double>(s + 1);
  return ops::dropout(x, opt_.p, mix64(opt_.seed ^ mix64(static_cast<std::uint64_t>(s))), 0, true);
}

}  // namespace mixtrain::nn
