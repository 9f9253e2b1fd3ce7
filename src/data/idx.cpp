// IDX reading through zlib's gz* API (which also reads uncompressed files transparently). The
// file is opened through io::InputFile (a FIFO or a directory is refused before any read) and
// handed to gzdopen. The elements are read in bounded chunks into a buffer that grows only as
// bytes arrive, so memory is bounded by what the file really holds, never by what its header
// claims.
#include "data/idx.h"

#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <memory>

#include "io/input_file.h"
#include "runtime/error.h"

namespace mixtrain::data {
namespace {

struct GzCloser {
  void operator()(gzFile_s* f) const { gzclose(f); }
};

// The largest single gzread and the growth step of the element buffer.
constexpr std::size_t kChunk = std::size_t{1} << 24;

[[noreturn]] void truncated(gzFile f, const std::string& path, const char* what) {
  int err = 0;
  const char* msg = gzerror(f, &err);
  throw Error(path + ": truncated or corrupt IDX file (" + what + ": " +
              (err != Z_OK && err != Z_BUF_ERROR && msg && *msg ? msg : "unexpected end of file") + ")");
}

// Reads up to n bytes (n <= kChunk); returns how many arrived (fewer only at the end of the data).
std::size_t read_some(gzFile f, unsigned char* dst, std::size_t n, const std::string& path, const char* what) {
  std::size_t done = 0;
  while (done < n) {
    const int got = gzread(f, dst + done, static_cast<unsigned>(n - done));
    if (got < 0) truncated(f, path, what);
    if (got == 0) break;
    done += static_cast<std::size_t>(got);
  }
  return done;
}

// Reads exactly n bytes (a small header field) or throws.
void read_exact(gzFile f, void* dst, std::size_t n, const std::string& path, const char* what) {
  if (read_some(f, static_cast<unsigned char*>(dst), n, path, what) != n) truncated(f, path, what);
}

}  // namespace

IdxArray read_idx_gz(const std::string& path) {
  io::InputFile in(path);  // refuses FIFOs, directories, ... before any read
  const int fd = in.release();
  gzFile raw = gzdopen(fd, "rb");
  if (raw == nullptr) {
    ::close(fd);
    throw Error(path + ": cannot open (out of memory in zlib)");
  }
  std::unique_ptr<gzFile_s, GzCloser> f(raw);
  gzbuffer(f.get(), 1u << 17);
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
    if (d == 0) throw Error(path + ": IDX dimension " + std::to_string(i) + " is 0 (an empty data set)");
    if (d > (std::int64_t{1} << 31)) throw Error(path + ": bad IDX dimension " + std::to_string(d));
    // Checked before it can wrap: up to 2^33 x 2^31 does not fit in int64.
    if (__builtin_mul_overflow(total, d, &total) || total > (std::int64_t{1} << 33)) throw Error(path + ": IDX file too large");
    a.dims.push_back(d);
  }
  // Grow as the data arrives: a header that promises more than the file holds costs only what
  // the file holds (plus one chunk) before it is reported as truncated.
  const auto want = static_cast<std::size_t>(total);
  while (a.data.size() < want) {
    const std::size_t have = a.data.size();
    const std::size_t n = std::min(kChunk, want - have);
    a.data.resize(have + n);
    const std::size_t got = read_some(f.get(), a.data.data() + have, n, path, "data");
    if (got < n) {
      throw Error(path + ": truncated IDX file (the header promises " + std::to_string(want) + " bytes of data, the file holds " +
                  std::to_string(have + got) + ")");
    }
  }
  unsigned char extra;
  if (gzread(f.get(), &extra, 1) != 0) throw Error(path + ": IDX file has trailing bytes");
  return a;
}

}  // namespace mixtrain::data
