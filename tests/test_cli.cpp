// End-to-end tests of the `mixtrain` tool ($MIXTRAIN_BIN): conversions with exact expected bytes,
// `formats` output, --help, and the error contract (exit status 2, exactly one stderr line
// starting "mixtrain: ", no OUT and no temporary left behind).
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "io/safetensors.h"
#include "cli_test_util.h"

namespace mixtrain {
namespace {

using testing::TempDir;

using Result = testing::CliResult;
using testing::slurp;
Result run(const std::string& args) { return testing::run_cli(args); }

std::vector<std::string> lines(const std::string& s) {
  std::vector<std::string> v;
  std::istringstream in(s);
  for (std::string l; std::getline(in, l);) v.push_back(l);
  return v;
}

std::vector<std::string> words(const std::string& s) {
  std::vector<std::string> v;
  std::istringstream in(s);
  for (std::string w; in >> w;) v.push_back(w);
  return v;
}

template <typename T>
void write_values(const std::string& path, const std::vector<T>& v) {
  testing::write_bytes(path, v.data(), v.size() * sizeof(T));
}

template <typename T>
std::vector<T> read_values(const std::string& path) {
  const auto b = testing::read_bytes(path);
  std::vector<T> v(b.size() / sizeof(T));
  std::memcpy(v.data(), b.data(), v.size() * sizeof(T));
  EXPECT_EQ(b.size() % sizeof(T), 0u);
  return v;
}

template <typename T>
std::vector<std::byte> to_bytes(const std::vector<T>& v) {
  std::vector<std::byte> b(v.size() * sizeof(T));
  std::memcpy(b.data(), v.data(), b.size());
  return b;
}

TEST(CliHelp, ToolAndEveryCommand) {
  for (const char* args : {"--help", "convert --help", "formats --help", "-h"}) {
    SCOPED_TRACE(args);
    const auto r = run(args);
    EXPECT_EQ(r.status, 0);
    EXPECT_NE(r.out.find("Usage:"), std::string::npos) << r.out;
    EXPECT_EQ(r.err, "");
  }
  EXPECT_NE(run("convert --help").out.find("--rounding"), std::string::npos);
  EXPECT_NE(run("formats --help").out.find("--json"), std::string::npos);
}

TEST(CliConvert, RawRoundTripThroughBf16IsExact) {
  TempDir dir;
  // Every bf16 bit pattern except NaNs, as fp32: the round trip must reproduce them bit for bit.
  std::vector<std::uint32_t> x;
  std::vector<std::uint16_t> expected_bf16;
  for (std::uint32_t h = 0; h < 0x10000; ++h) {
    if ((h & 0x7F80) == 0x7F80 && (h & 0x7F) != 0) continue;  // NaN
    x.push_back(h << 16);
    expected_bf16.push_back(static_cast<std::uint16_t>(h));
  }
  write_values(dir / "in.f32", x);
  auto r = run("convert --to bf16 " + (dir / "in.f32") + " " + (dir / "mid.bf16"));
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.err, "");
  EXPECT_EQ(lines(r.out).size(), 1u) << r.out;
  EXPECT_NE(r.out.find(std::to_string(x.size()) + " elements fp32 -> bf16"), std::string::npos) << r.out;
  EXPECT_EQ(read_values<std::uint16_t>(dir / "mid.bf16"), expected_bf16);
  r = run("convert --from bfloat16 --to float32 " + (dir / "mid.bf16") + " " + (dir / "out.f32"));
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(read_values<std::uint32_t>(dir / "out.f32"), x);
  EXPECT_EQ(dir.entries().size(), 3u);
}

TEST(CliConvert, E4m3SaturateVersusInf) {
  TempDir dir;
  const float inf = std::numeric_limits<float>::infinity();
  write_values<float>(dir / "in.f32", {1000.0f, -1000.0f, inf, -inf, 448.0f, 464.0f, 465.0f, -1.5f});
  auto r = run("convert --to e4m3 " + (dir / "in.f32") + " " + (dir / "sat.bin"));
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(testing::read_bytes(dir / "sat.bin"),
            (std::vector<unsigned char>{0x7e, 0xfe, 0x7e, 0xfe, 0x7e, 0x7e, 0x7e, 0xbc}));
  EXPECT_NE(r.out.find("8 elements fp32 -> e4m3 (nearest, overflow saturate)"), std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("4 beyond +-448,"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find(", 0 inf/nan"), std::string::npos) << r.out;

  r = run("convert --to e4m3 --overflow inf " + (dir / "in.f32") + " " + (dir / "inf.bin"));
  ASSERT_EQ(r.status, 0) << r.err;
  // e4m3 has no inf: overflow gives NaN (S.1111.111); 464 is a tie that rounds to 448.
  EXPECT_EQ(testing::read_bytes(dir / "inf.bin"),
            (std::vector<unsigned char>{0x7f, 0xff, 0x7f, 0xff, 0x7e, 0x7e, 0x7f, 0xbc}));
  EXPECT_NE(r.out.find(", 5 inf/nan"), std::string::npos) << r.out;
}

TEST(CliConvert, RoundingScaleAndStochasticSeed) {
  TempDir dir;
  // 0.75 ulp, -0.75 ulp, exact, a tie at 0.5 ulp, a tie at 1.5 ulp (bf16 ulp at 1 is 2^-7).
  write_values<float>(dir / "in.f32",
                      {1.0f + 0x1.8p-8f, -1.0f - 0x1.8p-8f, 3.0f, 1.0f + 0x1p-8f, 1.0f + 0x3p-8f});
  auto r = run("convert --to bf16 --rounding toward-zero --scale 2 " + (dir / "in.f32") + " " +
               (dir / "tz.bin"));
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("5 elements fp32 -> bf16 (toward-zero, overflow inf, scale 2)"),
            std::string::npos)
      << r.out;
  // Scaled by 2 (ulp 2^-6): 0.75 and 0.5 ulp truncate to 2, 1.5 ulp to 2 + 2^-6; 6 = 0x40c0.
  EXPECT_EQ(read_values<std::uint16_t>(dir / "tz.bin"),
            (std::vector<std::uint16_t>{0x4000, 0xc000, 0x40c0, 0x4000, 0x4001}));
  r = run("convert --to bf16 " + (dir / "in.f32") + " " + (dir / "rn.bin"));
  EXPECT_EQ(read_values<std::uint16_t>(dir / "rn.bin"),
            (std::vector<std::uint16_t>{0x3f81, 0xbf81, 0x4040, 0x3f80, 0x3f82}));  // ties to even
  // Stochastic: reproducible for a seed; each element is one of its two neighbours.
  run("convert --to bf16 --rounding stochastic --seed 7 " + (dir / "in.f32") + " " + (dir / "s1"));
  run("convert --to bf16 --rounding stochastic --seed 7 " + (dir / "in.f32") + " " + (dir / "s2"));
  const auto s1 = read_values<std::uint16_t>(dir / "s1");
  ASSERT_EQ(s1.size(), 5u);
  EXPECT_EQ(s1, read_values<std::uint16_t>(dir / "s2"));
  EXPECT_TRUE(s1[0] == 0x3f80 || s1[0] == 0x3f81);
  EXPECT_TRUE(s1[1] == 0xbf80 || s1[1] == 0xbf81);
  EXPECT_EQ(s1[2], 0x4040);
  EXPECT_TRUE(s1[3] == 0x3f80 || s1[3] == 0x3f81);
  EXPECT_TRUE(s1[4] == 0x3f81 || s1[4] == 0x3f82);
}

TEST(CliConvert, SafetensorsKeepsMetadataAndNonFloatTensors) {
  TempDir dir;
  io::SafeTensorsFile f;
  f.metadata = {{"format", "pt"}, {"epoch", "3"}};
  f.tensors.push_back({"w", "F32", {2, 2}, to_bytes<float>({1.0f, 3.14159f, -2.5f, 1e6f})});
  f.tensors.push_back({"ids", "I64", {3}, to_bytes<std::int64_t>({1, 2, -3})});
  f.tensors.push_back({"h", "F16", {2}, to_bytes<std::uint16_t>({0x3c00, 0xc000})});
  f.tensors.push_back({"mask", "BOOL", {2}, to_bytes<std::uint8_t>({1, 0})});
  io::write_safetensors(dir / "in.safetensors", f);

  const auto r = run("convert --to float8_e4m3fn " + (dir / "in.safetensors") + " " +
                     (dir / "out.safetensors"));
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("2 floating tensors (6 elements) -> e4m3, 2 other tensors copied"),
            std::string::npos)
      << r.out;
  const auto g = io::read_safetensors(dir / "out.safetensors");
  EXPECT_EQ(g.metadata, f.metadata);
  ASSERT_EQ(g.tensors.size(), 4u);
  EXPECT_EQ(g.tensors[0].name, "w");
  EXPECT_EQ(g.tensors[0].dtype, "F8_E4M3");
  EXPECT_EQ(g.tensors[0].shape, (std::vector<std::int64_t>{2, 2}));
  // 1 -> 0x38, 3.14159 -> 3.25 = 0x45, -2.5 -> 0xc2, 1e6 -> saturates to 448 = 0x7e.
  EXPECT_EQ(g.tensors[0].data, to_bytes<std::uint8_t>({0x38, 0x45, 0xc2, 0x7e}));
  EXPECT_EQ(g.tensors[1].name, "ids");
  EXPECT_EQ(g.tensors[1].dtype, "I64");
  EXPECT_EQ(g.tensors[1].data, f.tensors[1].data);
  EXPECT_EQ(g.tensors[2].name, "h");
  EXPECT_EQ(g.tensors[2].dtype, "F8_E4M3");
  EXPECT_EQ(g.tensors[2].data, to_bytes<std::uint8_t>({0x38, 0xc0}));
  EXPECT_EQ(g.tensors[3].dtype, "BOOL");
  EXPECT_EQ(g.tensors[3].data, f.tensors[3].data);
}

