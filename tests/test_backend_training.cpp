// The training-level cross-check: 20 steps of every model under the cpu backend and under the
// reference backend (MIXTRAIN_BACKEND=reference) from the same seed stay within a stated bound.
//
// The bound. The two backends differ only in summation order (GEMM, reductions, norms, softmax:
// tests/test_backend_crosscheck.cpp bounds each kernel), so step 0's losses agree to a few fp32
// ulps. Training then feeds those differences back through the weights, and in bf16/fp16 a
// difference of one ulp in fp32 can move a value across a rounding boundary of the 8- or
// 11-bit format; the curves drift apart slowly, never systematically. Measured drift over 20
// steps (see docs/BACKENDS.md) stays well under kRelativeBound of the loss, which is tight enough
// to catch a wrong kernel (a wrong GEMM or norm moves step 0 by far more, and a broken gradient
// stops the loss falling).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "cli_test_util.h"

namespace mixtrain::testing {
namespace {

constexpr double kStep0RelativeBound = 1e-4;
constexpr double kRelativeBound = 0.02;

std::vector<double> losses(const std::string& run_dir) {
  std::vector<double> out;
  std::ifstream in(run_dir + "/metrics.jsonl");
  for (std::string line; std::getline(in, line);) {
    const auto j = nlohmann::json::parse(line);
    if (j.contains("step") && j.contains("loss") && !j.contains("type")) out.push_back(j["loss"].get<double>());
  }
  return out;
}

struct ModelRun {
  const char* name;
  const char* flags;
  bool needs_fortunes;
};

class BackendTraining : public ::testing::TestWithParam<ModelRun> {};

TEST_P(BackendTraining, ReferenceTracksCpuForTwentySteps) {
  const ModelRun m = GetParam();
  if (m.needs_fortunes ? !have_fortunes() : !have_fashion())
    GTEST_SKIP() << (m.needs_fortunes ? "fortunes not installed (apt-get install fortunes)"
                                      : "dataset-fashion-mnist not installed (apt-get install dataset-fashion-mnist)");
  // The sanitizer preset (MIXTRAIN_TEST_SWEEP=dense, an unoptimised build) runs 3 steps: there
  // the point is memory and UB errors on every model under both backends, not the drift.
  const char* sweep = std::getenv("MIXTRAIN_TEST_SWEEP");
  const std::size_t steps = sweep != nullptr && std::string(sweep) == "dense" ? 3 : 20;
  TempDir d;
  const std::string common = std::string("train ") + m.flags + " --steps " + std::to_string(steps) +
                             " --seed 3 --threads 2 --quiet --stats-every -1 --eval-batches 1 --out ";
  const CliResult cpu = run_cli("--backend cpu " + common + (d / "cpu"), 600);
  ASSERT_EQ(cpu.status, 0) << cpu.err;
  const CliResult ref = run_cli("--backend reference " + common + (d / "ref"), 600);
  ASSERT_EQ(ref.status, 0) << ref.err;
  const auto a = losses(d / "cpu"), b = losses(d / "ref");
  ASSERT_EQ(a.size(), steps);
  ASSERT_EQ(b.size(), steps);
  double drift = 0;
  for (std::size_t i = 0; i < a.size(); ++i) drift = std::max(drift, std::abs(a[i] - b[i]) / std::abs(a[i]));
  std::cout << m.name << ": relative loss difference at step 0 " << std::abs(a[0] - b[0]) / std::abs(a[0])
            << ", largest over " << steps << " steps " << drift << "\n";
  EXPECT_NEAR(a[0], b[0], kStep0RelativeBound * std::abs(a[0])) << "step 0";
  for (std::size_t i = 0; i < a.size(); ++i)
    EXPECT_NEAR(a[i], b[i], kRelativeBound * std::abs(a[i])) << "step " << i;
  if (steps == 20) {
    EXPECT_LT(b.back(), b.front()) << "the reference run does not learn";
  }
}

INSTANTIATE_TEST_SUITE_P(
    Models, BackendTraining,
    ::testing::Values(ModelRun{"mlp_bf16", "--model mlp --precision bf16 --batch 16", false},
                      ModelRun{"mlp_fp16", "--model mlp --precision fp16 --batch 16", false},
                      ModelRun{"cnn_bf16", "--model cnn --precision bf16 --batch 8", false},
                      ModelRun{"resnet_fp32", "--model resnet --precision fp32 --batch 4", false},
                      ModelRun{"gpt_bf16", "--model gpt --precision bf16 --batch 1 --context 32", true},
                      ModelRun{"gpt_fp8", "--model gpt --precision fp8 --batch 1 --context 32", true}),
    [](const ::testing::TestParamInfo<ModelRun>& p) { return std::string(p.param.name); });

}  // namespace
}  // namespace mixtrain::testing
