// Bad input is one clear line and a non-zero exit, never a crash, a hang, an "internal error" or a
// silent default (issue #16), by class:
//   numeric flags   every numeric training flag is range- and finite-checked, an explicit 0 is
//                   never "the default", thread counts are bounded (also runtime::set_num_threads);
//   precision map   a pattern that names no layer of the model is an error listing the layers;
//   IDX data        FIFOs are refused at once, a header promising more than the file holds costs
//                   only what the file holds, shapes must agree across splits and with the model,
//                   labels must be in range and sets non-empty (train and eval);
//   text data       FIFOs, directories, empty and unreadable files; eval of a GPT trained on
//                   --data text finds (or is told) its text;
//   eval metadata   a run-metadata field of the wrong JSON type is one line naming the field.
// The data sets are small gzip IDX files and text written here; every CLI run is a few steps.
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "amp/precision_map.h"
#include "cli_test_util.h"
#include "data/fashion_mnist.h"
#include "data_test_util.h"
#include "data/idx.h"
#include "data/sampler.h"
#include "data/text_corpus.h"
#include "runtime/error.h"
#include "runtime/parallel.h"
#include "train/config.h"

namespace mixtrain::testing {
namespace {
namespace fs = std::filesystem;

// Bad input: exit status 2 and the one-line error (train prints its policy line first once the
// flags are valid).
void expect_bad_input(const CliResult& r, const std::string& needle, const std::string& what) {
  expect_one_line_error(r, 2, needle, what);
}

void write_idx(const std::string& path, const std::vector<std::uint32_t>& dims, const std::vector<std::uint8_t>& payload) {
  ASSERT_TRUE(write_idx_gz(path, dims, payload)) << path;
}

// A Fashion-MNIST-shaped directory: `n` images of side x side pixels per split, labels 0-9.
void write_fashion(const std::string& dir, const std::string& prefix, std::uint32_t n, std::uint32_t side,
                   std::uint8_t max_label = 9) {
  fs::create_directories(dir);
  std::vector<std::uint8_t> pixels(static_cast<std::size_t>(n) * side * side), labels(n);
  for (std::size_t i = 0; i < pixels.size(); ++i) pixels[i] = static_cast<std::uint8_t>((i * 37 + i / 97) % 256);
  for (std::uint32_t i = 0; i < n; ++i) labels[i] = static_cast<std::uint8_t>(i % (max_label + 1u));
  write_idx(dir + "/" + prefix + "-images-idx3-ubyte.gz", {n, side, side}, pixels);
  write_idx(dir + "/" + prefix + "-labels-idx1-ubyte.gz", {n}, labels);
}

void write_fashion_dir(const std::string& dir, std::uint32_t train_side, std::uint32_t test_side) {
  write_fashion(dir, "train", 64, train_side);
  write_fashion(dir, "t10k", 16, test_side);
}

// A watchdog for FIFO tests: if the code under test blocks on the FIFO (open or read), opening
// the write end after `after` unblocks it (with EOF), so a regression fails instead of hanging.
class FifoWatchdog {
 public:
  FifoWatchdog(std::string path, std::chrono::milliseconds after)
      : thread_([this, path = std::move(path), after] {
          const auto deadline = std::chrono::steady_clock::now() + after;
          while (!done_ && std::chrono::steady_clock::now() < deadline)
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
          while (!done_) {  // a reader is blocked (or about to be): feed it EOF
            const int fd = ::open(path.c_str(), O_WRONLY | O_NONBLOCK);
            if (fd >= 0) ::close(fd);
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
          }
        }) {}
  ~FifoWatchdog() {
    done_ = true;
    thread_.join();
  }

