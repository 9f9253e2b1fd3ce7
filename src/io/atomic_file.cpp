// AtomicFile (POSIX open/write/fsync/rename) and the whole-file reader used by the io layer.
#include "io/atomic_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include "io/input_file.h"
#include "runtime/error.h"

namespace mixtrain::io {
namespace {

std::string errno_text(int err) { return std::strerror(err); }

std::string parent_dir(const std::string& path) {
  const auto slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

}  // namespace

AtomicFile::AtomicFile(std::string path)
    : path_(std::move(path)), temp_(path_ + ".tmp." + std::to_string(::getpid())) {
  if (path_.empty()) throw Error("cannot write '': empty file name");
  fd_ = ::open(temp_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
  if (fd_ < 0) throw Error("cannot write '" + path_ + "': " + errno_text(errno));
}

AtomicFile::~AtomicFile() { discard(); }

void AtomicFile::discard() noexcept {
  if (fd_ >= 0) {
    ::close(fd_);
    fd_ = -1;
    ::unlink(temp_.c_str());
  }
}

void AtomicFile::fail(const std::string& what, int err) {
  discard();
  const std::string msg = "cannot write '" + path_ + "': " + what + errno_text(err);
  // Running out of space or a failing device is not the user's input being wrong: exit 1.
  if (err == ENOSPC || err == EDQUOT || err == EIO || err == EFBIG) throw Failure(msg);
  throw Error(msg);
}

void AtomicFile::write(const void* data, std::size_t n) {
  if (fd_ < 0) throw Error("cannot write '" + path_ + "': file already committed or discarded");
  const auto* p = static_cast<const char*>(data);
  while (n > 0) {
    const ::ssize_t w = ::write(fd_, p, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      fail("", errno);
    }
    p += w;
    n -= static_cast<std::size_t>(w);
  }
}

void AtomicFile::commit() {
  if (fd_ < 0) throw Error("cannot write '" + path_ + "': file already committed or discarded");
  // fsync before rename: otherwise a crash could leave the new name pointing at unwritten data.
  if (::fsync(fd_) != 0) fail("fsync: ", errno);
  const int fd = std::exchange(fd_, -1);
  if (::close(fd) != 0) {
    const int err = errno;
    ::unlink(temp_.c_str());
    throw Failure("cannot write '" + path_ + "': close: " + errno_text(err));
  }
  if (::rename(temp_.c_str(), path_.c_str()) != 0) {
    const int err = errno;
    ::unlink(temp_.c_str());
    throw Error("cannot write '" + path_ + "': " + errno_text(err));
  }
  // Make the rename itself durable. Best effort: some file systems refuse fsync on directories.
  const int dir = ::open(parent_dir(path_).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir >= 0) {
    (void)::fsync(dir);
    ::close(dir);
  }
}

void write_file_atomic(const std::string& path, std::span<const std::byte> bytes) {
  AtomicFile f(path);
  f.write(bytes);
  f.commit();
}

std::vector<std::byte> read_file(const std::string& path) {
  const InputFile in(path);
  std::vector<std::byte> data(static_cast<std::size_t>(in.size()));
  std::size_t done = 0;
  while (done < data.size()) {
    const ::ssize_t r = ::read(in.fd(), data.data() + done, data.size() - done);
    if (r < 0) {
      if (errno == EINTR) continue;
      throw Error("cannot read '" + path + "': " + errno_text(errno));
    }
    if (r == 0) break;  // the file shrank while we read it
    done += static_cast<std::size_t>(r);
  }
  data.resize(done);
  return data;
}

std::string read_text_file(const std::string& path, std::uint64_t limit) {
  const InputFile in(path);
  if (in.size() > limit)
    throw Error(path + ": text file too large (" + std::to_string(in.size()) + " bytes; at most " + std::to_string(limit) + ")");
  std::string out;
  out.reserve(static_cast<std::size_t>(in.size()));
  char buf[1 << 16];
  for (;;) {
    const ::ssize_t r = ::read(in.fd(), buf, sizeof buf);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) throw Error("cannot read '" + path + "': " + errno_text(errno));
    if (r == 0) break;
    if (out.size() + static_cast<std::size_t>(r) > limit)
      throw Error(path + ": text file too large (more than " + std::to_string(limit) + " bytes)");
    out.append(buf, static_cast<std::size_t>(r));
  }
  return out;
}

}  // namespace mixtrain::io
