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

TEST(Report, EmptyRunsStillRender) {
  const std::string html = render_report({ReportRun{.name = "empty"}});
  EXPECT_NE(html.find("no data"), std::string::npos);
  EXPECT_NE(html.find("</html>"), std::string::npos);
}

}  // namespace
}  // namespace mixtrain::train
