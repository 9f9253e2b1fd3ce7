// convert_file(): raw and safetensors conversion plus the summary counts `mixtrain convert`
// prints.
#include "io/convert_file.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "io/atomic_file.h"
#include "io/safetensors.h"
#include "numerics/encode.h"
#include "runtime/error.h"

namespace mixtrain::io {
namespace {

std::uint64_t load_code(const std::byte* p, std::size_t bytes) {
  std::uint64_t c = 0;
  std::memcpy(&c, p, bytes);  // little-endian host (static_assert in safetensors.cpp)
  return c;
}

// Counts out_of_range / nonfinite_out / flushed for one converted buffer. The scaled input is
// formed exactly as numerics::convert forms it (the product rounded to the source precision:
// fp64 for fp64 sources, fp32 otherwise) so the counts describe what the encoder saw.
void count(const std::byte* src, DType from, const std::byte* dst, DType to, std::size_t n,
           double scale, ConvertSummary& s) {
  const auto& fout = numerics::spec(to);
  const double maxv = numerics::max_value(fout);
  const std::uint64_t mag_mask = fout.sign_mask() - 1;
  const std::size_t out_bytes = size_of(to);
  constexpr std::size_t kChunk = 4096;
  std::vector<double> x(std::min(n, kChunk));
  for (std::size_t b = 0; b < n; b += kChunk) {
    const std::size_t k = std::min(kChunk, n - b);
    numerics::decode(x.data(), src + b * size_of(from), from, k);  // exact
    for (std::size_t i = 0; i < k; ++i) {
      const double y = from == DType::fp64
                           ? x[i] * scale
                           : static_cast<double>(static_cast<float>(x[i]) * static_cast<float>(scale));
      const std::uint64_t code = load_code(dst + (b + i) * out_bytes, out_bytes);
      if (numerics::is_nan_code(code, fout) || numerics::is_inf_code(code, fout)) ++s.nonfinite_out;
      if (!std::isfinite(y)) continue;
      if (std::fabs(y) > maxv) ++s.out_of_range;
      if (y != 0.0 && (code & mag_mask) == 0) ++s.flushed;
    }
  }
}

double combine_amax(double a, double b) { return (std::isnan(b) || b > a) ? b : a; }

// Converts n elements and accumulates the summary; returns the converted bytes.
std::vector<std::byte> convert_buffer(const std::byte* src, DType from, std::size_t n,
                                      const ConvertFileOptions& opt, std::uint64_t index_offset,
                                      ConvertSummary& s) {
  std::vector<std::byte> out(n * size_of(opt.to));
  if (n == 0) return out;
  numerics::ConvertOptions o = opt.convert;
  o.index_offset = index_offset;
  const double amax = numerics::convert(out.data(), opt.to, src, from, n, o);
  s.amax = combine_amax(s.amax, amax);
  s.elements += n;
  count(src, from, out.data(), opt.to, n, o.scale, s);
  return out;
}

ConvertSummary convert_raw(const std::string& in, const std::string& out,
                           const ConvertFileOptions& opt) {
  if (is_safetensors_path(out))
    throw Error("'" + out + "' ends in .safetensors but '" + in +
                "' is a raw array (only safetensors input gives safetensors output)");
  const DType from = opt.from.value_or(DType::fp32);
  const std::vector<std::byte> data = read_file(in);
  const std::size_t elem = size_of(from);
  if (data.size() % elem != 0)
    throw Error("'" + in + "': size " + std::to_string(data.size()) + " is not a multiple of " +
                std::to_string(elem) + " bytes (" + std::string(name(from)) + ")");
  ConvertSummary s;
  const auto converted =
      convert_buffer(data.data(), from, data.size() / elem, opt, opt.convert.index_offset, s);
  write_file_atomic(out, converted);
  return s;
}

ConvertSummary convert_st(const std::string& in, const std::string& out,
                          const ConvertFileOptions& opt) {
  SafeTensorsFile file = read_safetensors(in);
  ConvertSummary s;
  s.safetensors = true;
  std::uint64_t index = opt.convert.index_offset;
  for (auto& t : file.tensors) {
    const auto from = t.float_dtype();
    if (!from) {
      ++s.tensors_copied;
      continue;
    }
    if (opt.from && *opt.from != *from)
      throw Error("'" + in + "': tensor '" + t.name + "' is " + t.dtype + ", not " +
                  std::string(name(*opt.from)) + " as the input format says");
    const std::size_t n = t.data.size() / size_of(*from);
    t.data = convert_buffer(t.data.data(), *from, n, opt, index, s);
    t.dtype = std::string(numerics::spec(opt.to).safetensors);
    index += n;
    ++s.tensors_converted;
  }
  write_safetensors(out, file);
  return s;
}

}  // namespace

bool is_safetensors_path(const std::string& path) {
  constexpr std::string_view ext = ".safetensors";
  return path.size() >= ext.size() && path.compare(path.size() - ext.size(), ext.size(), ext) == 0;
}

ConvertSummary convert_file(const std::string& in, const std::string& out,
                            const ConvertFileOptions& opt) {
  if (!std::isfinite(opt.convert.scale))
    throw Error("scale must be a finite number, not " + std::to_string(opt.convert.scale));
  return is_safetensors_path(in) ? convert_st(in, out, opt) : convert_raw(in, out, opt);
}

}  // namespace mixtrain::io
