// The precision autopilot's rule (amp/autopilot.h) at its exact thresholds, the Linear probe on
// constructed tensors with exact counts, and the GEMM flop accounting it reports.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "amp/autocast.h"
#include "amp/autopilot.h"
#include "backend/cpu/gemm.h"
#include "nn/linear.h"
#include "ops/ops.h"
#include "runtime/error.h"

namespace mixtrain::testing {
namespace {

using amp::Autopilot;
using amp::AutopilotOptions;
using amp::LayerProbe;
using amp::OperandFit;
using amp::Rung;

OperandFit fit(double overflow, double underflow) { return {overflow, underflow, true}; }

// A probe whose operands all fit except the input (on the current rung) and whose rung-below
// measurement is `below` for every operand.
LayerProbe probe(OperandFit input_now, OperandFit below = {}) {
  LayerProbe p;
  p.now = {input_now, fit(0, 0), fit(0, 0)};
  p.below = {below, below, below};
  return p;
}

AutopilotOptions opts() {
  AutopilotOptions o;
  o.overflow_threshold = 0.001;
  o.underflow_threshold = 0.01;
  o.forward_underflow_threshold = 0.01;
  o.patience = 2;
  o.stable_window = 3;
  o.demote_margin = 0.5;
  return o;
}

TEST(Autopilot, EveryLayerStartsInFp8AndTheMapIsReusable) {
  Autopilot a(opts(), DType::bf16, {"fc1", "fc2"}, Rung::fp8);
  EXPECT_EQ(a.rung("fc1"), Rung::fp8);
  EXPECT_EQ(a.map().to_string(), "fc1=e4m3,fc2=e4m3");
  EXPECT_EQ(amp::PrecisionMap::parse(a.map().to_string()).to_string(), a.map().to_string());
  EXPECT_THROW(a.rung("nope"), Error);
  EXPECT_THROW(a.observe(0, {{"nope", probe(fit(0, 0))}}), Error);
}

TEST(Autopilot, PromotesAfterPatienceConsecutiveFailuresOnly) {
  Autopilot a(opts(), DType::bf16, {"fc1", "fc2"}, Rung::fp8);
  // Exactly at the threshold is not a failure (strictly greater fails).
  EXPECT_TRUE(a.observe(0, {{"fc1", probe(fit(0, 0.01))}}).empty());
  EXPECT_TRUE(a.observe(1, {{"fc1", probe(fit(0, 0.0101))}}).empty());  // streak 1
  EXPECT_TRUE(a.observe(2, {{"fc1", probe(fit(0, 0))}}).empty());       // reset
  EXPECT_TRUE(a.observe(3, {{"fc1", probe(fit(0.002, 0))}}).empty());   // streak 1 (overflow)
  // A step without a probe for fc1 keeps its streak.
  EXPECT_TRUE(a.observe(4, {{"fc2", probe(fit(0, 0))}}).empty());
  const auto ev = a.observe(5, {{"fc1", probe(fit(0, 0.05))}});
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].step, 5);
  EXPECT_EQ(ev[0].layer, "fc1");
  EXPECT_EQ(ev[0].from, DType::e4m3);
  EXPECT_EQ(ev[0].to, DType::bf16);
  EXPECT_EQ(ev[0].reason, "input underflow 5% > 1% on 2 consecutive probes");
  EXPECT_EQ(a.rung("fc1"), Rung::half);
  EXPECT_EQ(a.rung("fc2"), Rung::fp8);
  EXPECT_EQ(a.map().to_string(), "fc1=bf16,fc2=e4m3");
  const auto j = ev[0].to_json();
  EXPECT_EQ(j["type"], "precision");
  EXPECT_EQ(j["from"], "e4m3");
  EXPECT_EQ(j["to"], "bf16");
}

TEST(Autopilot, TheReasonNamesTheOperandFurthestPastItsThreshold) {
  AutopilotOptions o = opts();
  o.patience = 1;
  Autopilot a(o, DType::fp16, {"l"}, Rung::fp8);
  LayerProbe p;
  // input: underflow 2x its threshold; weight: overflow 3x its threshold -> weight wins.
  p.now = {fit(0, 0.02), fit(0.003, 0), fit(0, 0)};
  const auto ev = a.observe(7, {{"l", p}});
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].to, DType::fp16);
  EXPECT_EQ(ev[0].reason, "weight overflow 0.3% > 0.1% on 1 consecutive probes");
}

