// Reference reductions, their reverse and the training step's checks. Summation order: sum_to
// adds the source elements into each destination element in source index order (from 0);
// sum_squares adds x[i]^2 in fp64 for i = 0..n-1. broadcast_to, accumulate and all_finite are
// per element and match the cpu backend exactly.
#include <cmath>

#include "backend/reference/scalar.h"

namespace mixtrain::backend::reference {

i64 broadcast_offset(const Shape& s, const Shape& os, i64 k) {
  // Walk the output dimensions from the last: index i along output dim od reads index i of the
  // operand's matching dim, or 0 where that dim is 1 (or missing: the operand has lower rank).
  i64 off = 0, stride = 1;
  for (std::size_t d = 0; d < os.size(); ++d) {
    const i64 dim_out = os[os.size() - 1 - d];
    const i64 i = k % dim_out;
    k /= dim_out;
    if (d >= s.size()) continue;
    const i64 dim = s[s.size() - 1 - d];
    if (dim != 1) off += i * stride;
    stride *= dim;
  }
  return off;
}

template <typename T>
void sum_to(T* dst, const T* src, const Shape& src_shape, const Shape& dst_shape) {
  const i64 n = numel(src_shape);
  for (i64 i = 0; i < numel(dst_shape); ++i) dst[i] = 0;
  for (i64 k = 0; k < n; ++k) dst[broadcast_offset(dst_shape, src_shape, k)] += src[k];
}

template <typename T>
void broadcast_to(T* dst, const T* src, const Shape& src_shape, const Shape& dst_shape, T factor) {
  const i64 n = numel(dst_shape);
  for (i64 k = 0; k < n; ++k) dst[k] = src[broadcast_offset(src_shape, dst_shape, k)] * factor;
}

template <typename T>
void accumulate(T* acc, const T* x, i64 n) {
  for (i64 i = 0; i < n; ++i) acc[i] += x[i];
}

// Checked on the fp32 values, as the cpu backend does: an fp64 value beyond fp32's range counts
// as infinite (the fp32 step it feeds would overflow).
bool all_finite(const void* x, DType dtype, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i)
    if (!std::isfinite(load_f32(x, dtype, i))) return false;
  return true;
}

double sum_squares(const float* x, std::size_t n, double acc) {
  for (std::size_t i = 0; i < n; ++i) acc += static_cast<double>(x[i]) * static_cast<double>(x[i]);
  return acc;
}

#define MIXTRAIN_REF_REDUCE(T)                                                \
  template void sum_to<T>(T*, const T*, const Shape&, const Shape&);          \
  template void broadcast_to<T>(T*, const T*, const Shape&, const Shape&, T); \
  template void accumulate<T>(T*, const T*, i64);
MIXTRAIN_REF_REDUCE(float)
MIXTRAIN_REF_REDUCE(double)
#undef MIXTRAIN_REF_REDUCE

}  // namespace mixtrain::backend::reference
