// The HTML report: self-contained (one inline script, nothing from the network), every chart has
// content, user strings are escaped; curves keep apart by line style and a difference panel,
// evaluations are drawn, ticks are round numbers, accuracy and learning rate get panels, a
// wall-clock axis is offered, the loss-scale panel shows only runs with a scaler, and the memory
// chart marks the same peak the table shows.
#include <gtest/gtest.h>

#include <set>

#include "train/report.h"
#include "train/report_chart.h"

namespace mixtrain::train {
namespace {

std::size_t count(const std::string& s, const std::string& what) {
  std::size_t n = 0;
  for (std::size_t p = s.find(what); p != std::string::npos; p = s.find(what, p + 1)) ++n;
  return n;
}

// The attribute values `attr="..."` of every element of class `cls`.
std::vector<std::string> attrs(const std::string& html, const std::string& cls, const std::string& attr) {
  std::vector<std::string> out;
  for (std::size_t p = html.find("class=\"" + cls + "\""); p != std::string::npos; p = html.find("class=\"" + cls + "\"", p + 1)) {
    const std::size_t end = html.find('>', p);
    const std::size_t a = html.find(" " + attr + "=\"", p);
    if (a == std::string::npos || a > end) {
      out.push_back("");
      continue;
    }
    const std::size_t v = a + attr.size() + 3;
    out.push_back(html.substr(v, html.find('"', v) - v));
  }
  return out;
}

// The section between two markers.
std::string between(const std::string& s, const std::string& from, const std::string& to) {
  const std::size_t a = s.find(from);
  if (a == std::string::npos) return "";
  const std::size_t b = s.find(to, a);
  return s.substr(a, b == std::string::npos ? std::string::npos : b - a);
}

TEST(Report, RendersEveryChartSelfContained) {
  ReportRun a{.name = "fp32"}, b{.name = "fp16<x>"};
  for (int s = 0; s < 50; ++s) {
    a.train_loss.push_back({s, 2.0 / (1 + s)});
    b.train_loss.push_back({s, 2.1 / (1 + s)});
    b.loss_scale.push_back({s, s < 20 ? 65536.0 : 32768.0});
    a.loss_scale.push_back({s, 1.0});
  }
  b.eval_loss = {{50, 0.05}};
  b.skipped_steps = {20};
  b.grad_exponents["fc1"].fill(0);
  b.grad_exponents["fc1"][numerics::kHistMaxExponent - numerics::kHistMinExponent - 140] = 7;
  a.peak_bytes = {{"weights", 4000}, {"activations", 9000}};
  b.peak_bytes = {{"weights", 2000}, {"activations", 4500}};
  a.summary["accuracy"] = "88.1%";
  const std::string html = render_report({a, b}, {.summary_columns = {"accuracy"}});
  EXPECT_EQ(html.rfind("<!DOCTYPE html>", 0), 0u);
  // One script, inline, loading nothing.
  EXPECT_EQ(count(html, "<script"), 1u);
  EXPECT_EQ(count(html, "<script>"), 1u);
  EXPECT_EQ(count(html, "src="), 0u);
  EXPECT_EQ(count(html, "http://") + count(html, "https://"), 0u);
  EXPECT_EQ(count(html, "class=\"chart\""), 3u);       // loss, difference, loss scale (no accuracy, lr or times here)
  EXPECT_EQ(count(html, "class=\"chart hist\""), 1u);
  EXPECT_EQ(count(html, "class=\"chart memory\""), 1u);
  // Loss: 2 train + 1 eval; difference: 1; loss scale: only fp16<x>, which scaled (fp32's scale is 1 throughout).
  EXPECT_EQ(count(html, "class=\"series\""), 5u);
  EXPECT_EQ(count(html, "class=\"marker\""), 1u);     // the skipped step
  EXPECT_EQ(count(html, "class=\"bar\""), 1u + 4u);   // one histogram bin + 4 memory segments
  EXPECT_NE(html.find("fp16&lt;x&gt;"), std::string::npos);
  EXPECT_EQ(html.find("fp16<x>"), std::string::npos);
  EXPECT_NE(html.find("88.1%"), std::string::npos);
  const std::string scale = between(html, "id=\"scale-step\"", "</figure>");
  EXPECT_EQ(count(scale, "data-label=\"fp32\""), 0u) << "fp32 ran no loss scaler";
  EXPECT_EQ(count(scale, "data-label=\"fp16&lt;x&gt;\""), 1u);
}

TEST(Report, OverlappingCurvesStayDistinctAndEvaluationsAreDrawn) {
  std::vector<ReportRun> runs(3);
  const char* names[] = {"fp32", "bf16", "fp16"};
  for (int i = 0; i < 3; ++i) {
    runs[i].name = names[i];
    for (int s = 0; s < 30; ++s) runs[i].train_loss.push_back({s, 1.0 / (1 + s)});  // identical curves
    runs[i].eval_loss = {{10, 0.2}, {20, 0.1}, {30, 0.05}};
  }
  runs[1].train_loss[5].second += 0.01;
  const std::string html = render_report(runs);
  const std::string loss = between(html, "id=\"loss-step\"", "</figure>");
  // Each run has its own dash pattern and width on top of its colour.
  const auto dashes = attrs(loss, "series", "stroke-dasharray");
  const auto widths = attrs(loss, "series", "stroke-width");
  ASSERT_EQ(dashes.size(), 6u);  // train + eval per run
  EXPECT_EQ(std::set<std::string>({dashes[0], dashes[2], dashes[4]}).size(), 3u);
  EXPECT_EQ(std::set<std::string>({widths[0], widths[2], widths[4]}).size(), 3u);
  // Evaluations: a dot per evaluation, labelled as such in the HTML legend.
  EXPECT_EQ(count(loss, "<circle cx="), 9u + 3u);  // 3 runs x 3 evaluations, plus 3 legend dots
  EXPECT_NE(loss.find("bf16 eval</span>"), std::string::npos);
  EXPECT_EQ(html.find("dashed: evaluation"), std::string::npos);
  // The difference panel shows what the overlapping curves hide: bf16's step 5 is 0.01 above fp32.
  const std::string diff = between(html, "id=\"diff-step\"", "</figure>");
  ASSERT_FALSE(diff.empty());
  EXPECT_NE(diff.find("data-pts=\"0,0 1,0 2,0 3,0 4,0 5,0.01 "), std::string::npos) << diff;
  EXPECT_NE(diff.find("fp16 - fp32</span>"), std::string::npos);
}

TEST(Report, AccuracyLearningRateAndWallClockPanels) {
  ReportRun r{.name = "bf16"};
  double t = 0;
  for (int s = 0; s < 20; ++s) {
    r.train_loss.push_back({s, 1.0});
    r.train_accuracy.push_back({s, 0.5 + 0.01 * s});
    r.lr.push_back({s, 1e-3});
    t += 0.25;
    r.seconds.push_back({s, t});
  }
  r.eval_accuracy = {{10, 0.6}, {20, 0.7}};
  r.eval_loss = {{10, 0.9}, {20, 0.8}};
  const std::string html = render_report({r});
  for (const char* id : {"loss-step", "accuracy-step", "lr-step", "loss-time", "accuracy-time", "lr-time"})
    EXPECT_NE(html.find(std::string("id=\"") + id + "\""), std::string::npos) << id;
  EXPECT_EQ(html.find("id=\"scale-step\""), std::string::npos);  // no scaler ran
  EXPECT_EQ(html.find("id=\"diff-step\""), std::string::npos);   // one run: nothing to subtract
  // The switch needs no script: radio buttons and CSS.
  EXPECT_NE(html.find("<input type=\"radio\" name=\"xaxis\" id=\"x-time\">"), std::string::npos);
  EXPECT_NE(html.find("#x-time:checked~.curves .by-time{display:block}"), std::string::npos);
  // On the time axis an evaluation sits where its last step ended: after 10 steps, 2.5 s.
  const std::string acc_time = between(html, "id=\"accuracy-time\"", "</figure>");
  EXPECT_NE(acc_time.find("data-pts=\"2.5,60 5,70 \""), std::string::npos) << acc_time;
  EXPECT_NE(acc_time.find("wall-clock training time (s)"), std::string::npos);
  // Accuracy in percent.
  EXPECT_NE(between(html, "id=\"accuracy-step\"", "</figure>").find(">accuracy (%)<"), std::string::npos);
}

TEST(Report, TicksAreRoundNumbers) {
  using report_chart::nice_ticks;
  using report_chart::tick_label;
  auto t = nice_ticks(0, 49, 6);
  EXPECT_EQ(t.step, 10);
  EXPECT_EQ(t.values, (std::vector<double>{0, 10, 20, 30, 40, 50}));
  t = nice_ticks(0.0412, 2.1, 5);
  EXPECT_DOUBLE_EQ(t.step, 0.5);
  EXPECT_DOUBLE_EQ(t.values.front(), 0);
  EXPECT_DOUBLE_EQ(t.values.back(), 2.5);
  EXPECT_EQ(tick_label(0.1 + 0.2, 0.1), "0.3");
  EXPECT_EQ(tick_label(1500, 500), "1500");
  EXPECT_EQ(tick_label(2.5, 0.5), "2.5");
  EXPECT_EQ(tick_label(1e-17, 0.2), "0");
  EXPECT_EQ(nice_ticks(0, 3, 6, 1).values, (std::vector<double>{0, 1, 2, 3}));  // steps: no 0.5
  t = nice_ticks(7, 7);
  EXPECT_LE(t.values.front(), 7);
  EXPECT_GE(t.values.back(), 7);
  // In a page: every tick label of the loss chart is one of those round values.
  ReportRun r{.name = "x"};
  for (int s = 0; s < 37; ++s) r.train_loss.push_back({s, 2.3 - 0.05 * s});
  const std::string loss = between(render_report({r}), "id=\"loss-step\"", "</svg>");
  std::size_t labels = 0;
  for (std::size_t p = loss.find("class=\"tick\""); p != std::string::npos; p = loss.find("class=\"tick\"", p + 1)) {
    const std::size_t a = loss.find('>', p) + 1;
    const std::string label = loss.substr(a, loss.find('<', a) - a);
    EXPECT_LE(label.size(), 4u) << label;  // "0.5", "1.5", "2.5", "10", "40": no 0.4166...
    ++labels;
  }
  EXPECT_GE(labels, 6u);
}

TEST(Report, MemoryChartMarksThePeakTheTableShows) {
  ReportRun r{.name = "bf16"};
  r.peak_bytes = {{"weights", 1 << 20}, {"activations", 3 << 20}};
  r.peak_total = 3 << 20;  // the categories peaked at different times
  r.summary["peak memory"] = "3.0 MiB";
  const std::string html = render_report({r}, {.summary_columns = {"peak memory"}});
  const std::string mem = between(html, "class=\"chart memory\"", "</svg>");
  EXPECT_EQ(count(mem, "class=\"peak\""), 1u);
  EXPECT_NE(mem.find("3.0 MiB peak (stack 4.0 MiB)"), std::string::npos) << mem;
  EXPECT_NE(html.find("the \"peak memory\" of the table above"), std::string::npos);
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
