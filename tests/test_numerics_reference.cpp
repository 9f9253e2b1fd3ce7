// The production encoders checked against an independent reference over fp32 bit patterns.
//
// The reference never looks at bit fields: it lists each format's non-negative finite values in
// increasing order with ldexp (so code k holds value k), then decides round-to-nearest-even by
// comparing the input, as a double, with exact midpoints, and toward-zero by the bracketing value.
// By default every one of the 2^32 fp32 patterns is checked for nearest (both signs) and every
// positive one for toward-zero; MIXTRAIN_TEST_SWEEP=dense (the sanitizer preset) checks a dense
// sample plus the neighbourhood of every representable value and midpoint instead.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <vector>

#include "numerics/convert.h"
#include "numerics/encode.h"
#include "numerics_test_util.h"
#include "runtime/parallel.h"

namespace mixtrain::numerics {
namespace {

struct Reference {
  std::vector<double> values;  // values[k] is the value of code k (k <= max_code)
  double next = 0;             // where code max_code + 1 would lie (one ulp above max)
  std::uint64_t max_code = 0;
  std::uint64_t overflow_code = 0;
  std::uint64_t sign = 0;
};

Reference build_reference(const FormatSpec& f) {
  Reference r;
  const int m = f.mantissa_bits;
  const std::int64_t per_binade = std::int64_t{1} << m;
  const int emin = 1 - f.bias;
  for (std::int64_t k = 0; k < per_binade; ++k) r.values.push_back(std::ldexp(double(k), emin - m));
  // Normal binades until the format's finite range ends (the count differs by Specials).
  const std::uint64_t count = f.max_code() + 1;
  for (int e = emin; r.values.size() < count; ++e)
    for (std::int64_t k = 0; k < per_binade && r.values.size() < count; ++k)
      r.values.push_back(std::ldexp(double(per_binade + k), e - m));
  const std::size_t n = r.values.size();
  r.next = r.values[n - 1] + (r.values[n - 1] - r.values[n - 2]);
  r.max_code = n - 1;
  r.overflow_code = f.has_inf() ? f.inf_code() : f.nan_code();  // Overflow::inf
  r.sign = f.sign_mask();
  return r;
}

// Expected magnitude codes for sorted non-negative finite inputs `xs`.
void expected_codes(const Reference& ref, const std::vector<std::uint32_t>& xs, bool nearest,
                    std::vector<std::uint64_t>& out) {
  out.resize(xs.size());
  std::size_t k = 0;
  {
    const double x0 = testing::f32(xs.front());
    k = static_cast<std::size_t>(std::upper_bound(ref.values.begin(), ref.values.end(), x0) -
                                 ref.values.begin()) - 1;
  }
  const std::size_t last = ref.values.size() - 1;
  for (std::size_t i = 0; i < xs.size(); ++i) {
    const double x = testing::f32(xs[i]);
    while (k < last && ref.values[k + 1] <= x) ++k;
    const double lo = ref.values[k];
    const double hi = k < last ? ref.values[k + 1] : ref.next;
    std::uint64_t code;
    if (x >= ref.next) {
      code = nearest ? ref.max_code + 1 : ref.max_code;
    } else if (!nearest || x == lo) {
      code = k;
    } else {
      const double mid = (lo + hi) / 2;  // exact: lo and hi have few significant bits
      code = x < mid ? k : x > mid ? k + 1 : (k % 2 == 0 ? k : k + 1);
    }
    out[i] = code > ref.max_code ? ref.overflow_code : code;
  }
}

// Checks the buffer encoder on xs (positive, sorted) and on their negatives.
void check_patterns(DType t, const Reference& ref, const std::vector<std::uint32_t>& xs,
                    Rounding rounding, bool negatives, std::atomic<std::uint64_t>& failures) {
  const FormatSpec& f = spec(t);
  // Reused per thread: fresh multi-megabyte vectors per chunk cost more in page faults than the
  // conversions themselves.
  thread_local std::vector<std::uint64_t> want;
  thread_local std::vector<float> in;
  thread_local std::vector<std::uint8_t> out;
  expected_codes(ref, xs, rounding == Rounding::nearest, want);
  in.resize(xs.size());
  out.resize(xs.size() * f.bytes());
  auto code_at = [&](std::size_t i) -> std::uint64_t {
    return f.bytes() == 1 ? out[i] : out[2 * i] | (std::uint64_t{out[2 * i + 1]} << 8);
  };
  ConvertOptions opt;
  opt.rounding = rounding;
  opt.overflow = Overflow::inf;
  for (int sign = 0; sign < (negatives ? 2 : 1); ++sign) {
    for (std::size_t i = 0; i < xs.size(); ++i) in[i] = testing::f32(xs[i] | (sign ? 0x80000000u : 0u));
    encode(out.data(), t, in.data(), in.size(), opt);
    for (std::size_t i = 0; i < xs.size(); ++i) {
      const std::uint64_t expect = want[i] | (sign ? ref.sign : 0);
      if (code_at(i) != expect && failures.fetch_add(1) < 10)
        ADD_FAILURE() << f.name << " " << to_string(rounding) << " input bits 0x" << std::hex
                      << (xs[i] | (sign ? 0x80000000u : 0u)) << ": got 0x" << code_at(i)
                      << " want 0x" << expect;
    }
  }
}

class ReferenceSweep : public ::testing::TestWithParam<DType> {};

TEST_P(ReferenceSweep, MatchesIndependentReference) {
  const DType t = GetParam();
  const Reference ref = build_reference(spec(t));
  std::atomic<std::uint64_t> failures{0};
  if (testing::exhaustive_sweep()) {
    // All positive finite patterns in 2^22-pattern chunks, spread over the pool.
    constexpr std::uint64_t kChunk = 1u << 22;
    const std::uint64_t end = 0x7F800000u;
    runtime::parallel_for_chunks(end / kChunk, [&](std::size_t c) {
      thread_local std::vector<std::uint32_t> xs;
      xs.resize(kChunk);
      for (std::uint64_t i = 0; i < kChunk; ++i) xs[i] = static_cast<std::uint32_t>(c * kChunk + i);
      check_patterns(t, ref, xs, Rounding::nearest, true, failures);
      check_patterns(t, ref, xs, Rounding::toward_zero, false, failures);
    });
  } else {
    std::vector<std::uint32_t> xs;
    for (std::uint64_t b = 0; b < 0x7F800000u; b += 65521) xs.push_back(static_cast<std::uint32_t>(b));
    for (std::size_t k = 0; k < ref.values.size(); ++k) {
      const double hi = k + 1 < ref.values.size() ? ref.values[k + 1] : ref.next;
      for (double v : {ref.values[k], (ref.values[k] + hi) / 2}) {
        const auto b = testing::bits(static_cast<float>(v));
        for (int d = -24; d <= 24; ++d) {
          const std::int64_t p = std::int64_t{b} + d;
          if (p >= 0 && p < 0x7F800000) xs.push_back(static_cast<std::uint32_t>(p));
        }
      }
    }
    std::sort(xs.begin(), xs.end());
    xs.erase(std::unique(xs.begin(), xs.end()), xs.end());
    check_patterns(t, ref, xs, Rounding::nearest, true, failures);
    check_patterns(t, ref, xs, Rounding::toward_zero, true, failures);
  }
  EXPECT_EQ(failures.load(), 0u);
}

INSTANTIATE_TEST_SUITE_P(Formats, ReferenceSweep,
                         ::testing::Values(DType::fp16, DType::bf16, DType::e4m3, DType::e5m2),
                         [](const auto& p) { return std::string(name(p.param)); });

TEST(ReferenceSweep, InfAndNaNPatterns) {
  for (DType t : {DType::fp16, DType::bf16, DType::e4m3, DType::e5m2}) {
    const auto& f = spec(t);
    const float in[] = {testing::f32(0x7F800000u), testing::f32(0xFF800000u),
                        testing::f32(0x7F800001u), testing::f32(0xFFC00000u)};
    std::uint8_t out[8];
    ConvertOptions opt;
    opt.overflow = Overflow::inf;
    encode(out, t, in, 4, opt);
    auto code = [&](int i) -> std::uint64_t {
      return f.bytes() == 1 ? out[i] : out[2 * i] | (std::uint64_t{out[2 * i + 1]} << 8);
    };
    const std::uint64_t ovf = f.has_inf() ? f.inf_code() : f.nan_code();
    EXPECT_EQ(code(0), ovf) << f.name;
    EXPECT_EQ(code(1), ovf | f.sign_mask()) << f.name;
    EXPECT_EQ(code(2), f.nan_code()) << f.name;
    EXPECT_EQ(code(3), f.nan_code() | f.sign_mask()) << f.name;
  }
}

// fp64 inputs: the scalar encoder against the same reference on doubles that need more than
// fp32's precision to round correctly (just above and below each midpoint).
TEST(ReferenceSweep, DoubleInputsNearMidpoints) {
  for (DType t : {DType::fp16, DType::bf16, DType::e4m3, DType::e5m2, DType::fp32}) {
    const auto& f = spec(t);
    if (t == DType::fp32) {
      EXPECT_EQ(encode(1.0 + 0x1p-24 + 0x1p-52, f, Rounding::nearest, Overflow::inf), 0x3F800001u);
      EXPECT_EQ(encode(1.0 + 0x1p-24, f, Rounding::nearest, Overflow::inf), 0x3F800000u);
      EXPECT_EQ(encode(1.0 + 0x1p-24 - 0x1p-52, f, Rounding::nearest, Overflow::inf), 0x3F800000u);
      continue;
    }
    const Reference ref = build_reference(f);
    for (std::size_t k = 0; k + 1 < ref.values.size(); ++k) {
      const double mid = (ref.values[k] + ref.values[k + 1]) / 2;
      const std::uint64_t even = k % 2 == 0 ? k : k + 1;
      ASSERT_EQ(encode(mid, f, Rounding::nearest, Overflow::inf), even) << f.name << " k=" << k;
      ASSERT_EQ(encode(std::nextafter(mid, 0.0), f, Rounding::nearest, Overflow::inf), k);
      ASSERT_EQ(encode(std::nextafter(mid, 1e300), f, Rounding::nearest, Overflow::inf), k + 1);
      ASSERT_EQ(encode(-std::nextafter(mid, 1e300), f, Rounding::nearest, Overflow::inf),
                (k + 1) | f.sign_mask());
      ASSERT_EQ(encode(std::nextafter(ref.values[k + 1], 0.0), f, Rounding::toward_zero,
                       Overflow::inf), k);
    }
  }
}

}  // namespace
}  // namespace mixtrain::numerics
