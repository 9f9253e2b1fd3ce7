// The numerics doctor: each rule on constructed runs at its exact thresholds (train/doctor.h),
// metrics parsing, and the CLI end to end: an fp16 run without loss scaling whose flushing
// layers the doctor names (needs dataset-fashion-mnist), the sampled statistics it reads, and
// the exit statuses (0 healthy, 1 problems, 2 bad input with one line on stderr).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "cli_test_util.h"
#include "runtime/error.h"
#include "train/doctor.h"

namespace mixtrain::testing {
namespace {

namespace d = train::doctor;

d::Run make_run(const std::string& precision, const std::string& level, int steps, double loss = 2.0) {
  d::Run r;
  r.config = train::metrics::config_from_json({{"model", "mlp"}, {"precision", precision}, {"opt_level", level}, {"optimizer", "adamw"}});
  for (int i = 0; i < steps; ++i) {
    d::Point p;
    p.step = i;
    p.loss = loss - 0.1 * i;  // a healthy, falling loss
    p.lr = 1e-3;
    p.loss_scale = precision == "fp16" ? 65536 : 1;
    r.points.push_back(p);
  }
  return r;
}

d::TensorStats grad(const std::string& param, double flush, std::vector<std::pair<int, std::uint64_t>> hist = {}) {
  d::TensorStats s;
  s.param = param;
  s.flush = flush;
  s.hist = std::move(hist);
  s.amax = 1;
  return s;
}

TEST(Doctor, HealthyRunHasNoFindings) {
  auto r = make_run("bf16", "O2", 10);
  r.summary = {{"parameters", 1000}, {"peak_bytes", {{"weights", 2000}, {"activations", 100000}}}};
  EXPECT_TRUE(d::diagnose(r).empty());
}

TEST(Doctor, NonFiniteLoss) {
  auto r = make_run("fp16", "O2", 10);
  EXPECT_TRUE(d::check_nonfinite_loss(r).empty());
  r.points[4].loss = NAN;
  r.points[6].loss = INFINITY;
  r.points[3].sampled = true;
  r.points[3].grads = {grad("fc1.weight", 0), grad("fc2.weight", 0)};
  r.points[3].grads[1].amax = NAN;
  const auto f = d::check_nonfinite_loss(r);
  ASSERT_EQ(f.size(), 1u);
  EXPECT_NE(f[0].evidence.find("2 of 10 steps, first at step 4 (loss scale 65536"), std::string::npos) << f[0].evidence;
  EXPECT_EQ(f[0].layers, std::vector<std::string>{"fc2.weight"});
  EXPECT_NE(f[0].recommendation.find("--init-scale 256"), std::string::npos) << f[0].recommendation;
  EXPECT_NE(f[0].recommendation.find("--clip"), std::string::npos);
  EXPECT_NE(f[0].recommendation.find("step 3's applied update"), std::string::npos) << f[0].recommendation;
  // At scale 1 the advice is the learning rate only.
  for (auto& p : r.points) p.loss_scale = 1;
  const auto lr_only = d::check_nonfinite_loss(r)[0].recommendation;
  EXPECT_NE(lr_only.find("lower --lr"), std::string::npos);
  EXPECT_EQ(lr_only.find("--init-scale"), std::string::npos) << lr_only;
  // Non-finite before any applied update: the forward pass overflows.
  r.points[0].loss = NAN;
  EXPECT_NE(d::check_nonfinite_loss(r)[0].recommendation.find("forward pass overflows"), std::string::npos);
}

TEST(Doctor, FiniteDivergenceAtExactFactor) {
  auto r = make_run("fp8", "O2", 100, 10.0);  // a falling loss: 10.0, 9.9, ..., 0.1
  r.config.fp8_format = amp::Fp8Format::e4m3;
  EXPECT_TRUE(d::check_divergence(r).empty());
  // Best 1.0 at step 50, a spike to 5 at step 70, and the last tenth (10 steps) averaging
  // exactly 3x the best: not a finding; a little above: one.
  for (auto& p : r.points) p.loss = p.step >= 90 ? 3.0 : 2.0;
  r.points[50].loss = 1.0;
  r.points[70].loss = 5.0;
  EXPECT_TRUE(d::check_divergence(r).empty());
  r.points[95].loss = 3.1;
  const auto f = d::check_divergence(r);
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].rule, "loss_diverged");
  EXPECT_NE(f[0].evidence.find("loss fell to 1 at step 50, rose to 5 at step 70"), std::string::npos) << f[0].evidence;
  EXPECT_NE(f[0].recommendation.find("--fp8-format hybrid"), std::string::npos);
  // A NaN step is check_nonfinite_loss's business; divergence reads the finite ones.
  r.points[97].loss = NAN;
  r.points[96].loss = 3.2;
  EXPECT_EQ(d::check_divergence(r).size(), 1u);
  r.config.precision = train::parse_precision("bf16");
  EXPECT_EQ(d::check_divergence(r)[0].recommendation.find("fp8"), std::string::npos);
}