TEST(CliFormats, PiTable) {
  const auto r = run("formats 3.14159");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.err, "");
  const auto ls = lines(r.out);
  ASSERT_EQ(ls.size(), 8u) << r.out;
  EXPECT_EQ(ls[0], "3.14159 = 3.1415899999999999");
  // format, hex, sign|exponent|mantissa, decoded, relative error, flags
  const std::vector<std::vector<std::string>> expected = {
      {"fp64", "0x400921f9f01b866e", "0|10000000000|1001001000011111100111110000000110111000011001101110",
       "3.1415899999999999", "0", "-"},
      {"fp32", "0x40490fd0", "0|10000000|10010010000111111010000", "3.14159012", "+3.769e-08", "-"},
      {"fp16", "0x4248", "0|10000|1001001000", "3.140625", "-3.072e-04", "-"},
      {"bf16", "0x4049", "0|10000000|1001001", "3.140625", "-3.072e-04", "-"},
      {"e4m3", "0x45", "0|1000|101", "3.25", "+3.451e-02", "-"},
      {"e5m2", "0x42", "0|10000|10", "3", "-4.507e-02", "-"},
  };
  for (std::size_t i = 0; i < expected.size(); ++i) EXPECT_EQ(words(ls[i + 2]), expected[i]);
}

