// Dropout kernels (dropout.h). The keep test compares the counter hash with a 64-bit threshold
// so p = 0 keeps everything and p = 1 drops everything exactly.
#include "backend/cpu/dropout.h"

#include <cmath>

#include "numerics/rng.h"
#include "runtime/error.h"
#include "runtime/parallel.h"

namespace mixtrain::backend::cpu {
namespace {

using i64 = std::int64_t;
constexpr std::size_t kGrain = 16384;

std::uint64_t threshold(double p) {
  check(p >= 0.0 && p <= 1.0, "dropout: p must be in [0, 1]");
  return static_cast<std::uint64_t>(std::ldexp(p, 32));  // p = 1 gives 2^32: nothing passes
}

}  // namespace

void dropout_mask(std::uint8_t* mask, i64 n, double p, std::uint64_t seed, std::uint64_t offset) {
  const std::uint64_t t = threshold(p);
  runtime::parallel_for(static_cast<std::size_t>(n), kGrain, [&](std::size_t b, std::size_t e) {
    for (std::size_t i = b; i < e; ++i)
      mask[i] = numerics::stochastic_bits(seed, offset + i) >= t ? 1 : 0;
  });
}

template <typename T>
void dropout_forward(T* out, std::uint8_t* mask, const T* x, i64 n, double p, std::uint64_t seed,
                     std::uint64_t offset) {
  const std::uint64_t t = threshold(p);
  const T scale = p < 1.0 ? static_cast<T>(1.0 / (1.0 - p)) : T(0);
  runtime::parallel_for(static_cast<std::size_t>(n), kGrain, [&](std::size_t b, std::size_t e) {
    for (std::size_t i = b; i < e; ++i) {
      const bool keep = numerics::stochastic_bits(seed, offset + i) >= t;
      if (mask) mask[i] = keep ? 1 : 0;
      out[i] = keep ? x[i] * scale : T(0);
    }
  });
}

template <typename T>
void dropout_backward(T* dx, const T* dout, const std::uint8_t* mask, i64 n, double p) {
  threshold(p);
  const T scale = p < 1.0 ? static_cast<T>(1.0 / (1.0 - p)) : T(0);
  runtime::parallel_for(static_cast<std::size_t>(n), kGrain, [&](std::size_t b, std::size_t e) {
    for (std::size_t i = b; i < e; ++i) dx[i] = mask[i] ? dout[i] * scale : T(0);
  });
}

template void dropout_forward<float>(float*, std::uint8_t*, const float*, i64, double,
                                     std::uint64_t, std::uint64_t);
template void dropout_forward<double>(double*, std::uint8_t*, const double*, i64, double,
                                      std::uint64_t, std::uint64_t);
template void dropout_backward<float>(float*, const float*, const std::uint8_t*, i64, double);
template void dropout_backward<double>(double*, const double*, const std::uint8_t*, i64, double);

}  // namespace mixtrain::backend::cpu
