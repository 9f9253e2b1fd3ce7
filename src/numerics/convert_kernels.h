// Internal: the per-ISA kernel table behind convert.h. Each ISA lives in its own translation
// unit compiled with its own flags (convert_generic.cpp, convert_avx2.cpp); dispatch picks one
// table once at start-up. Kernels are single-threaded; convert.cpp splits the work.
#pragma once

#include <cstddef>
#include <cstdint>

#include "numerics/format.h"

namespace mixtrain::numerics::detail {

struct EncodeArgs {
  const FormatSpec* format;
  Rounding rounding;
  Overflow overflow;
  float scale;
  bool scaled;  // scale != 1
  std::uint64_t seed;
  std::uint64_t index0;  // counter of src[0]; a call never crosses a 2^32 boundary
};

struct ConvertKernels {
  const char* name;
  // fp32 -> format f (mantissa_bits <= 23, not fp32/fp64 themselves); returns amax bits of the
  // input |x| as a uint32 (so NaN compares largest).
  std::uint32_t (*encode_f32)(void* dst, const float* src, std::size_t n, const EncodeArgs& a);
  // format f (8- or 16-bit) -> fp32.
  void (*decode_f32)(float* dst, const void* src, std::size_t n, const FormatSpec& f);
};

const ConvertKernels& generic_kernels();
// nullptr when the AVX2 translation unit was not built.
const ConvertKernels* avx2_kernels();
// nullptr when the AVX-512 translation unit was not built; delegates what it does not
// vectorise to the AVX2 table.
const ConvertKernels* avx512_kernels();

// Scalar tail helpers shared by the kernels.
std::uint32_t encode_f32_scalar(void* dst, const float* src, std::size_t n, const EncodeArgs& a);
void decode_f32_scalar(float* dst, const void* src, std::size_t n, const FormatSpec& f);

}  // namespace mixtrain::numerics::detail
