// The reader calls behind each libFuzzer target (fuzz/fuzz_*.cpp), shared with the corpus replay
// test (tests/test_fuzz_corpus.cpp) so that a crash input added to fuzz/corpus/ is replayed
// through exactly the code that found it.
//
// Contract of every function: it feeds one input to mixtrain the way mixtrain meets a user's file.
// mixtrain::Error means the input was rejected, which is fine. Anything else is a bug: another
// exception type (std::bad_alloc from an absurd allocation, nlohmann's exceptions, std::stoi's),
// a crash, a sanitizer report, a hang. Where a reader accepts an input, the functions also check
// that mixtrain can write back what it read (a reader laxer than its writer would let a file in
// that the next save could not write); a broken invariant throws InvariantBroken.
#pragma once

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>
#include <span>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "amp/grad_scaler.h"
#include "amp/precision_map.h"
#include "data/idx.h"
#include "io/safetensors.h"
#include "nn/batch_norm.h"
#include "nn/linear.h"
#include "nn/sequential.h"
#include "optim/optimizer.h"
#include "runtime/error.h"
#include "train/checkpoint.h"
#include "train/doctor.h"

namespace mixtrain::fuzz {

using Bytes = std::span<const std::uint8_t>;

// A reader accepted an input but mixtrain cannot write back or reread what it read. Not a
// mixtrain::Error on purpose: the fuzzer and the replay test must treat it as a bug.
class InvariantBroken : public std::logic_error {
 public:
  using std::logic_error::logic_error;
};

// A private directory for the files the readers take by path (one per process, so parallel
// fuzzing jobs and ctest runs never share a file); removed at exit (a crash leaves it behind).
class Scratch {
 public:
  static Scratch& get() {
    static Scratch s;
    return s;
  }
  const std::string& dir() const { return dir_; }

  // Replaces DIR/name with `data` and returns its path. Plain POSIX calls: this runs once per
  // fuzzer execution and must stay cheap. A new file rather than O_TRUNC: ext4 writes a
  // truncated-and-rewritten file back to disk on close (auto_da_alloc), which cost milliseconds.
  std::string write(const std::string& name, Bytes data) const {
    const std::string path = dir_ + "/" + name;
    ::unlink(path.c_str());
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) fail("cannot create " + path);
    std::size_t done = 0;
    while (done < data.size()) {
      const ::ssize_t n = ::write(fd, data.data() + done, data.size() - done);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) fail("cannot write " + path);
      done += static_cast<std::size_t>(n);
    }
    ::close(fd);
    return path;
  }
  std::string write(const std::string& name, std::string_view text) const {
    return write(name, Bytes(reinterpret_cast<const std::uint8_t*>(text.data()), text.size()));
  }
  void remove(const std::string& name) const { ::unlink((dir_ + "/" + name).c_str()); }

  Scratch(const Scratch&) = delete;
  Scratch& operator=(const Scratch&) = delete;

 private:
  // Under $TMPDIR, else in memory (/dev/shm) where there is one, else /tmp.
  Scratch() {
    const char* env = std::getenv("TMPDIR");
    std::error_code ec;
    const std::string base = env && *env ? env : std::filesystem::is_directory("/dev/shm", ec) ? "/dev/shm" : "/tmp";
    std::string tmpl = base + "/mixtrain-fuzz-XXXXXX";
    if (::mkdtemp(tmpl.data()) == nullptr) fail("cannot create a scratch directory " + tmpl);
    dir_ = tmpl;
    if (::mkdir((dir_ + "/run").c_str(), 0700) != 0) fail("cannot create " + dir_ + "/run");
  }
  ~Scratch() {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  // The harness itself failed (disk full, ...): not a finding about mixtrain, so stop loudly.
  [[noreturn]] static void fail(const std::string& what) {
    std::fprintf(stderr, "fuzz harness: %s: %s\n", what.c_str(), std::strerror(errno));
    std::abort();
  }
  std::string dir_;
};

inline std::string_view as_text(Bytes data) {
  return {reinterpret_cast<const char*>(data.data()), data.size()};
}

// --- safetensors -------------------------------------------------------------------------------

inline bool same_file(const io::SafeTensorsFile& a, const io::SafeTensorsFile& b) {
  if (a.metadata != b.metadata || a.tensors.size() != b.tensors.size()) return false;
  for (std::size_t i = 0; i < a.tensors.size(); ++i) {
    const auto &x = a.tensors[i], &y = b.tensors[i];
    if (x.name != y.name || x.dtype != y.dtype || x.shape != y.shape || x.data != y.data) return false;
  }
  return true;
}

// read_safetensors on the input; an accepted file must serialise and read back unchanged.
inline void safetensors_input(Bytes data) {
  const Scratch& s = Scratch::get();
  const io::SafeTensorsFile file = io::read_safetensors(s.write("input.safetensors", data));
  try {
    const std::vector<std::byte> bytes = io::serialize_safetensors(file);
    const Bytes out(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size());
    if (!same_file(file, io::read_safetensors(s.write("rewritten.safetensors", out))))
      throw InvariantBroken("safetensors: the rewritten file reads back differently");
  } catch (const Error& e) {
    throw InvariantBroken(std::string("safetensors: an accepted file cannot be rewritten: ") + e.what());
  }
}

// --- IDX ---------------------------------------------------------------------------------------

