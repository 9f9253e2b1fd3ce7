// The documented outputs (docs/OUTPUTS.md): the schema_version of metrics.jsonl, summary.json and
// the checkpoint metadata (older files without it still read); eval lines (--eval-every) that
// round-trip, survive a resume and leave training untouched; and `export-metrics`, the flat CSV
// form of the metrics, with its one-line errors for bad input.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "cli_test_util.h"
#include "io/safetensors.h"
#include "runtime/error.h"
#include "train/metrics.h"
#include "train/metrics_csv.h"

namespace mixtrain::testing {
namespace {

namespace m = train::metrics;

m::MetricsLog read(const std::string& text) {
  std::istringstream in(text);
  return m::read_metrics(in, "run/metrics.jsonl");
}

TEST(TrainOutputs, ConfigLineCarriesTheSchemaVersionAndOlderFilesRead) {
  m::ConfigRecord c;
  c.label = "bf16 O2";
  c.loss_scale = "none";
  const std::string line = m::config_line(c, "bf16 O2");
  EXPECT_EQ(nlohmann::json::parse(line)["schema_version"], m::kSchemaVersion);
  const m::MetricsLog log = read(line + "\n");
  EXPECT_EQ(log.schema_version, m::kSchemaVersion);
  EXPECT_EQ(log.config->loss_scale, "none");
  // A file written before versioning: no schema_version, no loss_scale; read as version 0.
  const m::MetricsLog old = read("{\"type\":\"config\",\"config\":{\"model\":\"mlp\"},\"policy\":\"fp32\"}\n{\"step\":0,\"loss\":1}\n");
  EXPECT_EQ(old.schema_version, 0);
  EXPECT_EQ(old.config->loss_scale, "");
  EXPECT_EQ(old.steps.size(), 1u);
}

TEST(TrainOutputs, EvalLinesRoundTripAndRefuseABadStep) {
  m::EvalRecord e;
  e.step = 30;
  e.split = "test";
  e.loss = 0.5;
  e.accuracy = 0.875;
  e.elapsed_s = 1.25;
  EXPECT_EQ(m::eval_line(e), R"({"accuracy":0.875,"elapsed_s":1.25,"loss":0.5,"split":"test","step":30,"type":"eval"})");
  m::EvalRecord lm;
  lm.step = 4;
  lm.split = "val";
  lm.loss = NAN;
  EXPECT_EQ(m::eval_line(lm), R"({"loss":null,"split":"val","step":4,"type":"eval"})");
  const m::MetricsLog log = read(m::eval_line(e) + "\n" + m::eval_line(lm) + "\n");
  ASSERT_EQ(log.evals.size(), 2u);
  EXPECT_EQ(m::eval_line(log.evals[0]), m::eval_line(e));
  EXPECT_TRUE(std::isnan(log.evals[1].loss));
  EXPECT_FALSE(log.evals[1].accuracy.has_value());
  EXPECT_TRUE(log.steps.empty());
  std::istringstream bad("{\"type\":\"eval\",\"step\":-3,\"loss\":1}\n");
  try {
    m::read_metrics(bad, "run/metrics.jsonl");
    ADD_FAILURE() << "a negative eval step was accepted";
  } catch (const Error& err) {
    EXPECT_NE(std::string(err.what()).find("run/metrics.jsonl line 1"), std::string::npos) << err.what();
  }
}

// An eval line counts completed steps: the one at the resume step ran before that checkpoint.
TEST(TrainOutputs, CarryKeepsTheEvalLineAtTheResumeStep) {
  const std::string text = "{\"step\":0,\"loss\":2}\n{\"step\":1,\"loss\":1}\n{\"type\":\"eval\",\"step\":2,\"loss\":1}\n"
                           "{\"step\":2,\"loss\":1}\n{\"type\":\"eval\",\"step\":3,\"loss\":1}\n";
  EXPECT_EQ(m::carry_before(text, 2).text,
            "{\"step\":0,\"loss\":2}\n{\"step\":1,\"loss\":1}\n{\"type\":\"eval\",\"step\":2,\"loss\":1}\n");
}

TEST(TrainOutputs, CsvHasOneRowPerStepAndEvaluation) {
  m::StepRecord s0;
  s0.step = 0;
  s0.loss = 2.5;
  s0.lr = 0.001;
  s0.loss_scale = 65536;
  s0.accuracy = 0.25;
  s0.ms = 12;
  m::StepRecord s1 = s0;
  s1.step = 1;
  s1.loss = NAN;
  s1.skipped = true;
  s1.sampled = true;
  s1.grad_amax = 3;
  s1.headroom_log2 = -1.5;
  m::EvalRecord e;
  e.step = 1;
  e.split = "test";
  e.loss = 0.75;
  e.accuracy = 0.5;
  e.elapsed_s = 2;
  m::ConfigRecord c;
  // The eval after one completed step sits between step 0 and step 1, as in the file.
  const std::string csv = m::to_csv(read(m::config_line(c, "p") + "\n" + m::step_line(s0) + "\n" + m::eval_line(e) + "\n" +
                                         m::step_line(s1) + "\n"));
  EXPECT_EQ(csv,
            "kind,step,loss,accuracy,lr,loss_scale,skipped,grad_norm,grad_amax,headroom_log2,ms,split,elapsed_s\n"
            "train,0,2.5,0.25,0.001,65536,0,,,,12,,\n"
            "eval,1,0.75,0.5,,,,,,,,test,2\n"
            "train,1,nan,0.25,0.001,65536,1,,3,-1.5,12,,\n");
}

// ---- CLI ----

#define NEED_FASHION() \
  if (!have_fashion()) GTEST_SKIP() << "dataset-fashion-mnist not installed (apt-get install dataset-fashion-mnist)"

std::vector<nlohmann::json> lines_of(const std::string& path) {
  std::vector<nlohmann::json> out;
  std::ifstream f(path);
  for (std::string line; std::getline(f, line);) out.push_back(nlohmann::json::parse(line));
  return out;
}

// Lines of a kind without their wall-clock fields.
std::vector<nlohmann::json> of_type(const std::vector<nlohmann::json>& lines, const std::string& type) {
  std::vector<nlohmann::json> out;
  for (auto j : lines) {
    if (j.value("type", "") != type || !j.contains("step")) continue;
    j.erase("ms");
    j.erase("elapsed_s");
    out.push_back(j);
  }
  return out;
}

TEST(TrainOutputsCli, EvalEveryWritesEvalLinesWithoutChangingTraining) {
  NEED_FASHION();
  TempDir d;
  const std::string common = "train --model mlp --precision bf16 --batch 32 --threads 2 --quiet --seed 5 --eval-batches 2 --steps 7 ";
  auto plain = run_cli(common + "--out " + (d / "plain"));
  ASSERT_EQ(plain.status, 0) << plain.err;
  auto evald = run_cli(common + "--eval-every 3 --out " + (d / "eval"));
  ASSERT_EQ(evald.status, 0) << evald.err;
  const auto a = lines_of(d / "plain/metrics.jsonl"), b = lines_of(d / "eval/metrics.jsonl");
  // The config line opens the file with the schema version.
  EXPECT_EQ(b.at(0)["type"], "config");
  EXPECT_EQ(b.at(0)["schema_version"], m::kSchemaVersion);
  // Evaluations after 3 and 6 steps and the final one after 7; the plain run has only the final.
  const auto evals = of_type(b, "eval");
  ASSERT_EQ(evals.size(), 3u);
  EXPECT_EQ(evals[0]["step"], 3);
  EXPECT_EQ(evals[1]["step"], 6);
  EXPECT_EQ(evals[2]["step"], 7);
  for (const auto& e : evals) {
    EXPECT_EQ(e["split"], "test");
    EXPECT_TRUE(e["loss"].is_number());
    EXPECT_GE(e["accuracy"].get<double>(), 0.0);
  }
  for (const auto& j : b) {
    if (j.value("type", "") == "eval") {
      EXPECT_GE(j["elapsed_s"].get<double>(), 0.0);
    }
  }
  EXPECT_EQ(of_type(a, "eval").size(), 1u);
  // Evaluating in between changes no training step, and the summary's result is the last eval line's.
  EXPECT_EQ(of_type(a, ""), of_type(b, ""));
  const auto sa = nlohmann::json::parse(std::ifstream(d / "plain/summary.json"));
  const auto sb = nlohmann::json::parse(std::ifstream(d / "eval/summary.json"));
  EXPECT_EQ(sb["test_loss"], evals[2]["loss"]);
  EXPECT_EQ(sa["test_loss"], sb["test_loss"]);
  // The GEMM work counts the training steps only, however often the run evaluated.
  EXPECT_EQ(sa["gemm_flops"], sb["gemm_flops"]);
  EXPECT_EQ(sb["schema_version"], m::kSchemaVersion);
  EXPECT_GT(sb["elapsed_s"].get<double>(), 0.0);
  // The checkpoint's run metadata carries the version too.
  const auto ck = io::read_safetensors(d / "eval/checkpoint.safetensors");
  const auto run_info = nlohmann::json::parse(ck.metadata.at("run"));
  EXPECT_EQ(run_info["schema_version"], m::kSchemaVersion);
  EXPECT_EQ(run_info["config"]["loss_scale"], "none");
}

TEST(TrainOutputsCli, EvalLinesOfAResumedRunEqualAnUninterruptedRuns) {
  NEED_FASHION();
  TempDir d;
  const std::string common = "train --model mlp --precision bf16 --batch 32 --threads 2 --quiet --eval-batches 1 --eval-every 3 --steps 8 ";
  ASSERT_EQ(run_cli(common + "--out " + (d / "full")).status, 0);
  ASSERT_EQ(run_cli(common + "--stop-after 6 --out " + (d / "half")).status, 0);
  auto r = run_cli(common + "--resume " + (d / "half") + " --out " + (d / "resumed"));
  ASSERT_EQ(r.status, 0) << r.err;
  const auto a = lines_of(d / "full/metrics.jsonl"), b = lines_of(d / "resumed/metrics.jsonl");
  EXPECT_EQ(of_type(a, ""), of_type(b, ""));
  EXPECT_EQ(of_type(a, "eval"), of_type(b, "eval"));
  EXPECT_EQ(of_type(b, "eval").size(), 3u);  // after 3, 6 and 8 steps
}

TEST(TrainOutputsCli, ExportMetricsWritesCsv) {
  NEED_FASHION();
  TempDir d;
  ASSERT_EQ(run_cli("train --model mlp --steps 4 --batch 32 --threads 2 --quiet --eval-batches 1 --eval-every 2 --out " + (d / "run")).status, 0);
  auto r = run_cli("export-metrics " + (d / "run"));
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.err, "");
  std::istringstream rows(r.out);
  std::string header;
  std::getline(rows, header);
  EXPECT_EQ(header, "kind,step,loss,accuracy,lr,loss_scale,skipped,grad_norm,grad_amax,headroom_log2,ms,split,elapsed_s");
  int train = 0, eval = 0;
  for (std::string row; std::getline(rows, row);) {
    train += row.rfind("train,", 0) == 0;
    eval += row.rfind("eval,", 0) == 0;
    EXPECT_EQ(std::count(row.begin(), row.end(), ','), 12) << row;
  }
  EXPECT_EQ(train, 4);
  EXPECT_EQ(eval, 2);  // after 2 steps and the final one after 4
  // --out FILE holds the same bytes; a metrics file names itself.
  auto f = run_cli("export-metrics " + (d / "run") + " --out " + (d / "m.csv"));
  ASSERT_EQ(f.status, 0) << f.err;
  EXPECT_EQ(f.out, "");
  EXPECT_EQ(slurp(d / "m.csv"), r.out);
  EXPECT_EQ(run_cli("export-metrics " + (d / "run/metrics.jsonl")).out, r.out);
}

TEST(TrainOutputsCli, ExportMetricsBadInputIsOneLine) {
  TempDir d;
  expect_one_line_error(run_cli("export-metrics " + (d / "nowhere")), 2, "nowhere");
  std::filesystem::create_directories(d / "empty");
  expect_one_line_error(run_cli("export-metrics " + (d / "empty")), 2, "has no metrics.jsonl");
  write_text(d / "bad.jsonl", "{\"step\":0,\"loss\":1}\n{\"step\":1,\"lo");
  expect_one_line_error(run_cli("export-metrics " + (d / "bad.jsonl")), 2, "bad.jsonl line 2");
  ASSERT_EQ(::mkfifo((d / "fifo").c_str(), 0600), 0);
  expect_one_line_error(run_cli("export-metrics " + (d / "fifo"), 20), 2, "fifo");
  write_text(d / "ok.jsonl", "{\"step\":0,\"loss\":1}\n");
  expect_one_line_error(run_cli("export-metrics " + (d / "ok.jsonl") + " --out " + (d / "no/such/dir/x.csv")), 2, "x.csv");
  expect_one_line_error(run_cli("export-metrics"), 2, "RUN");
}

}  // namespace
}  // namespace mixtrain::testing
