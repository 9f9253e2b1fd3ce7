// Opening files a user names, safely: a FIFO, a socket or a device must never block open() or
// feed a reader endlessly, and a directory, a symlink loop or a missing file must be one clear
// line naming the path. Every reader of user-supplied paths goes through here.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace mixtrain::io {

// An open regular file (read-only). The constructor opens with O_NONBLOCK (so a FIFO cannot
// block the open), checks with fstat that the target is a regular file, then clears O_NONBLOCK.
// Throws mixtrain::Error "cannot read 'PATH': REASON" otherwise (REASON: the errno text, "is a
// directory" or "not a regular file").
class InputFile {
 public:
  explicit InputFile(const std::string& path);
  ~InputFile();
  InputFile(const InputFile&) = delete;
  InputFile& operator=(const InputFile&) = delete;

  const std::string& path() const { return path_; }
  int fd() const { return fd_; }
  std::uint64_t size() const { return size_; }
  // Gives up ownership of the descriptor (e.g. to gzdopen, which closes it).
  int release();

  // Reads exactly n bytes at offset; throws if the file ends early or a read fails.
  void read_at(std::uint64_t offset, void* dst, std::size_t n) const;

 private:
  std::string path_;
  int fd_ = -1;
  std::uint64_t size_ = 0;
};

// True when `path` names a regular file (following symlinks); never blocks, never throws.
bool is_regular_file(const std::string& path);

}  // namespace mixtrain::io
