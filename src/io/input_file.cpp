// InputFile: open(O_NONBLOCK) + fstat before any read, so special files are refused up front.
#include "io/input_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include "runtime/error.h"

namespace mixtrain::io {

InputFile::InputFile(const std::string& path) : path_(path) {
  if (path.empty()) throw Error("cannot read '': empty file name");
  fd_ = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd_ < 0) throw Error("cannot read '" + path + "': " + std::strerror(errno));
  struct ::stat st {};
  std::string why;
  if (::fstat(fd_, &st) != 0) why = std::strerror(errno);
  else if (S_ISDIR(st.st_mode)) why = "is a directory";
  else if (!S_ISREG(st.st_mode)) why = "not a regular file";
  else if (::fcntl(fd_, F_SETFL, ::fcntl(fd_, F_GETFL) & ~O_NONBLOCK) != 0) why = std::strerror(errno);
  if (!why.empty()) {
    ::close(fd_);
    fd_ = -1;
    throw Error("cannot read '" + path + "': " + why);
  }
  size_ = static_cast<std::uint64_t>(st.st_size);
}

InputFile::~InputFile() {
  if (fd_ >= 0) ::close(fd_);
}

int InputFile::release() { return std::exchange(fd_, -1); }

void InputFile::read_at(std::uint64_t offset, void* dst, std::size_t n) const {
  auto* p = static_cast<char*>(dst);
  while (n > 0) {
    const ::ssize_t r = ::pread(fd_, p, n, static_cast<::off_t>(offset));
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) throw Error("cannot read '" + path_ + "': " + std::strerror(errno));
    if (r == 0) throw Error("cannot read '" + path_ + "': file shrank while reading");
    p += r;
    offset += static_cast<std::uint64_t>(r);
    n -= static_cast<std::size_t>(r);
  }
}

bool is_regular_file(const std::string& path) {
  struct ::stat st {};
  return !path.empty() && ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

}  // namespace mixtrain::io