 private:
  std::atomic<bool> done_{false};
  std::thread thread_;
};

// ---- Numeric flags ---------------------------------------------------------------------------

TEST(ReliabilityFlags, EveryNumericTrainingFlagIsRangeChecked) {
  TempDir d;
  const std::string threads_max = std::to_string(runtime::max_threads());
  struct Case {
    const char* args;
    const char* needle;
  };
  const std::vector<Case> cases = {
      {"--batch 0", "--batch must be an integer in [1, 1048576], got 0"},
      {"--batch -3", "--batch"},
      {"--batch 2000000", "--batch"},
      {"--lr 0", "--lr must be a finite number in (0, 1e+06], got 0"},
      {"--lr -0.1", "--lr"},
      {"--lr nan", "--lr"},
      {"--lr inf", "--lr"},
      {"--lr 1e400", "--lr"},
      {"--epochs 0", "--epochs must be an integer in [1, 1000000], got 0"},
      {"--epochs -1", "--epochs"},
      {"--epochs 10000000", "--epochs"},
      {"--steps 0", "--steps must be an integer in [1, 1000000000], got 0"},
      {"--steps 5000000000", "--steps"},
      {"--threads 0", "--threads must be an integer in [1, "},
      {"--threads -1", "--threads"},
      {"--threads 10000", "--threads must be an integer in [1, "},
      {"--weight-decay nan", "--weight-decay"},
      {"--weight-decay -1", "--weight-decay"},
      {"--weight-decay inf", "--weight-decay"},
      {"--init-scale inf", "--init-scale"},
      {"--init-scale 0", "--init-scale"},
      {"--init-scale nan", "--init-scale"},
      {"--growth-interval 0", "--growth-interval"},
      {"--clip nan", "--clip"},
      {"--clip -1", "--clip"},
      {"--warmup nan", "--warmup"},
      {"--warmup 1", "--warmup"},
      {"--accumulate 0", "--accumulate"},
      {"--accumulate 3", "--accumulate"},  // does not divide the default batch
      {"--context 1", "--context"},
      {"--context 100000", "--context"},
      {"--stats-every 0", "--stats-every must be an integer in [1, 1000000000], or -1 (off), got 0"},
      {"--stats-every -2", "--stats-every"},
      {"--stop-after 0", "--stop-after"},
      {"--stop-after -4", "--stop-after"},
      {"--auto-every 0", "--auto-every"},
      {"--auto-overflow nan", "--auto-overflow"},
      {"--auto-underflow -0.5", "--auto-underflow"},
      {"--auto-underflow-forward 1", "--auto-underflow-forward"},
      {"--auto-patience 0", "--auto-patience"},
      {"--auto-window 0", "--auto-window"},
      {"--loss-scale nan", "--loss-scale"},
      {"--loss-scale inf", "--loss-scale"},
      {"--epochs 1 --steps 3", "mutually exclusive"},
  };
  for (const auto& c : cases)
    expect_bad_input(run_cli(std::string("train --model mlp --quiet --out ") + (d / "x") + " " + c.args), c.needle, c.args);
  // The message names the range, with the machine's bound.
  const auto r = run_cli("train --model mlp --quiet --threads 10000 --out " + (d / "x"));
  expect_bad_input(r, "--threads must be an integer in [1, " + threads_max + "], got 10000", "--threads 10000");
  // The same flags through compare and bench --model.
  expect_bad_input(run_cli("compare --model mlp --precisions fp32 --batch 0 --out " + (d / "c")), "--batch", "compare --batch 0");
  expect_bad_input(run_cli("compare --model mlp --precisions fp32,fp32 --out " + (d / "c")), "twice", "compare duplicate");
  expect_bad_input(run_cli("bench --model mlp --threads 10000"), "--threads", "bench --threads");
  expect_bad_input(run_cli("bench --model mlp --steps 0"), "--steps", "bench --steps 0");
  EXPECT_FALSE(exists(d / "x"));
  EXPECT_FALSE(exists(d / "c"));
}

TEST(ReliabilityFlags, BenchGemmSizesAreBounded) {
  for (const char* bad : {"--m 0", "--n -1", "--k 100000", "--repeats 0", "--repeats 100000"})
    expect_bad_input(run_cli(std::string("bench gemm ") + bad), std::string(bad).substr(0, 3), bad);
  // Each side is fine, the matrix is not.
  expect_bad_input(run_cli("bench gemm --m 65536 --k 65536 --n 1"), "elements", "huge A");
}

TEST(ReliabilityFlags, ThreadCountsAreBoundedInTheRuntime) {
  const int before = runtime::num_threads();
  EXPECT_NE(error_of([] { runtime::set_num_threads(-1); }).find("thread count"), std::string::npos);
  EXPECT_NE(error_of([] { runtime::set_num_threads(100000); }).find("thread count"), std::string::npos);
  EXPECT_EQ(runtime::num_threads(), before);  // nothing was started or stopped
  EXPECT_GE(runtime::max_threads(), 256);
  runtime::set_num_threads(2);
  EXPECT_EQ(runtime::num_threads(), 2);
  runtime::set_num_threads(0);  // the default again
  EXPECT_EQ(runtime::num_threads(), before);
  // The environment variable has the same range, checked on the pool's first use.
  auto r = run_cli("bench gemm --m 8 --n 8 --k 8 --repeats 1");
  ASSERT_EQ(r.status, 0) << r.err;
  ::setenv("MIXTRAIN_THREADS", "100000", 1);
  r = run_cli("bench gemm --m 8 --n 8 --k 8 --repeats 1");
  ::unsetenv("MIXTRAIN_THREADS");
  expect_bad_input(r, "MIXTRAIN_THREADS must be an integer in [1, ", "MIXTRAIN_THREADS=100000");
}

TEST(ReliabilityFlags, ConfigBuiltInCodeIsRangeCheckedToo) {
  train::RunSpec base;
  base.steps = 1;
  EXPECT_NO_THROW(train::resolve(base));  // zeros: the documented defaults
  auto with = [&base](const std::function<void(train::RunSpec&)>& edit) {
    train::RunSpec edited = base;
    edit(edited);
    return error_of([&] { train::resolve(edited); });
  };
  EXPECT_NE(with([](auto& c) { c.threads = -1; }).find("--threads"), std::string::npos);
  EXPECT_NE(with([](auto& c) { c.threads = 100000; }).find("--threads"), std::string::npos);
  EXPECT_NE(with([](auto& c) { c.momentum = 1.0; }).find("momentum"), std::string::npos);
  EXPECT_NE(with([](auto& c) { c.momentum = NAN; }).find("momentum"), std::string::npos);
  EXPECT_NE(with([](auto& c) { c.lr = NAN; }).find("--lr"), std::string::npos);
  EXPECT_NE(with([](auto& c) { c.eval_batches = -1; }).find("eval batches"), std::string::npos);
  EXPECT_NE(with([](auto& c) { c.weight_decay = INFINITY; }).find("--weight-decay"), std::string::npos);
  EXPECT_NE(with([](auto& c) { c.steps = train::kMaxSteps + 1; }).find("--steps"), std::string::npos);
}

// ---- Precision map ---------------------------------------------------------------------------

TEST(ReliabilityPrecisionMap, PatternsMustNameALayer) {
  const std::vector<std::string> layers = {"wte", "blocks", "blocks.0", "blocks.0.attn", "blocks.0.attn.qkv",
                                           "blocks.1", "blocks.1.attn", "blocks.1.attn.qkv", "head"};
  const std::vector<std::string> params = {"wte.weight", "blocks.0.attn.qkv.weight", "blocks.0.attn.qkv.bias",
                                           "blocks.1.attn.qkv.weight", "blocks.1.attn.qkv.bias", "head.weight"};
  for (const char* ok : {"head=fp32", "blocks.*.attn=bf16", "blocks.1=fp16", "**.bias=fp32", "blocks=bf16",
                         "blocks.0.attn.qkv.weight=fp32", "**=bf16"})
    EXPECT_NO_THROW(amp::PrecisionMap::parse(ok).check_matches(layers, params)) << ok;
  const std::string msg = error_of([&] { amp::PrecisionMap::parse("head=fp32,nosuchlayer=fp32").check_matches(layers, params); });
  EXPECT_NE(msg.find("'nosuchlayer'"), std::string::npos) << msg;
  EXPECT_NE(msg.find("wte, blocks, blocks.*, blocks.*.attn, blocks.*.attn.qkv, head"), std::string::npos) << msg;
  EXPECT_NE(error_of([&] { amp::PrecisionMap::parse("blocks.2=fp32").check_matches(layers, params); }).find("'blocks.2'"),
            std::string::npos);
  // A long list is shortened.
  std::vector<std::string> many;
  for (int i = 0; i < 100; ++i) many.push_back("layer" + std::to_string(i));
  const std::string long_msg = error_of([&] { amp::PrecisionMap::parse("x=fp32").check_matches(many); });
  EXPECT_NE(long_msg.find("(84 more)"), std::string::npos) << long_msg;
  EXPECT_LT(long_msg.size(), 400u);
}

TEST(ReliabilityPrecisionMap, PathologicalPatternsMatchInLinearTime) {
  std::string pattern;
  for (int i = 0; i < 40; ++i) pattern += "**a";
  pattern += "**b";
  const std::string name(200, 'a');
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_FALSE(amp::glob_match(pattern, name));
  EXPECT_TRUE(amp::glob_match(pattern.substr(0, pattern.size() - 3), name));
  EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(), 2.0);
  // The glob rules themselves.
  EXPECT_TRUE(amp::glob_match("blocks.*.attn", "blocks.12.attn"));
  EXPECT_FALSE(amp::glob_match("blocks.*", "blocks.1.attn"));
  EXPECT_TRUE(amp::glob_match("blocks.**", "blocks.1.attn"));
  EXPECT_TRUE(amp::glob_match("*", ""));
  EXPECT_FALSE(amp::glob_match("a", ""));
  EXPECT_TRUE(amp::glob_match("***", "a.b"));
}

TEST(ReliabilityPrecisionMap, TrainRejectsAMapThatMatchesNoLayer) {
  TempDir d;
  write_fashion_dir(d / "data", 28, 28);
  const std::string common = "train --model mlp --steps 1 --batch 32 --quiet --data-dir " + (d / "data") + " --out " + (d / "run");
  expect_bad_input(run_cli(common + " --precision-map 'fc1=bf16,nosuchlayer=fp32'"),
                    "pattern 'nosuchlayer' (in 'nosuchlayer=fp32') matches no layer of the model; its layers: fc1, fc2, fc3",
                    "nosuchlayer");
  const auto ok = run_cli(common + " --precision bf16 --precision-map 'fc3=fp32'");
  EXPECT_EQ(ok.status, 0) << ok.err;
}

// ---- IDX data --------------------------------------------------------------------------------

TEST(ReliabilityIdx, FifoIsRefusedPromptly) {
  TempDir d;
  fs::create_directories(d / "data");
  write_fashion(d / "data", "t10k", 16, 28);
  write_fashion(d / "data", "train", 64, 28);
  const std::string fifo = d / "data/train-images-idx3-ubyte.gz";
  fs::remove(fifo);
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  {
    FifoWatchdog watchdog(fifo, std::chrono::milliseconds(3000));
    const auto t0 = std::chrono::steady_clock::now();
    const std::string msg = error_of([&] { data::read_idx_gz(fifo); });
    EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(), 2.0);
    EXPECT_NE(msg.find("not a regular file"), std::string::npos) << msg;
    EXPECT_NE(msg.find(fifo), std::string::npos) << msg;
  }
  // End to end (the watchdog turns a hang into a failure).
  {
    FifoWatchdog watchdog(fifo, std::chrono::milliseconds(5000));
    const auto t0 = std::chrono::steady_clock::now();
    const auto r = run_cli("train --model mlp --steps 1 --batch 32 --quiet --data-dir " + (d / "data") + " --out " + (d / "run"));
    expect_bad_input(r, "not a regular file", "FIFO train images");
    EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(), 4.0);
  }
  // A directory in a file's place.
  fs::remove(fifo);
  fs::create_directories(fifo);
  EXPECT_NE(error_of([&] { data::read_idx_gz(fifo); }).find("is a directory"), std::string::npos);
}

