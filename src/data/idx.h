// Reader for gzip-compressed IDX files (the MNIST / Fashion-MNIST container): big-endian magic
// 0x0000TTNN (TT = element type, NN = number of dimensions), NN big-endian u32 sizes, then the
// elements. Only unsigned-byte data (TT = 0x08) is accepted, which is what those data sets use.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace mixtrain::data {

struct IdxArray {
  std::vector<std::int64_t> dims;
  std::vector<std::uint8_t> data;  // row-major, product(dims) bytes
};

// Throws mixtrain::Error (one line naming the file) if the file is missing, not gzip, truncated,
// has a bad magic, absurd dimensions, or more or fewer bytes than its header says.
IdxArray read_idx_gz(const std::string& path);

}  // namespace mixtrain::data
