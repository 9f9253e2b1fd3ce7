// RunDir: the commit protocol of run_dir.h on POSIX calls (flock, rename, renameat2, symlink,
// fsync). std::filesystem is used only in its error_code forms, so nothing here throws anything
// but mixtrain::Error.
#include "train/run_dir.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <span>
#include <vector>

#include "io/atomic_file.h"
#include "io/input_file.h"
#include "runtime/error.h"

namespace mixtrain::train {
namespace {

namespace fs = std::filesystem;

constexpr const char* kStablePaths[] = {"checkpoint.safetensors", "metrics.jsonl", "summary.json"};

std::string errno_text(int err) { return std::strerror(err); }

// "step-000000000200" -> 200; nullopt for anything else (suffixes such as .partial included).
std::optional<std::int64_t> parse_step_dir(const std::string& name) {
  if (!name.starts_with("step-") || name.size() == 5 || name.size() > 5 + 18) return std::nullopt;
  std::int64_t v = 0;
  for (std::size_t i = 5; i < name.size(); ++i) {
    if (name[i] < '0' || name[i] > '9') return std::nullopt;
    v = v * 10 + (name[i] - '0');
  }
  return v;
}

std::optional<std::string> read_link(const std::string& path) {
  char buf[4096];
  const ::ssize_t n = ::readlink(path.c_str(), buf, sizeof buf - 1);
  if (n < 0) return std::nullopt;
  return std::string(buf, static_cast<std::size_t>(n));
}

// The step `latest` names, if it names a step directory that exists.
std::optional<std::int64_t> latest_step(const std::string& dir) {
  const auto target = read_link(dir + "/latest");
  if (!target) return std::nullopt;
  const auto step = parse_step_dir(*target);
  if (!step || !io::is_regular_file(dir + "/" + *target + "/checkpoint.safetensors")) return std::nullopt;
  return step;
}

// Committed-looking step directories (name without suffix), ascending.
std::vector<std::int64_t> step_dirs(const std::string& dir) {
  std::vector<std::int64_t> out;
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    const auto step = parse_step_dir(it->path().filename().string());
    if (step && it->is_directory(ec)) out.push_back(*step);
  }
  std::sort(out.begin(), out.end());
  return out;
}

void fsync_dir(const std::string& dir) {
  // Makes renames and creations in `dir` durable. Best effort: some file systems refuse it.
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd >= 0) {
    (void)::fsync(fd);
    ::close(fd);
  }
}

// Points `link` at `target` atomically (a new symlink renamed over the old name).
void switch_link(const std::string& target, const std::string& link) {
  const std::string tmp = link + ".tmp." + std::to_string(::getpid());
  ::unlink(tmp.c_str());
  if (::symlink(target.c_str(), tmp.c_str()) != 0 || ::rename(tmp.c_str(), link.c_str()) != 0) {
    const int err = errno;
    ::unlink(tmp.c_str());
    throw Failure("cannot write '" + link + "': " + errno_text(err));
  }
}

// Removes a directory tree so that no reader can mistake a half-removed one for a checkpoint:
// renamed out of the step-N namespace first.
void remove_step_dir(const std::string& dir, const std::string& name) {
  const std::string from = dir + "/" + name, doomed = from + ".deleting";
  std::error_code ec;
  if (::rename(from.c_str(), doomed.c_str()) == 0) fs::remove_all(doomed, ec);
}

}  // namespace

std::string step_dir_name(std::int64_t step) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "step-%012lld", static_cast<long long>(step));
  return buf;
}

std::string resume_checkpoint_dir(const std::string& dir) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) throw Error("resume: no run directory at '" + dir + "'");
  if (const auto step = latest_step(dir)) return dir + "/" + step_dir_name(*step);
  // Any entry called checkpoint.safetensors (a FIFO, a dangling link...) is this directory's
  // checkpoint: the reader then says precisely what is wrong with it.
  struct ::stat st {};
  if (::lstat((dir + "/checkpoint.safetensors").c_str(), &st) == 0) return dir;
  const auto steps = step_dirs(dir);
  for (auto it = steps.rbegin(); it != steps.rend(); ++it) {
    const std::string d = dir + "/" + step_dir_name(*it);
    if (io::is_regular_file(d + "/checkpoint.safetensors")) return d;
  }
  throw Error("resume: no checkpoint in '" + dir + "' (no checkpoint.safetensors, no step-N directory)");
}

