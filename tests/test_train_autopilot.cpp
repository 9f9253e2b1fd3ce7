// --precision auto end to end (needs dataset-fashion-mnist; skipped with a message otherwise):
// decisions are events in metrics.jsonl, the final map and fp8_gemm_flop_fraction are in
// summary.json, the map is reusable as --precision-map, pinned layers are left alone, and a
// resumed auto run equals the uninterrupted one bit for bit.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "cli_test_util.h"

namespace mixtrain::testing {
namespace {

#define NEED_FASHION() \
  if (!have_fashion()) GTEST_SKIP() << "dataset-fashion-mnist not installed (apt-get install dataset-fashion-mnist)"

struct Lines {
  std::vector<nlohmann::json> steps, events;
};

Lines read_metrics(const std::string& dir) {
  Lines l;
  std::ifstream f(dir + "/metrics.jsonl");
  for (std::string line; std::getline(f, line);) {
    auto j = nlohmann::json::parse(line);
    if (j.value("type", "") == "precision") l.events.push_back(j);
    else if (!j.contains("type")) {
      j.erase("ms");
      l.steps.push_back(j);
    }
  }
  return l;
}

nlohmann::json summary(const std::string& dir) { return nlohmann::json::parse(std::ifstream(dir + "/summary.json")); }

const std::string kCommon = "train --model mlp --batch 64 --threads 2 --quiet --seed 1 ";

TEST(AutopilotCli, HealthyLayersStayInFp8) {
  NEED_FASHION();
  TempDir d;
  // fp8 hybrid with generous thresholds: nothing crosses them, every GEMM runs in fp8.
  auto r = run_cli(kCommon + "--precision auto --steps 6 --auto-every 2 --auto-underflow 0.9 --auto-underflow-forward 0.9 --auto-overflow 0.9 --out " + d.path());
  ASSERT_EQ(r.status, 0) << r.err;
  const auto s = summary(d.path());
  EXPECT_EQ(s["precision_map"], "fc1=e5m2,fc2=e5m2,fc3=e5m2");
  EXPECT_EQ(s["precision_events"], 0);
  EXPECT_DOUBLE_EQ(s["fp8_gemm_flop_fraction"].get<double>(), 1.0);
  const auto m = read_metrics(d.path());
  ASSERT_EQ(m.steps.size(), 6u);
  // Probes every 2 steps and at the powers of two before: steps 0, 1, 2, 4. Each layer's three
  // operands are measured on its rung.
  for (std::size_t i = 0; i < m.steps.size(); ++i) {
    const bool probed = i == 0 || i == 1 || i == 2 || i == 4;
    EXPECT_EQ(m.steps[i].contains("autopilot_probe"), probed) << i;
    if (!probed) continue;
    const auto& p = m.steps[i]["autopilot_probe"];
    for (const char* layer : {"fc1", "fc2", "fc3"}) {
      ASSERT_TRUE(p.contains(layer)) << layer;
      EXPECT_EQ(p[layer]["dtype"], "e5m2");
      for (const char* op : {"input", "weight", "grad"}) EXPECT_TRUE(p[layer]["now"].contains(op)) << layer << op;
    }
  }
}

TEST(AutopilotCli, PromotionsAreEventsAndTheMapIsReusable) {
  NEED_FASHION();
  TempDir d;
  // A zero underflow threshold: the first probe (delayed scaling starts at scale 1, so some
  // values always land below E4M3's normal range) promotes every layer, and with a zero
  // threshold the margin test can never pass, so nothing comes back down.
  auto r = run_cli(kCommon + "--precision auto --fp8-format e4m3 --steps 4 --auto-every 1 --auto-patience 1 "
                             "--auto-underflow 0 --auto-underflow-forward 0 --precision-map fc3=fp32 --out " + d.path());
  ASSERT_EQ(r.status, 0) << r.err;
  const auto m = read_metrics(d.path());
  ASSERT_FALSE(m.events.empty());
  for (const auto& e : m.events) {
    EXPECT_EQ(e["step"], 0);
    EXPECT_NE(e["layer"], "fc3");  // pinned by the user's map
    EXPECT_EQ(e["from"], "e4m3");
    EXPECT_NE(e["reason"].get<std::string>().find("underflow"), std::string::npos) << e.dump();
  }
  const auto s = summary(d.path());
  const std::string map = s["precision_map"];
  EXPECT_NE(map.find("fc3=fp32"), std::string::npos) << map;
  EXPECT_EQ(map.find("e4m3"), std::string::npos) << map;  // everything left E4M3 at step 0
  EXPECT_EQ(s["precision_events"].get<std::size_t>(), m.events.size());
  EXPECT_LT(s["fp8_gemm_flop_fraction"].get<double>(), 1.0);
  // eval applies the map the run ended with.
  auto ev = run_cli("eval --checkpoint " + d.path());
  ASSERT_EQ(ev.status, 0) << ev.err;
  EXPECT_DOUBLE_EQ(nlohmann::json::parse(ev.out)["test_accuracy"].get<double>(), s["test_accuracy"].get<double>());
  // The final map runs as a plain --precision-map.
  auto again = run_cli(kCommon + "--precision fp8 --fp8-format e4m3 --steps 2 --precision-map '" + map + "' --out " + (d / "again"));
  ASSERT_EQ(again.status, 0) << again.err;
  EXPECT_EQ(summary(d / "again")["precision_map"], map);
}

TEST(AutopilotCli, ResumeIsBitExact) {
  NEED_FASHION();
  TempDir d;
  const std::string args = kCommon + "--precision auto --fp8-format e4m3 --steps 8 --auto-every 1 --auto-patience 1 "
                                     "--auto-window 2 --auto-underflow 0.002 ";
  ASSERT_EQ(run_cli(args + "--out " + (d / "full")).status, 0);
  ASSERT_EQ(run_cli(args + "--stop-after 4 --out " + (d / "half")).status, 0);
  auto r = run_cli(args + "--resume " + (d / "half") + " --out " + (d / "resumed"));
  ASSERT_EQ(r.status, 0) << r.err;
  const auto a = read_metrics(d / "full"), b = read_metrics(d / "resumed");
  ASSERT_EQ(a.steps.size(), 8u);
  ASSERT_EQ(b.steps.size(), 8u);
  for (std::size_t i = 0; i < a.steps.size(); ++i) EXPECT_EQ(a.steps[i], b.steps[i]) << "step " << i;
  EXPECT_EQ(summary(d / "full")["precision_map"], summary(d / "resumed")["precision_map"]);
}

TEST(AutopilotCli, BadFlagsAreOneLine) {
  for (const char* bad : {"--auto-every 0", "--auto-underflow 1.5", "--auto-patience 0", "--opt-level O1"}) {
    auto r = run_cli(kCommon + "--precision auto --steps 1 --out /tmp/never " + bad);
    EXPECT_EQ(r.status, 2) << bad;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << bad << ": " << r.err;
  }
}

}  // namespace
}  // namespace mixtrain::testing