TEST(Doctor, ScaleCollapseAtExactFactorAndNamesOverflowingLayer) {
  auto r = make_run("fp16", "O2", 10);
  r.points.back().loss_scale = 512;  // 65536 / 128: not collapsed (factor 256)
  EXPECT_TRUE(d::check_scale_collapse(r).empty());
  r.points.back().loss_scale = 256;  // exactly 65536 / 256
  r.points[5].sampled = true;
  r.points[5].grads = {grad("fc1.weight", 0), grad("head.weight", 0)};
  r.points[5].grads[1].overflow = 0.002;
  const auto f = d::check_scale_collapse(r);
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].layers, std::vector<std::string>{"head.weight"});
  EXPECT_EQ(f[0].precision_map, "head=bf16");
  EXPECT_NE(f[0].evidence.find("from 65536 (2^16) to 256 (2^8)"), std::string::npos) << f[0].evidence;
  EXPECT_NE(f[0].evidence.find("head.weight overflowing 0.2% at step 5"), std::string::npos) << f[0].evidence;
  // The summary's final scale wins over the last line's; the floor of 1 counts as collapsed.
  auto s = make_run("fp16", "O2", 3);
  s.points[0].loss_scale = 2;
  s.summary = {{"final_loss_scale", 1.0}};
  EXPECT_EQ(d::check_scale_collapse(s).size(), 1u);
  EXPECT_TRUE(d::check_scale_collapse(make_run("bf16", "O2", 5)).empty());  // scale 1 throughout
}

TEST(Doctor, SkippedStepsAboveTenPercent) {
  auto r = make_run("fp16", "O2", 10);
  r.points[2].skipped = true;  // 10%: not above the threshold
  EXPECT_TRUE(d::check_skipped_steps(r).empty());
  r.points[3].skipped = true;  // 20%
  const auto f = d::check_skipped_steps(r);
  ASSERT_EQ(f.size(), 1u);
  EXPECT_NE(f[0].evidence.find("2 of 10 steps skipped (20.0%"), std::string::npos) << f[0].evidence;
}

