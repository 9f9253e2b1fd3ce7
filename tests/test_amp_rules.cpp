// The tensor-free rules of mixed precision pinned step by step: the loss-scale state machine,
// FP8 delayed and current scaling, the per-layer precision map, and LR schedules.
#include <gtest/gtest.h>

#include <cmath>

#include "amp/fp8_scaling.h"
#include "amp/loss_scale.h"
#include "amp/precision_map.h"
#include "optim/lr_schedule.h"
#include "runtime/error.h"

namespace mixtrain::amp {
namespace {

TEST(LossScale, SequenceUnderInjectedOverflow) {
  LossScale s({.init_scale = 1024, .growth_interval = 3});
  // Steps: clean, clean, clean (grow), inf (back off, skip), clean, inf, inf, clean x3 (grow).
  const bool inf[] = {false, false, false, true, false, true, true, false, false, false};
  const double want_scale_after[] = {1024, 1024, 2048, 1024, 1024, 512, 256, 256, 256, 512};
  for (int i = 0; i < 10; ++i) {
    EXPECT_EQ(s.update(inf[i]), inf[i]) << "step " << i;
    EXPECT_EQ(s.scale(), want_scale_after[i]) << "step " << i;
  }
  EXPECT_EQ(s.skipped_steps(), 3);
  EXPECT_EQ(s.history()[3].scale, 2048);  // the overflowing step ran at the grown scale
  EXPECT_TRUE(s.history()[3].skipped);
}

TEST(LossScale, Defaults) {
  LossScale s;
  EXPECT_EQ(s.scale(), 65536.0);
  EXPECT_EQ(s.options().growth_interval, 2000);
  for (int i = 0; i < 1999; ++i) s.update(false);
  EXPECT_EQ(s.scale(), 65536.0);
  s.update(false);
  EXPECT_EQ(s.scale(), 131072.0);
}

TEST(LossScale, HysteresisMinMax) {
  LossScale s({.init_scale = 8, .growth_interval = 2, .hysteresis = 2, .min_scale = 2, .max_scale = 16});
  s.update(true);
  EXPECT_EQ(s.scale(), 8);  // first overflow tolerated
  s.update(true);
  EXPECT_EQ(s.scale(), 4);  // second backs off
  s.update(true);
  s.update(true);
  EXPECT_EQ(s.scale(), 2);
  s.update(true);
  s.update(true);
  EXPECT_EQ(s.scale(), 2);  // min_scale floor
  for (int i = 0; i < 10; ++i) s.update(false);
  EXPECT_EQ(s.scale(), 16);  // max_scale ceiling
}

TEST(LossScale, StaticAndDisabled) {
  LossScale fixed({.mode = ScaleMode::constant, .init_scale = 128});
  EXPECT_TRUE(fixed.update(true));
  EXPECT_EQ(fixed.scale(), 128);
  LossScale off({.mode = ScaleMode::disabled});
  EXPECT_EQ(off.scale(), 1.0);
  EXPECT_FALSE(off.update(false));
  EXPECT_TRUE(off.update(true));  // non-finite gradients are never applied
  EXPECT_EQ(off.scale(), 1.0);
  EXPECT_THROW(LossScale({.backoff_factor = 1.5}), Error);
}

TEST(Fp8Scaling, DelayedScaleSequence) {
  Fp8ScalingState s({.recipe = Fp8Recipe::delayed, .format = Fp8Format::hybrid, .history_len = 3,
                     .margin = 1, .algo = AmaxAlgo::max},
                    Fp8Role::activation);
  EXPECT_EQ(s.dtype(), DType::e4m3);
  EXPECT_EQ(s.scale_for(123.0f), 1.0f);  // no history yet: initial scale 1
  const float amax[] = {4.0f, 2.0f, 1.0f, 0.5f, 0.0f};
  // scale = 448 / max(history of last 3) / 2^1
  const float want[] = {56.0f, 56.0f, 56.0f, 112.0f, 224.0f};
  for (int i = 0; i < 5; ++i) {
    s.record(amax[i]);
    EXPECT_EQ(s.scale(), want[i]) << "step " << i;
  }
  Fp8ScalingState recent({.history_len = 4, .algo = AmaxAlgo::most_recent}, Fp8Role::gradient);
  EXPECT_EQ(recent.dtype(), DType::e5m2);
  recent.record(8.0f);
  EXPECT_EQ(recent.scale(), 57344.0f / 8.0f);
  recent.record(std::nanf(""));
  EXPECT_EQ(recent.scale(), 57344.0f / 8.0f);  // non-finite amax keeps the previous scale
}

TEST(Fp8Scaling, CurrentAndFormats) {
  Fp8ScalingState s({.recipe = Fp8Recipe::current, .format = Fp8Format::e4m3}, Fp8Role::gradient);
  EXPECT_EQ(s.dtype(), DType::e4m3);
  EXPECT_EQ(s.scale_for(2.0f), 224.0f);
  EXPECT_EQ(s.scale_for(0.0f), 1.0f);
  EXPECT_EQ(scale_from_amax(448.0f, DType::e4m3, 0, 1.0f), 1.0f);
}

TEST(PrecisionMap, ParseMatchAndOrder) {
  const PrecisionMap m = PrecisionMap::parse("**=bf16,head=fp32,blocks.*.attn=fp16");
  EXPECT_EQ(m.lookup("head"), DType::fp32);
  EXPECT_EQ(m.lookup("blocks.0.attn"), DType::fp16);
  EXPECT_EQ(m.lookup("blocks.11.attn.qkv"), DType::fp16);  // children inherit
  EXPECT_EQ(m.lookup("blocks.0.mlp.fc1"), DType::bf16);
  EXPECT_EQ(m.to_string(), "**=bf16,head=fp32,blocks.*.attn=fp16");
  EXPECT_FALSE(PrecisionMap::parse("head=fp32").lookup("heads").has_value());
  EXPECT_FALSE(PrecisionMap::parse("blocks.*=fp32").lookup("blocks").has_value());
  EXPECT_TRUE(glob_match("blocks.*.attn", "blocks.3.attn"));
  EXPECT_FALSE(glob_match("blocks.*", "blocks.3.attn"));
  EXPECT_TRUE(glob_match("blocks.**", "blocks.3.attn"));
  EXPECT_THROW(PrecisionMap::parse("head"), Error);
  EXPECT_THROW(PrecisionMap::parse("head=fp12"), Error);
  EXPECT_THROW(PrecisionMap::parse("=fp32"), Error);
  EXPECT_TRUE(PrecisionMap::parse("").empty());
}

TEST(LrSchedule, WarmupCosine) {
  optim::LrSchedule s{.kind = optim::LrSchedule::Kind::warmup_cosine, .base_lr = 1.0,
                      .warmup_steps = 4, .total_steps = 12, .min_lr = 0.1};
  EXPECT_DOUBLE_EQ(s.at(0), 0.25);
  EXPECT_DOUBLE_EQ(s.at(3), 1.0);
  EXPECT_DOUBLE_EQ(s.at(4), 1.0);
  EXPECT_DOUBLE_EQ(s.at(8), 0.55);  // halfway through the cosine
  EXPECT_DOUBLE_EQ(s.at(12), 0.1);
  EXPECT_DOUBLE_EQ(optim::LrSchedule{.base_lr = 0.3}.at(100), 0.3);
}

}  // namespace
}  // namespace mixtrain::amp
