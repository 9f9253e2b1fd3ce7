// IDX reading through zlib's gz* API (which also reads uncompressed files transparently).
#include "data/idx.h"

#include <zlib.h>

#include <memory>

#include "runtime/error.h"

namespace mixtrain::data {
namespace {

struct GzCloser {
  void operator()(gzFile_s* f) const { gzclose(f); }
};

// Reads exactly n bytes or throws.
void read_exact(gzFile f, void* dst, std::size_t n, const std::string& path, const char* what) {
  auto* p = static_cast<unsigned char*>(dst);
  while (n > 0) {
    const unsigned chunk = static_cast<unsigned>(std::min<std::size_t>(n, 1u << 30));
    const int got = gzread(f, p, chunk);
    if (got <= 0) {
      int err = 0;
      const char* msg = gzerror(f, &err);
      throw Error(path + ": truncated or corrupt IDX file (" + what + ": " +
                  (err != Z_OK && msg ? msg : "unexpected end of file") + ")");
    }
    p += got;
    n -= static_cast<std::size_t>(got);
  }
}

}  // namespace

IdxArray read_idx_gz(const std::string& path) {
  std::unique_ptr<gzFile_s, GzCloser> f(gzopen(path.c_str(), "rb"));
  if (!f) throw Error(path + ": cannot open");
  unsigned char magic[4];
  read_exact(f.get(), magic, 4, path, "magic");
  if (magic[0] != 0 || magic[1] != 0 || magic[2] != 0x08 || magic[3] == 0 || magic[3] > 4)
    throw Error(path + ": not an unsigned-byte IDX file (bad magic)");
  IdxArray a;
  std::int64_t total = 1;
  for (int i = 0; i < magic[3]; ++i) {
    unsigned char b[4];
    read_exact(f.get(), b, 4, path, "dimensions");
    const std::int64_t d = (std::int64_t{b[0]} << 24) | (b[1] << 16) | (b[2] << 8) | b[3];
    if (d <= 0 || d > (std::int64_t{1} << 31)) throw Error(path + ": bad IDX dimension");
    total *= d;
    if (total > (std::int64_t{1} << 33)) throw Error(path + ": IDX file too large");
    a.dims.push_back(d);
  }
  a.data.resize(static_cast<std::size_t>(total));
  read_exact(f.get(), a.data.data(), a.data.size(), path, "data");
  unsigned char extra;
  if (gzread(f.get(), &extra, 1) != 0) throw Error(path + ": IDX file has trailing bytes");
  return a;
}

}  // namespace mixtrain::data