// A header that promises far more than the file holds: no allocation of the promised size.
TEST(ReliabilityIdx, HugeHeaderInATinyFileCostsOnlyWhatTheFileHolds) {
  TempDir d;
  // 2^31 x 2^31: refused by the header checks alone.
  write_idx(d / "huge.gz", {0x80000000u, 0x80000000u}, {1, 2, 3});
  EXPECT_NE(error_of([&] { data::read_idx_gz(d / "huge.gz"); }).find("too large"), std::string::npos);
  // 2^31 x 4 = 8 GiB: within the header checks, so the reader must not trust it. In a child with
  // its address space capped 512 MiB above the current size, the read fails cleanly as truncated.
  write_idx(d / "big.gz", {0x80000000u, 4}, std::vector<std::uint8_t>(1000, 7));
  const std::string path = d / "big.gz";
#ifndef __SANITIZE_ADDRESS__  // AddressSanitizer reserves terabytes of shadow: no address-space caps under it
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    long pages = 0;
    std::ifstream("/proc/self/statm") >> pages;
    const rlim_t cap = static_cast<rlim_t>(pages) * static_cast<rlim_t>(::sysconf(_SC_PAGESIZE)) + (rlim_t{512} << 20);
    const rlimit lim{cap, cap};
    if (::setrlimit(RLIMIT_AS, &lim) != 0) ::_exit(5);
    try {
      data::read_idx_gz(path);
      ::_exit(4);
    } catch (const Error& e) {
      ::_exit(std::string(e.what()).find("truncated") != std::string::npos ? 0 : 3);
    } catch (const std::bad_alloc&) {
      ::_exit(2);
    } catch (...) {
      ::_exit(6);
    }
  }
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0) << "2: bad_alloc (allocated the header's size), 3: another message, 4: no error";
#endif
  const std::string msg = error_of([&] { data::read_idx_gz(path); });
  EXPECT_NE(msg.find("truncated"), std::string::npos) << msg;
  EXPECT_NE(msg.find("8589934592"), std::string::npos) << msg;