TEST(Doctor, Fp16FlushThresholdScaleAndMap) {
  auto r = make_run("fp16-noscale", "O2", 4);
  for (auto& p : r.points) p.loss_scale = 1;
  // Two samples: fc1 underflows exactly 1% on average (flagged: >= 1%), fc2 0.99% (not), fc3 30%.
  for (int i : {0, 2}) {
    auto& p = r.points[static_cast<std::size_t>(i)];
    p.sampled = true;
    p.stats_dtype = "fp16";
    p.headroom_log2 = 10.0;
    p.grads = {grad("fc1.weight", 0.01, {{-30, 50}, {-10, 50}}), grad("fc2.weight", i == 0 ? 0.0198 : 0.0),
               grad("fc3.weight", 0.3, {{-27, 10}, {-10, 90}})};
  }
  auto f = d::check_fp16_flush(r);
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].layers, (std::vector<std::string>{"fc3.weight", "fc1.weight"}));
  EXPECT_EQ(f[0].precision_map, "fc3=bf16,fc1=bf16");
  EXPECT_NE(f[0].evidence.find("fc1.weight 1.0% (1.0% flushed, 0.0% subnormal)"), std::string::npos) << f[0].evidence;
  // fc1's values at 2^-30 need 16 doublings to reach fp16's normal range (2^-30 x 2^16 = 2^-14);
  // headroom 10 allows 9 (one kept in reserve), so the advice is a scale of 2^9.
  EXPECT_NE(f[0].recommendation.find("--loss-scale 512 (2^9)"), std::string::npos) << f[0].recommendation;
  // With 3.5 doublings of headroom only 2 are safe (one kept in reserve).
  for (auto& p : r.points) p.headroom_log2 = 3.5;
  f = d::check_fp16_flush(r);
  EXPECT_NE(f[0].recommendation.find("--loss-scale 4 (2^2)"), std::string::npos) << f[0].recommendation;
  // Activation gradients count by their subnormal fraction and map to their module; bf16 ones
  // are not fp16's problem.
  d::TensorStats act = grad("fc2/linear", 0);
  act.subnormal = 0.5;
  act.module = "fc2";
  act.dtype = "fp16";
  d::TensorStats act16 = act;
  act16.param = "fc9/linear";
  act16.module = "fc9";
  act16.dtype = "bf16";
  r.points[0].acts = r.points[2].acts = {act, act16};
  f = d::check_fp16_flush(r);
  EXPECT_EQ(f[0].layers, (std::vector<std::string>{"fc2/linear", "fc3.weight", "fc1.weight"}));
  EXPECT_EQ(f[0].precision_map, "fc2=bf16,fc3=bf16,fc1=bf16");
  // A tensor whose amax reaches 2^(16 - 14) = 4 is not flagged however much of it underflows:
  // what underflows is below 2^-16 of its largest value.
  r.points[0].acts[0].amax = r.points[2].acts[0].amax = 3.999;
  EXPECT_EQ(d::check_fp16_flush(r)[0].layers.size(), 3u);
  r.points[0].acts[0].amax = 4.0;
  EXPECT_EQ(d::check_fp16_flush(r)[0].layers.size(), 2u);
  r.points[0].acts.clear();
  r.points[2].acts.clear();
  // Dynamic fp16 at scale 65536 gets "raise the loss scale".
  for (auto& p : r.points) p.loss_scale = 65536;
  r.config.precision = train::parse_precision("fp16");
  f = d::check_fp16_flush(r);
  EXPECT_NE(f[0].recommendation.find("raise the loss scale to 262144"), std::string::npos) << f[0].recommendation;
  // An fp32 run (statistics are "what fp16 would do") and bf16 samples are not diagnosed.
  r.config.opt_level = amp::OptLevel::O0;
  EXPECT_TRUE(d::check_fp16_flush(r).empty());
  r.config.opt_level = amp::OptLevel::O2;
  for (auto& p : r.points) p.stats_dtype = "bf16";
  EXPECT_TRUE(d::check_fp16_flush(r).empty());
}

TEST(Doctor, LostUpdatesInO3) {
  auto r = make_run("bf16-O3", "O3", 10);
  EXPECT_TRUE(d::check_lost_updates(r).empty());  // loss falls
  for (auto& p : r.points) p.loss = 2.0;            // flat while lr = 1e-3 > 0
  auto f = d::check_lost_updates(r);
  ASSERT_EQ(f.size(), 1u);
  EXPECT_NE(f[0].evidence.find("improvement 0.0%"), std::string::npos) << f[0].evidence;
  EXPECT_NE(f[0].recommendation.find("O2"), std::string::npos);
  EXPECT_NE(f[0].recommendation.find("bf16-O3-sr"), std::string::npos);
  // Improvement of exactly 1% is not a plateau: first fifth 2.0, last fifth 1.98.
  r.points[8].loss = r.points[9].loss = 1.98;
  EXPECT_TRUE(d::check_lost_updates(r).empty());
  // Falling loss, but half of fc1's elements have |w| in [1, 2): half an ulp in bf16 is 2^-8 >
  // lr = 1e-3, so AdamW's steps round away there (stalled fraction 0.5 = threshold).
  r = make_run("bf16-O3", "O3", 10);
  r.points[1].sampled = true;
  d::TensorStats w;
  w.param = "fc1.weight";
  w.dtype = "bf16";
  w.hist = {{-12, 50}, {0, 50}};
  r.points[1].weights = {w};
  f = d::check_lost_updates(r);
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].layers, std::vector<std::string>{"fc1.weight"});
  EXPECT_NE(f[0].evidence.find("fc1.weight 50.0%"), std::string::npos) << f[0].evidence;
  r.points[1].weights[0].hist = {{-12, 51}, {0, 49}};
  EXPECT_TRUE(d::check_lost_updates(r).empty());
  // Stochastic rounding and O2 are not diagnosed.
  for (auto& p : r.points) p.loss = 2.0;
  r.config.precision = train::parse_precision("bf16-O3-sr");
  EXPECT_TRUE(d::check_lost_updates(r).empty());
  r.config.precision = train::parse_precision("bf16");
  r.config.opt_level = amp::OptLevel::O2;
  EXPECT_TRUE(d::check_lost_updates(r).empty());
}

