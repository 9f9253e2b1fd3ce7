// Tests of io::convert_file (the logic behind `mixtrain convert`) and numerics::inspect (behind
// `mixtrain formats`): exact converted bytes, summary counts, per-tensor stochastic counters,
// error cases that must leave no output.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "io/convert_file.h"
#include "io/safetensors.h"
#include "io_test_util.h"
#include "numerics/convert.h"
#include "numerics/encode.h"
#include "numerics/inspect.h"
#include "runtime/error.h"

namespace mixtrain {
namespace {

using testing::TempDir;

template <typename T>
std::vector<std::byte> to_bytes(const std::vector<T>& v) {
  std::vector<std::byte> b(v.size() * sizeof(T));
  std::memcpy(b.data(), v.data(), b.size());
  return b;
}

TEST(FileConversion, RawFp32ToE4m3SaturateAndInf) {
  TempDir dir;
  const float inf = std::numeric_limits<float>::infinity();
  const std::vector<float> x = {1000.0f, -1000.0f, inf, 448.0f, 464.0f, 465.0f, 1e-30f, 1.5f};
  testing::write_bytes(dir / "in.f32", x.data(), x.size() * 4);
  io::ConvertFileOptions opt;
  opt.to = DType::e4m3;
  auto s = io::convert_file(dir / "in.f32", dir / "sat.e4m3", opt);
  EXPECT_EQ(testing::read_bytes(dir / "sat.e4m3"),
            (std::vector<unsigned char>{0x7e, 0xfe, 0x7e, 0x7e, 0x7e, 0x7e, 0x00, 0x3c}));
  EXPECT_FALSE(s.safetensors);
  EXPECT_EQ(s.elements, 8u);
  EXPECT_EQ(s.amax, static_cast<double>(inf));
  EXPECT_EQ(s.out_of_range, 4u);  // ±1000, 464, 465 (inf is not finite)
  EXPECT_EQ(s.flushed, 1u);       // 1e-30
  EXPECT_EQ(s.nonfinite_out, 0u);

  opt.convert.overflow = numerics::Overflow::inf;
  s = io::convert_file(dir / "in.f32", dir / "inf.e4m3", opt);
  // 464 is the tie between 448 (even mantissa) and 480: it rounds to 448, 465 overflows to NaN.
  EXPECT_EQ(testing::read_bytes(dir / "inf.e4m3"),
            (std::vector<unsigned char>{0x7f, 0xff, 0x7f, 0x7e, 0x7e, 0x7f, 0x00, 0x3c}));
  EXPECT_EQ(s.nonfinite_out, 4u);
}

TEST(FileConversion, RawFromOtherFormatsAndScale) {
  TempDir dir;
  const std::vector<std::uint16_t> h = {0x3c00, 0xc000, 0x7c00, 0x0001};  // 1, -2, inf, 2^-24
  testing::write_bytes(dir / "in.f16", h.data(), 8);
  io::ConvertFileOptions opt;
  opt.from = DType::fp16;
  opt.to = DType::fp64;
  opt.convert.scale = 4.0;
  const auto s = io::convert_file(dir / "in.f16", dir / "out.f64", opt);
  const auto out = testing::read_bytes(dir / "out.f64");
  ASSERT_EQ(out.size(), 32u);
  double y[4];
  std::memcpy(y, out.data(), 32);
  EXPECT_EQ(y[0], 4.0);
  EXPECT_EQ(y[1], -8.0);
  EXPECT_EQ(y[2], std::numeric_limits<double>::infinity());
  EXPECT_EQ(y[3], std::ldexp(1.0, -22));
  EXPECT_EQ(s.amax, std::numeric_limits<double>::infinity());  // before scaling
  EXPECT_EQ(s.nonfinite_out, 1u);
}

TEST(FileConversion, SafetensorsConvertsFloatsCopiesTheRestKeepsMetadata) {
  TempDir dir;
  io::SafeTensorsFile f;
  f.metadata = {{"format", "pt"}, {"note", "hello"}};
  f.tensors.push_back({"w", "F32", {2, 2}, to_bytes<float>({1.0f, 3.14159f, -2.5f, 1e6f})});
  f.tensors.push_back({"ids", "I64", {3}, to_bytes<std::int64_t>({1, 2, -3})});
  f.tensors.push_back({"h", "F16", {2}, to_bytes<std::uint16_t>({0x3c00, 0xc000})});
  f.tensors.push_back({"d", "F64", {1}, to_bytes<double>({0.1})});
  io::write_safetensors(dir / "in.safetensors", f);

  io::ConvertFileOptions opt;
  opt.to = DType::bf16;
  const auto s = io::convert_file(dir / "in.safetensors", dir / "out.safetensors", opt);
  EXPECT_TRUE(s.safetensors);
  EXPECT_EQ(s.tensors_converted, 3u);
  EXPECT_EQ(s.tensors_copied, 1u);
  EXPECT_EQ(s.elements, 7u);
  EXPECT_EQ(s.amax, 1e6);

  const auto g = io::read_safetensors(dir / "out.safetensors");
  EXPECT_EQ(g.metadata, f.metadata);
  ASSERT_EQ(g.tensors.size(), 4u);
  EXPECT_EQ(g.tensors[0].name, "w");
  EXPECT_EQ(g.tensors[0].dtype, "BF16");
  EXPECT_EQ(g.tensors[0].shape, (std::vector<std::int64_t>{2, 2}));
  // 1e6f = 0x49742400 -> 0x4974 (round down), 3.14159 -> 0x4049, -2.5 -> 0xc020.
  EXPECT_EQ(g.tensors[0].data, to_bytes<std::uint16_t>({0x3f80, 0x4049, 0xc020, 0x4974}));
  EXPECT_EQ(g.tensors[1].name, "ids");
  EXPECT_EQ(g.tensors[1].dtype, "I64");
  EXPECT_EQ(g.tensors[1].data, f.tensors[1].data);
  EXPECT_EQ(g.tensors[2].dtype, "BF16");
  EXPECT_EQ(g.tensors[2].data, to_bytes<std::uint16_t>({0x3f80, 0xc000}));
  EXPECT_EQ(g.tensors[3].dtype, "BF16");
  EXPECT_EQ(g.tensors[3].data, to_bytes<std::uint16_t>({0x3dcd}));  // 0.1 -> 0.10009765625
}

TEST(FileConversion, SafetensorsStochasticCountersRunAcrossTensors) {
  // Two tensors converted stochastically must equal one conversion of their concatenation: the
  // second tensor's counters continue where the first one's stopped.
  TempDir dir;
  std::vector<float> a(1000), b(777);
  for (std::size_t i = 0; i < a.size(); ++i) a[i] = 1.0f + static_cast<float>(i) * 1e-4f;
  for (std::size_t i = 0; i < b.size(); ++i) b[i] = -3.0f - static_cast<float>(i) * 1e-4f;
  io::SafeTensorsFile f;
  f.tensors.push_back({"a", "F32", {1000}, to_bytes(a)});
  f.tensors.push_back({"b", "F32", {777}, to_bytes(b)});
  io::write_safetensors(dir / "in.safetensors", f);
  io::ConvertFileOptions opt;
  opt.to = DType::e5m2;
  opt.convert.rounding = numerics::Rounding::stochastic;
  opt.convert.seed = 1234;
  io::convert_file(dir / "in.safetensors", dir / "out.safetensors", opt);
  const auto g = io::read_safetensors(dir / "out.safetensors");

  std::vector<float> all = a;
  all.insert(all.end(), b.begin(), b.end());
  std::vector<std::byte> expected(all.size());
  numerics::ConvertOptions co;
  co.rounding = numerics::Rounding::stochastic;
  co.seed = 1234;
  numerics::convert(expected.data(), DType::e5m2, all.data(), DType::fp32, all.size(), co);
  ASSERT_EQ(g.tensors.size(), 2u);
  EXPECT_EQ(g.tensors[0].data, std::vector<std::byte>(expected.begin(), expected.begin() + 1000));
  EXPECT_EQ(g.tensors[1].data, std::vector<std::byte>(expected.begin() + 1000, expected.end()));
  // And the second tensor did not reuse the first one's random bits.
  std::vector<std::byte> reused(777);
  numerics::convert(reused.data(), DType::e5m2, b.data(), DType::fp32, b.size(), co);
  EXPECT_NE(g.tensors[1].data, reused);
}

// convert_file must throw a one-line Error containing `fragment` and leave no file at out.
void expect_fails(const std::string& in, const std::string& out, const io::ConvertFileOptions& opt,
                  const std::string& fragment, const TempDir& dir, std::size_t entries_before) {
  try {
    io::convert_file(in, out, opt);
    ADD_FAILURE() << "converted; expected: " << fragment;
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos) << e.what();
  }
  EXPECT_FALSE(testing::exists(out));
  EXPECT_EQ(dir.entries().size(), entries_before);
}

TEST(FileConversion, ErrorsLeaveNoOutput) {
  TempDir dir;
  testing::write_text(dir / "five.bin", "12345");
  testing::write_text(dir / "bad.safetensors", "not a safetensors file");
  io::SafeTensorsFile f;
  f.tensors.push_back({"h", "F16", {1}, to_bytes<std::uint16_t>({0x3c00})});
  io::write_safetensors(dir / "h.safetensors", f);
  const std::size_t n = dir.entries().size();
  io::ConvertFileOptions opt;
  opt.to = DType::bf16;
  expect_fails(dir / "five.bin", dir / "o", opt, "size 5 is not a multiple of 4 bytes (fp32)", dir, n);
  expect_fails(dir / "missing", dir / "o", opt, "cannot read", dir, n);
  expect_fails(dir / "bad.safetensors", dir / "o.safetensors", opt,
               "header length 7021991845529153390 exceeds the file size (22 bytes)", dir, n);
  expect_fails(dir / "five.bin", dir / "o.safetensors", opt, "is a raw array", dir, n);
  expect_fails(dir / "five.bin", dir / "nodir/o", opt, "size 5", dir, n);
  auto o2 = opt;
  o2.from = DType::fp32;
  expect_fails(dir / "h.safetensors", dir / "o.safetensors", o2,
               "tensor 'h' is F16, not fp32 as the input format says", dir, n);
  o2 = opt;
  o2.convert.scale = std::numeric_limits<double>::infinity();
  expect_fails(dir / "h.safetensors", dir / "o.safetensors", o2, "scale must be a finite number",
               dir, n);
  testing::write_text(dir / "four.bin", "1234");
  expect_fails(dir / "four.bin", dir / "nodir/o", opt, "cannot write", dir, n + 1);
}

TEST(Inspection, Pi) {
  const double pi = 3.14159;
  const auto h = numerics::inspect(pi, DType::fp16);
  EXPECT_EQ(h.code, 0x4248u);
  EXPECT_EQ(h.decoded, 3.140625);
  EXPECT_EQ(h.rel_error, (3.140625 - pi) / pi);
  EXPECT_EQ(numerics::code_hex(h.code, DType::fp16), "0x4248");
  EXPECT_EQ(numerics::code_binary(h.code, DType::fp16), "0|10000|1001001000");
  EXPECT_EQ(numerics::inspect(pi, DType::bf16).code, 0x4049u);
  EXPECT_EQ(numerics::inspect(pi, DType::e4m3).code, 0x45u);
  EXPECT_EQ(numerics::inspect(pi, DType::e5m2).code, 0x42u);
  EXPECT_EQ(numerics::code_binary(0x45, DType::e4m3), "0|1000|101");
  EXPECT_EQ(numerics::code_hex(0x45, DType::e4m3), "0x45");
  EXPECT_EQ(numerics::code_hex(0x3f80, DType::bf16), "0x3f80");
  EXPECT_EQ(numerics::code_hex(1, DType::fp64), "0x0000000000000001");
}

TEST(Inspection, Flags) {
  using numerics::Overflow;
  using numerics::Rounding;
  auto s = numerics::inspect(1e6, DType::e4m3);
  EXPECT_TRUE(s.overflow && s.saturated);
  EXPECT_EQ(s.code, 0x7eu);
  s = numerics::inspect(1e6, DType::e4m3, Rounding::nearest, Overflow::inf);
  EXPECT_TRUE(s.overflow && s.nan && !s.saturated);
  s = numerics::inspect(464, DType::e4m3);  // tie rounds to 448: not an overflow
  EXPECT_FALSE(s.overflow || s.saturated);
  s = numerics::inspect(465, DType::e4m3, Rounding::nearest, Overflow::inf);
  EXPECT_TRUE(s.overflow && s.nan);
  s = numerics::inspect(470, DType::e4m3, Rounding::toward_zero, Overflow::inf);
  EXPECT_FALSE(s.overflow);  // truncates to 448 even with an unbounded exponent
  s = numerics::inspect(480, DType::e4m3, Rounding::toward_zero, Overflow::inf);
  EXPECT_TRUE(s.overflow && s.saturated && !s.nan);  // IEEE: overflow, result max
  s = numerics::inspect(65520, DType::fp16);  // fp16 max 65504; 65520 is the tie to odd -> inf
  EXPECT_TRUE(s.overflow && s.inf);
  EXPECT_EQ(s.rel_error, std::numeric_limits<double>::infinity());
  s = numerics::inspect(-std::numeric_limits<double>::infinity(), DType::e5m2);
  EXPECT_TRUE(s.saturated && !s.overflow);
  EXPECT_EQ(s.code, 0xfbu);
  EXPECT_TRUE(std::isnan(s.rel_error));
  s = numerics::inspect(1e-7, DType::fp16);
  EXPECT_TRUE(s.subnormal && !s.flushed);
  EXPECT_EQ(s.code, 0x0002u);
  s = numerics::inspect(-1e-10, DType::fp16);
  EXPECT_TRUE(s.flushed && !s.subnormal);
  EXPECT_EQ(s.code, 0x8000u);
  EXPECT_EQ(s.rel_error, 1.0);  // (-0 - -1e-10) / 1e-10
  s = numerics::inspect(std::nan(""), DType::e4m3);
  EXPECT_TRUE(s.nan);
  EXPECT_EQ(s.code, 0x7fu);
  s = numerics::inspect(0.0, DType::e4m3);
  EXPECT_FALSE(s.flushed || s.subnormal || s.overflow);
  EXPECT_EQ(s.rel_error, 0.0);
  s = numerics::inspect(1e300, DType::fp64);
  EXPECT_FALSE(s.overflow);
  s = numerics::inspect(1e300, DType::fp32);
  EXPECT_TRUE(s.overflow && s.inf);
}

TEST(Inspection, OverflowFlagAgreesWithTheEncoderUnderInf) {
  // For nearest and stochastic rounding, IEEE overflow is exactly "the encoder gives inf/NaN".
  for (DType t : {DType::fp16, DType::bf16, DType::e4m3, DType::e5m2}) {
    const auto& f = numerics::spec(t);
    const double maxv = numerics::max_value(f);
    for (int k = -2000; k <= 2000; ++k) {
      const double x = maxv * (1.0 + k * 1e-4);
      for (std::uint32_t r : {0u, 0x80000000u, 0xFFFFFFFFu}) {
        for (auto mode : {numerics::Rounding::nearest, numerics::Rounding::stochastic}) {
          const auto s = numerics::inspect(x, t, mode, numerics::Overflow::inf, r);
          ASSERT_EQ(s.overflow, s.inf || s.nan) << name(t) << " x=" << x << " r=" << r;
        }
      }
    }
  }
}

}  // namespace
}  // namespace mixtrain
