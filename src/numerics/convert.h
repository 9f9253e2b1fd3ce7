// Buffer conversions: encode fp32/fp64 arrays into any format with an optional scale and a fused
// amax, and decode any format back to fp32/fp64.
//
// Results are bit-identical to the scalar definition in encode.h whatever the ISA path (AVX2+F16C
// or portable, chosen once at start-up; MIXTRAIN_ISA=generic forces the portable one) and
// whatever the thread count: stochastic rounding draws element i's random bits from
// (seed, index_offset + i) alone.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

#include "numerics/format.h"

namespace mixtrain::numerics {

struct ConvertOptions {
  Rounding rounding = Rounding::nearest;
  std::optional<Overflow> overflow;  // unset: the target format's default
  std::uint64_t seed = 0;            // stochastic rounding only
  std::uint64_t index_offset = 0;    // counter of the first element (for converting in pieces)
  double scale = 1.0;                // y = encode(x * scale). The scale is first rounded to the
                                     // source precision (fp32 for fp32 and narrower sources), then
                                     // the product is rounded to it too, as FP8 training libraries
                                     // do; power-of-two scales are therefore exact. Must be finite
                                     // and positive in that precision (checked: mixtrain::Error).
};

// Encodes n values of src into dst (n * size_of(to) bytes, little-endian codes) and returns the
// amax of the input before scaling: max |x|, NaN if any input is NaN. dst and src must not
// overlap.
float encode(void* dst, DType to, const float* src, std::size_t n, const ConvertOptions& opt = {});
double encode(void* dst, DType to, const double* src, std::size_t n,
              const ConvertOptions& opt = {});

// Decodes n codes of format `from` exactly into fp32 (fp64 sources are rounded to nearest).
void decode(float* dst, const void* src, DType from, std::size_t n);
// Decodes exactly into fp64.
void decode(double* dst, const void* src, DType from, std::size_t n);

// n codes of `from` at src as fp32/fp64 values for reading: src itself when it already is U (no
// copy), else decoded into buf (n elements) and buf returned.
template <typename U>
const U* decoded(U* buf, const void* src, DType from, std::size_t n) {
  if (from == dtype_of<U>()) return static_cast<const U*>(src);
  decode(buf, src, from, n);
  return buf;
}

// Any format to any format: decode to fp32 (fp64 sources go through fp64) and encode. The
// returned amax is that of the decoded source.
double convert(void* dst, DType to, const void* src, DType from, std::size_t n,
               const ConvertOptions& opt = {});

// Which kernel set is in use: "avx512", "avx2" or "generic" (runtime/cpu_features.h).
std::string_view active_isa();

}  // namespace mixtrain::numerics