TEST(Autopilot, DemotesAfterAStableWindowWithMarginAndTheWindowDoubles) {
  AutopilotOptions o = opts();
  o.patience = 1;
  Autopilot a(o, DType::bf16, {"l"});  // hybrid run: starts on e5m2
  ASSERT_EQ(a.observe(0, {{"l", probe(fit(0, 0.5))}}).size(), 1u);  // -> bf16
  // Below-rung underflow 0.6% fits the threshold (1%) but not the margin (0.5%): no progress.
  for (int s = 1; s <= 5; ++s) EXPECT_TRUE(a.observe(s, {{"l", probe(fit(0, 0), fit(0, 0.006))}}).empty());
  // 0.5% exactly fits with margin; three in a row demote.
  EXPECT_TRUE(a.observe(6, {{"l", probe(fit(0, 0), fit(0, 0.005))}}).empty());
  EXPECT_TRUE(a.observe(7, {{"l", probe(fit(0, 0), fit(0, 0.005))}}).empty());
  auto ev = a.observe(8, {{"l", probe(fit(0, 0), fit(0, 0.005))}});
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].from, DType::bf16);
  EXPECT_EQ(ev[0].to, DType::e5m2);
  EXPECT_EQ(ev[0].reason, "e5m2 fits with margin 0.5 on 3 consecutive probes");
  // Second promotion: the window is now 6 probes.
  ASSERT_EQ(a.observe(9, {{"l", probe(fit(0, 0.5))}}).size(), 1u);
  for (int s = 10; s < 15; ++s) EXPECT_TRUE(a.observe(s, {{"l", probe(fit(0, 0), fit(0, 0))}}).empty()) << s;
  EXPECT_EQ(a.observe(15, {{"l", probe(fit(0, 0), fit(0, 0))}}).size(), 1u);
  EXPECT_EQ(a.rung("l"), Rung::hybrid);
}

TEST(Autopilot, ClimbsToFp32AndStopsThere) {
  AutopilotOptions o = opts();
  o.patience = 1;
  Autopilot a(o, DType::bf16, {"l"}, Rung::fp8);
  a.observe(0, {{"l", probe(fit(1, 0))}});
  a.observe(1, {{"l", probe(fit(1, 0))}});
  EXPECT_EQ(a.rung("l"), Rung::fp32);
  EXPECT_EQ(a.map().to_string(), "l=fp32");
  EXPECT_TRUE(a.observe(2, {{"l", probe(fit(1, 0))}}).empty());
  o.allow_fp32 = false;
  Autopilot b(o, DType::bf16, {"l"}, Rung::fp8);
  b.observe(0, {{"l", probe(fit(1, 0))}});
  EXPECT_TRUE(b.observe(1, {{"l", probe(fit(1, 0))}}).empty());
  EXPECT_EQ(b.rung("l"), Rung::half);
}

// From fp8 (E4M3 everywhere) a layer whose only failing operand is the gradient moves to hybrid
// (E5M2 gradients, still fp8); a forward operand failing skips to 16-bit. A hybrid-format run
// starts on hybrid and never goes below it.
TEST(Autopilot, GradientOnlyFailuresMoveToE5m2) {
  AutopilotOptions o = opts();
  o.patience = 1;
  Autopilot a(o, DType::bf16, {"g", "x"}, Rung::fp8);
  LayerProbe pg, px;
  pg.now = {fit(0, 0), fit(0, 0), fit(0, 0.5)};
  px.now = {fit(0, 0.5), fit(0, 0), fit(0, 0.5)};
  const auto ev = a.observe(0, {{"g", pg}, {"x", px}});
  ASSERT_EQ(ev.size(), 2u);
  EXPECT_EQ(ev[0].to, DType::e5m2);
  EXPECT_EQ(ev[1].to, DType::bf16);
  EXPECT_EQ(a.map().to_string(), "g=e5m2,x=bf16");
  // x comes down one rung at a time: bf16 -> e5m2 -> e4m3.
  for (int s = 1; s <= 3; ++s) a.observe(s, {{"x", probe(fit(0, 0), fit(0, 0))}});
  EXPECT_EQ(a.rung("x"), Rung::hybrid);
  Autopilot h(o, DType::bf16, {"l"});
  EXPECT_EQ(h.map().to_string(), "l=e5m2");
  for (int s = 0; s < 10; ++s) EXPECT_TRUE(h.observe(s, {{"l", probe(fit(0, 0), fit(0, 0))}}).empty());
  EXPECT_EQ(h.observe(10, {{"l", probe(fit(0, 0.5))}})[0].to, DType::bf16);
  EXPECT_THROW(h.restore({{"l", {{"rung", 0}, {"bad", 0}, {"fit_below", 0}, {"promotions", 0}}}}), Error);
}