TEST(Doctor, MemoryNotReducedNamesDominantCategory) {
  auto r = make_run("bf16", "O2", 3);
  // Small model, AdamW: 2 B weights + 4 B masters + 4 B grads + 8 B states per parameter beat
  // fp32's 4 + 4 + 8 when activations are small.
  r.summary = {{"parameters", 1000},
               {"peak_bytes", {{"weights", 2000}, {"master_weights", 4000}, {"gradients", 4000}, {"optimizer_state", 8000},
                               {"activations", 1000}, {"workspace", 0}, {"total", 19000}}}};
  auto f = d::check_memory(r);
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].layers, std::vector<std::string>{"optimizer_state"});
  EXPECT_NE(f[0].evidence.find("saving -5.6%"), std::string::npos) << f[0].evidence;  // 1 - 19000/18000
  // Exact threshold: fp32 estimate 4000, mixed 3000 -> saving exactly 25%.
  r.summary = {{"parameters", 1000}, {"peak_bytes", {{"weights", 3000}}}};
  d::Thresholds t;
  t.min_memory_saving = 0.25;
  EXPECT_TRUE(d::check_memory(r, t).empty());
  r.summary["peak_bytes"]["weights"] = 3001;
  f = d::check_memory(r, t);
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].layers, std::vector<std::string>{"weights"});
  EXPECT_NE(f[0].recommendation.find("O2"), std::string::npos);
  r.config.opt_level = amp::OptLevel::O0;  // fp32 runs are the baseline
  EXPECT_TRUE(d::check_memory(r, t).empty());
}

// Severities: only problems fail; a healthy bf16 run whose memory did not shrink gets a note.
TEST(Doctor, SeveritiesOrderFindingsAndOnlyProblemsFail) {
  auto r = make_run("bf16", "O2", 10);
  r.summary = {{"parameters", 1000},
               {"peak_bytes", {{"weights", 2000}, {"master_weights", 4000}, {"gradients", 4000}, {"optimizer_state", 8000}}}};
  auto f = d::diagnose(r);
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].rule, "memory");
  EXPECT_EQ(f[0].severity, d::Severity::note);
  EXPECT_EQ(d::tally(f).problems, 0);
  EXPECT_EQ(d::to_json(f[0])["severity"], "note");
  // Add a problem (NaN loss) and a warning (skipped steps): problems first, then warnings, notes.
  r.points[8].loss = NAN;
  for (int i : {2, 3, 4}) r.points[static_cast<std::size_t>(i)].skipped = true;
  f = d::diagnose(r);
  ASSERT_EQ(f.size(), 3u);
  EXPECT_EQ(f[0].rule, "nonfinite_loss");
  EXPECT_EQ(f[0].severity, d::Severity::problem);
  EXPECT_EQ(f[1].rule, "skipped_steps");
  EXPECT_EQ(f[1].severity, d::Severity::warning);
  EXPECT_EQ(f[2].severity, d::Severity::note);
  const d::Tally t = d::tally(f);
  EXPECT_EQ(t.problems, 1);
  EXPECT_EQ(t.warnings, 1);
  EXPECT_EQ(t.notes, 1);
}

