// The training CLI end to end (needs Debian's dataset-fashion-mnist and fortunes; skipped with a
// message otherwise): train writes its three files, resume equals an uninterrupted run bit for
// bit, eval and inspect read the checkpoint, compare writes the report, PyTorch can load the
// checkpoint, and bad input ends in one line and a non-zero exit without losing a checkpoint.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <sstream>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "cli_test_util.h"

namespace mixtrain::testing {
namespace {

using Result = CliResult;
Result run(const std::string& args) { return run_cli(args); }

#define NEED_FASHION() \
  if (!have_fashion()) GTEST_SKIP() << "dataset-fashion-mnist not installed (apt-get install dataset-fashion-mnist)"

// Metric lines with a step (step, eval and precision lines) without the wall-clock fields.
std::vector<nlohmann::json> metrics(const std::string& dir) {
  std::vector<nlohmann::json> out;
  std::ifstream f(dir + "/metrics.jsonl");
  for (std::string line; std::getline(f, line);) {
    auto j = nlohmann::json::parse(line);
    if (!j.contains("step")) continue;
    j.erase("ms");
    j.erase("elapsed_s");
    out.push_back(j);
  }
  return out;
}

TEST(TrainCli, TrainWritesFilesAndResumeIsBitExact) {
  NEED_FASHION();
  TempDir d;
  const std::string common = "train --model mlp --precision bf16 --batch 64 --threads 2 --quiet --seed 3 ";
  auto full = run(common + "--steps 12 --out " + (d / "full"));
  ASSERT_EQ(full.status, 0) << full.err;
  for (const char* f : {"metrics.jsonl", "summary.json", "checkpoint.safetensors"}) EXPECT_TRUE(exists(d / "full/" + f)) << f;
  const auto summary = nlohmann::json::parse(std::ifstream(d / "full/summary.json"));
  for (const char* k : {"model", "precision", "opt_level", "steps", "final_train_loss", "test_loss", "test_accuracy",
                        "skipped_steps", "final_loss_scale", "ms_per_step", "samples_per_s", "peak_bytes", "peak_rss_bytes"})
    EXPECT_TRUE(summary.contains(k)) << k;
  EXPECT_TRUE(summary["peak_bytes"].contains("master_weights"));
  EXPECT_GT(summary["peak_bytes"]["master_weights"].get<double>(), 0);
  // The CPU tier the kernels ran at and the GEMM work by kernel (all of it in one kernel here:
  // bf16 layers run bf16 x bf16 GEMMs).
  EXPECT_FALSE(summary["isa_tier"].get<std::string>().empty());
  double kernel_flops = 0;
  for (const auto& [kernel, f] : summary["gemm_flops_by_kernel"].items()) kernel_flops += f.get<double>();
  const auto& gf = summary["gemm_flops"];
  EXPECT_DOUBLE_EQ(kernel_flops, gf["fp8"].get<double>() + gf["half"].get<double>() + gf["full"].get<double>());
  ASSERT_EQ(run(common + "--steps 12 --stop-after 6 --out " + (d / "half")).status, 0);
  auto resumed = run(common + "--steps 12 --resume " + (d / "half") + " --out " + (d / "resumed"));
  ASSERT_EQ(resumed.status, 0) << resumed.err;
  const auto a = metrics(d / "full"), b = metrics(d / "resumed");
  ASSERT_EQ(a.size(), 13u);  // 12 steps and the final evaluation
  ASSERT_EQ(b.size(), 13u);
  for (std::size_t i = 0; i < a.size(); ++i) EXPECT_EQ(a[i], b[i]) << "step " << i;
  EXPECT_EQ(read_bytes(d / "full/checkpoint.safetensors"), read_bytes(d / "resumed/checkpoint.safetensors"));

  auto ev = run("eval --checkpoint " + (d / "full"));
  ASSERT_EQ(ev.status, 0) << ev.err;
  const auto e = nlohmann::json::parse(ev.out);
  EXPECT_DOUBLE_EQ(e["test_accuracy"].get<double>(), summary["test_accuracy"].get<double>());
  auto ins = run("inspect " + (d / "full/checkpoint.safetensors"));
  ASSERT_EQ(ins.status, 0) << ins.err;
  EXPECT_NE(ins.out.find("model.fc1.weight"), std::string::npos);
  EXPECT_NE(ins.out.find("BF16"), std::string::npos);
  EXPECT_NE(ins.out.find("master.fc1.weight"), std::string::npos);
}

// bench --profile: the op table accounts for the step (forward and backward of every op, the
// engine and the optimizer add up to about the median step), on stdout's JSON line and stderr.
TEST(TrainCli, BenchProfileAccountsForTheStep) {
  NEED_FASHION();
  auto r = run("bench --model mlp --precision bf16 --batch 64 --steps 8 --profile");
  ASSERT_EQ(r.status, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  ASSERT_TRUE(j.contains("profile")) << r.out;
  double sum = 0, linear_fwd = 0, linear_bwd = 0;
  bool optimizer = false;
  for (const auto& row : j["profile"]) {
    sum += row["forward_ms"].get<double>() + row["backward_ms"].get<double>() + row["other_ms"].get<double>();
    if (row["op"] == "linear") {
      linear_fwd = row["forward_ms"].get<double>();
      linear_bwd = row["backward_ms"].get<double>();
      EXPECT_EQ(row["forward_calls"].get<double>(), 3.0);  // three Linear layers per step
      EXPECT_EQ(row["backward_calls"].get<double>(), 3.0);
    }
    if (row["op"] == "(optimizer and loss scaling)") optimizer = row["other_ms"].get<double>() > 0;
  }
  EXPECT_GT(linear_fwd, 0.0);
  EXPECT_GT(linear_bwd, 0.0);
  EXPECT_TRUE(optimizer);
  // Per-step averages over the profiled steps against the median step: same order of size.
  const double median = j["median_ms"].get<double>();
  EXPECT_GT(sum, 0.5 * median) << r.err;
  EXPECT_LT(sum, 2.0 * median) << r.err;
  EXPECT_NE(r.err.find("linear"), std::string::npos) << r.err;
}

TEST(TrainCli, GptOnFortunes) {
  if (!have_fortunes()) GTEST_SKIP() << "fortunes not installed (apt-get install fortunes)";
  TempDir d;
  auto r = run("train --model gpt --precision bf16 --steps 3 --batch 2 --context 32 --quiet --out " + d.path());
  ASSERT_EQ(r.status, 0) << r.err;
  const auto s = nlohmann::json::parse(std::ifstream(d / "summary.json"));
  EXPECT_TRUE(s.contains("val_loss"));
  EXPECT_TRUE(std::isfinite(s["val_loss"].get<double>()));
  EXPECT_LT(s["val_loss"].get<double>(), 8.0);
}

TEST(TrainCli, PyTorchLoadsTheCheckpoint) {
  NEED_FASHION();
  if (std::system("/usr/bin/python3 -c 'import torch' > /dev/null 2>&1") != 0)
    GTEST_SKIP() << "python3-torch not installed (apt-get install python3-torch)";
  TempDir d;
  ASSERT_EQ(run("train --model mlp --precision bf16 --steps 2 --batch 32 --quiet --out " + d.path()).status, 0);
  // A minimal reader of the format: 8-byte little-endian header length, JSON header, raw data.
  const std::string py = R"PY(
import json, struct, sys, torch
raw = open(sys.argv[1], 'rb').read()
n = struct.unpack('<Q', raw[:8])[0]
header = json.loads(raw[8:8 + n])
dt = {'F32': torch.float32, 'BF16': torch.bfloat16, 'F16': torch.float16, 'F64': torch.float64}
out = {}
for name, e in header.items():
    if name == '__metadata__': continue
    b, end = e['data_offsets']
    buf = bytearray(raw[8 + n + b: 8 + n + end])
    out[name] = torch.frombuffer(buf, dtype=dt[e['dtype']]).reshape(e['shape'])
w, m = out['model.fc1.weight'], out['master.fc1.weight']
assert w.dtype == torch.bfloat16 and m.dtype == torch.float32, (w.dtype, m.dtype)
assert tuple(w.shape) == (1024, 784)
assert torch.equal(m.to(torch.bfloat16), w), 'bf16 copy is the rounded master'
print('ok', len(out))
)PY";
  write_text(d / "read.py", py);
  const std::string cmd = "/usr/bin/python3 " + (d / "read.py") + " " + (d / "checkpoint.safetensors") + " > " +
                          (d / "py.out") + " 2>&1";
  const int rc = std::system(cmd.c_str());
  std::ifstream log(d / "py.out");
  const std::string text((std::istreambuf_iterator<char>(log)), std::istreambuf_iterator<char>());
  EXPECT_EQ(rc, 0) << text;
  EXPECT_EQ(text.rfind("ok ", 0), 0u) << text;
}

TEST(TrainCli, CompareWritesTableAndReport) {
  NEED_FASHION();
  TempDir d;
  auto r = run("compare --model mlp --precisions fp32,fp16,bf16,fp8,fp16-noscale --steps 4 --batch 32 --eval-every 2 --eval-batches 2 --out " +
               d.path());
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("fp16-noscale"), std::string::npos);
  EXPECT_NE(r.out.find("report: "), std::string::npos);
  std::ifstream html(d / "report.html");
  const std::string page((std::istreambuf_iterator<char>(html)), std::istreambuf_iterator<char>());
  EXPECT_NE(page.find("<svg"), std::string::npos);
  EXPECT_EQ(page.find("<script src"), std::string::npos);
  EXPECT_EQ(page.find("http://"), std::string::npos);  // nothing from the network
  EXPECT_EQ(page.find("https://"), std::string::npos);
  const auto s = nlohmann::json::parse(std::ifstream(d / "summary.json"));
  EXPECT_EQ(s["runs"].size(), 5u);
  EXPECT_EQ(s["schema_version"], 1);

