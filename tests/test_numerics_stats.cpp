// Statistics on constructed buffers: exact counts of overflow, subnormal and flush-to-zero values
// and of the exponent histogram, and agreement with the encoder itself.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>
#include <vector>

#include "numerics/convert.h"
#include "numerics/encode.h"
#include "numerics/stats.h"
#include "numerics_test_util.h"

namespace mixtrain::numerics {
namespace {

TEST(Stats, ExactCountsForE4M3) {
  // e4m3: max 448 (464 still rounds to it), min normal 2^-6, min subnormal 2^-9 (2^-10 ties to 0).
  const std::vector<float> x = {0.0f, -0.0f, 1.0f, 448.0f, 464.0f, 465.0f, -1e9f,
                                0x1p-7f, -0x1p-9f, 0x1p-10f, 0x1.01p-10f, 1e-30f,
                                std::nanf(""), INFINITY};
  const FormatStats s = analyse(x.data(), x.size(), DType::e4m3);
  EXPECT_EQ(s.count, 14u);
  EXPECT_EQ(s.zeros, 2u);
  EXPECT_EQ(s.nans, 1u);
  EXPECT_EQ(s.infs, 1u);
  EXPECT_EQ(s.overflow, 2u);   // 465, -1e9
  EXPECT_EQ(s.subnormal, 3u);  // 2^-7, -2^-9, 1.01*2^-10 (rounds up to 2^-9)
  EXPECT_EQ(s.flush, 2u);      // 2^-10 (tie to 0), 1e-30
  EXPECT_DOUBLE_EQ(s.overflow_fraction(), 2.0 / 14.0);
  EXPECT_EQ(s.exponent_hist[0 - kHistMinExponent], 1u);    // 1.0
  EXPECT_EQ(s.exponent_hist[8 - kHistMinExponent], 3u);    // 448, 464, 465
  EXPECT_EQ(s.exponent_hist[29 - kHistMinExponent], 1u);   // 1e9 ~ 2^29.9
  EXPECT_EQ(s.exponent_hist[-10 - kHistMinExponent], 2u);
  EXPECT_EQ(s.exponent_hist[-100 - kHistMinExponent], 1u);  // 1e-30 ~ 2^-99.7
}

TEST(Stats, Fp32SubnormalExponents) {
  const std::vector<float> x = {testing::f32(1u), testing::f32(0x00400000u), 0x1p-126f};
  const FormatStats s = analyse(x.data(), x.size(), DType::fp32);
  EXPECT_EQ(s.exponent_hist[0], 1u);                          // 2^-149
  EXPECT_EQ(s.exponent_hist[-127 - kHistMinExponent], 1u);
  EXPECT_EQ(s.exponent_hist[-126 - kHistMinExponent], 1u);
  EXPECT_EQ(s.subnormal, 2u);
  EXPECT_EQ(s.overflow, 0u);
  EXPECT_EQ(s.flush, 0u);
}

TEST(Stats, ScaleIsApplied) {
  const std::vector<float> x = {1e-8f, 2e-8f, 1.0f};
  EXPECT_EQ(analyse(x.data(), x.size(), DType::fp16).flush, 2u);
  EXPECT_EQ(analyse(x.data(), x.size(), DType::fp16, 65536.0f).flush, 0u);
  EXPECT_EQ(analyse(x.data(), x.size(), DType::fp16, 1e5f).overflow, 1u);
}

TEST(Stats, AgreesWithEncoderOnRandomData) {
  std::mt19937 gen(3);
  std::vector<float> x(300000);
  for (auto& v : x)
    v = std::ldexp(std::uniform_real_distribution<float>(-2, 2)(gen), static_cast<int>(gen() % 80) - 40);
  for (DType t : {DType::fp16, DType::bf16, DType::e4m3, DType::e5m2}) {
    const auto& f = spec(t);
    FormatStats want;
    for (float v : x) {
      const auto mag = encode(v, f, Rounding::nearest, Overflow::inf) & (f.sign_mask() - 1);
      if (v == 0) continue;
      if (mag > f.max_code()) ++want.overflow;
      else if (mag == 0) ++want.flush;
      else if (mag >> f.mantissa_bits == 0) ++want.subnormal;
    }
    const FormatStats got = analyse(x.data(), x.size(), t);
    EXPECT_EQ(got.overflow, want.overflow) << f.name;
    EXPECT_EQ(got.flush, want.flush) << f.name;
    EXPECT_EQ(got.subnormal, want.subnormal) << f.name;
    std::uint64_t hist_total = 0;
    for (auto c : got.exponent_hist) hist_total += c;
    EXPECT_EQ(hist_total + got.zeros, x.size());
  }
}

// abs_max over codes of any format equals the largest |decoded value| (NaN and inf win), for
// every format and for sizes around the chunk boundaries.
TEST(Stats, AbsMaxOfCodesMatchesDecodedMaximum) {
  std::mt19937 g(7);
  std::uniform_real_distribution<float> d(-300.0f, 300.0f);
  for (DType t : {DType::fp32, DType::fp16, DType::bf16, DType::e4m3, DType::e5m2, DType::fp64}) {
    for (std::size_t n : {std::size_t{1}, std::size_t{1000}, std::size_t{70000}, std::size_t{300000}}) {
      std::vector<float> x(n);
      for (auto& v : x) v = d(g);
      std::vector<unsigned char> codes(n * size_of(t));
      ConvertOptions sat;
      sat.overflow = Overflow::saturate;
      encode(codes.data(), t, x.data(), n, sat);
      std::vector<float> back(n);
      decode(back.data(), codes.data(), t, n);
      EXPECT_EQ(abs_max(codes.data(), t, n), abs_max(back.data(), n)) << name(t) << " n=" << n;
      // A negative NaN or a -inf anywhere decides the result.
      const std::size_t at = n / 2;
      x[at] = t == DType::e4m3 ? -std::nanf("") : -std::numeric_limits<float>::infinity();
      ConvertOptions ieee;
      ieee.overflow = Overflow::inf;
      encode(codes.data() + at * size_of(t), t, &x[at], 1, ieee);
      const float m = abs_max(codes.data(), t, n);
      if (t == DType::e4m3)
        EXPECT_TRUE(std::isnan(m)) << name(t);
      else
        EXPECT_EQ(m, std::numeric_limits<float>::infinity()) << name(t);
    }
  }
}

}  // namespace
}  // namespace mixtrain::numerics
