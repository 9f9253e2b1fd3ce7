// File conversion behind `mixtrain convert`: raw little-endian arrays and safetensors files,
// converted element by element with numerics::convert(). Kept out of the CLI so it can be tested
// and reused without parsing arguments.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "numerics/convert.h"
#include "numerics/format.h"

namespace mixtrain::io {

struct ConvertFileOptions {
  std::optional<DType> from;  // raw input: its format (default fp32). safetensors input: if set,
                              // every floating tensor must already be of this format.
  DType to = DType::fp32;
  // Rounding, overflow, seed and scale as for numerics::convert(). index_offset is the counter of
  // the first element; with safetensors the floating tensors are numbered consecutively in file
  // order (tensor k starts at index_offset + the element count of tensors 0..k-1), so stochastic
  // results are reproducible and no two tensors share random bits.
  numerics::ConvertOptions convert;
};

struct ConvertSummary {
  bool safetensors = false;
  std::uint64_t tensors_converted = 0;  // safetensors: floating tensors converted
  std::uint64_t tensors_copied = 0;     // safetensors: non-floating tensors copied unchanged
  std::uint64_t elements = 0;           // floating elements converted
  double amax = 0.0;                    // max |x| of the input before scaling (NaN if any NaN)
  std::uint64_t out_of_range = 0;  // finite inputs with |x * scale| > the target's max value
  std::uint64_t nonfinite_out = 0;  // outputs that are ±inf or NaN
  std::uint64_t flushed = 0;        // nonzero finite inputs (after scaling) that became ±0
};

// True when `path` ends in ".safetensors".
bool is_safetensors_path(const std::string& path);

// Converts `in` into `out`, choosing the format by is_safetensors_path(in):
//  - raw: in holds n elements of opt.from (fp32 if unset), out receives n elements of opt.to.
//  - safetensors: every floating tensor (F64 F32 F16 BF16 F8_E4M3 F8_E5M2) becomes opt.to with
//    the matching dtype string; other tensors and the metadata are copied unchanged.
// `out` is written atomically: on any error nothing is left at `out` (an existing file stays as
// it was). Throws mixtrain::Error with a one-line message for an unreadable input, a raw size
// that is not a whole number of elements, a malformed safetensors file, a raw input with a
// ".safetensors" output name, --from that contradicts a tensor's dtype, a non-finite scale, or an
// unwritable output.
ConvertSummary convert_file(const std::string& in, const std::string& out,
                            const ConvertFileOptions& opt);

}  // namespace mixtrain::io
