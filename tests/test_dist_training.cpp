// Data-parallel training under mpirun (docs/DISTRIBUTED.md): N ranks give the same metrics and
// checkpoint bytes as one process with --accumulate N; --shard-optimizer (ZeRO-1) gives the same
// again with about 1/N of the masters and optimizer state per rank; a checkpoint resumes with
// another N; a bad launch is one error; a failing rank ends the job instead of hanging it.
//
// mpirun runs with loopback and shared memory only (the settings below, nothing else). Skipped
// when this build has no MPI, when mpirun is missing, or when the data packages are absent.
#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "cli_test_util.h"
#include "dist/communicator.h"

namespace mixtrain::testing {
namespace {

namespace fs = std::filesystem;

bool have_mpirun() { return std::system("command -v mpirun >/dev/null 2>&1") == 0; }

// Under AddressSanitizer Open MPI's own allocations read as leaks at exit: the multi-rank tests
// belong to the release preset (the single-process suite is what the sanitizer preset checks).
#if defined(__SANITIZE_ADDRESS__)
constexpr bool kSanitized = true;
#else
constexpr bool kSanitized = false;
#endif

#define SKIP_WITHOUT_MPI()                                                                         \
  do {                                                                                             \
    if (!dist::built_with_mpi()) GTEST_SKIP() << "this build has no MPI (MIXTRAIN_MPI is off)";  \
    if (!have_mpirun()) GTEST_SKIP() << "mpirun is not installed (scripts/install-deps.sh)";      \
    if (kSanitized) GTEST_SKIP() << "multi-rank tests run in the release preset, not under ASan"; \
  } while (0)

// `mpirun -np N mixtrain ARGS` with loopback-only, shared-memory settings; `extra` goes before
// the program (e.g. "-x VAR"). A hang becomes status 124 after timeout_s.
CliResult run_mpi(int n, const std::string& args, int timeout_s = 240, const std::string& extra = "") {
  const char* bin = std::getenv("MIXTRAIN_BIN");
  if (bin == nullptr) {
    ADD_FAILURE() << "MIXTRAIN_BIN is not set (ctest sets it to the built tool)";
    return {};
  }
  TempDir capture;
  const std::string cmd = "OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 timeout " + std::to_string(timeout_s) +
                          " mpirun -np " + std::to_string(n) +
                          " --oversubscribe --mca btl self,vader --mca oob_tcp_if_include lo " + extra + " '" + bin + "' " + args +
                          " >'" + (capture / "out") + "' 2>'" + (capture / "err") + "'";
  const int rc = std::system(cmd.c_str());
  return {WIFEXITED(rc) ? WEXITSTATUS(rc) : -1, slurp(capture / "out"), slurp(capture / "err")};
}

// The metrics lines without the fields that time the run (`steps_only`: the step lines alone,
// which a resumed run's file and an uninterrupted one's share).
std::vector<nlohmann::json> metrics_without_timing(const fs::path& dir, bool steps_only = false) {
  std::vector<nlohmann::json> out;
  std::istringstream in(slurp(dir / "metrics.jsonl"));
  for (std::string line; std::getline(in, line);) {
    if (line.empty()) continue;
    nlohmann::json j = nlohmann::json::parse(line);
    if (steps_only && j.contains("type")) continue;
    j.erase("ms");
    j.erase("elapsed_s");
    out.push_back(j);
  }
  return out;
}

// A bad launch under mpirun: a non-zero exit within the time limit and exactly one "mixtrain: "
// line, containing `needle` (mpirun adds its own report of the exit after it).
void expect_one_mixtrain_error(const CliResult& r, const std::string& needle) {
  EXPECT_NE(r.status, 0) << r.err;
  EXPECT_NE(r.status, 124) << "timed out: " << r.err;
  std::size_t errors = 0;
  std::string line;
  std::istringstream lines(r.err);
  for (std::string l; std::getline(lines, l);)
    if (l.rfind("mixtrain: ", 0) == 0) {
      ++errors;
      line = l;
    }
  EXPECT_EQ(errors, 1u) << r.err;
  EXPECT_NE(line.find(needle), std::string::npos) << "expected '" << needle << "' in: " << r.err;
  EXPECT_EQ(r.err.find("internal error"), std::string::npos) << r.err;
}

void expect_same_run(const fs::path& a, const fs::path& b, const std::string& what, bool steps_only = false) {
  const auto ma = metrics_without_timing(a, steps_only), mb = metrics_without_timing(b, steps_only);
  ASSERT_FALSE(ma.empty()) << what;
  ASSERT_EQ(ma.size(), mb.size()) << what;
  for (std::size_t i = 0; i < ma.size(); ++i) EXPECT_EQ(ma[i], mb[i]) << what << ": metrics line " << i;
  EXPECT_TRUE(read_bytes(a / "checkpoint.safetensors") == read_bytes(b / "checkpoint.safetensors")) << what << ": checkpoint bytes differ";
}

// A short run: few steps, one thread per rank, held-out evaluation on one batch, no statistics
// sampling (the activation-gradient statistics are rank 0's micro-batch only; DISTRIBUTED.md).
const std::string kMlpBase = "train --model mlp --batch 64 --threads 1 --eval-batches 1 --stats-every -1 --quiet --clip 1 ";
const std::string kMlp = kMlpBase + "--steps 4 ";
const std::string kGpt = "train --model gpt --batch 4 --context 32 --steps 3 --threads 1 --eval-batches 1 --stats-every -1 --quiet ";

struct Case {
  std::string name, base, precision;
};

void ranks_match_accumulate(const Case& c, const std::vector<int>& ranks) {
  TempDir d;
  for (int n : ranks) {
    const std::string tag = c.name + "_n" + std::to_string(n);
    auto one = run_cli(c.base + c.precision + " --accumulate " + std::to_string(n) + " --out " + (d / (tag + "_one")), 240);
    ASSERT_EQ(one.status, 0) << one.err;
    auto dp = run_mpi(n, c.base + c.precision + " --out " + (d / (tag + "_mpi")));
    ASSERT_EQ(dp.status, 0) << dp.err;
    expect_same_run(d / (tag + "_one"), d / (tag + "_mpi"), tag + " (" + c.precision + ")");
  }
}

TEST(DistTraining, MlpRanksMatchAccumulateBf16O2) {
  SKIP_WITHOUT_MPI();
  if (!have_fashion()) GTEST_SKIP() << "Fashion-MNIST is not installed (dataset-fashion-mnist)";
  ranks_match_accumulate({"mlp_bf16", kMlp, "--precision bf16"}, {2, 4});
}

TEST(DistTraining, MlpRanksMatchAccumulateFp16DynamicScaling) {
  SKIP_WITHOUT_MPI();
  if (!have_fashion()) GTEST_SKIP() << "Fashion-MNIST is not installed (dataset-fashion-mnist)";
  // A scale far too large: the first steps overflow, are skipped on every rank and back off.
  ranks_match_accumulate({"mlp_fp16", kMlp, "--precision fp16 --init-scale 1e12 --growth-interval 2"}, {2, 4});
}

TEST(DistTraining, GptRanksMatchAccumulate) {
  SKIP_WITHOUT_MPI();
  if (!have_fortunes()) GTEST_SKIP() << "the fortunes corpus is not installed (fortunes)";
  ranks_match_accumulate({"gpt_bf16", kGpt, "--precision bf16"}, {2, 4});
  ranks_match_accumulate({"gpt_fp16", kGpt, "--precision fp16 --init-scale 1e12 --growth-interval 2"}, {2});
}

double state_bytes(const fs::path& run) {
  const auto s = nlohmann::json::parse(slurp(run / "summary.json"));
  return s.at("peak_bytes").at("master_weights").get<double>() + s.at("peak_bytes").at("optimizer_state").get<double>();
}

TEST(DistTraining, ShardedOptimizerIsIdenticalWithAboutHalfTheState) {
  SKIP_WITHOUT_MPI();
  if (!have_fashion()) GTEST_SKIP() << "Fashion-MNIST is not installed (dataset-fashion-mnist)";
  TempDir d;
  const std::string args = kMlp + "--precision bf16 --checkpoint-every 2 ";
  auto plain = run_mpi(2, args + "--out " + (d / "plain"));
  ASSERT_EQ(plain.status, 0) << plain.err;
  auto sharded = run_mpi(2, args + "--shard-optimizer --out " + (d / "sharded"));
  ASSERT_EQ(sharded.status, 0) << sharded.err;
  expect_same_run(d / "plain", d / "sharded", "--shard-optimizer at 2 ranks");
  // The periodic checkpoint (gathered from the shards) too.
  EXPECT_TRUE(read_bytes(d / "plain/step-000000000002/checkpoint.safetensors") ==
              read_bytes(d / "sharded/step-000000000002/checkpoint.safetensors"));
  const double ratio = state_bytes(d / "sharded") / state_bytes(d / "plain");
  EXPECT_LE(ratio, 0.55) << "masters + optimizer state per rank, sharded / unsharded";
  EXPECT_GT(ratio, 0.4);
  auto sharded4 = run_mpi(4, kMlp + "--precision bf16 --shard-optimizer --out " + (d / "sharded4"));
  ASSERT_EQ(sharded4.status, 0) << sharded4.err;
  auto one4 = run_cli(kMlp + "--precision bf16 --accumulate 4 --out " + (d / "one4"), 240);
  ASSERT_EQ(one4.status, 0) << one4.err;
  expect_same_run(d / "one4", d / "sharded4", "--shard-optimizer at 4 ranks vs --accumulate 4");
}

TEST(DistTraining, ResumeWithAnotherRankCount) {
  SKIP_WITHOUT_MPI();
  if (!have_fashion()) GTEST_SKIP() << "Fashion-MNIST is not installed (dataset-fashion-mnist)";
  TempDir d;
  const std::string args = "train --model mlp --batch 64 --steps 6 --threads 1 --eval-batches 1 --stats-every -1 --quiet --precision bf16 ";
  // Uninterrupted: one process, 2 micro-batches.
  ASSERT_EQ(run_cli(args + "--accumulate 2 --out " + (d / "full"), 240).status, 0);
  // Cut after 3 steps by 2 sharded ranks, resumed by one process (re-sharded on load) ...
  auto cut = run_mpi(2, args + "--shard-optimizer --stop-after 3 --out " + (d / "a"));
  ASSERT_EQ(cut.status, 0) << cut.err;
  auto resumed = run_cli(args + "--accumulate 2 --resume " + (d / "a") + " --out " + (d / "a"), 240);
  ASSERT_EQ(resumed.status, 0) << resumed.err;
  expect_same_run(d / "full", d / "a", "2 sharded ranks then 1 process", true);
  // ... and cut by one process, resumed by 2 sharded ranks.
  ASSERT_EQ(run_cli(args + "--accumulate 2 --stop-after 3 --out " + (d / "b"), 240).status, 0);
  auto resumed2 = run_mpi(2, args + "--shard-optimizer --resume " + (d / "b") + " --out " + (d / "b"));
  ASSERT_EQ(resumed2.status, 0) << resumed2.err;
  expect_same_run(d / "full", d / "b", "1 process then 2 sharded ranks", true);
}

nlohmann::json summary_of(const fs::path& run) { return nlohmann::json::parse(slurp(run / "summary.json")); }

TEST(DistTraining, Bf16CommunicationHalvesTheBytesAndFastAllreduceTrains) {
  SKIP_WITHOUT_MPI();
  if (!have_fashion()) GTEST_SKIP() << "Fashion-MNIST is not installed (dataset-fashion-mnist)";
  TempDir d;
  const std::string args = kMlpBase + "--steps 2 --precision bf16 ";
  for (const char* v : {"fp32", "bf16"}) {
    auto r = run_mpi(2, args + "--comm-dtype " + std::string(v) + " --out " + (d / v));
    ASSERT_EQ(r.status, 0) << r.err;
  }
  auto fast = run_mpi(2, args + "--allreduce fast --out " + (d / "fast"));
  ASSERT_EQ(fast.status, 0) << fast.err;
  const auto f32 = summary_of(d / "fp32"), b16 = summary_of(d / "bf16");
  EXPECT_EQ(2 * b16["distributed"]["bytes_sent_per_step"].get<std::int64_t>(), f32["distributed"]["bytes_sent_per_step"].get<std::int64_t>());
  EXPECT_TRUE(std::isfinite(b16["final_train_loss"].get<double>()));
  EXPECT_TRUE(std::isfinite(summary_of(d / "fast")["final_train_loss"].get<double>()));
  auto bad = run_mpi(2, args + "--allreduce fast --comm-dtype bf16 --out " + (d / "bad"), 120);
  expect_one_mixtrain_error(bad, "does not combine with --comm-dtype bf16");
}

TEST(DistTraining, BadLaunchIsOneClearError) {
  SKIP_WITHOUT_MPI();
  if (!have_fashion()) GTEST_SKIP() << "Fashion-MNIST is not installed (dataset-fashion-mnist)";
  TempDir d;
  auto r = run_mpi(4, "train --model mlp --batch 30 --steps 2 --threads 1 --out " + (d / "x"), 120);
  expect_one_mixtrain_error(r, "--batch 30 does not split into 4 ranks");
  EXPECT_FALSE(fs::exists(d / "x/checkpoint.safetensors"));
  // Ranks launched with different flags (MPMD): refused before training.
  const char* bin = std::getenv("MIXTRAIN_BIN");
  const std::string common = "train --model mlp --batch 64 --steps 2 --threads 1 --quiet --out " + (d / "y");
  auto m = run_mpi(1, common + " --lr 0.01 : -np 1 '" + std::string(bin) + "' " + common + " --lr 0.02", 120);
  expect_one_mixtrain_error(m, "rank 1's training settings differ from rank 0's");
}

TEST(DistTraining, FailingRankEndsTheJob) {
  SKIP_WITHOUT_MPI();
  if (!have_fashion()) GTEST_SKIP() << "Fashion-MNIST is not installed (dataset-fashion-mnist)";
  TempDir d;
  const auto t0 = std::chrono::steady_clock::now();
  auto r = run_mpi(2, kMlpBase + "--steps 6 --checkpoint-every 2 --out " + (d / "run"), 90, "-x MIXTRAIN_FAULT_RANK_STEP=1:3");
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_NE(r.status, 0) << r.err;
  EXPECT_NE(r.status, 124) << "the job hung: " << r.err;
  EXPECT_LT(s, 85);
  EXPECT_NE(r.err.find("mixtrain: rank 1 of 2: injected fault at step 3"), std::string::npos) << r.err;
  // The checkpoint committed before the fault (step 2) is the run's current one.
  EXPECT_TRUE(fs::exists(d / "run/step-000000000002/checkpoint.safetensors"));
  EXPECT_EQ(fs::read_symlink(d / "run/latest").string(), "step-000000000002");
}

}  // namespace
}  // namespace mixtrain::testing
