// The buffer kernels: the AVX2/F16C path bit-identical to the portable one, results independent
// of thread count and of converting in pieces, the fused amax and scale, exact decoding, and the
// fp16 encoder against the F16C instruction itself.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "numerics/convert.h"
#include "numerics/convert_kernels.h"
#include "numerics/encode.h"
#include "numerics/rng.h"
#include "numerics_test_util.h"
#include "runtime/parallel.h"

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace mixtrain::numerics {
namespace {

constexpr DType kNarrow[] = {DType::fp16, DType::bf16, DType::e4m3, DType::e5m2};

// Random bit patterns (every class: NaN, inf, subnormal, huge) plus values near each format's
// range, so every branch of the kernels is hit.
std::vector<float> test_inputs(std::size_t n) {
  std::mt19937 gen(7);
  std::vector<float> x(n);
  for (std::size_t i = 0; i < n; ++i) {
    switch (i % 4) {
      case 0: x[i] = testing::f32(static_cast<std::uint32_t>(gen())); break;
      case 1: x[i] = std::ldexp(std::uniform_real_distribution<float>(-2, 2)(gen),
                                static_cast<int>(gen() % 60) - 30); break;
      case 2: x[i] = std::ldexp(std::uniform_real_distribution<float>(-2, 2)(gen),
                                static_cast<int>(gen() % 40) - 140); break;
      default: x[i] = std::uniform_real_distribution<float>(-70000, 70000)(gen); break;
    }
  }
  return x;
}

TEST(Kernels, Avx2MatchesPortableBitForBit) {
  const detail::ConvertKernels* avx2 = detail::avx2_kernels();
  if (avx2 == nullptr || !__builtin_cpu_supports("avx2") || !__builtin_cpu_supports("f16c"))
    GTEST_SKIP() << "no AVX2/F16C on this CPU";
  const std::vector<float> x = test_inputs(100003);  // odd size: exercises the scalar tails
  for (DType t : kNarrow) {
    const auto& f = spec(t);
    for (Rounding r : {Rounding::nearest, Rounding::toward_zero, Rounding::stochastic})
      for (Overflow o : {Overflow::saturate, Overflow::inf})
        for (float scale : {1.0f, 0.375f, 1024.0f}) {
          const detail::EncodeArgs args{&f, r, o, scale, scale != 1.0f, 99, 12345};
          std::vector<std::uint8_t> a(x.size() * 2), b(x.size() * 2);
          const auto amax_a = avx2->encode_f32(a.data(), x.data(), x.size(), args);
          const auto amax_b = detail::generic_kernels().encode_f32(b.data(), x.data(), x.size(), args);
          ASSERT_EQ(amax_a, amax_b);
          ASSERT_EQ(a, b) << f.name << " " << to_string(r) << " " << to_string(o) << " x" << scale;
        }
    // Decoding every code.
    const std::size_t n = std::size_t{1} << f.bits();
    std::vector<std::uint16_t> codes(n);
    for (std::size_t c = 0; c < n; ++c) codes[c] = static_cast<std::uint16_t>(c);
    std::vector<std::uint8_t> codes8(codes.begin(), codes.end());
    const void* src = f.bytes() == 1 ? static_cast<const void*>(codes8.data()) : codes.data();
    std::vector<float> da(n), db(n);
    avx2->decode_f32(da.data(), src, n, f);
    detail::generic_kernels().decode_f32(db.data(), src, n, f);
    ASSERT_EQ(0, std::memcmp(da.data(), db.data(), n * 4)) << f.name;
  }
}

TEST(Kernels, BufferEncodeEqualsScalarDefinition) {
  const std::vector<float> x = test_inputs(4099);
  for (DType t : {DType::fp16, DType::bf16, DType::e4m3, DType::e5m2, DType::fp32, DType::fp64}) {
    const auto& f = spec(t);
    ConvertOptions opt;
    opt.rounding = Rounding::stochastic;
    opt.seed = 5;
    opt.index_offset = 77;
    std::vector<std::uint8_t> out(x.size() * f.bytes());
    encode(out.data(), t, x.data(), x.size(), opt);
    for (std::size_t i = 0; i < x.size(); ++i) {
      std::uint64_t got = 0;
      std::memcpy(&got, out.data() + i * f.bytes(), f.bytes());
      const std::uint64_t want = encode(x[i], f, Rounding::stochastic, f.default_overflow,
                                        stochastic_bits(std::uint64_t{5}, std::uint64_t{77} + i));
      ASSERT_EQ(got, want) << f.name << " i=" << i;
    }
  }
}

TEST(Kernels, IndependentOfThreadsAndPieces) {
  const std::vector<float> x = test_inputs((1 << 18) + 5);
  ConvertOptions opt;
  opt.rounding = Rounding::stochastic;
  opt.seed = 1234;
  const int threads = runtime::num_threads();
  for (DType t : kNarrow) {
    const std::size_t bytes = x.size() * size_of(t);
    std::vector<std::uint8_t> whole(bytes), single(bytes), pieces(bytes);
    const float amax = encode(whole.data(), t, x.data(), x.size(), opt);
    runtime::set_num_threads(1);
    EXPECT_EQ(testing::bits(encode(single.data(), t, x.data(), x.size(), opt)), testing::bits(amax));
    runtime::set_num_threads(threads > 1 ? threads : 3);
    // Three uneven pieces, each told where it starts.
    const std::size_t cut[] = {0, 1000, 70001, x.size()};
    for (int p = 0; p < 3; ++p) {
      ConvertOptions o = opt;
      o.index_offset = cut[p];
      encode(pieces.data() + cut[p] * size_of(t), t, x.data() + cut[p], cut[p + 1] - cut[p], o);
    }
    runtime::set_num_threads(threads);
    EXPECT_EQ(whole, single) << name(t);
    EXPECT_EQ(whole, pieces) << name(t);
  }
}

TEST(Kernels, AmaxAndScale) {
  std::vector<float> x = {1.0f, -3.5f, 0.25f, 2.0f, -0.0f, 3.0f, 1e-3f, -2.5f, 0.5f};
  std::vector<std::uint8_t> out(x.size());
  ConvertOptions opt;
  opt.scale = 128.0;  // 3.5 * 128 = 448: exactly e4m3's max
  EXPECT_EQ(encode(out.data(), DType::e4m3, x.data(), x.size(), opt), 3.5f);
  EXPECT_EQ(out[1], 0xFEu);
  EXPECT_EQ(out[0], 0x70u);  // 128 = 2^7 -> exponent field 14, mantissa 0
  std::vector<float> back(x.size());
  decode(back.data(), out.data(), DType::e4m3, x.size());
  EXPECT_EQ(back[3], 256.0f);
  EXPECT_EQ(testing::bits(back[4]), 0x80000000u);  // -0 kept
  x[6] = std::nanf("");
  EXPECT_TRUE(std::isnan(encode(out.data(), DType::e4m3, x.data(), x.size(), opt)));
  EXPECT_EQ(out[6], 0x7Fu);
  // fp64 sources: the amax comes back as a double.
  const std::vector<double> xd = {1e-300, -7.0, 2.0};
  std::vector<std::uint16_t> h(3);
  EXPECT_EQ(encode(h.data(), DType::fp16, xd.data(), 3), 7.0);
  EXPECT_EQ(h[1], 0xC700u);
  EXPECT_EQ(h[0], 0x0000u);
}

TEST(Kernels, ConvertAnyToAny) {
  // e5m2 -> e4m3 and fp16 -> bf16 go through exact fp32; fp64 -> fp16 rounds once.
  const std::uint8_t e5[] = {0x3C /*1.0*/, 0x7B /*57344*/, 0x01 /*2^-16*/, 0x7C /*inf*/};
  std::uint8_t e4[4];
  EXPECT_EQ(convert(e4, DType::e4m3, e5, DType::e5m2, 4), std::numeric_limits<double>::infinity());
  EXPECT_EQ(e4[0], 0x38u);
  EXPECT_EQ(e4[1], 0x7Eu);  // saturates
  EXPECT_EQ(e4[2], 0x00u);  // below half the smallest e4m3 subnormal
  EXPECT_EQ(e4[3], 0x7Eu);  // inf saturates (e4m3 default)
  const double d[] = {1.0 + 0x1p-11 + 0x1p-40};
  std::uint16_t h[1];
  convert(h, DType::fp16, d, DType::fp64, 1);
  EXPECT_EQ(h[0], 0x3C01u);
  std::vector<double> wide(4);
  decode(wide.data(), e5, DType::e5m2, 4);
  EXPECT_EQ(wide[1], 57344.0);
  EXPECT_EQ(wide[2], 0x1p-16);
}

#if defined(__x86_64__)
__attribute__((target("f16c"))) std::uint16_t hardware_fp16(float x, bool toward_zero) {
  const __m128 v = _mm_set_ss(x);
  const __m128i h = toward_zero ? _mm_cvtps_ph(v, _MM_FROUND_TO_ZERO) : _mm_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT);
  return static_cast<std::uint16_t>(_mm_extract_epi16(h, 0));
}

TEST(Kernels, ScalarFp16MatchesF16CInstruction) {
  if (!__builtin_cpu_supports("f16c")) GTEST_SKIP() << "no F16C";
  const auto& f = spec(DType::fp16);
  const std::uint64_t step = testing::exhaustive_sweep() ? 7 : 9973;
  for (std::uint64_t b = 0; b <= 0xFFFFFFFFu; b += step) {
    const float x = testing::f32(static_cast<std::uint32_t>(b));
    if (std::isnan(x)) continue;  // F16C keeps NaN payloads; mixtrain canonicalises (tested)
    for (bool tz : {false, true}) {
      const auto want = hardware_fp16(x, tz);
      const auto got = encode(x, f, tz ? Rounding::toward_zero : Rounding::nearest, Overflow::inf);
      ASSERT_EQ(got, want) << std::hex << "bits 0x" << b << (tz ? " toward-zero" : " nearest");
    }
  }
}
#endif

}  // namespace
}  // namespace mixtrain::numerics