  // The page in headless Chromium: no console messages at all (any message is an error: a failed
  // load, an exception in the hover script), charts with drawn content in the live DOM, the
  // script's readout element present (it ran), and a screenshot kept with the test artifacts
  // ($MIXTRAIN_TEST_ARTIFACTS, else artifacts/ in the test's working directory) for a person.
  if (std::system("command -v chromium > /dev/null 2>&1") != 0) {
    std::printf("[ SKIPPED browser check ] chromium not installed (apt-get install chromium)\n");
    return;
  }
  const std::string cmd = "timeout 120 chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run "
                          "--disable-background-networking --disable-component-update --disable-sync --user-data-dir=" +
                          (d / "chrome-profile") + " --enable-logging=stderr --v=0 --dump-dom file://" + (d / "report.html") +
                          " > " + (d / "dom.html") + " 2> " + (d / "chrome.log");
  ASSERT_EQ(std::system(cmd.c_str()), 0);
  std::ifstream dom_f(d / "dom.html"), log_f(d / "chrome.log");
  const std::string dom((std::istreambuf_iterator<char>(dom_f)), std::istreambuf_iterator<char>());
  const std::string log((std::istreambuf_iterator<char>(log_f)), std::istreambuf_iterator<char>());
  EXPECT_EQ(log.find(":CONSOLE"), std::string::npos) << log;
  std::size_t series = 0, bars = 0;
  for (std::size_t p = dom.find("class=\"series\" d=\"M"); p != std::string::npos; p = dom.find("class=\"series\" d=\"M", p + 1)) ++series;
  for (std::size_t p = dom.find("class=\"bar\""); p != std::string::npos; p = dom.find("class=\"bar\"", p + 1)) ++bars;
  // Step and wall-clock views, each with 5 train + 5 eval losses, 4 differences to fp32, 5 train
  // + 5 eval accuracies, 5 learning rates and the loss scale of the one run with a scaler (fp16).
  EXPECT_GE(series, 2u * (10 + 4 + 10 + 5 + 1));
  EXPECT_GE(bars, 20u);    // histogram bins and memory segments
  EXPECT_NE(dom.find("class=\"readout\""), std::string::npos) << "the hover script did not run";
  const char* artifacts_env = std::getenv("MIXTRAIN_TEST_ARTIFACTS");
  const std::string artifacts = artifacts_env && *artifacts_env ? artifacts_env : std::filesystem::absolute("artifacts").string();
  std::filesystem::create_directories(artifacts);
  const std::string png = artifacts + "/compare-report.png";
  std::filesystem::remove(png);
  const std::string shot = "timeout 120 chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run "
                           "--disable-background-networking --disable-component-update --disable-sync --hide-scrollbars "
                           "--window-size=1280,4000 --user-data-dir=" + (d / "chrome-profile") + " --screenshot=" + png +
                           " file://" + (d / "report.html") + " > " + (d / "shot.log") + " 2>&1";
  ASSERT_EQ(std::system(shot.c_str()), 0) << slurp(d / "shot.log");
  ASSERT_TRUE(std::filesystem::exists(png));
  EXPECT_GT(std::filesystem::file_size(png), 20000u);  // a drawn page, not a blank one
  std::filesystem::copy_file(d / "report.html", artifacts + "/compare-report.html", std::filesystem::copy_options::overwrite_existing);
  std::printf("[ artifact ] %s\n", png.c_str());
}

TEST(TrainCli, BadInputIsOneLineAndKeepsCheckpoints) {
  TempDir d;
  // Exit 2: bad input; 1: a run that failed on good input (divergence).
  auto expect_error = [](const Result& r, const std::string& needle, int status = 2) { expect_one_line_error(r, status, needle); };
  expect_error(run("train --model vgg --out " + (d / "x")), "unknown model 'vgg'");
  expect_error(run("train --model mlp --precision fp12 --out " + (d / "x")), "unknown precision");
  expect_error(run("train --model mlp --epochs 1 --steps 3 --out " + (d / "x")), "mutually exclusive");
  expect_error(run("train --model mlp --precision fp16-noscale --loss-scale dynamic --out " + (d / "x")), "contradicts");
  expect_error(run("train --model mlp --data-dir " + (d / "nowhere") + " --out " + (d / "x")), "apt-get install dataset-fashion-mnist");
  expect_error(run("train --model mlp --lr abc --out " + (d / "x")), "--lr");
  if (!have_fashion()) GTEST_SKIP() << "dataset-fashion-mnist not installed";
  ASSERT_EQ(run("train --model mlp --steps 2 --batch 32 --quiet --out " + (d / "run")).status, 0);
  const auto before = read_bytes(d / "run/checkpoint.safetensors");
  expect_error(run("train --model mlp --steps 40 --batch 32 --lr 1e4 --optimizer sgd --quiet --out " + (d / "run")), "diverged", 1);
  EXPECT_EQ(read_bytes(d / "run/checkpoint.safetensors"), before);
  // A truncated checkpoint is reported, not crashed on.
  std::filesystem::copy_file(d / "run/checkpoint.safetensors", d / "cut.safetensors");
  std::filesystem::resize_file(d / "cut.safetensors", before.size() / 2);
  std::filesystem::create_directories(d / "cutdir");
  std::filesystem::copy_file(d / "cut.safetensors", d / "cutdir/checkpoint.safetensors");
  expect_error(run("train --model mlp --steps 4 --batch 32 --quiet --resume " + (d / "cutdir") + " --out " + (d / "r2")), "cutdir");
  expect_error(run("inspect " + (d / "cut.safetensors")), "cut.safetensors");
}

}  // namespace
}  // namespace mixtrain::testing
