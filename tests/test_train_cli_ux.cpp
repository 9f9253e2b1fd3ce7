// The training CLI as a person meets it: the progress line fits the terminal and shows epoch and
// elapsed time (a bar only on a terminal), `train --help` groups its options, subcommands list only
// the options that apply to them, `train` ends with one human line (the JSON with --json), and
// --quiet prints nothing at all on success.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "cli_test_util.h"
#include "train/progress.h"

namespace mixtrain::testing {
namespace {

using train::Progress;
using train::ProgressFields;

const ProgressFields kFields{.loss = 0.41234, .accuracy = 0.8512, .loss_scale = 65536, .skipped = 3};

TEST(TrainProgress, TerminalLineFitsTheWidthAndKeepsTheEssentials) {
  for (int width : {200, 100, 80, 60, 40, 20}) {
    Progress p("bf16 O2 mlp", 2350, 256, 235, 0, stderr, 1, width);
    const std::string s = p.render(470, kFields, 65.0);
    EXPECT_LT(s.size(), static_cast<std::size_t>(width)) << width << ": " << s;
    if (width >= 40) {
      EXPECT_NE(s.find("step 470/2350"), std::string::npos) << s;
      EXPECT_NE(s.find("loss 0.4123"), std::string::npos) << s;
    }
    if (width >= 100) {
      EXPECT_NE(s.find("epoch 2/10"), std::string::npos) << s;
      EXPECT_NE(s.find("elapsed 1m05s"), std::string::npos) << s;
      EXPECT_NE(s.find("ETA 4m20s"), std::string::npos) << s;
      EXPECT_EQ(s.rfind("[", 0), 0u) << s;  // the bar, 20% full
    }
  }
  // Everything at full width, with a bar of at most 30 columns.
  Progress p("bf16 O2 mlp", 2350, 256, 235, 0, stderr, 1, 200);
  const std::string s = p.render(470, kFields, 65.0);
  std::string bar(1, '[');  // built by appending: `"[" + std::string(...)` trips GCC 12's -Wrestrict
  bar.append(6, '#').append(24, '.').append("] ");
  EXPECT_EQ(s.substr(0, 33), bar);
  for (const char* field : {"acc 85.12%", "scale 65536", "skipped 3", "samples/s"}) EXPECT_NE(s.find(field), std::string::npos) << s;
}

TEST(TrainProgress, LogLinesHaveNoBarAndAllFields) {
  Progress p("fp32 mlp", 100, 32, 0, 40, stderr, 0, 20);
  const std::string s = p.render(50, {.loss = 1.5}, 10.0);
  EXPECT_EQ(s, "fp32 mlp step 50/100 loss 1.5000 | 32 samples/s elapsed 10s ETA 50s");  // a resume's 10 steps
}

TEST(TrainProgress, WidthFromColumnsWhenNotATerminal) {
  std::FILE* f = std::tmpfile();
  ASSERT_NE(f, nullptr);
  ::setenv("COLUMNS", "57", 1);
  EXPECT_EQ(Progress::terminal_width(f), 57);
  ::unsetenv("COLUMNS");
  EXPECT_EQ(Progress::terminal_width(f), 80);
  // Redrawn in place on a "terminal", each rendering shorter than the width.
  Progress p("bf16 O2 mlp", 10, 8, 5, 0, f, 1, 50);
  for (int i = 1; i <= 10; ++i) p.update(i, kFields);
  p.finish();
  std::rewind(f);
  std::string all;
  for (int c; (c = std::fgetc(f)) != EOF;) all.push_back(static_cast<char>(c));
  std::fclose(f);
  ASSERT_NE(all.find('\r'), std::string::npos);
  for (std::size_t at = all.find('\r'); at != std::string::npos; at = all.find('\r', at + 1)) {
    const std::size_t end = all.find("\x1b[K", at);
    ASSERT_NE(end, std::string::npos);
    EXPECT_LT(end - at - 1, 50u) << all.substr(at + 1, end - at - 1);
  }
}

TEST(TrainCliUx, HelpGroupsOptionsAndSubcommandsListOnlyTheirs) {
  const auto train = run_cli("train --help");
  ASSERT_EQ(train.status, 0) << train.err;
  std::size_t last = 0;
  for (const char* group : {"Model and data:", "Precision:", "Length, batch and optimizer:", "Loss scaling:", "fp8:",
                            "Precision autopilot (--precision auto):", "Statistics and evaluation:", "Output and checkpoints:",
                            "Machine:"}) {
    const std::size_t at = train.out.find(group);
    EXPECT_NE(at, std::string::npos) << group << "\n" << train.out;
    if (at != std::string::npos) {
      EXPECT_GT(at, last) << group;
      last = at;
    }
  }
  for (const char* flag : {"--stop-after", "--quiet", "--auto-every", "--eval-every", "--json", "--resume"})
    EXPECT_NE(train.out.find(flag), std::string::npos) << flag;
  const auto bench = run_cli("bench --help");
  ASSERT_EQ(bench.status, 0) << bench.err;
  for (const char* flag : {"--stop-after", "--quiet", "--auto-every", "--eval-every", "--eval-batches"})
    EXPECT_EQ(bench.out.find(flag), std::string::npos) << flag << " in bench --help";
  EXPECT_NE(bench.out.find("--profile"), std::string::npos);
  const auto compare = run_cli("compare --help");
  ASSERT_EQ(compare.status, 0) << compare.err;
  EXPECT_EQ(compare.out.find("--stop-after"), std::string::npos);
  EXPECT_EQ(compare.out.find("--precision TEXT"), std::string::npos);  // it takes --precisions
  EXPECT_NE(compare.out.find("--precisions"), std::string::npos);
  EXPECT_NE(compare.out.find("--eval-every"), std::string::npos);
  // An option a subcommand does not take is refused, naming it.
  expect_one_line_error(run_cli("bench --model mlp --stop-after 3"), 2, "--stop-after");
  expect_one_line_error(run_cli("compare --model mlp --stop-after 3 --out x"), 2, "--stop-after");
  expect_one_line_error(run_cli("train --model mlp --eval-every 0 --out x"), 2, "--eval-every");
}

TEST(TrainCliUx, TrainEndsWithOneLineJsonOnRequestAndQuietIsSilent) {
  if (!have_fashion()) GTEST_SKIP() << "dataset-fashion-mnist not installed (apt-get install dataset-fashion-mnist)";
  TempDir d;
  const std::string common = "train --model mlp --precision bf16 --steps 3 --batch 32 --threads 2 --eval-batches 1 ";
  auto human = run_cli(common + "--out " + (d / "a"));
  ASSERT_EQ(human.status, 0) << human.err;
  EXPECT_EQ(std::count(human.out.begin(), human.out.end(), '\n'), 1) << human.out;
  for (const char* part : {"bf16 O2 mlp: 3 steps in ", "train loss ", "test loss ", "accuracy ", "ms/step", "peak memory ",
                           "/a/summary.json"})
    EXPECT_NE(human.out.find(part), std::string::npos) << part << " in: " << human.out;
  // Progress went to stderr as log lines (not a terminal): no bar, no carriage returns.
  EXPECT_NE(human.err.find("step 3/3"), std::string::npos) << human.err;
  EXPECT_NE(human.err.find("elapsed"), std::string::npos) << human.err;
  EXPECT_EQ(human.err.find('\r'), std::string::npos);
  auto json = run_cli(common + "--json --quiet --out " + (d / "b"));
  ASSERT_EQ(json.status, 0) << json.err;
  EXPECT_EQ(json.err, "");
  const auto j = nlohmann::json::parse(json.out);
  EXPECT_EQ(j, nlohmann::json::parse(std::ifstream(d / "b/summary.json")));
  auto quiet = run_cli(common + "--quiet --eval-every 1 --out " + (d / "c"));
  ASSERT_EQ(quiet.status, 0) << quiet.err;
  EXPECT_EQ(quiet.out, "");
  EXPECT_EQ(quiet.err, "");
  auto cq = run_cli("compare --model mlp --precisions fp32,bf16 --steps 2 --batch 32 --threads 2 --eval-batches 1 --quiet --out " + (d / "cmp"));
  ASSERT_EQ(cq.status, 0) << cq.err;
  EXPECT_EQ(cq.out, "");
  EXPECT_EQ(cq.err, "");
  EXPECT_TRUE(exists(d / "cmp/report.html"));
}

}  // namespace
}  // namespace mixtrain::testing
