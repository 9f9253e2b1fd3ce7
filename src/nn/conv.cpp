// Conv2d, MaxPool2d and AvgPool2d.
#include "nn/conv.h"

#include <cmath>

#include "ops/conv_pool.h"
#include "ops/shape_ops.h"
#include "runtime/error.h"

namespace mixtrain::nn {

Conv2d::Conv2d(const Conv2dOptions& o) : opt_(o) {
  check(o.in > 0 && o.out > 0 && o.kernel > 0 && o.stride > 0 && o.pad >= 0,
        "Conv2d: channels, kernel and stride must be positive and pad non-negative");
  // PyTorch's kaiming_uniform_(a=sqrt(5)) default reduces to this bound, for the bias too.
  const double bound = 1.0 / std::sqrt(static_cast<double>(o.in * o.kernel * o.kernel));
  tensor::LedgerScope scope(tensor::Category::weights);
  weight_ = &register_parameter("weight", Tensor::uniform({o.out, o.in, o.kernel, o.kernel}, -bound, bound, o.seed));
  if (o.bias)
    bias_ = &register_parameter("bias", Tensor::uniform({o.out}, -bound, bound, o.seed ^ 0x5bd1e995ULL), false, false);
}

Tensor Conv2d::forward_impl(const Tensor& x) {
  return ops::conv2d(x, *weight_, bias_ ? *bias_ : Tensor(), opt_.stride, opt_.pad);
}

namespace {
Pool2dOptions checked(Pool2dOptions o, const char* who) {
  if (o.stride == 0) o.stride = o.kernel;
  check(o.kernel > 0 && o.stride > 0 && o.pad >= 0 && o.pad <= o.kernel / 2,
        std::string(who) + ": kernel and stride must be positive and 0 <= pad <= kernel / 2");
  return o;
}
}  // namespace

MaxPool2d::MaxPool2d(const Pool2dOptions& o) : opt_(checked(o, "MaxPool2d")) {}
Tensor MaxPool2d::forward_impl(const Tensor& x) { return ops::max_pool2d(x, opt_.kernel, opt_.stride, opt_.pad); }

AvgPool2d::AvgPool2d(const Pool2dOptions& o) : opt_(checked(o, "AvgPool2d")) {}
Tensor AvgPool2d::forward_impl(const Tensor& x) { return ops::avg_pool2d(x, opt_.kernel, opt_.stride, opt_.pad); }

Tensor as_images(const Tensor& x, std::int64_t channels, std::int64_t side, const std::string& who) {
  const std::int64_t per = channels * side * side;
  if (x.dim() == 2 && x.size(1) == per) return ops::reshape(x, {x.size(0), channels, side, side});
  check(x.dim() == 4 && x.size(1) == channels && x.size(2) == side && x.size(3) == side,
        who + ": expected (N, " + std::to_string(channels) + ", " + std::to_string(side) + ", " + std::to_string(side) +
            ") or (N, " + std::to_string(per) + "), got " + to_string(x.shape()));
  return x;
}

}  // namespace mixtrain::nn