TEST(Autopilot, ForwardOperandsHaveTheirOwnUnderflowThreshold) {
  AutopilotOptions o = opts();
  o.patience = 1;
  o.forward_underflow_threshold = 0.1;
  Autopilot a(o, DType::bf16, {"l"}, Rung::fp8);
  LayerProbe p;
  p.now = {fit(0, 0.05), fit(0, 0.1), fit(0, 0.01)};  // all at or under their thresholds
  EXPECT_TRUE(a.observe(0, {{"l", p}}).empty());
  p.now[1] = fit(0, 0.11);
  const auto ev = a.observe(1, {{"l", p}});
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].reason, "weight underflow 11% > 10% on 1 consecutive probes");
}

TEST(Autopilot, NonFiniteValuesCountAsOverflow) {
  numerics::FormatStats s;
  s.count = 10;
  s.nans = 1;
  s.infs = 1;
  s.overflow = 1;
  s.flush = 2;
  s.subnormal = 1;
  const OperandFit f = OperandFit::from(s);
  EXPECT_DOUBLE_EQ(f.overflow, 0.3);
  EXPECT_DOUBLE_EQ(f.underflow, 0.3);
  EXPECT_TRUE(f.measured);
}

TEST(Autopilot, StateRoundTripsAndRejectsBadRungs) {
  AutopilotOptions o = opts();
  o.patience = 1;
  Autopilot a(o, DType::bf16, {"x", "y"}, Rung::fp8);
  a.observe(0, {{"y", probe(fit(0, 1))}});
  a.observe(1, {{"x", probe(fit(0, 1))}, {"y", probe(fit(0, 0), fit(0, 0))}});
  Autopilot b(o, DType::bf16, {"x", "y"}, Rung::fp8);
  b.restore(a.state());
  EXPECT_EQ(b.state(), a.state());
  EXPECT_EQ(b.map().to_string(), "x=bf16,y=bf16");
  auto bad = a.state();
  bad["x"]["rung"] = 7;
  EXPECT_THROW(b.restore(bad), Error);
  bad = a.state();
  bad["x"].erase("bad");
  EXPECT_THROW(b.restore(bad), Error);
}

// One armed training step of `lin` on a single row x with loss sum(y); the probe it took.
std::optional<LayerProbe> probe_step(nn::Linear& lin, const amp::Policy& policy, std::vector<float> x) {
  lin.arm_probe(DType::bf16);
  const auto n = static_cast<std::int64_t>(x.size());
  Tensor y;
  {
    amp::Autocast guard(policy);
    y = lin(Tensor::from(x, {1, n}));
  }
  ops::sum(ops::cast(y, DType::fp32)).backward();
  return lin.take_probe();
}