// fp16 with --loss-scale none: the first advice is the default, dynamic scaling; under a dynamic
// scale the same underflow is a warning.
TEST(Doctor, UnscaledFp16FlushAdvisesDynamicScalingFirst) {
  auto r = make_run("fp16", "O2", 4);
  r.config.loss_scale = "none";
  for (auto& p : r.points) {
    p.loss_scale = 1;
    p.sampled = true;
    p.stats_dtype = "fp16";
    p.headroom_log2 = 10.0;
    p.grads = {grad("fc1.weight", 0.3, {{-27, 10}, {-10, 90}})};
  }
  auto f = d::check_fp16_flush(r);
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].severity, d::Severity::problem);
  EXPECT_EQ(f[0].recommendation.rfind("use the default dynamic loss scaling", 0), 0u) << f[0].recommendation;
  r.config.loss_scale = "dynamic";
  for (auto& p : r.points) p.loss_scale = 65536;
  f = d::check_fp16_flush(r);
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].severity, d::Severity::warning);
  EXPECT_EQ(f[0].recommendation.find("dynamic loss scaling"), std::string::npos) << f[0].recommendation;
  // Older runs (no loss_scale in the config) with a scale of 1 throughout count as unscaled.
  r.config.loss_scale.clear();
  for (auto& p : r.points) p.loss_scale = 1;
  EXPECT_EQ(d::check_fp16_flush(r)[0].severity, d::Severity::problem);
}

TEST(Doctor, NegativeHeadroomWithoutSkippedSteps) {
  auto r = make_run("fp16", "O2", 6);
  for (auto& p : r.points) {
    p.sampled = true;
    p.stats_dtype = "fp16";
    p.headroom_log2 = 3.0;
    auto g = grad("fc2.weight", 0);
    g.amax = 1e6;
    g.overflow = 0.001;
    p.grads = {grad("fc1.weight", 0), g};
  }
  EXPECT_TRUE(d::check_headroom(r).empty());
  r.points[4].headroom_log2 = -2.5;
  r.points[2].headroom_log2 = -0.5;
  auto f = d::check_headroom(r);
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].severity, d::Severity::warning);
  EXPECT_EQ(f[0].layers, std::vector<std::string>{"fc2.weight"});
  EXPECT_NE(f[0].evidence.find("at step 4"), std::string::npos) << f[0].evidence;
  EXPECT_NE(f[0].evidence.find("2 of 6 samples"), std::string::npos) << f[0].evidence;
  // 65536 x 2^(floor(-2.5) - 1) = 65536 / 16.
  EXPECT_NE(f[0].recommendation.find("--init-scale 4096"), std::string::npos) << f[0].recommendation;
  // In an fp32 run the same numbers only say what fp16 would do: a note.
  r.config.precision = train::Precision::fp32;
  r.config.opt_level = amp::OptLevel::O0;
  f = d::check_headroom(r);
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].severity, d::Severity::note);
  EXPECT_NE(f[0].recommendation.find("bf16"), std::string::npos);
  // Skipped steps: the scaler saw the overflow; other rules speak.
  r.points[1].skipped = true;
  EXPECT_TRUE(d::check_headroom(r).empty());
}

TEST(Doctor, ParsesMetricsAndRejectsCorruptLines) {
  std::istringstream in(
      R"({"type":"config","config":{"precision":"fp16","opt_level":"O2"}})"
      "\n"
      R"({"step":0,"loss":null,"lr":0.001,"loss_scale":65536,"skipped":true,"stats_dtype":"fp16","headroom_log2":3.5,)"
      R"("grad_stats":[{"param":"fc1.weight","hist":{"-20":3,"-30":1},"overflow":0,"subnormal":0.5,"flush":0.25,"amax":null}],)"
      R"("weight_stats":[{"param":"fc1.weight","dtype":"fp16","hist":{"-3":4},"overflow":0,"subnormal":0,"flush":0,"amax":0.2}]})"
      "\n\n");
  const auto r = d::parse_metrics(in, "m");
  EXPECT_EQ(r.config.precision, train::Precision::fp16);
  ASSERT_EQ(r.points.size(), 1u);
  const auto& p = r.points[0];
  EXPECT_TRUE(std::isnan(p.loss));
  EXPECT_TRUE(p.skipped && p.sampled);
  ASSERT_TRUE(p.headroom_log2.has_value());
  EXPECT_EQ(*p.headroom_log2, 3.5);
  ASSERT_EQ(p.grads.size(), 1u);
  EXPECT_TRUE(std::isnan(p.grads[0].amax));
  EXPECT_EQ(p.grads[0].flush, 0.25);
  EXPECT_EQ(p.grads[0].hist, (std::vector<std::pair<int, std::uint64_t>>{{-30, 1}, {-20, 3}}));
  EXPECT_EQ(p.weights[0].dtype, "fp16");
  EXPECT_FLOAT_EQ(static_cast<float>(p.weights[0].amax), 0.2f);
  std::istringstream bad("{\"step\":0,\"loss\":1}\n{not json\n");
  try {
    d::parse_metrics(bad, "m");
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("m line 2"), std::string::npos) << e.what();
  }
  std::istringstream wrong("{\"step\":\"zero\",\"loss\":1}\n");
  EXPECT_THROW(d::parse_metrics(wrong, "m"), Error);
  EXPECT_EQ(d::module_of("blocks.0.fc1.weight"), "blocks.0.fc1");
  EXPECT_EQ(d::module_of("w"), "w");
}

