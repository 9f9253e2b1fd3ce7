// The HTML report: self-contained (no scripts, no network references), every chart has content,
// and user strings are escaped.
#include <gtest/gtest.h>

#include "train/report.h"

namespace mixtrain::train {
namespace {

std::size_t count(const std::string& s, const std::string& what) {
  std::size_t n = 0;
  for (std::size_t p = s.find(what); p != std::string::npos; p = s.find(what, p + 1)) ++n;
  return n;
}

TEST(Report, RendersEveryChartSelfContained) {
  ReportRun a{.name = "fp32"}, b{.name = "fp16<x>"};
  for (int s = 0; s < 50; ++s) {
    a.train_loss.push_back({s, 2.0 / (1 + s)});
    b.train_loss.push_back({s, 2.1 / (1 + s)});
    b.loss_scale.push_back({s, s < 20 ? 65536.0 : 32768.0});
  }
  b.eval_loss = {{49, 0.05}};
  b.skipped_steps = {20};
  b.grad_exponents["fc1"].fill(0);
  b.grad_exponents["fc1"][numerics::kHistMaxExponent - numerics::kHistMinExponent - 140] = 7;
  a.peak_bytes = {{"weights", 4000}, {"activations", 9000}};
  b.peak_bytes = {{"weights", 2000}, {"activations", 4500}};
  a.summary["accuracy"] = "88.1%";
  const std::string html = render_report({a, b}, {.summary_columns = {"accuracy"}});
  EXPECT_EQ(html.rfind("<!DOCTYPE html>", 0), 0u);
  EXPECT_EQ(count(html, "<script"), 0u);
  EXPECT_EQ(count(html, "http://") + count(html, "https://"), 0u);
  EXPECT_EQ(count(html, "<svg"), 4u);               // loss, scale, one histogram, memory
  EXPECT_EQ(count(html, "class=\"series\""), 4u);   // 2 train + 1 eval + 1 scale
  EXPECT_EQ(count(html, "class=\"marker\""), 1u);   // the skipped step
  EXPECT_EQ(count(html, "class=\"bar\""), 1u + 4u); // one histogram bin + 4 memory segments
  EXPECT_NE(html.find("fp16&lt;x&gt;"), std::string::npos);
  EXPECT_EQ(html.find("fp16<x>"), std::string::npos);
  EXPECT_NE(html.find("88.1%"), std::string::npos);
}

// The numerics table (last sample) and the autopilot's timeline: one segment per stretch of a
// layer at one dtype, changes applying from the step after the decision.
TEST(Report, NumericsTableAndPrecisionTimeline) {
  ReportRun r{.name = "auto"};
  r.steps = 100;
  r.sampled_step = 99;
  r.numerics = {{"weight", "fc1.weight", "bf16", 0.5, 0, 0, 0}, {"weight grad", "fc1<w>", "fp16", 1e-3, 0, 0.25, 0.125}};
  r.initial_precision = {{"fc1", "e4m3"}, {"fc2", "e4m3"}};
  r.precision_events = {{9, "fc1", "e4m3", "e5m2"}, {49, "fc1", "e5m2", "bf16"}};
  const std::string html = render_report({r});
  EXPECT_NE(html.find("2 tensors sampled at step 99"), std::string::npos);
  EXPECT_NE(html.find("<td>25%</td><td>12.5%</td>"), std::string::npos);  // subnormal, flush
  EXPECT_NE(html.find("fc1&lt;w&gt;"), std::string::npos);
  EXPECT_NE(html.find("Precision autopilot"), std::string::npos);
  EXPECT_NE(html.find("(2 changes)"), std::string::npos);
  EXPECT_EQ(count(html, "class=\"chart timeline\""), 1u);
  // fc1: e4m3 [0,10), e5m2 [10,50), bf16 [50,100); fc2: e4m3 throughout.
  EXPECT_NE(html.find("fc1: e4m3 from step 0"), std::string::npos);
  EXPECT_NE(html.find("fc1: e5m2 from step 10"), std::string::npos);
  EXPECT_NE(html.find("fc1: bf16 from step 50"), std::string::npos);
  EXPECT_NE(html.find("fc2: e4m3 from step 0"), std::string::npos);
  EXPECT_EQ(count(html, " from step "), 4u);
  // Runs without the autopilot get no such section.
  EXPECT_EQ(render_report({ReportRun{.name = "bf16"}}).find("Precision autopilot"), std::string::npos);
}

TEST(Report, EmptyRunsStillRender) {
  const std::string html = render_report({ReportRun{.name = "empty"}});
  EXPECT_NE(html.find("no data"), std::string::npos);
  EXPECT_NE(html.find("</html>"), std::string::npos);
}

}  // namespace
}  // namespace mixtrain::train