#ifndef __SANITIZE_ADDRESS__
  // The same through the CLI, under `ulimit -v`.
  fs::create_directories(d / "data");
  write_idx(d / "data/train-images-idx3-ubyte.gz", {0x80000000u, 2, 2}, std::vector<std::uint8_t>(100, 1));
  write_idx(d / "data/train-labels-idx1-ubyte.gz", {25}, std::vector<std::uint8_t>(25, 1));
  const char* bin = std::getenv("MIXTRAIN_BIN");
  ASSERT_NE(bin, nullptr);
  // 4 GB of address space: far below the 8 GiB the header promises, and room for the tool (its
  // thread pool and OpenBLAS kept small, so many-core machines reserve no more).
  const std::string cmd = "ulimit -v 4000000; MIXTRAIN_THREADS=2 OPENBLAS_NUM_THREADS=1 '" + std::string(bin) +
                          "' train --model mlp --steps 1 --quiet --data-dir " + (d / "data") + " --out " + (d / "run") +
                          " 2>" + (d / "err");
  const int rc = std::system(("bash -c \"" + cmd + "\"").c_str());
  EXPECT_TRUE(WIFEXITED(rc) && WEXITSTATUS(rc) == 2) << rc << ": " << slurp(d / "err");
  EXPECT_NE(slurp(d / "err").find("truncated"), std::string::npos) << slurp(d / "err");