// ---- CLI ----

CliResult run(const std::string& args) { return run_cli(args); }

TEST(DoctorCli, NamesFlushingLayersOfAnUnscaledFp16Run) {
  if (!have_fashion()) GTEST_SKIP() << "dataset-fashion-mnist not installed (apt-get install dataset-fashion-mnist)";
  TempDir d;
  auto tr = run("train --model mlp --precision fp16-noscale --steps 6 --batch 32 --threads 2 --quiet --stats-every 2 --out " + d.path());
  ASSERT_EQ(tr.status, 0) << tr.err;
  // The sampled statistics the doctor reads: gradients against fp16, weights in their storage
  // dtype, and the headroom, log2(65504 / amax of the gradients).
  std::ifstream m(d / "metrics.jsonl");
  int samples = 0;
  for (std::string line; std::getline(m, line);) {
    const auto j = nlohmann::json::parse(line);
    if (!j.contains("grad_stats")) continue;
    ++samples;
    EXPECT_EQ(j["stats_dtype"], "fp16");
    ASSERT_FALSE(j["weight_stats"].empty());
    EXPECT_EQ(j["weight_stats"][0]["dtype"], "fp16");
    EXPECT_EQ(j["weight_stats"][0]["overflow"], 0.0);  // stored values fit their own format
    double amax = 0;
    for (const auto& g : j["grad_stats"]) amax = std::max(amax, g["amax"].get<double>());
    EXPECT_EQ(amax, j["grad_amax"].get<double>());
    // Activation gradients of the three fp16 Linear outputs, named by module.
    ASSERT_EQ(j["act_grad_stats"].size(), 3u) << j["act_grad_stats"].dump();
    EXPECT_EQ(j["act_grad_stats"][0]["module"], "fc1");
    EXPECT_EQ(j["act_grad_stats"][0]["dtype"], "fp16");
    for (const auto& g : j["act_grad_stats"]) amax = std::max(amax, g["amax"].get<double>());
    EXPECT_NEAR(j["headroom_log2"].get<double>(), std::log2(65504.0 / amax), 1e-9);
  }
  EXPECT_EQ(samples, 4);  // steps 0, 2, 4 and the last step, 5
  auto dr = run("doctor " + d.path());
  EXPECT_EQ(dr.status, 1) << dr.out << dr.err;
  EXPECT_NE(dr.out.find("[fp16_flush]"), std::string::npos) << dr.out;
  EXPECT_NE(dr.out.find(".weight"), std::string::npos) << dr.out;
  EXPECT_NE(dr.out.find("--precision-map '"), std::string::npos) << dr.out;
  EXPECT_NE(dr.out.find("problem [fp16_flush]"), std::string::npos) << dr.out;
  EXPECT_NE(dr.out.find("recommendation: use the default dynamic loss scaling"), std::string::npos) << dr.out;
  auto js = run("doctor --json " + d.path());
  EXPECT_EQ(js.status, 1);
  const auto j = nlohmann::json::parse(js.out);
  EXPECT_GE(j["problems"].get<int>(), 1);
  bool flush = false;
  for (const auto& f : j["findings"])
    if (f["rule"] == "fp16_flush") {
      flush = true;
      EXPECT_EQ(f["severity"], "problem");
      EXPECT_FALSE(f["layers"].empty());
      EXPECT_TRUE(f.contains("precision_map"));
    }
  EXPECT_TRUE(flush) << js.out;
}