TEST(CliFormats, JsonLinesAndFlags) {
  const auto r = run("formats --json -- 1e6 1e-7 -1e-10 nan 0x1p-149");
  ASSERT_EQ(r.status, 0) << r.err;
  const auto ls = lines(r.out);
  ASSERT_EQ(ls.size(), 30u);
  std::map<std::string, nlohmann::json> by;  // "value/format" -> object
  for (const auto& l : ls) {
    const auto j = nlohmann::json::parse(l);
    by[j["value"].get<std::string>() + "/" + j["format"].get<std::string>()] = j;
  }
  using L = std::vector<std::string>;
  EXPECT_EQ(by["1e6/e4m3"]["hex"], "0x7e");
  EXPECT_EQ(by["1e6/e4m3"]["decoded"], 448.0);
  EXPECT_EQ(by["1e6/e4m3"]["flags"].get<L>(), (L{"overflow", "saturated"}));
  EXPECT_EQ(by["1e6/fp16"]["hex"], "0x7c00");
  EXPECT_EQ(by["1e6/fp16"]["decoded"], "inf");
  EXPECT_EQ(by["1e6/fp16"]["flags"].get<L>(), (L{"overflow", "inf"}));
  EXPECT_EQ(by["1e6/bf16"]["hex"], "0x4974");
  EXPECT_EQ(by["1e6/bf16"]["flags"].get<L>(), L{});
  EXPECT_EQ(by["1e-7/fp16"]["hex"], "0x0002");
  EXPECT_EQ(by["1e-7/fp16"]["flags"].get<L>(), L{"subnormal"});
  EXPECT_EQ(by["-1e-10/fp16"]["hex"], "0x8000");
  EXPECT_EQ(by["-1e-10/fp16"]["flags"].get<L>(), L{"flushed-to-zero"});
  EXPECT_EQ(by["-1e-10/e4m3"]["hex"], "0x80");
  EXPECT_EQ(by["nan/e4m3"]["hex"], "0x7f");
  EXPECT_EQ(by["nan/e4m3"]["flags"].get<L>(), L{"nan"});
  EXPECT_TRUE(by["nan/e4m3"]["rel_error"].is_null());
  EXPECT_EQ(by["0x1p-149/fp32"]["hex"], "0x00000001");
  EXPECT_EQ(by["0x1p-149/fp32"]["flags"].get<L>(), L{"subnormal"});
  EXPECT_EQ(by["0x1p-149/bf16"]["hex"], "0x0000");
  EXPECT_EQ(by["0x1p-149/bf16"]["flags"].get<L>(), L{"flushed-to-zero"});
}

TEST(CliFormats, RoundingAndOverflowOptions) {
  auto r = run("formats --json --overflow inf 1e6");
  ASSERT_EQ(r.status, 0) << r.err;
  const auto e4m3 = nlohmann::json::parse(lines(r.out).at(4));
  EXPECT_EQ(e4m3["format"], "e4m3");
  EXPECT_EQ(e4m3["hex"], "0x7f");
  EXPECT_EQ(e4m3["flags"].get<std::vector<std::string>>(), (std::vector<std::string>{"overflow", "nan"}));
  r = run("formats --json --rounding toward-zero 3.14159");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(nlohmann::json::parse(lines(r.out).at(4))["hex"], "0x44");  // 3.0 in e4m3
}

