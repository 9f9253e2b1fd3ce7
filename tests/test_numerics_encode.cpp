// The scalar definition of encode/decode pinned by exact values: rounding ties, overflow rules,
// subnormals, NaN and signed zero, every bit pattern of the narrow formats, and stochastic
// rounding's reproducibility and unbiasedness.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "numerics/encode.h"
#include "numerics/rng.h"
#include "numerics_test_util.h"

namespace mixtrain::numerics {
namespace {

constexpr DType kNarrow[] = {DType::fp16, DType::bf16, DType::e4m3, DType::e5m2};
constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

std::uint64_t enc(double x, DType t, Rounding r = Rounding::nearest,
                  std::optional<Overflow> o = std::nullopt, std::uint32_t rnd = 0) {
  const auto& f = spec(t);
  return encode(x, f, r, o.value_or(f.default_overflow), rnd);
}

TEST(Encode, KnownValues) {
  EXPECT_EQ(enc(3.14159, DType::fp16), 0x4248u);
  EXPECT_EQ(enc(3.14159, DType::bf16), 0x4049u);
  EXPECT_EQ(enc(3.14159, DType::e4m3), 0x45u);
  EXPECT_EQ(enc(3.14159, DType::e5m2), 0x42u);
  EXPECT_EQ(enc(1.0, DType::fp16), 0x3C00u);
  EXPECT_EQ(enc(-2.0, DType::bf16), 0xC000u);
  EXPECT_EQ(enc(448.0, DType::e4m3), 0x7Eu);
  EXPECT_EQ(enc(-448.0, DType::e4m3), 0xFEu);
  EXPECT_EQ(enc(57344.0, DType::e5m2), 0x7Bu);
  EXPECT_EQ(enc(65504.0, DType::fp16), 0x7BFFu);
  EXPECT_EQ(enc(1.0, DType::fp32), 0x3F800000u);
  EXPECT_EQ(enc(0.1, DType::fp32), 0x3DCCCCCDu);
  EXPECT_EQ(enc(0.1, DType::fp64), std::bit_cast<std::uint64_t>(0.1));
}

TEST(Encode, TiesToEven) {
  // fp16 around 1: ulp 2^-10. 1 + 2^-11 ties between 1 (even) and 1+2^-10 (odd) -> 1.
  EXPECT_EQ(enc(1.0 + 0x1p-11, DType::fp16), 0x3C00u);
  EXPECT_EQ(enc(1.0 + 3 * 0x1p-11, DType::fp16), 0x3C02u);  // tie between odd and even -> even
  EXPECT_EQ(enc(1.0 + 0x1p-11 + 0x1p-30, DType::fp16), 0x3C01u);
  // e4m3: 464 is the tie between 448 (0x7E, even) and the would-be 480: stays 448, not overflow.
  EXPECT_EQ(enc(464.0, DType::e4m3, Rounding::nearest, Overflow::inf), 0x7Eu);
  EXPECT_EQ(enc(464.0001, DType::e4m3, Rounding::nearest, Overflow::inf), 0x7Fu);  // NaN
  // fp16: 65520 ties between 65504 (odd mantissa) and 65536 -> rounds up -> overflow.
  EXPECT_EQ(enc(65519.99, DType::fp16), 0x7BFFu);
  EXPECT_EQ(enc(65520.0, DType::fp16), 0x7C00u);
  // Mantissa carry into the exponent: 1.9999 -> 2 in bf16.
  EXPECT_EQ(enc(1.9999, DType::bf16), 0x4000u);
}

TEST(Encode, OverflowPolicies) {
  EXPECT_EQ(enc(1e6, DType::fp16), 0x7C00u);                                // inf default
  EXPECT_EQ(enc(1e6, DType::fp16, Rounding::nearest, Overflow::saturate), 0x7BFFu);
  EXPECT_EQ(enc(-1e6, DType::fp16, Rounding::nearest, Overflow::saturate), 0xFBFFu);
  EXPECT_EQ(enc(1e6, DType::e4m3), 0x7Eu);                                  // saturate default
  EXPECT_EQ(enc(1e6, DType::e4m3, Rounding::nearest, Overflow::inf), 0x7Fu);  // NaN: no inf
  EXPECT_EQ(enc(-1e6, DType::e4m3, Rounding::nearest, Overflow::inf), 0xFFu);
  EXPECT_EQ(enc(1e6, DType::e5m2), 0x7Bu);
  EXPECT_EQ(enc(1e6, DType::e5m2, Rounding::nearest, Overflow::inf), 0x7Cu);
  EXPECT_EQ(enc(1e300, DType::bf16), 0x7F80u);
  // ±inf inputs: kept under inf, clamped under saturate.
  EXPECT_EQ(enc(kInf, DType::fp16), 0x7C00u);
  EXPECT_EQ(enc(-kInf, DType::fp16), 0xFC00u);
  EXPECT_EQ(enc(kInf, DType::e4m3), 0x7Eu);
  EXPECT_EQ(enc(-kInf, DType::e5m2), 0xFBu);
  EXPECT_EQ(enc(kInf, DType::e4m3, Rounding::nearest, Overflow::inf), 0x7Fu);
  EXPECT_EQ(enc(kInf, DType::fp32, Rounding::nearest, Overflow::saturate), 0x7F7FFFFFu);
  // Toward zero: a finite value never becomes inf (IEEE), an infinite one stays inf.
  EXPECT_EQ(enc(1e6, DType::fp16, Rounding::toward_zero), 0x7BFFu);
  EXPECT_EQ(enc(kInf, DType::fp16, Rounding::toward_zero), 0x7C00u);
  EXPECT_EQ(enc(500.0, DType::e4m3, Rounding::toward_zero, Overflow::inf), 0x7Eu);
}

TEST(Encode, SubnormalsAndZeros) {
  EXPECT_EQ(enc(0x1p-24, DType::fp16), 0x0001u);       // smallest fp16 subnormal
  EXPECT_EQ(enc(0x1p-25, DType::fp16), 0x0000u);       // half of it: tie -> even (0)
  EXPECT_EQ(enc(0x1.8p-25, DType::fp16), 0x0001u);     // 0.75 of it -> up
  EXPECT_EQ(enc(-0x1p-26, DType::fp16), 0x8000u);      // flushes to -0 keeping the sign
  EXPECT_EQ(enc(0x1p-9, DType::e4m3), 0x01u);
  EXPECT_EQ(enc(0x1.8p-9, DType::e4m3), 0x02u);        // 1.5 ulp tie -> even (2)
  EXPECT_EQ(enc(0x1.Cp-7, DType::e4m3), 0x07u);        // 7 * 2^-9 largest subnormal
  EXPECT_EQ(enc(0x1.Fp-7, DType::e4m3), 0x08u);        // rounds up to the smallest normal
  EXPECT_EQ(enc(0x1p-16, DType::e5m2), 0x01u);
  EXPECT_EQ(enc(0x1p-133, DType::bf16), 0x0001u);
  EXPECT_EQ(enc(std::bit_cast<float>(0x00000001u), DType::fp32), 0x00000001u);  // fp32 denormal
  EXPECT_EQ(enc(std::bit_cast<float>(0x00000001u), DType::bf16), 0x0000u);
  EXPECT_EQ(enc(std::bit_cast<float>(0x00010000u), DType::bf16), 0x0001u);
  EXPECT_EQ(enc(5e-324, DType::fp32), 0x00000000u);  // smallest fp64 subnormal
  EXPECT_EQ(enc(-0.0, DType::e4m3), 0x80u);
  EXPECT_EQ(enc(-0.0, DType::bf16), 0x8000u);
  EXPECT_EQ(enc(0.0, DType::e5m2), 0x00u);
}

TEST(Encode, NaN) {
  EXPECT_EQ(enc(kNaN, DType::fp16), 0x7E00u);
  EXPECT_EQ(enc(-kNaN, DType::bf16), 0xFFC0u);
  EXPECT_EQ(enc(kNaN, DType::e4m3), 0x7Fu);
  EXPECT_EQ(enc(-kNaN, DType::e4m3), 0xFFu);
  EXPECT_EQ(enc(kNaN, DType::e5m2), 0x7Eu);
  EXPECT_EQ(enc(kNaN, DType::e4m3, Rounding::nearest, Overflow::saturate), 0x7Fu);  // NaN stays
  EXPECT_TRUE(std::isnan(decode(0x7F, spec(DType::e4m3))));
  EXPECT_TRUE(std::isnan(decode(0xFF, spec(DType::e4m3))));
  EXPECT_EQ(decode(0x7E, spec(DType::e4m3)), 448.0);
  EXPECT_EQ(decode(0x78, spec(DType::e4m3)), 256.0);  // all-ones exponent is a normal in FN
}

TEST(Encode, FromDoubleRoundsOnce) {
  // 1 + 2^-11 + 2^-40 is above the fp16 tie only in double; rounding through fp32 first would
  // lose the 2^-40 and tie to even. Encoding from fp64 must see it.
  EXPECT_EQ(enc(1.0 + 0x1p-11 + 0x1p-40, DType::fp16), 0x3C01u);
  EXPECT_EQ(enc(1.0 + 0x1p-24 + 0x1p-50, DType::fp32), 0x3F800001u);
}

// Every code of every narrow format decodes and re-encodes to itself, under every rounding mode
// (a representable value has nothing to round). NaNs re-encode to the canonical NaN, same sign.
TEST(Encode, EveryBitPatternRoundTrips) {
  for (DType t : kNarrow) {
    const auto& f = spec(t);
    const std::uint64_t n = std::uint64_t{1} << f.bits();
    for (std::uint64_t c = 0; c < n; ++c) {
      const double v = decode(c, f);
      for (Rounding r : {Rounding::nearest, Rounding::toward_zero, Rounding::stochastic}) {
        const std::uint64_t back = encode(v, f, r, Overflow::inf, 0xFFFFFFFFu);
        if (is_nan_code(c, f)) {
          ASSERT_EQ(back, (c & f.sign_mask()) | f.nan_code()) << f.name << " code " << c;
        } else {
          ASSERT_EQ(back, c) << f.name << " code " << c << " rounding " << to_string(r);
        }
      }
      // decode_f32 is exact: the float holds the same value as the double.
      if (!std::isnan(v)) {
        ASSERT_EQ(static_cast<double>(decode_f32(c, f)), v);
      }
    }
  }
}

TEST(Encode, MonotoneOverDenseSweep) {
  // Decoded values never decrease as the fp32 input increases (positive and negative halves).
  for (DType t : kNarrow) {
    const auto& f = spec(t);
    for (Rounding r : {Rounding::nearest, Rounding::toward_zero}) {
      double prev = -kInf;
      for (std::uint64_t b = 0xFF7FFFFFu; b > 0x80000000u; b -= 4093) {
        const double v = decode(encode(testing::f32(static_cast<std::uint32_t>(b)), f, r, Overflow::saturate), f);
        ASSERT_GE(v, prev) << f.name;
        prev = v;
      }
      for (std::uint64_t b = 0; b < 0x7F800000u; b += 4093) {
        const double v = decode(encode(testing::f32(static_cast<std::uint32_t>(b)), f, r, Overflow::saturate), f);
        ASSERT_GE(v, prev) << f.name;
        prev = v;
      }
    }
  }
}

TEST(Stochastic, BitsAreReproducibleAndSeedDependent) {
  EXPECT_EQ(stochastic_bits(1ULL, 12345ULL), stochastic_bits(1ULL, 12345ULL));
  EXPECT_NE(stochastic_bits(1ULL, 12345ULL), stochastic_bits(2ULL, 12345ULL));
  EXPECT_NE(stochastic_bits(1ULL, 12345ULL), stochastic_bits(1ULL, 12346ULL));
  EXPECT_NE(stochastic_bits(1ULL, 5ULL), stochastic_bits(std::uint64_t{1}, std::uint64_t{5} + (std::uint64_t{1} << 32)));
}

TEST(Stochastic, RoundsUpWithProbabilityOfTheDiscardedFraction) {
  // frac = 0 never rounds; the decision is exactly floor(frac * 2^32) + r >= 2^32.
  const auto& f = spec(DType::bf16);
  const double x = 1.0 + 0.25 * 0x1p-7;  // a quarter of the way from 1 to the next bf16
  EXPECT_EQ(encode(x, f, Rounding::stochastic, Overflow::inf, 0xBFFFFFFFu), 0x3F80u);
  EXPECT_EQ(encode(x, f, Rounding::stochastic, Overflow::inf, 0xC0000000u), 0x3F81u);
  EXPECT_EQ(encode(1.0, f, Rounding::stochastic, Overflow::inf, 0xFFFFFFFFu), 0x3F80u);
}

TEST(Stochastic, IsUnbiased) {
  // Mean of many stochastic roundings of x equals x: the error of a mean of N Bernoulli(p)
  // draws has standard deviation ulp * sqrt(p(1-p)/N) <= ulp / (2 sqrt N); allow 5 sigma.
  constexpr int kDraws = 200000;
  for (DType t : kNarrow) {
    const auto& f = spec(t);
    for (double x : {1.0 + 0.3 * epsilon(f), -3.0 - 0.9 * 2 * epsilon(f), 0.7 * min_subnormal(f),
                     max_value(f) * 0.999}) {
      double sum = 0.0;
      for (int i = 0; i < kDraws; ++i)
        sum += decode(encode(x, f, Rounding::stochastic, Overflow::saturate,
                             stochastic_bits(42, static_cast<std::uint64_t>(i))), f);
      const double mean = sum / kDraws;
      const double lo = decode(encode(x, f, Rounding::toward_zero, Overflow::saturate), f);
      const double ulp = std::abs(x - lo) > 0 ? std::abs(
          decode(encode(x, f, Rounding::toward_zero, Overflow::saturate) + 1, f) - lo) : 1.0;
      EXPECT_NEAR(mean, x, 5.0 * ulp / (2.0 * std::sqrt(kDraws)) + ulp * 0x1p-32)
          << f.name << " x=" << x;
    }
  }
}

}  // namespace
}  // namespace mixtrain::numerics
