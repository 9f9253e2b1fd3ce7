// metrics.jsonl (train/metrics.h): what the writer writes, the reader reads back, field for field;
// malformed lines are refused with the file and line named; and the enum settings round-trip
// through their text (train/settings.h).
#include <gtest/gtest.h>

#include <cmath>
#include <sstream>

#include "runtime/error.h"
#include "train/metrics.h"
#include "train/settings.h"

namespace mixtrain {
namespace {

namespace m = train::metrics;

std::string read_error(const std::string& text) {
  std::istringstream in(text);
  try {
    m::read_metrics(in, "run/metrics.jsonl");
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

m::StepRecord sampled_step() {
  m::StepRecord s;
  s.step = 7;
  s.loss = 1.25;
  s.lr = 0.001;
  s.loss_scale = 65536;
  s.skipped = true;
  s.accuracy = 0.5;
  s.grad_norm = 2.0;
  s.ms = 12.5;
  s.sampled = true;
  m::TensorStats g;
  g.param = "fc1.weight";
  g.overflow = 0.125;
  g.subnormal = 0.25;
  g.flush = 0.0625;
  g.zeros = 0.5;
  g.amax = 3.0;
  g.hist = {{-20, 3}, {-3, 1}, {4, 9}};
  s.grads = {g};
  m::TensorStats w = g;
  w.dtype = "bf16";
  w.amax = NAN;  // non-finite: written as null, read back as NaN
  s.weights = {w};
  m::TensorStats a = g;
  a.param = "fc1/linear";
  a.module = "fc1";
  a.dtype = "fp16";
  s.acts = {a};
  s.stats_dtype = "fp16";
  s.grad_amax = 3.0;
  s.headroom_log2 = 14.5;
  s.autopilot_probe = {{"fc1", {{"dtype", "e4m3"}}}};
  return s;
}

TEST(TrainMetrics, StepLineRoundTrips) {
  const m::StepRecord s = sampled_step();
  std::istringstream in(m::step_line(s) + "\n");
  const m::MetricsLog log = m::read_metrics(in, "x");
  ASSERT_EQ(log.steps.size(), 1u);
  const m::StepRecord& r = log.steps[0];
  EXPECT_EQ(r.step, 7);
  EXPECT_EQ(r.loss, 1.25);
  EXPECT_EQ(r.lr, 0.001);
  EXPECT_EQ(r.loss_scale, 65536);
  EXPECT_TRUE(r.skipped);
  EXPECT_EQ(r.accuracy, 0.5);
  EXPECT_EQ(r.grad_norm, 2.0);
  EXPECT_EQ(r.ms, 12.5);
  ASSERT_TRUE(r.sampled);
  ASSERT_EQ(r.grads.size(), 1u);
  EXPECT_EQ(r.grads[0].param, "fc1.weight");
  EXPECT_EQ(r.grads[0].dtype, "");
  EXPECT_EQ(r.grads[0].overflow, 0.125);
  EXPECT_EQ(r.grads[0].subnormal, 0.25);
  EXPECT_EQ(r.grads[0].flush, 0.0625);
  EXPECT_EQ(r.grads[0].zeros, 0.5);
  EXPECT_EQ(r.grads[0].amax, 3.0);
  EXPECT_EQ(r.grads[0].hist, s.grads[0].hist);
  ASSERT_EQ(r.weights.size(), 1u);
  EXPECT_EQ(r.weights[0].dtype, "bf16");
  EXPECT_TRUE(std::isnan(r.weights[0].amax));
  ASSERT_EQ(r.acts.size(), 1u);
  EXPECT_EQ(r.acts[0].module, "fc1");
  EXPECT_EQ(r.stats_dtype, "fp16");
  EXPECT_EQ(r.grad_amax, 3.0);
  EXPECT_EQ(r.headroom_log2, 14.5);
  EXPECT_EQ(m::probe_dtypes(r), (std::map<std::string, std::string>{{"fc1", "e4m3"}}));
  // Writing what was read gives the same bytes.
  EXPECT_EQ(m::step_line(r), m::step_line(s));
}

TEST(TrainMetrics, StepLineWritesNonFiniteAsNullAndOmitsAbsentFields) {
  m::StepRecord s;
  s.step = 3;
  s.loss = NAN;
  s.lr = 0.5;
  EXPECT_EQ(m::step_line(s), R"({"loss":null,"loss_scale":1.0,"lr":0.5,"skipped":false,"step":3})");
  std::istringstream in(m::step_line(s));
  const m::MetricsLog log = m::read_metrics(in, "x");
  ASSERT_EQ(log.steps.size(), 1u);
  EXPECT_TRUE(std::isnan(log.steps[0].loss));
  EXPECT_FALSE(log.steps[0].sampled);
  EXPECT_FALSE(log.steps[0].accuracy.has_value());
}

TEST(TrainMetrics, ConfigAndPrecisionLinesRoundTrip) {
  m::ConfigRecord c;
  c.model = train::ModelFamily::gpt;
  c.data = train::DataSet::text;
  c.precision = train::Precision::autopilot;
  c.label = "auto";
  c.opt_level = amp::OptLevel::O2;
  c.batch = 8;
  c.lr = 0.001;
  c.optimizer = train::OptimizerKind::adamw;
  c.schedule = train::ScheduleKind::warmup_cosine;
  c.seed = 3;
  c.context = 64;
  c.fp8_recipe = amp::Fp8Recipe::current;
  c.fp8_format = amp::Fp8Format::e4m3;
  c.master = DType::fp64;
  c.data_path = "corpus.txt";
  const m::PrecisionRecord p{5, "head", "e4m3", "bf16", "grad overflow"};
  std::istringstream in(m::config_line(c, "fp8 O2") + "\n" + m::precision_line(p) + "\n");
  const m::MetricsLog log = m::read_metrics(in, "x");
  ASSERT_TRUE(log.config.has_value());
  EXPECT_EQ(log.policy, "fp8 O2");
  EXPECT_EQ(m::to_json(*log.config), m::to_json(c));
  EXPECT_EQ(m::to_json(c)["precision"], "auto");
  EXPECT_EQ(m::to_json(c)["schedule"], "cosine");
  ASSERT_EQ(log.precision_events.size(), 1u);
  EXPECT_EQ(log.precision_events[0].layer, "head");
  EXPECT_EQ(log.precision_events[0].reason, "grad overflow");
  EXPECT_EQ(m::precision_line(log.precision_events[0]), m::precision_line(p));
}

TEST(TrainMetrics, UnknownSettingsReadAsAbsent) {
  const m::ConfigRecord c = m::config_from_json({{"precision", "fp7"}, {"optimizer", 3}, {"opt_level", "O2"}});
  EXPECT_FALSE(c.precision.has_value());
  EXPECT_FALSE(c.optimizer.has_value());
  EXPECT_EQ(c.opt_level, amp::OptLevel::O2);
}

TEST(TrainMetrics, MalformedLinesNameFileAndLine) {
  EXPECT_EQ(read_error("{\"step\":0,\"loss\":1}\n[1,2]\n"),
            "run/metrics.jsonl line 2 is not a JSON object (or nests deeper than 64 levels)");
  EXPECT_EQ(read_error(std::string(100, '[') + std::string(100, ']') + "\n"),
            "run/metrics.jsonl line 1 is not a JSON object (or nests deeper than 64 levels)");
  EXPECT_EQ(read_error("\n{\"step\":0}\n"),
            "run/metrics.jsonl line 2 has a malformed field ([json.exception.out_of_range.403] key 'loss' not found)");
  EXPECT_EQ(read_error("{\"step\":0,\"loss\":1,\"grad_stats\":[{\"param\":\"w\",\"hist\":{\"x\":1}}]}\n"),
            "run/metrics.jsonl line 1: histogram key 'x' of w is not an exponent in [-1100, 1100]");
  EXPECT_EQ(read_error("{\"step\":0,\"loss\":1,\"grad_stats\":[],\"headroom_log2\":1e9}\n"),
            "run/metrics.jsonl line 1: 'headroom_log2' is out of range");
  EXPECT_NE(read_error("{\"type\":\"precision\",\"step\":-1}\n").find("run/metrics.jsonl line 1: "), std::string::npos);
  EXPECT_EQ(read_error("{\"type\":\"future\",\"x\":1}\n{\"note\":1}\n"), "");  // other line types are skipped
}

TEST(TrainMetrics, CarryKeepsLinesBeforeTheResumeStepByteForByte) {
  const std::string text = "{\"type\":\"config\",\"config\":{}}\n{\"step\":0,\"loss\":2.5}\n"
                           "{\"type\":\"precision\",\"step\":0,\"layer\":\"a\"}\n{\"step\":1,\"loss\":null}\n"
                           "{\"step\":2,\"loss\":1}\n{torn";
  const m::CarriedLines c = m::carry_before(text, 2);
  EXPECT_EQ(c.text, "{\"type\":\"config\",\"config\":{}}\n{\"step\":0,\"loss\":2.5}\n"
                    "{\"type\":\"precision\",\"step\":0,\"layer\":\"a\"}\n{\"step\":1,\"loss\":null}\n");
  ASSERT_EQ(c.losses.size(), 2u);
  EXPECT_EQ(c.losses[0], 2.5);
  EXPECT_TRUE(std::isnan(c.losses[1]));
}

TEST(TrainMetrics, ResumeMismatchNamesTheSetting) {
  m::ConfigRecord now;
  now.model = train::ModelFamily::mlp;
  now.batch = 256;
  EXPECT_EQ(m::resume_mismatch({{"model", "mlp"}, {"batch", 256}}, now), "");
  EXPECT_EQ(m::resume_mismatch({{"model", "mlp"}, {"batch", 128}}, now),
            "resume: checkpoint was trained with batch=128, this run has 256");
}

TEST(TrainSettings, EveryNameRoundTrips) {
  for (const char* p : {"fp32", "fp16", "bf16", "fp8", "auto", "fp16-noscale", "bf16-O3", "bf16-O3-sr", "fp16-O3"})
    EXPECT_EQ(train::to_string(train::precision_or_throw(p)), p);
  for (const char* s : {"mlp", "cnn", "resnet", "gpt"}) EXPECT_EQ(train::to_string(train::model_or_throw(s)), s);
  EXPECT_EQ(train::to_string(train::schedule_or_throw("cosine")), "cosine");
  EXPECT_EQ(train::to_string(train::loss_scale_or_throw("1024")), "1024");
  EXPECT_EQ(train::loss_scale_or_throw("none").mode, amp::ScaleMode::disabled);
  EXPECT_EQ(train::traits(train::Precision::bf16_O3_sr).base, train::Precision::bf16);
  EXPECT_TRUE(train::traits(train::Precision::bf16_O3_sr).stochastic);
}

TEST(TrainSettings, UnknownNamesGiveTheFlagsMessage) {
  auto error_of = [](auto f) -> std::string {
    try {
      f();
    } catch (const Error& e) {
      return e.what();
    }
    return "";
  };
  EXPECT_EQ(error_of([] { train::optimizer_or_throw("adam"); }), "unknown optimizer 'adam' (known: sgd adamw)");
  EXPECT_EQ(error_of([] { train::data_set_or_throw("fortunes", train::ModelFamily::mlp); }),
            "model 'mlp' trains on fashion-mnist, not 'fortunes'");
  EXPECT_EQ(error_of([] { train::data_set_or_throw("x", train::ModelFamily::gpt); }),
            "unknown data set 'x' for gpt (known: fortunes, text with --data-path)");
  EXPECT_EQ(error_of([] { train::loss_scale_or_throw("-1"); }),
            "--loss-scale must be dynamic, none or a finite number in (0, 1e+30], got '-1'");
  EXPECT_EQ(error_of([] { train::master_or_throw("bf16"); }), "--master must be fp32 or fp64");
}

}  // namespace
}  // namespace mixtrain