// The error contract: status 2, exactly one stderr line "mixtrain: ..." containing `fragment`,
// nothing on stdout, and no file created in `dir` (no OUT, no temporary).
void expect_error(const std::string& args, const std::string& fragment, const TempDir& dir) {
  SCOPED_TRACE(args);
  const auto before = dir.entries();
  const auto r = run(args);
  EXPECT_EQ(r.status, 2);
  EXPECT_EQ(r.out, "");
  ASSERT_EQ(lines(r.err).size(), 1u) << r.err;
  EXPECT_EQ(r.err.rfind("mixtrain: ", 0), 0u) << r.err;
  EXPECT_EQ(r.err.back(), '\n');
  EXPECT_NE(r.err.find(fragment), std::string::npos) << r.err;
  EXPECT_EQ(dir.entries(), before);
}

TEST(CliErrors, OneLineStatusTwoNoOutput) {
  TempDir dir;
  write_values<float>(dir / "ok.f32", {1.0f, 2.0f, 3.0f});
  testing::write_text(dir / "five.bin", "12345");
  testing::write_text(dir / "bad.safetensors", std::string(8, '\x10') + "{}");
  std::string not_json = "xxxxxxxx{";
  not_json[0] = 1;
  for (int i = 1; i < 8; ++i) not_json[static_cast<std::size_t>(i)] = 0;
  testing::write_text(dir / "notjson.safetensors", not_json);
  const std::string ok = dir / "ok.f32";
  const std::string out = dir / "out.bin";

  expect_error("", "A subcommand is required", dir);
  expect_error("bogus", "A subcommand is required", dir);
  expect_error("convert --bogus --to bf16 " + ok + " " + out, "--bogus", dir);
  expect_error("convert " + ok + " " + out, "--to is required", dir);
  expect_error("convert --to bf16 " + ok, "OUT is required", dir);
  expect_error("convert --to fp12 " + ok + " " + out, "--to: unknown dtype 'fp12'", dir);
  expect_error("convert --from int8 --to bf16 " + ok + " " + out, "--from: unknown dtype 'int8'", dir);
  expect_error("convert --to bf16 --rounding up " + ok + " " + out, "--rounding: unknown mode 'up'", dir);
  expect_error("convert --to bf16 --overflow wrap " + ok + " " + out, "--overflow: unknown mode", dir);
  expect_error("convert --to bf16 --seed -3 " + ok + " " + out, "--seed: '-3' is not an integer", dir);
  expect_error("convert --to bf16 --scale abc " + ok + " " + out, "--scale", dir);
  expect_error("convert --to bf16 " + (dir / "missing") + " " + out,
               "convert: cannot read '" + (dir / "missing") + "': No such file or directory", dir);
  expect_error("convert --to bf16 " + dir.path() + " " + out, "is a directory", dir);
  expect_error("convert --to bf16 " + (dir / "five.bin") + " " + out,
               "size 5 is not a multiple of 4 bytes (fp32)", dir);
  expect_error("convert --from fp64 --to bf16 " + ok + " " + out,
               "size 12 is not a multiple of 8 bytes (fp64)", dir);
  expect_error("convert --to bf16 " + (dir / "bad.safetensors") + " " + (dir / "o.safetensors"),
               "exceeds the file size (10 bytes)", dir);
  expect_error("convert --to bf16 " + (dir / "notjson.safetensors") + " " + (dir / "o.safetensors"),
               "header is not valid JSON", dir);
  expect_error("convert --to bf16 " + ok + " " + (dir / "o.safetensors"), "is a raw array", dir);
  expect_error("convert --to bf16 " + ok + " " + (dir / "no/such/dir/out.bin"),
               "cannot write '" + (dir / "no/such/dir/out.bin") + "': No such file or directory", dir);
  expect_error("formats", "VALUE is required", dir);
  expect_error("formats 1.5 abc", "formats: 'abc' is not a number", dir);
  expect_error("formats 1.5x", "'1.5x' is not a number", dir);
  expect_error("formats ''", "'' is not a number", dir);
  expect_error("formats --rounding up 1", "--rounding: unknown mode 'up'", dir);
}

TEST(CliErrors, FailedConversionKeepsAnExistingOut) {
  TempDir dir;
  testing::write_text(dir / "five.bin", "12345");
  testing::write_text(dir / "out.bin", "previous");
  expect_error("convert --to bf16 " + (dir / "five.bin") + " " + (dir / "out.bin"), "size 5", dir);
  EXPECT_EQ(slurp(dir / "out.bin"), "previous");
}

}  // namespace
}  // namespace mixtrain