#endif
}

TEST(ReliabilityIdx, DataShapesMustAgreeAcrossSplitsAndWithTheModel) {
  TempDir d;
  // Test images 27x27 against train 28x28.
  write_fashion_dir(d / "mixed", 28, 27);
  expect_bad_input(run_cli("train --model mlp --steps 1 --batch 32 --quiet --data-dir " + (d / "mixed") + " --out " + (d / "r1")),
                    "t10k-images-idx3-ubyte.gz: images are 27x27, expected 28x28", "27x27 test set");
  // Both 27x27: consistent, but not what the model takes.
  write_fashion_dir(d / "small", 27, 27);
  expect_bad_input(run_cli("train --model cnn --steps 1 --batch 32 --quiet --data-dir " + (d / "small") + " --out " + (d / "r2")),
                    "train-images-idx3-ubyte.gz: images are 27x27, expected 28x28", "27x27 sets");
  // A label outside 0-9.
  write_fashion(d / "labels", "train", 64, 28, 10);
  write_fashion(d / "labels", "t10k", 16, 28);
  expect_bad_input(run_cli("train --model mlp --steps 1 --batch 32 --quiet --data-dir " + (d / "labels") + " --out " + (d / "r3")),
                   "out of range 0-9", "label 10");
  // An empty set.
  write_fashion(d / "empty", "train", 64, 28);
  write_idx(d / "empty/t10k-images-idx3-ubyte.gz", {0, 28, 28}, {});
  write_idx(d / "empty/t10k-labels-idx1-ubyte.gz", {0}, {});
  expect_bad_input(run_cli("train --model mlp --steps 1 --batch 32 --quiet --data-dir " + (d / "empty") + " --out " + (d / "r4")),
                   "empty", "empty test set");
  // Counts that differ.
  write_fashion(d / "counts", "train", 64, 28);
  write_fashion(d / "counts", "t10k", 16, 28);
  write_idx(d / "counts/t10k-labels-idx1-ubyte.gz", {15}, std::vector<std::uint8_t>(15, 1));
  expect_bad_input(run_cli("train --model mlp --steps 1 --batch 32 --quiet --data-dir " + (d / "counts") + " --out " + (d / "r5")),
                   "counts differ", "counts");
  // One file of a split missing: named, not "not found".
  write_fashion(d / "half", "train", 64, 28);
  write_fashion(d / "half", "t10k", 16, 28);
  fs::remove(d / "half/t10k-labels-idx1-ubyte.gz");
  expect_bad_input(run_cli("train --model mlp --steps 1 --batch 32 --quiet --data-dir " + (d / "half") + " --out " + (d / "r6")),
                   "t10k-labels-idx1-ubyte.gz", "missing labels");
  // The library check, directly.
  data::ImageDataset s;
  s.count = 2;
  s.height = s.width = 3;
  s.images.resize(18);
  s.labels = {1, 2};
  EXPECT_NO_THROW(data::check_image_shape(s, 1, 3, 3, ""));
  EXPECT_NE(error_of([&] { data::check_image_shape(s, 1, 28, 28, "why"); }).find("images are 3x3, expected 28x28 (why)"),
            std::string::npos);
  s.images.resize(17);
  EXPECT_NE(error_of([&] { data::check_image_shape(s, 1, 3, 3, ""); }).find("disagree"), std::string::npos);
}

