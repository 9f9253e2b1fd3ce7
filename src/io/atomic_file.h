// Atomic file output: AtomicFile writes into `<path>.tmp.<pid>` in the target's directory and
// renames it over the target only once everything was written and synced, so a reader (or a
// crash) sees either the old file or the complete new one, never partial output.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace mixtrain::io {

// One atomic write. Usage: AtomicFile f(path); f.write(...)...; f.commit();
// Contract:
//  - The constructor creates (truncating) the temporary `<path>.tmp.<pid>`; it throws
//    mixtrain::Error if that is impossible (missing directory, no permission, ...).
//  - write() appends; commit() fsyncs, closes and renames the temporary over `path`. Both throw
//    mixtrain::Error with a one-line message on failure, after removing the temporary.
//  - If the object is destroyed without a successful commit() (an exception unwound past it),
//    the temporary is removed and `path` is untouched.
//  - The temporary's name is derived from the pid, so two threads of one process must not write
//    the same path at the same time.
class AtomicFile {
 public:
  explicit AtomicFile(std::string path);
  ~AtomicFile();
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;

  void write(const void* data, std::size_t n);
  void write(std::span<const std::byte> bytes) { write(bytes.data(), bytes.size()); }
  void commit();

  const std::string& path() const { return path_; }
  const std::string& temp_path() const { return temp_; }

 private:
  [[noreturn]] void fail(const std::string& what, int err);
  void discard() noexcept;

  std::string path_;
  std::string temp_;
  int fd_ = -1;
};

// Writes `bytes` to `path` atomically (see AtomicFile).
void write_file_atomic(const std::string& path, std::span<const std::byte> bytes);

// Reads a whole regular file; throws mixtrain::Error ("cannot read 'x': No such file or
// directory") if it cannot be opened, is not a regular file, or a read fails.
std::vector<std::byte> read_file(const std::string& path);

// Reads a whole regular file as text in bounded chunks, refusing more than `limit` bytes (a file
// that grows while it is read included), so a huge file is one clear error ("PATH: text file too
// large ..."), never an allocation failure. Opens like read_file (special files refused).
std::string read_text_file(const std::string& path, std::uint64_t limit = UINT64_MAX);

}  // namespace mixtrain::io
