// The run directory's commit protocol (train/run_dir.h) without training: what a commit leaves,
// that `latest` is the commit point, that leftovers of a killed run are removed by the next
// writer and never taken for a checkpoint, that a failed commit keeps the previous checkpoint,
// pruning, the lock, and which checkpoint a resume picks.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <string>

#include "io_test_util.h"
#include "runtime/error.h"
#include "train/run_dir.h"

namespace mixtrain::testing {
namespace {

namespace fs = std::filesystem;
using train::RunDir;

std::string slurp_text(const std::string& p) {
  const auto b = read_bytes(p);
  return {b.begin(), b.end()};
}

// A commit whose "checkpoint" is a text file naming the step.
void commit(RunDir& d, std::int64_t step, int keep = 2) {
  d.commit(step, [&](const std::string& path) { write_text(path, "ck " + std::to_string(step)); },
           "metrics " + std::to_string(step) + "\n", "{\"steps\": " + std::to_string(step) + "}\n", keep);
}

TEST(RunDir, CommitWritesAStepDirectoryAndSwitchesLatest) {
  TempDir t;
  const std::string dir = t / "run";
  {
    RunDir d(dir);
    commit(d, 4);
    commit(d, 8);
  }
  EXPECT_EQ(fs::read_symlink(dir + "/latest").string(), "step-000000000008");
  // The stable names read the newest checkpoint's files, which belong together.
  EXPECT_EQ(slurp_text(dir + "/checkpoint.safetensors"), "ck 8");
  EXPECT_EQ(slurp_text(dir + "/metrics.jsonl"), "metrics 8\n");
  EXPECT_EQ(slurp_text(dir + "/summary.json"), "{\"steps\": 8}\n");
  EXPECT_EQ(slurp_text(dir + "/step-000000000004/checkpoint.safetensors"), "ck 4");
  EXPECT_EQ(train::resume_checkpoint_dir(dir), dir + "/step-000000000008");
  for (const auto& e : fs::directory_iterator(dir)) {
    const std::string n = e.path().filename().string();
    EXPECT_EQ(n.find(".tmp."), std::string::npos) << n;
    EXPECT_EQ(n.find(".partial"), std::string::npos) << n;
  }
}

TEST(RunDir, KeepsTheNewestKAndDropsASupersededHistory) {
  TempDir t;
  const std::string dir = t / "run";
  RunDir d(dir);
  for (int s = 1; s <= 5; ++s) commit(d, s, 3);
  EXPECT_FALSE(fs::exists(dir + "/step-000000000002"));
  EXPECT_TRUE(fs::exists(dir + "/step-000000000003"));
  EXPECT_TRUE(fs::exists(dir + "/step-000000000005"));
  // A resume from an earlier step into the same directory replaces the later history.
  commit(d, 4, 3);
  EXPECT_FALSE(fs::exists(dir + "/step-000000000005"));
  EXPECT_EQ(slurp_text(dir + "/checkpoint.safetensors"), "ck 4");
  // Re-committing the current step swaps the directory in one exchange.
  d.commit(4, [](const std::string& p) { write_text(p, "ck 4 again"); }, "m\n", "{}\n", 3);
  EXPECT_EQ(slurp_text(dir + "/checkpoint.safetensors"), "ck 4 again");
}

TEST(RunDir, AFailedCommitKeepsThePreviousCheckpoint) {
  TempDir t;
  const std::string dir = t / "run";
  RunDir d(dir);
  commit(d, 3);
  EXPECT_THROW(d.commit(6, [](const std::string& p) {
    write_text(p, "half");
    throw Failure("disk full");
  }, "m\n", "{}\n", 2), Failure);
  EXPECT_EQ(slurp_text(dir + "/checkpoint.safetensors"), "ck 3");
  EXPECT_FALSE(fs::exists(dir + "/step-000000000006.partial"));
  EXPECT_FALSE(fs::exists(dir + "/step-000000000006"));
}

TEST(RunDir, TheNextWriterRemovesTheLeftoversOfAKilledRun) {
  TempDir t;
  const std::string dir = t / "run";
  {
    RunDir d(dir);
    commit(d, 2);
  }
  // What kill -9 can leave at each point of a commit.
  fs::create_directories(dir + "/step-000000000004.partial");
  write_text(dir + "/step-000000000004.partial/checkpoint.safetensors", "torn");
  fs::create_directories(dir + "/step-000000000003");  // renamed, but `latest` never switched
  write_text(dir + "/step-000000000003/checkpoint.safetensors", "uncommitted");
  fs::create_directories(dir + "/step-000000000001.deleting");
  write_text(dir + "/latest.tmp.99999", "");
  write_text(dir + "/summary.json.tmp.99999", "");
  write_text(dir + "/metrics.jsonl.tmp", "old layout");
  // Readers before the next writer: the committed checkpoint, never a leftover.
  EXPECT_EQ(train::resume_checkpoint_dir(dir), dir + "/step-000000000002");
  {
    RunDir d(dir);
    for (const auto& e : fs::directory_iterator(dir)) {
      const std::string n = e.path().filename().string();
      EXPECT_TRUE(n == ".lock" || n == "latest" || n == "step-000000000002" || n == "checkpoint.safetensors" ||
                  n == "metrics.jsonl" || n == "summary.json")
          << "left over: " << n;
    }
  }
  EXPECT_EQ(slurp_text(dir + "/checkpoint.safetensors"), "ck 2");
}

TEST(RunDir, OneWriterAtATime) {
  TempDir t;
  RunDir first(t / "run");
  try {
    RunDir second(t / "run");
    FAIL() << "a second writer was let in";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("another mixtrain run is writing"), std::string::npos) << e.what();
  }
}

TEST(RunDir, ResumeFindsOlderLayoutsAndStepDirectories) {
  TempDir t;
  // A run directory of the older layout: the checkpoint file itself.
  fs::create_directories(t / "old");
  write_text(t / "old/checkpoint.safetensors", "x");
  EXPECT_EQ(train::resume_checkpoint_dir(t / "old"), t / "old");
  // Step directories without `latest`: the newest one.
  fs::create_directories(t / "steps/step-000000000010");
  fs::create_directories(t / "steps/step-000000000020");
  write_text(t / "steps/step-000000000010/checkpoint.safetensors", "x");
  write_text(t / "steps/step-000000000020/checkpoint.safetensors", "x");
  EXPECT_EQ(train::resume_checkpoint_dir(t / "steps"), t / "steps/step-000000000020");
  EXPECT_THROW(train::resume_checkpoint_dir(t / "nothing"), Error);
  fs::create_directories(t / "empty");
  EXPECT_THROW(train::resume_checkpoint_dir(t / "empty"), Error);
}

TEST(RunDir, RefusesAnOutputThatIsNotADirectory) {
  TempDir t;
  write_text(t / "file", "x");
  EXPECT_THROW(RunDir(t / "file"), Error);
  ASSERT_EQ(::mkfifo((t / "fifo").c_str(), 0600), 0);
  EXPECT_THROW(RunDir(t / "fifo"), Error);
}

}  // namespace
}  // namespace mixtrain::testing