RunDir::RunDir(std::string dir) : dir_(std::move(dir)) {
  if (dir_.empty()) throw Error("train: --out DIR is required");
  while (dir_.size() > 1 && dir_.back() == '/') dir_.pop_back();
  std::error_code ec;
  fs::create_directories(dir_, ec);
  if (ec || !fs::is_directory(dir_, ec))
    throw Error("train: cannot create output directory '" + dir_ + "'" + (ec ? ": " + ec.message() : ""));
  const std::string lock = dir_ + "/.lock";
  lock_fd_ = ::open(lock.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK, 0644);
  if (lock_fd_ < 0) throw Error("train: cannot write to output directory '" + dir_ + "': " + errno_text(errno));
  struct ::stat st {};
  if (::fstat(lock_fd_, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(lock_fd_);
    lock_fd_ = -1;
    throw Error("train: '" + lock + "' is not a regular file");
  }
  if (::flock(lock_fd_, LOCK_EX | LOCK_NB) != 0) {
    const int err = errno;
    ::close(lock_fd_);
    lock_fd_ = -1;
    throw Error(err == EWOULDBLOCK ? "train: another mixtrain run is writing to '" + dir_ + "'"
                                   : "train: cannot lock '" + lock + "': " + errno_text(err));
  }
  remove_leftovers();
}

RunDir::~RunDir() {
  if (lock_fd_ >= 0) ::close(lock_fd_);  // releases the flock
}

void RunDir::remove_leftovers() {
  const auto latest = latest_step(dir_);
  std::vector<fs::path> doomed;
  std::error_code ec;
  for (fs::directory_iterator it(dir_, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    const auto step = parse_step_dir(name);
    const bool stale_step = name.starts_with("step-") && (name.ends_with(".partial") || name.ends_with(".deleting"));
    const bool uncommitted = step && latest && *step > *latest;  // its `latest` switch never happened
    const bool temp = name.find(".tmp.") != std::string::npos || name == "metrics.jsonl.tmp";
    if (stale_step || uncommitted || temp) doomed.push_back(it->path());
  }
  for (const auto& p : doomed) fs::remove_all(p, ec);
  if (!doomed.empty()) fsync_dir(dir_);
}

void RunDir::commit(std::int64_t step, const std::function<void(const std::string&)>& write_checkpoint,
                    const std::string& metrics, const std::string& summary, int keep) {
  const std::string name = step_dir_name(step);
  const std::string final_dir = dir_ + "/" + name, partial = final_dir + ".partial";
  std::error_code ec;
  fs::remove_all(partial, ec);
  if (!fs::create_directory(partial, ec))
    throw Failure("cannot write '" + partial + "': " + (ec ? ec.message() : "exists"));
  try {
    write_checkpoint(partial + "/checkpoint.safetensors");
    io::write_file_atomic(partial + "/metrics.jsonl", std::as_bytes(std::span(metrics.data(), metrics.size())));
    io::write_file_atomic(partial + "/summary.json", std::as_bytes(std::span(summary.data(), summary.size())));
    fsync_dir(partial);
  } catch (...) {
    fs::remove_all(partial, ec);
    throw;
  }
  // The new directory takes the name step-N. A step-N that exists (this step committed before,
  // e.g. a resume that ran no further) is swapped out in one atomic exchange, then removed.
  if (fs::exists(final_dir, ec)) {
    if (::renameat2(AT_FDCWD, partial.c_str(), AT_FDCWD, final_dir.c_str(), RENAME_EXCHANGE) != 0) {
      const int err = errno;
      fs::remove_all(partial, ec);
      throw Failure("cannot write '" + final_dir + "': " + errno_text(err));
    }
    fs::remove_all(partial, ec);
  } else if (::rename(partial.c_str(), final_dir.c_str()) != 0) {
    const int err = errno;
    fs::remove_all(partial, ec);
    throw Failure("cannot write '" + final_dir + "': " + errno_text(err));
  }
  fsync_dir(dir_);
  switch_link(name, dir_ + "/latest");  // the commit point
  for (const char* f : kStablePaths) {
    const std::string link = dir_ + "/" + f, target = std::string("latest/") + f;
    if (read_link(link) != target) switch_link(target, link);
  }
  fsync_dir(dir_);
  prune(step, keep);
}

void RunDir::prune(std::int64_t committed, int keep) {
  // Newer directories belong to a history this commit replaced (a resume from an earlier step);
  // older ones beyond `keep` (the committed one counts) are removed oldest first.
  std::vector<std::int64_t> older;
  for (const std::int64_t s : step_dirs(dir_)) {
    if (s > committed) remove_step_dir(dir_, step_dir_name(s));
    else if (s < committed) older.push_back(s);
  }
  const auto keep_older = static_cast<std::size_t>(std::max(keep - 1, 0));
  for (std::size_t i = 0; i + keep_older < older.size(); ++i) remove_step_dir(dir_, step_dir_name(older[i]));
}

void RunDir::keep_failed_metrics() noexcept {
  const std::string live = live_metrics_path();
  (void)::rename(live.c_str(), (dir_ + "/failed.metrics.jsonl").c_str());
}

}  // namespace mixtrain::train
