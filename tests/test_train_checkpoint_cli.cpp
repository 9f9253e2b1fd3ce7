// Checkpoints through the CLI: periodic checkpoints and resume from them, the exit codes (2 bad
// input, 1 failed run), restored state validated field by field (a forged checkpoint is refused
// before it can train and write NaN over a good one), files that are not files (FIFOs, loops,
// directories), JSON nested to overflow a recursive parser, and a full or read-only disk (a tmpfs,
// as root) leaving the previous checkpoint current and consistent.
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "cli_test_util.h"
#include "io/safetensors.h"

namespace mixtrain::testing {
namespace {

namespace fs = std::filesystem;

#define NEED_FASHION() \
  if (!have_fashion()) GTEST_SKIP() << "dataset-fashion-mnist not installed (apt-get install dataset-fashion-mnist)"

const std::string kTrain = "train --model mlp --precision bf16 --batch 32 --threads 2 --quiet --seed 5 ";

// Step lines of a metrics file without the wall-clock field.
std::vector<nlohmann::json> step_lines(const std::string& path) {
  std::vector<nlohmann::json> out;
  std::ifstream f(path);
  for (std::string line; std::getline(f, line);) {
    auto j = nlohmann::json::parse(line);
    if (!j.contains("step") || j.contains("type")) continue;
    j.erase("ms");
    out.push_back(j);
  }
  return out;
}

nlohmann::json json_file(const std::string& path) { return nlohmann::json::parse(std::ifstream(path)); }

void expect_error(const CliResult& r, int status, const std::string& needle) { expect_one_line_error(r, status, needle); }

TEST(CheckpointCli, PeriodicCheckpointsKeepKAndResumeBitExact) {
  NEED_FASHION();
  TempDir d;
  auto full = run_cli(kTrain + "--steps 12 --checkpoint-every 4 --checkpoint-keep 2 --out " + (d / "full"));
  ASSERT_EQ(full.status, 0) << full.err;
  EXPECT_FALSE(fs::exists(d / "full/step-000000000004"));  // pruned: keep 2
  ASSERT_TRUE(fs::exists(d / "full/step-000000000008/checkpoint.safetensors"));
  EXPECT_EQ(fs::read_symlink(d / "full/latest").string(), "step-000000000012");
  EXPECT_FALSE(fs::exists(d / "full/metrics.live.jsonl"));
  const auto mid = json_file(d / "full/step-000000000008/summary.json");
  EXPECT_EQ(mid["steps"], 8);
  EXPECT_EQ(mid["complete"], false);
  EXPECT_FALSE(mid.contains("test_accuracy"));  // evaluation runs at the end only
  EXPECT_EQ(step_lines(d / "full/step-000000000008/metrics.jsonl").size(), 8u);
  const auto end = json_file(d / "full/summary.json");
  EXPECT_EQ(end["complete"], true);
  EXPECT_TRUE(end.contains("test_accuracy"));

  // Interrupted after step 6 with checkpoints every 4: resume takes the newest (6), into the same
  // directory, and ends where the uninterrupted run ended, bit for bit.
  ASSERT_EQ(run_cli(kTrain + "--steps 12 --checkpoint-every 4 --stop-after 6 --out " + (d / "cut")).status, 0);
  EXPECT_EQ(fs::read_symlink(d / "cut/latest").string(), "step-000000000006");
  auto resumed = run_cli(kTrain + "--steps 12 --checkpoint-every 4 --resume " + (d / "cut") + " --out " + (d / "cut"));
  ASSERT_EQ(resumed.status, 0) << resumed.err;
  EXPECT_EQ(read_bytes(d / "full/checkpoint.safetensors"), read_bytes(d / "cut/checkpoint.safetensors"));
  EXPECT_EQ(step_lines(d / "full/metrics.jsonl"), step_lines(d / "cut/metrics.jsonl"));
  // The summary covers the whole run, not only the resumed part.
  EXPECT_DOUBLE_EQ(json_file(d / "cut/summary.json")["final_train_loss"].get<double>(), end["final_train_loss"].get<double>());
}

TEST(CheckpointCli, DivergenceIsAFailureThatKeepsTheCheckpointAndItsMetrics) {
  NEED_FASHION();
  TempDir d;
  ASSERT_EQ(run_cli(kTrain + "--steps 2 --out " + (d / "run")).status, 0);
  const auto ck = read_bytes(d / "run/checkpoint.safetensors");
  const auto summary = read_bytes(d / "run/summary.json");
  expect_error(run_cli(kTrain + "--steps 40 --lr 1e4 --optimizer sgd --out " + (d / "run")), 1, "diverged");
  EXPECT_EQ(read_bytes(d / "run/checkpoint.safetensors"), ck);
  EXPECT_EQ(read_bytes(d / "run/summary.json"), summary);
  EXPECT_TRUE(fs::exists(d / "run/failed.metrics.jsonl"));
  EXPECT_FALSE(fs::exists(d / "run/metrics.live.jsonl"));
  EXPECT_FALSE(fs::exists(d / "run/metrics.jsonl.tmp"));
}

// Rewrites one metadata entry of a checkpoint into DIR/checkpoint.safetensors.
void forge(const std::string& good, const std::string& dir, const std::string& key,
           const std::function<void(nlohmann::json&)>& edit) {
  io::SafeTensorsFile f = io::read_safetensors(good);
  nlohmann::json j = nlohmann::json::parse(f.metadata.at(key));
  edit(j);
  f.metadata[key] = j.dump();
  fs::create_directories(dir);
  io::write_safetensors(dir + "/checkpoint.safetensors", f);
}

TEST(CheckpointCli, RestoredStateIsValidatedBeforeTraining) {
  NEED_FASHION();
  TempDir d;
  ASSERT_EQ(run_cli(kTrain + "--steps 2 --out " + (d / "run")).status, 0);
  const std::string good = d / "run/checkpoint.safetensors";
  const auto before = read_bytes(good);
  struct Case {
    const char* name;
    const char* key;
    std::function<void(nlohmann::json&)> edit;
    const char* needle;
  };
  const Case cases[] = {
      {"negative_step", "run", [](nlohmann::json& j) { j["step"] = -5; }, "'step' -5 is out of range"},
      {"huge_step", "run", [](nlohmann::json& j) { j["step"] = std::int64_t{1} << 62; }, "out of range"},
      {"step_type", "run", [](nlohmann::json& j) { j["step"] = nlohmann::json::array({1}); }, "'step' is not an integer"},
      {"config_type", "run", [](nlohmann::json& j) { j["config"] = 7; }, "'config' is not an object"},
      {"inf_scale", "scaler", [](nlohmann::json& j) { j["scale"] = 1e308 * 10; }, "scaler"},
      {"zero_scale", "scaler", [](nlohmann::json& j) { j["scale"] = 0.0; }, "scale must be a positive finite number"},
      {"scaler_type", "scaler", [](nlohmann::json& j) { j["scale"] = "big"; }, "'scaler' metadata"},
      {"neg_opt_steps", "optimizer", [](nlohmann::json& j) { j["steps"] = -1; }, "'steps' -1 is out of range"},
      {"opt_steps_float", "optimizer", [](nlohmann::json& j) { j["steps"] = 1e300; }, "'steps' is not an integer"},
      {"scaler_steps_float", "scaler", [](nlohmann::json& j) { j["steps"] = 1e300; }, "'steps' is not an integer"},
      {"opt_type", "optimizer", [](nlohmann::json& j) { j = nlohmann::json::array(); }, "'optimizer' metadata"},
      {"fp8_type", "fp8", [](nlohmann::json& j) { j = nlohmann::json::array({1, 2}); }, "'fp8' metadata"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    const std::string dir = d / c.name;
    forge(good, dir, c.key, c.edit);
    expect_error(run_cli(kTrain + "--steps 4 --resume " + dir + " --out " + dir), 2, c.needle);
  }
  // A non-finite weight is refused by name.
  {
    io::SafeTensorsFile f = io::read_safetensors(good);
    io::SafeTensor* w = f.find("master.fc1.weight");
    ASSERT_NE(w, nullptr);
    const float nan = NAN;
    std::memcpy(w->data.data(), &nan, 4);
    fs::create_directories(d / "nan");
    io::write_safetensors(d / "nan/checkpoint.safetensors", f);
    expect_error(run_cli(kTrain + "--steps 4 --resume " + (d / "nan") + " --out " + (d / "nan")), 2, "master.fc1.weight' holds 1 non-finite");
  }
  EXPECT_EQ(read_bytes(good), before);
}

// Deeply nested JSON in each place a file carries JSON: refused, not a stack overflow.
TEST(CheckpointCli, DeeplyNestedJsonIsRefused) {
  TempDir d;
  const std::string deep(200000, '[');
  // A safetensors header.
  {
    std::string header = deep;
    header.append(8 - header.size() % 8, ' ');
    std::string file(8, '\0');
    for (int i = 0; i < 8; ++i) file[static_cast<std::size_t>(i)] = static_cast<char>((header.size() >> (8 * i)) & 0xFF);
    write_text(d / "deep.safetensors", file + header);
    expect_error(run_cli("inspect " + (d / "deep.safetensors")), 2, "nested deeper");
  }
  // A metrics line, for the doctor.
  fs::create_directories(d / "run");
  write_text(d / "run/metrics.jsonl", "{\"step\": 0, \"loss\": 1, \"x\": " + deep + "\n");
  write_text(d / "run/summary.json", "{}");
  expect_error(run_cli("doctor " + (d / "run")), 2, "line 1");
  // Checkpoint metadata.
  io::SafeTensorsFile f;
  f.metadata["format"] = "mixtrain-checkpoint-1";
  f.metadata["run"] = "{\"step\": 0, \"config\": " + deep + "}";
  fs::create_directories(d / "ck");
  io::write_safetensors(d / "ck/checkpoint.safetensors", f);
  expect_error(run_cli("eval --checkpoint " + (d / "ck")), 2, "nested deeper");
  expect_error(run_cli("train --model mlp --steps 2 --resume " + (d / "ck") + " --out " + (d / "out")), 2, "nested deeper");
}

// Paths that are not regular files: refused at once (a FIFO must not block the open).
TEST(CheckpointCli, SpecialFilesAreRefusedNotWaitedOn) {
  TempDir d;
  ASSERT_EQ(::mkfifo((d / "fifo").c_str(), 0600), 0);
  fs::create_directories(d / "fifodir");
  ASSERT_EQ(::mkfifo((d / "fifodir/checkpoint.safetensors").c_str(), 0600), 0);
  ASSERT_EQ(::mkfifo((d / "fifodir/metrics.jsonl").c_str(), 0600), 0);
  fs::create_directories(d / "loop");
  fs::create_symlink("checkpoint.safetensors", d / "loop/checkpoint.safetensors");
  fs::create_directories(d / "dir/checkpoint.safetensors");
  // `timeout` turns a hang into status 124, which fails the status check instead of the suite.
  auto run = [&](const std::string& args) { return run_cli(args, 60); };
  expect_error(run("inspect " + (d / "fifo")), 2, "not a regular file");
  expect_error(run("convert --from fp32 --to bf16 " + (d / "fifo") + " " + (d / "o.bin")), 2, "not a regular file");
  expect_error(run("eval --checkpoint " + (d / "fifodir")), 2, "not a regular file");
  expect_error(run("train --model mlp --steps 2 --resume " + (d / "fifodir") + " --out " + (d / "o1")), 2, "not a regular file");
  expect_error(run("doctor " + (d / "fifodir")), 2, "metrics.jsonl");
  expect_error(run("eval --checkpoint " + (d / "loop")), 2, "symbolic links");
  expect_error(run("inspect " + (d / "dir/checkpoint.safetensors")), 2, "is a directory");
  expect_error(run("train --model mlp --steps 2 --out " + (d / "fifo")), 2, "fifo");
}

// A tmpfs as a small disk (root only; skipped where mounting is not allowed).
class SmallDisk {
 public:
  explicit SmallDisk(const std::string& dir, const std::string& size) : dir_(dir) {
    fs::create_directories(dir);
    mounted_ = ::geteuid() == 0 && ::mount("tmpfs", dir.c_str(), "tmpfs", 0, ("size=" + size).c_str()) == 0;
  }
  ~SmallDisk() {
    if (mounted_) ::umount2(dir_.c_str(), MNT_DETACH);
  }
  bool mounted() const { return mounted_; }
  bool remount_read_only() { return ::mount("tmpfs", dir_.c_str(), "tmpfs", MS_REMOUNT | MS_RDONLY, nullptr) == 0; }

 private:
  std::string dir_;
  bool mounted_ = false;
};

TEST(CheckpointCli, AFullOrReadOnlyDiskKeepsThePreviousCheckpoint) {
  NEED_FASHION();
  TempDir d;
  SmallDisk disk(d / "disk", "40m");
  if (!disk.mounted()) GTEST_SKIP() << "needs root and permission to mount a tmpfs";
  const std::string out = d / "disk/run";
  // fp32 MLP: a checkpoint is ~22 MB (weights and two AdamW moments), so the second one does not fit.
  const std::string fp32 = "train --model mlp --batch 32 --threads 2 --quiet --seed 5 ";
  ASSERT_EQ(run_cli(fp32 + "--steps 2 --out " + out).status, 0);
  const auto ck = read_bytes(out + "/checkpoint.safetensors");
  const auto summary = read_bytes(out + "/summary.json");
  expect_error(run_cli(fp32 + "--steps 4 --out " + out), 1, "No space left on device");
  EXPECT_EQ(read_bytes(out + "/checkpoint.safetensors"), ck);
  EXPECT_EQ(read_bytes(out + "/summary.json"), summary);
  EXPECT_EQ(fs::read_symlink(out + "/latest").string(), "step-000000000002");
  for (const auto& e : fs::directory_iterator(out)) EXPECT_EQ(e.path().string().find(".partial"), std::string::npos);
  ASSERT_EQ(run_cli("eval --checkpoint " + out).status, 0);
  // Resuming from it into the full disk fails the same way, and the checkpoint still loads.
  expect_error(run_cli(fp32 + "--steps 4 --resume " + out + " --out " + out), 1, "No space left on device");
  EXPECT_EQ(read_bytes(out + "/checkpoint.safetensors"), ck);
  // Read-only: refused up front (bad --out), nothing touched.
  if (!disk.remount_read_only()) GTEST_SKIP() << "cannot remount the tmpfs read-only";
  expect_error(run_cli(fp32 + "--steps 4 --out " + out), 2, "Read-only file system");
  EXPECT_EQ(read_bytes(out + "/checkpoint.safetensors"), ck);
}

}  // namespace
}  // namespace mixtrain::testing