TEST(ReliabilityIdx, EvalChecksTheImagesAgainstTheModel) {
  TempDir d;
  write_fashion_dir(d / "data", 28, 28);
  auto r = run_cli("train --model mlp --steps 2 --batch 32 --quiet --data-dir " + (d / "data") + " --out " + (d / "run"));
  ASSERT_EQ(r.status, 0) << r.err;
  r = run_cli("eval --checkpoint " + (d / "run") + " --data-dir " + (d / "data"));
  ASSERT_EQ(r.status, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  EXPECT_GE(j["test_accuracy"].get<double>(), 0.0);
  if (nlohmann::json::parse(std::ifstream(d / "run/summary.json")).contains("data_dir")) {
    // The stored --data-dir is the default.
    r = run_cli("eval --checkpoint " + (d / "run"));
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_EQ(nlohmann::json::parse(r.out)["test_accuracy"], j["test_accuracy"]);
  }
  write_fashion_dir(d / "small", 27, 27);
  expect_bad_input(run_cli("eval --checkpoint " + (d / "run") + " --data-dir " + (d / "small")),
                   "images are 27x27, expected 28x28", "eval on 27x27");
  write_fashion_dir(d / "mixed", 28, 27);
  expect_bad_input(run_cli("eval --checkpoint " + (d / "run") + " --data-dir " + (d / "mixed")),
                   "t10k-images-idx3-ubyte.gz: images are 27x27", "eval on a 27x27 test set");
}

// ---- Text data -------------------------------------------------------------------------------

std::string some_text(std::size_t bytes) {
  const std::string line = "The quick brown fox jumps over the lazy dog; pack my box with five dozen liquor jugs.\n";
  std::string t;
  while (t.size() < bytes) t += line;
  return t;
}

TEST(ReliabilityText, SpecialAndEmptyFilesAreOneError) {
  TempDir d;
  const std::string fifo = d / "fifo.txt";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  {
    FifoWatchdog watchdog(fifo, std::chrono::milliseconds(3000));
    const auto t0 = std::chrono::steady_clock::now();
    EXPECT_NE(error_of([&] { data::load_text_file(fifo); }).find("not a regular file"), std::string::npos);
    EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(), 2.0);
  }
  fs::create_directories(d / "dir.txt");
  EXPECT_NE(error_of([&] { data::load_text_file(d / "dir.txt"); }).find("is a directory"), std::string::npos);
  EXPECT_NE(error_of([&] { data::load_text_file(d / "missing.txt"); }).find("No such file"), std::string::npos);
  write_text(d / "empty.txt", "");
  EXPECT_NE(error_of([&] { data::load_text_file(d / "empty.txt"); }).find("empty text file"), std::string::npos);
  if (::geteuid() != 0) {  // root reads anything
    write_text(d / "locked.txt", "text");
    ::chmod((d / "locked.txt").c_str(), 0);
    EXPECT_NE(error_of([&] { data::load_text_file(d / "locked.txt"); }).find("Permission denied"), std::string::npos);
  }
  // Fortunes: a FIFO among the files is skipped (never opened), an empty corpus is an error, a
  // file in the directory's place is named.
  fs::create_directories(d / "fortunes");
  ASSERT_EQ(::mkfifo((d / "fortunes/zz-fifo").c_str(), 0600), 0);
  write_text(d / "fortunes/a", "a fortune\n");
  {
    FifoWatchdog watchdog(d / "fortunes/zz-fifo", std::chrono::milliseconds(3000));
    EXPECT_EQ(data::load_fortunes(d / "fortunes"), "a fortune\n");
  }
  write_text(d / "fortunes/a", "");
  EXPECT_NE(error_of([&] { data::load_fortunes(d / "fortunes"); }).find("is empty"), std::string::npos);
  EXPECT_NE(error_of([&] { data::load_fortunes(d / "empty.txt"); }).find("not a directory"), std::string::npos);
  // Through the CLI.
  {
    FifoWatchdog watchdog(fifo, std::chrono::milliseconds(5000));
    expect_bad_input(run_cli("train --model gpt --data text --data-path " + fifo + " --steps 1 --quiet --out " + (d / "run")),
                     "not a regular file", "FIFO --data-path");
  }
  // Too small for the context, and a batch larger than the text.
  write_text(d / "small.txt", some_text(600));
  expect_bad_input(run_cli("train --model gpt --data text --data-path " + (d / "small.txt") +
                           " --steps 1 --context 128 --quiet --out " + (d / "run")),
                   "too small for --context", "tiny text");
  expect_bad_input(run_cli("train --model gpt --data text --data-path " + (d / "small.txt") +
                           " --steps 1 --context 16 --batch 64 --quiet --out " + (d / "run")),
                   "exceed the training text", "batch x context > text");
}

