#include "tensor/conversions.h"

#include <atomic>

#include "numerics/stats.h"

namespace mixtrain::tensor {
namespace {

const Conversions kNumerics{
    .encode_f32 = [](void* dst, DType to, const float* src, std::size_t n, const numerics::ConvertOptions& opt) {
      return numerics::encode(dst, to, src, n, opt);
    },
    .encode_f64 = [](void* dst, DType to, const double* src, std::size_t n, const numerics::ConvertOptions& opt) {
      return numerics::encode(dst, to, src, n, opt);
    },
    .decode_f32 = [](float* dst, const void* src, DType from, std::size_t n) { numerics::decode(dst, src, from, n); },
    .decode_f64 = [](double* dst, const void* src, DType from, std::size_t n) { numerics::decode(dst, src, from, n); },
    .convert = numerics::convert,
    .abs_max = numerics::abs_max,
};

std::atomic<const Conversions*> g_active{&kNumerics};

}  // namespace

const Conversions& numerics_conversions() { return kNumerics; }
const Conversions& conversions() { return *g_active.load(std::memory_order_acquire); }
void set_conversions(const Conversions& c) { g_active.store(&c, std::memory_order_release); }

}  // namespace mixtrain::tensor
