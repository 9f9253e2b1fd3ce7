// The safetensors file format (https://github.com/huggingface/safetensors): an 8-byte
// little-endian header length N, N bytes of JSON header
// {name: {"dtype", "shape", "data_offsets": [begin, end]}, "__metadata__": {str: str}}, then the
// tensor data. A strict reader and an atomic writer; tensors are kept as dtype string + bytes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "numerics/format.h"

namespace mixtrain::io {

// Header lengths above this are rejected as corrupt (the reference implementation's limit).
inline constexpr std::uint64_t kSafetensorsMaxHeader = 100'000'000;

// Element size in bytes of a safetensors dtype string: F64 F32 F16 BF16 F8_E4M3 F8_E5M2 (the
// floating formats mixtrain computes with) and I64 I32 I16 I8 U64 U32 U16 U8 BOOL (kept as
// opaque bytes). nullopt for any other string.
std::optional<std::size_t> safetensors_element_size(std::string_view dtype);

struct SafeTensor {
  std::string name;
  std::string dtype;                // safetensors dtype string, e.g. "BF16", "I64"
  std::vector<std::int64_t> shape;  // empty = scalar (one element)
  std::vector<std::byte> data;      // numel() * element size bytes, little-endian elements

  // The mixtrain format of a floating tensor; nullopt for I64, BOOL, ...
  std::optional<DType> float_dtype() const { return numerics::dtype_from_safetensors(dtype); }
  // Product of the shape (1 for a scalar).
  std::uint64_t numel() const;
};

struct SafeTensorsFile {
  std::vector<SafeTensor> tensors;  // in data order
  std::map<std::string, std::string> metadata;

  // The tensor called `name`, or nullptr.
  const SafeTensor* find(std::string_view name) const;
  SafeTensor* find(std::string_view name);
};

// Reads and validates a whole file. Throws mixtrain::Error with one line naming the file and the
// problem on: a file shorter than 8 bytes; a header length beyond the file or above
// kSafetensorsMaxHeader; a header that is not a JSON object; an entry that is not an object or
// lacks a well-typed "dtype" (string), "shape" (array of non-negative integers) or
// "data_offsets" (two integers, begin <= end); an unknown dtype; numel * element size !=
// end - begin; offsets beyond the data, overlapping, or leaving bytes of the data section
// unclaimed (the reference implementation requires the tensors to tile it exactly);
// "__metadata__" that is not an object of strings. Tensors come back sorted by data offset.
SafeTensorsFile read_safetensors(const std::string& path);

// Writes `file` atomically (io/atomic_file.h): tensors in the given order with consecutive
// data_offsets, "__metadata__" first when non-empty, the header padded with spaces to a multiple
// of 8 bytes like the reference writer, so tensor data stays 8-byte aligned. Throws
// mixtrain::Error (leaving any existing file at `path` untouched) if a tensor has an unknown dtype,
// a negative dimension, a data size that does not match its shape, a duplicate or reserved name
// ("__metadata__"), or a name or metadata string that is not valid UTF-8, or if writing fails.
void write_safetensors(const std::string& path, const SafeTensorsFile& file);

// The serialised form of `file` (what write_safetensors writes), for in-memory use and tests.
std::vector<std::byte> serialize_safetensors(const SafeTensorsFile& file);

}  // namespace mixtrain::io