TEST(ReliabilityText, SamplersRejectImpossibleSizes) {
  EXPECT_THROW(data::EpochSampler(0, 1, 0), Error);
  EXPECT_THROW(data::EpochSampler(10, 0, 0), Error);
  EXPECT_THROW(data::epoch_permutation(-1, 0, 0), Error);
  EXPECT_THROW(data::window_starts(100, 10, -1, 0, 0), Error);
  EXPECT_THROW(data::window_starts(100, 0, 1, 0, 0), Error);
  data::EpochSampler s(10, 3, 0);
  EXPECT_THROW(s.batch_indices(-1), Error);
  EXPECT_EQ(s.batch_indices(1000000000000).size(), 3u);  // far steps are fine: (epoch, k) arithmetic
}

// ---- eval of a GPT trained on --data text, and the run metadata's types ------------------------

TEST(ReliabilityEval, TextTrainedGptFindsOrAsksForItsText) {
  TempDir d;
  write_text(d / "corpus.txt", some_text(20000));
  auto r = run_cli("train --model gpt --data text --data-path " + (d / "corpus.txt") +
                   " --steps 2 --batch 2 --context 16 --threads 2 --quiet --out " + (d / "run"));
  ASSERT_EQ(r.status, 0) << r.err;
  // An explicit --data-path always works.
  r = run_cli("eval --checkpoint " + (d / "run") + " --data-path " + (d / "corpus.txt"));
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_TRUE(nlohmann::json::parse(r.out).contains("val_loss")) << r.out;
  const auto summary = nlohmann::json::parse(std::ifstream(d / "run/summary.json"));
  const bool stored = summary.contains("data_path");
  r = run_cli("eval --checkpoint " + (d / "run"));
  if (stored) {
    // The path the run stored.
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_TRUE(nlohmann::json::parse(r.out).contains("val_loss")) << r.out;
    fs::remove(d / "corpus.txt");
    r = run_cli("eval --checkpoint " + (d / "run"));
    expect_bad_input(r, "pass --data-path FILE", "stored text gone");
    EXPECT_NE(r.err.find(d / "corpus.txt"), std::string::npos) << r.err;
  } else {
    // A run that did not store its text: one clear line saying what to pass.
    expect_bad_input(r, "eval: this checkpoint was trained on --data text; pass --data-path FILE", "no stored path");
  }
  expect_bad_input(run_cli("eval --checkpoint " + (d / "run") + " --data-path " + (d / "gone.txt")), "gone.txt",
                   "--data-path missing");
}

