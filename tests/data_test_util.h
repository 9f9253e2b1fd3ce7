// Writing small data files for the data-reader tests, and catching what the readers throw.
#pragma once

#include <zlib.h>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "runtime/error.h"

namespace mixtrain::testing {

// A gzip IDX file: magic 0x0000 TT NN, NN big-endian u32 dims, then `payload` (not checked
// against the dims: tests write inconsistent files on purpose). Returns false if it cannot write.
inline bool write_idx_gz(const std::string& path, const std::vector<std::uint32_t>& dims,
                         const std::vector<std::uint8_t>& payload, unsigned char type = 0x08) {
  gzFile f = gzopen(path.c_str(), "wb1");
  if (f == nullptr) return false;
  const unsigned char magic[4] = {0, 0, type, static_cast<unsigned char>(dims.size())};
  gzwrite(f, magic, 4);
  for (auto d : dims) {
    const unsigned char b[4] = {static_cast<unsigned char>(d >> 24), static_cast<unsigned char>(d >> 16),
                                static_cast<unsigned char>(d >> 8), static_cast<unsigned char>(d)};
    gzwrite(f, b, 4);
  }
  if (!payload.empty()) gzwrite(f, payload.data(), static_cast<unsigned>(payload.size()));
  return gzclose(f) == Z_OK;
}

// The message of the mixtrain::Error that fn throws ("" if it throws none).
inline std::string error_of(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

}  // namespace mixtrain::testing