// The Linear probe on a layer in the 16-bit rung: the input measured in bf16 as stored, and in
// E4M3 with current scaling (scale = 448 / amax). With amax 1 the scale is 448: 1e-6 * 448 =
// 4.5e-4 is below half the smallest E4M3 subnormal (2^-10 = 9.8e-4) and flushes; 1e-5 * 448 =
// 4.5e-3 lands among the subnormals ([2^-9, 2^-6)); the rest are normal.
TEST(AutopilotProbe, LinearMeasuresItsOperandsWithExactCounts) {
  nn::Linear lin({.in = 8, .out = 2, .bias = false, .seed = 1});
  amp::Policy policy = amp::Policy::FP8();
  policy.map = amp::PrecisionMap::parse("**=bf16");
  lin.apply_policy(policy);
  ASSERT_EQ(lin.gemm_dtype(), DType::bf16);
  const auto p = probe_step(lin, policy, {1.0f, 1e-6f, 1e-5f, 0.5f, -0.5f, 0.25f, 0.75f, -1.0f});
  ASSERT_TRUE(p.has_value());
  const auto& in_now = p->now[static_cast<int>(amp::Operand::input)];
  const auto& in_below = p->below[static_cast<int>(amp::Operand::input)];
  EXPECT_DOUBLE_EQ(in_now.underflow, 0.0);  // bf16 holds 1e-6 as a normal number
  EXPECT_DOUBLE_EQ(in_below.underflow, 2.0 / 8.0);
  EXPECT_DOUBLE_EQ(in_below.overflow, 0.0);
  EXPECT_TRUE(p->now[static_cast<int>(amp::Operand::weight)].measured);
  EXPECT_TRUE(p->now[static_cast<int>(amp::Operand::grad)].measured);
  // The gradient of sum(y) w.r.t. y is all ones: nothing under- or overflows anywhere.
  EXPECT_DOUBLE_EQ(p->below[static_cast<int>(amp::Operand::grad)].underflow, 0.0);
  // take_probe disarms: the next step measures nothing.
  EXPECT_FALSE(lin.take_probe().has_value());
}

// In the fp8 rung the probe uses the scales the recipe used. Current scaling of x (amax 2):
// scale 224; 4e-6 * 224 = 9e-4 flushes (< 2^-10), the rest are normal.
TEST(AutopilotProbe, Fp8RungUsesTheRecipesScale) {
  nn::Linear lin({.in = 4, .out = 1, .bias = false, .seed = 2});
  amp::Fp8Options o;
  o.recipe = amp::Fp8Recipe::current;
  amp::Policy policy = amp::Policy::FP8(o);
  lin.apply_policy(policy);
  ASSERT_EQ(lin.gemm_dtype(), DType::e4m3);
  const auto p = probe_step(lin, policy, {2.0f, 4e-6f, 1.0f, -1.5f});
  ASSERT_TRUE(p.has_value());
  EXPECT_DOUBLE_EQ(p->now[static_cast<int>(amp::Operand::input)].underflow, 0.25);
  // Hybrid's rung below (E4M3 gradients) has the same forward operands.
  EXPECT_DOUBLE_EQ(p->below[static_cast<int>(amp::Operand::input)].underflow, 0.25);
}

TEST(GemmFlops, CountedByOperandPrecision) {
  backend::cpu::reset_gemm_flops();
  std::vector<float> a(6 * 4, 1.0f), b(4 * 5, 1.0f), c(6 * 5);
  std::vector<std::uint8_t> a8(6 * 4, 0x38), b8(4 * 5, 0x38);  // e4m3 1.0
  std::vector<std::uint16_t> b16(4 * 5, 0x3F80);                 // bf16 1.0
  using backend::cpu::gemm;
  gemm(6, 5, 4, 1.0f, {a8.data(), DType::e4m3, 4}, {b8.data(), DType::e4m3, 5}, 0.0f, {c.data(), DType::fp32, 5});
  EXPECT_EQ(c[0], 4.0f);
  gemm(6, 5, 4, 1.0f, {a8.data(), DType::e4m3, 4}, {b16.data(), DType::bf16, 5}, 0.0f, {c.data(), DType::fp32, 5});
  gemm(6, 5, 4, 1.0f, {a.data(), DType::fp32, 4}, {b8.data(), DType::e4m3, 5}, 0.0f, {c.data(), DType::fp32, 5});
  backend::cpu::gemm_batched(3, 2, 5, 4, 1.0f, {a.data(), DType::fp32, 4}, 8, {b.data(), DType::fp32, 5}, 0, 0.0f,
                             {c.data(), DType::fp32, 5}, 10);
  const auto f = backend::cpu::gemm_flops();
  EXPECT_EQ(f.fp8, 2.0 * 6 * 5 * 4);
  EXPECT_EQ(f.half, 2.0 * 6 * 5 * 4);             // fp8 x bf16: the widest operand is 16-bit
  EXPECT_EQ(f.full, 2.0 * 6 * 5 * 4 + 3 * 2.0 * 2 * 5 * 4);
  backend::cpu::reset_gemm_flops();
  EXPECT_EQ(backend::cpu::gemm_flops().total(), 0.0);
}

}  // namespace
}  // namespace mixtrain::testing