// Rewrites the "run" metadata of a safetensors checkpoint through `edit`.
void edit_run_metadata(const std::string& path, const std::function<void(nlohmann::json&)>& edit) {
  const auto bytes = read_bytes(path);
  ASSERT_GE(bytes.size(), 8u);
  std::uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | bytes[static_cast<std::size_t>(i)];
  ASSERT_LE(8 + n, bytes.size());
  auto header = nlohmann::json::parse(std::string(bytes.begin() + 8, bytes.begin() + 8 + static_cast<std::ptrdiff_t>(n)));
  auto run = nlohmann::json::parse(header["__metadata__"]["run"].get<std::string>());
  edit(run);
  header["__metadata__"]["run"] = run.dump();
  std::string h = header.dump();
  while (h.size() % 8) h += ' ';
  std::vector<unsigned char> out(8);
  for (int i = 0; i < 8; ++i) out[static_cast<std::size_t>(i)] = static_cast<unsigned char>(h.size() >> (8 * i));
  out.insert(out.end(), h.begin(), h.end());
  out.insert(out.end(), bytes.begin() + 8 + static_cast<std::ptrdiff_t>(n), bytes.end());
  write_bytes(path, out.data(), out.size());
}

TEST(ReliabilityEval, RunMetadataOfTheWrongTypeIsOneLine) {
  TempDir d;
  write_fashion_dir(d / "data", 28, 28);
  auto r = run_cli("train --model mlp --steps 1 --batch 32 --quiet --data-dir " + (d / "data") + " --out " + (d / "run"));
  ASSERT_EQ(r.status, 0) << r.err;
  const std::string ck = d / "run/checkpoint.safetensors";
  const auto original = read_bytes(ck);
  struct Case {
    const char* key;
    nlohmann::json value;
    const char* needle;
  };
  const std::vector<Case> cases = {
      {"batch", "abc", "field 'batch' is not an integer"},
      {"batch", 1.5, "field 'batch' is not an integer"},
      {"batch", -5, "field 'batch' is -5, outside [0, 1048576]"},
      {"context", 1, "field 'context' is 1"},
      {"model", 3, "field 'model' is not a string"},
      {"seed", -1, "field 'seed' is not a non-negative integer"},
      {"precision", true, "field 'precision' is not a string"},
      {"data_path", 7, "field 'data_path' is not a string"},
  };
  for (const auto& c : cases) {
    write_bytes(ck, original.data(), original.size());
    edit_run_metadata(ck, [&](nlohmann::json& run) { run["config"][c.key] = c.value; });
    expect_bad_input(run_cli("eval --checkpoint " + (d / "run") + " --data-dir " + (d / "data")), c.needle, c.key);
  }
  // A stored precision map that names no layer of the model.
  write_bytes(ck, original.data(), original.size());
  edit_run_metadata(ck, [](nlohmann::json& run) { run["precision_map"] = "nosuchlayer=fp32"; });
  expect_bad_input(run_cli("eval --checkpoint " + (d / "run") + " --data-dir " + (d / "data")), "'nosuchlayer'", "map");
}

}  // namespace
}  // namespace mixtrain::testing