// read_idx_gz on the input (gzip or raw: zlib reads both); the result must hold exactly
// product(dims) bytes, the product computed without wrapping (dimensions whose product wraps to
// the data size must not pass).
inline void idx_input(Bytes data) {
  const data::IdxArray a = data::read_idx_gz(Scratch::get().write("input.idx.gz", data));
  std::uint64_t n = 1;
  bool wrapped = false;
  for (const auto d : a.dims) wrapped |= d <= 0 || __builtin_mul_overflow(n, static_cast<std::uint64_t>(d), &n);
  if (a.dims.empty() || wrapped || n != a.data.size())
    throw InvariantBroken("idx: accepted an array whose size does not match its dimensions");
}

// --- checkpoints -------------------------------------------------------------------------------

// The model the checkpoint target loads into: small enough to build on every execution, but with
// every kind of state a checkpoint restores (bf16 parameters with fp32 masters, fp32 norm
// parameters, BatchNorm buffers, fp8 scaling state, AdamW moments, the loss scaler).
struct FuzzModel {
  nn::Sequential model;
  std::unique_ptr<optim::AdamW> opt;
  amp::GradScaler scaler;
};

inline std::unique_ptr<FuzzModel> make_fuzz_model() {
  auto m = std::make_unique<FuzzModel>();
  auto linear = [](std::int64_t in, std::int64_t out, std::uint64_t seed) {
    nn::LinearOptions o;
    o.in = in;
    o.out = out;
    o.seed = seed;
    return std::make_unique<nn::Linear>(o);
  };
  m->model.add(linear(4, 3, 1));
  nn::BatchNorm2dOptions bn;
  bn.features = 3;
  m->model.add(std::make_unique<nn::BatchNorm2d>(bn));
  m->model.add(linear(3, 2, 2));
  const amp::Policy policy = amp::Policy::FP8();
  m->model.apply_policy(policy);
  m->opt = std::make_unique<optim::AdamW>(m->model.parameters(), policy, optim::AdamWOptions{});
  return m;
}

// read_checkpoint_info, then load_checkpoint into a fresh FuzzModel. A checkpoint that loads
// must save again, and that save must load.
inline void checkpoint_input(Bytes data) {
  const Scratch& s = Scratch::get();
  const std::string path = s.write("input.safetensors", data);
  bool info_ok = true;
  try {
    (void)train::read_checkpoint_info(path);
  } catch (const Error&) {
    info_ok = false;  // load_checkpoint must reject it too, but may get further first
  }
  const auto m = make_fuzz_model();
  const nlohmann::json run = train::load_checkpoint(path, m->model, m->opt.get(), &m->scaler);
  if (!info_ok) throw InvariantBroken("checkpoint: load_checkpoint accepted what read_checkpoint_info rejected");
  try {
    const std::string again = Scratch::get().dir() + "/resaved.safetensors";
    train::save_checkpoint(again, m->model, *m->opt, m->scaler, run);
    const auto fresh = make_fuzz_model();
    (void)train::load_checkpoint(again, fresh->model, fresh->opt.get(), &fresh->scaler);
  } catch (const Error& e) {
    throw InvariantBroken(std::string("checkpoint: a loaded checkpoint does not save and load again: ") + e.what());
  }
}

// --- precision maps ----------------------------------------------------------------------------

// PrecisionMap::parse on the text, then what training does with a user's map: lookups of typical
// module names (the glob matcher runs on user patterns) and check_matches against a model's layer
// names, plus the documented round trip parse(to_string()) == map.
inline void precision_map_input(Bytes data) {
  const amp::PrecisionMap map = amp::PrecisionMap::parse(as_text(data));
  const std::vector<std::string> layers = {"head", "blocks.0.attn.qkv", "blocks.11.mlp.fc2", "features.0", "layer3.1.conv2"};
  for (const auto& layer : layers) (void)map.lookup(layer);
  const amp::PrecisionMap back = amp::PrecisionMap::parse(map.to_string());
  bool same = back.rules().size() == map.rules().size();
  for (std::size_t i = 0; same && i < map.rules().size(); ++i)
    same = back.rules()[i].pattern == map.rules()[i].pattern && back.rules()[i].dtype == map.rules()[i].dtype;
  if (!same) throw InvariantBroken("precision map: parse(to_string()) differs from the map");
  map.check_matches(layers, {"head.weight", "blocks.0.attn.qkv.bias"});
}

// --- metrics (the doctor) ----------------------------------------------------------------------

// The input is metrics.jsonl, optionally followed by a NUL byte and summary.json. parse_metrics
// reads the lines; if they parse, load_run reads the same run from a directory (metrics.jsonl,
// summary.json when given) and the doctor's rules run on it and render their findings as JSON,
// as `mixtrain doctor --json` does. The rules only ever see what load_run returns (it refuses a
// run without steps), never parse_metrics' result directly.
inline void metrics_input(Bytes data) {
  const std::string_view text = as_text(data);
  const std::size_t nul = text.find('\0');
  const std::string_view metrics = text.substr(0, nul);
  std::istringstream in{std::string(metrics)};
  (void)train::doctor::parse_metrics(in, "fuzz");

  // A run directory of its own: load_run looks for fixed file names.
  const Scratch& s = Scratch::get();
  s.write("run/metrics.jsonl", metrics);
  if (nul == std::string_view::npos)
    s.remove("run/summary.json");
  else
    s.write("run/summary.json", text.substr(nul + 1));
  const train::doctor::Run run = train::doctor::load_run(s.dir() + "/run");
  for (const auto& f : train::doctor::diagnose(run)) (void)train::doctor::to_json(f).dump();
}

}  // namespace mixtrain::fuzz