TEST(DoctorCli, HealthyRunExitsZero) {
  if (!have_fashion()) GTEST_SKIP() << "dataset-fashion-mnist not installed";
  TempDir d;
  ASSERT_EQ(run("train --model mlp --precision fp32 --steps 3 --batch 32 --threads 2 --quiet --out " + d.path()).status, 0);
  auto dr = run("doctor " + d.path());
  EXPECT_EQ(dr.status, 0) << dr.out << dr.err;
  EXPECT_NE(dr.out.find("no problems found"), std::string::npos) << dr.out;
}

// A healthy bf16 run passes (exit 0) even when the doctor has warnings or notes about it (the
// small MLP's AdamW state outweighs what bf16 saves: a memory note), and --json says so.
TEST(DoctorCli, HealthyBf16RunExitsZeroWithSeverities) {
  if (!have_fashion()) GTEST_SKIP() << "dataset-fashion-mnist not installed";
  TempDir d;
  ASSERT_EQ(run("train --model mlp --precision bf16 --steps 4 --batch 32 --threads 2 --eval-batches 1 --quiet --out " + d.path()).status, 0);
  auto dr = run("doctor " + d.path());
  EXPECT_EQ(dr.status, 0) << dr.out << dr.err;
  EXPECT_NE(dr.out.find("no problems found"), std::string::npos) << dr.out;
  EXPECT_EQ(dr.out.find("problem ["), std::string::npos) << dr.out;
  auto js = run("doctor --json " + d.path());
  EXPECT_EQ(js.status, 0) << js.out << js.err;
  const auto j = nlohmann::json::parse(js.out);
  EXPECT_EQ(j["problems"], 0);
  for (const auto& f : j["findings"]) {
    ASSERT_TRUE(f.contains("severity")) << f.dump();
    EXPECT_NE(f["severity"], "problem") << f.dump();
  }
}

TEST(DoctorCli, ReadsADivergedRunsMetrics) {
  if (!have_fashion()) GTEST_SKIP() << "dataset-fashion-mnist not installed";
  TempDir d;
  // A diverging run fails (exit 1: good input, failed run), keeping its metrics as
  // failed.metrics.jsonl; the doctor reads them.
  auto tr = run("train --model mlp --precision fp16 --steps 40 --batch 32 --lr 1e4 --optimizer sgd --threads 2 --quiet --out " + d.path());
  ASSERT_EQ(tr.status, 1) << tr.err;
  auto dr = run("doctor " + d.path());
  EXPECT_EQ(dr.status, 1) << dr.out << dr.err;
  EXPECT_NE(dr.out.find("did not finish"), std::string::npos) << dr.out;
  EXPECT_NE(dr.out.find("[nonfinite_loss]"), std::string::npos) << dr.out;
  EXPECT_NE(dr.out.find("lower --lr"), std::string::npos) << dr.out;
}

TEST(DoctorCli, BadInputIsExitTwoAndOneLine) {
  TempDir d;
  auto one_line = [](const CliResult& r, const std::string& needle) {
    EXPECT_EQ(r.status, 2) << r.out << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
    EXPECT_EQ(r.err.rfind("mixtrain: ", 0), 0u) << r.err;
    EXPECT_NE(r.err.find(needle), std::string::npos) << r.err;
  };
  one_line(run("doctor " + (d / "nowhere")), "no run directory");
  std::filesystem::create_directories(d / "empty");
  one_line(run("doctor " + (d / "empty")), "no metrics.jsonl");
  std::filesystem::create_directories(d / "corrupt");
  write_text(d / "corrupt/metrics.jsonl", "{\"step\":0,\"loss\":1}\n{\"step\":1,\"lo");
  write_text(d / "corrupt/summary.json", "{}");
  one_line(run("doctor " + (d / "corrupt")), "line 2");
  std::filesystem::create_directories(d / "nosummary");
  write_text(d / "nosummary/metrics.jsonl", "{\"step\":0,\"loss\":1}\n");
  one_line(run("doctor " + (d / "nosummary")), "summary.json");
}

}  // namespace
}  // namespace mixtrain::testing
