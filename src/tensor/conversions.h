// The buffer conversions the tensor layer uses (Tensor::to, from, copy_from, to_vector and the
// fused amax): numerics/convert.h's by default, replaced by the active backend's when the backend
// registry selects one, so that a run on the reference backend converts with its scalar loops
// too. Plain function pointers keep the tensor layer free of any dependency on the backend layer
// above it (the registry installs them; this layer only calls them).
#pragma once

#include <cstddef>

#include "numerics/convert.h"

namespace mixtrain::tensor {

struct Conversions {
  float (*encode_f32)(void* dst, DType to, const float* src, std::size_t n, const numerics::ConvertOptions& opt);
  double (*encode_f64)(void* dst, DType to, const double* src, std::size_t n, const numerics::ConvertOptions& opt);
  void (*decode_f32)(float* dst, const void* src, DType from, std::size_t n);
  void (*decode_f64)(double* dst, const void* src, DType from, std::size_t n);
  double (*convert)(void* dst, DType to, const void* src, DType from, std::size_t n,
                    const numerics::ConvertOptions& opt);
  float (*abs_max)(const void* src, DType from, std::size_t n);
};

// numerics/convert.h's vectorised buffer kernels as a set (the default, and the cpu backend's).
const Conversions& numerics_conversions();
// The installed set (one acquire load).
const Conversions& conversions();
// Installs a set; the object must outlive every later conversion (backends' tables are static).
void set_conversions(const Conversions& c);

}  // namespace mixtrain::tensor
