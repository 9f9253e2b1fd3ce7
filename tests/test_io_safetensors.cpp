// Tests of io/safetensors and io/atomic_file: exact file layout, round trips, every malformed
// header the reader must reject (one-line mixtrain::Error naming the problem), and atomic writes
// that never leave a temporary or a partial file behind.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <string>
#include <vector>

#include "io/atomic_file.h"
#include "io/safetensors.h"
#include "io_test_util.h"
#include "runtime/error.h"

namespace mixtrain {
namespace {

using io::SafeTensor;
using io::SafeTensorsFile;
using testing::TempDir;

std::vector<std::byte> bytes_of(const std::vector<unsigned char>& v) {
  std::vector<std::byte> b(v.size());
  std::memcpy(b.data(), v.data(), v.size());
  return b;
}

template <typename T>
std::vector<std::byte> bytes_of_values(const std::vector<T>& v) {
  std::vector<std::byte> b(v.size() * sizeof(T));
  std::memcpy(b.data(), v.data(), b.size());
  return b;
}

// A safetensors file from a header text (not padded) and a data section.
std::string make_file(const std::string& header, const std::string& data = "") {
  std::string s(8, '\0');
  const std::uint64_t n = header.size();
  for (int i = 0; i < 8; ++i) s[static_cast<std::size_t>(i)] = static_cast<char>((n >> (8 * i)) & 0xFF);
  return s + header + data;
}

SafeTensorsFile sample() {
  SafeTensorsFile f;
  f.metadata = {{"format", "pt"}, {"step", "12"}};
  f.tensors.push_back({"weight", "F32", {2, 3}, bytes_of_values<float>({1, 2, 3, 4, 5, -6.5f})});
  f.tensors.push_back({"ids", "I64", {2}, bytes_of_values<std::int64_t>({7, -1})});
  f.tensors.push_back({"h", "BF16", {1}, bytes_of({0x80, 0x3f})});
  f.tensors.push_back({"mask", "BOOL", {3}, bytes_of({1, 0, 1})});
  f.tensors.push_back({"empty", "F16", {0, 4}, {}});
  f.tensors.push_back({"scalar", "U8", {}, bytes_of({42})});
  f.tensors.push_back({"q", "F8_E4M3", {2}, bytes_of({0x38, 0x7e})});
  return f;
}

void expect_same(const SafeTensorsFile& a, const SafeTensorsFile& b) {
  EXPECT_EQ(a.metadata, b.metadata);
  ASSERT_EQ(a.tensors.size(), b.tensors.size());
  for (std::size_t i = 0; i < a.tensors.size(); ++i) {
    SCOPED_TRACE(a.tensors[i].name);
    EXPECT_EQ(a.tensors[i].name, b.tensors[i].name);
    EXPECT_EQ(a.tensors[i].dtype, b.tensors[i].dtype);
    EXPECT_EQ(a.tensors[i].shape, b.tensors[i].shape);
    EXPECT_EQ(a.tensors[i].data, b.tensors[i].data);
  }
}

TEST(SafetensorsWriter, ExactBytesOfTheReferenceLayout) {
  SafeTensorsFile f;
  f.tensors.push_back({"a", "F32", {1}, bytes_of_values<float>({1.0f})});
  const auto bytes = io::serialize_safetensors(f);
  // The reference writer's header for this tensor, padded with spaces to a multiple of 8.
  std::string header = R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})";
  ASSERT_EQ(header.size(), 54u);
  header += "  ";
  const std::string expected = make_file(header) + std::string("\x00\x00\x80\x3f", 4);
  ASSERT_EQ(bytes.size(), expected.size());
  EXPECT_EQ(0, std::memcmp(bytes.data(), expected.data(), expected.size()));
}

TEST(SafetensorsWriter, MetadataFirstOffsetsInOrderHeaderPaddedTo8) {
  const auto bytes = io::serialize_safetensors(sample());
  std::uint64_t n = 0;
  std::memcpy(&n, bytes.data(), 8);
  EXPECT_EQ(n % 8, 0u);
  const std::string header(reinterpret_cast<const char*>(bytes.data()) + 8, n);
  EXPECT_EQ(header.rfind(R"({"__metadata__":{"format":"pt","step":"12"},"weight":)", 0), 0u) << header;
  EXPECT_NE(header.find(R"("ids":{"dtype":"I64","shape":[2],"data_offsets":[24,40]})"), std::string::npos);
  EXPECT_NE(header.find(R"("empty":{"dtype":"F16","shape":[0,4],"data_offsets":[45,45]})"), std::string::npos);
  EXPECT_NE(header.find(R"("scalar":{"dtype":"U8","shape":[],"data_offsets":[45,46]})"), std::string::npos);
  EXPECT_EQ(bytes.size(), 8 + n + 48);
}

TEST(SafetensorsReader, RoundTripKeepsEverything) {
  TempDir dir;
  const auto f = sample();
  io::write_safetensors(dir / "m.safetensors", f);
  const auto g = io::read_safetensors(dir / "m.safetensors");
  expect_same(f, g);
  EXPECT_EQ(g.tensors[0].float_dtype(), DType::fp32);
  EXPECT_EQ(g.tensors[1].float_dtype(), std::nullopt);
  EXPECT_EQ(g.tensors[6].float_dtype(), DType::e4m3);
  EXPECT_EQ(g.tensors[4].numel(), 0u);
  EXPECT_EQ(g.tensors[5].numel(), 1u);
  ASSERT_NE(g.find("mask"), nullptr);
  EXPECT_EQ(g.find("mask")->shape, std::vector<std::int64_t>{3});
  EXPECT_EQ(g.find("nope"), nullptr);
  EXPECT_EQ(dir.entries(), std::vector<std::string>{"m.safetensors"});
}

TEST(SafetensorsReader, SortsByDataOffsetAndAcceptsForeignLayouts) {
  // Header order differs from data order; no padding; no metadata; 8-byte dtypes last.
  TempDir dir;
  testing::write_text(dir / "x.safetensors",
                      make_file(R"({"b":{"dtype":"U8","shape":[2],"data_offsets":[2,4]},)"
                                R"("a":{"shape":[1],"data_offsets":[0,2],"dtype":"F16","extra":1}})",
                                std::string("\x00\x3c\x05\x06", 4)));
  const auto f = io::read_safetensors(dir / "x.safetensors");
  ASSERT_EQ(f.tensors.size(), 2u);
  EXPECT_EQ(f.tensors[0].name, "a");
  EXPECT_EQ(f.tensors[0].data, bytes_of({0x00, 0x3c}));
  EXPECT_EQ(f.tensors[1].name, "b");
  EXPECT_EQ(f.tensors[1].data, bytes_of({0x05, 0x06}));
  EXPECT_TRUE(f.metadata.empty());
}

TEST(SafetensorsReader, EmptyFileOfNoTensors) {
  TempDir dir;
  testing::write_text(dir / "e.safetensors", make_file("{}      "));
  const auto f = io::read_safetensors(dir / "e.safetensors");
  EXPECT_TRUE(f.tensors.empty());
  EXPECT_TRUE(f.metadata.empty());
}

// Reads `contents` as a safetensors file and expects an Error whose single line names the file
// and contains `fragment`.
void expect_rejected(const std::string& contents, const std::string& fragment) {
  TempDir dir;
  const std::string path = dir / "bad.safetensors";
  testing::write_text(path, contents);
  try {
    io::read_safetensors(path);
    ADD_FAILURE() << "accepted a file that should fail with: " << fragment;
  } catch (const Error& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find(fragment), std::string::npos) << msg;
    EXPECT_NE(msg.find(path), std::string::npos) << msg;
    EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
  }
}

const std::string kA = R"("a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]})";
const std::string kData8(8, '\x01');

TEST(SafetensorsReader, RejectsShortFiles) {
  expect_rejected("", "file is 0 bytes, shorter than the 8-byte header length");
  expect_rejected(std::string("\x02\x00\x00", 3), "file is 3 bytes");
}

TEST(SafetensorsReader, RejectsHeaderLengthBeyondTheFile) {
  expect_rejected(make_file("{}").substr(0, 9), "header length 2 exceeds the file size (9 bytes)");
  std::string huge = make_file("{}");
  huge[7] = '\x80';  // 2^63 + 2
  expect_rejected(huge, "header length 9223372036854775810 exceeds the file size");
}

TEST(SafetensorsReader, RejectsAbsurdHeaderLength) {
  // A sparse file large enough to hold the claimed header; the limit is checked before reading.
  TempDir dir;
  const std::string path = dir / "big.safetensors";
  std::string head = make_file("");
  const std::uint64_t n = io::kSafetensorsMaxHeader + 1;
  for (int i = 0; i < 8; ++i) head[static_cast<std::size_t>(i)] = static_cast<char>((n >> (8 * i)) & 0xFF);
  testing::write_text(path, head);
  ASSERT_EQ(0, ::truncate(path.c_str(), static_cast<off_t>(8 + n + 16)));
  try {
    io::read_safetensors(path);
    ADD_FAILURE() << "accepted a 100 MB header";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("header length 100000001 exceeds the limit of 100000000 bytes"),
              std::string::npos)
        << e.what();
  }
}

TEST(SafetensorsReader, RejectsInvalidJson) {
  expect_rejected(make_file("{\"a\":\n{"), "header is not valid JSON");
  expect_rejected(make_file(""), "header is not valid JSON");
  expect_rejected(make_file("{\"a\xff\":1}"), "header is not valid JSON");  // invalid UTF-8
  expect_rejected(make_file("[1,2]"), "header is not a JSON object");
  expect_rejected(make_file("\"x\""), "header is not a JSON object");
}

TEST(SafetensorsReader, RejectsMissingOrIllTypedFields) {
  expect_rejected(make_file(R"({"a":5})"), "tensor 'a': entry is not an object");
  expect_rejected(make_file(R"({"a":{"shape":[2],"data_offsets":[0,8]}})", kData8),
                  "tensor 'a': missing or non-string \"dtype\"");
  expect_rejected(make_file(R"({"a":{"dtype":4,"shape":[2],"data_offsets":[0,8]}})", kData8),
                  "missing or non-string \"dtype\"");
  expect_rejected(make_file(R"({"a":{"dtype":"F32","data_offsets":[0,8]}})", kData8),
                  "missing \"shape\" or not an array");
  expect_rejected(make_file(R"({"a":{"dtype":"F32","shape":2,"data_offsets":[0,8]}})", kData8),
                  "missing \"shape\" or not an array");
  expect_rejected(make_file(R"({"a":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}})", kData8),
                  "\"shape\" entry -2 is not a non-negative integer");
  expect_rejected(make_file(R"({"a":{"dtype":"F32","shape":[2.0],"data_offsets":[0,8]}})", kData8),
                  "\"shape\" entry 2.0 is not a non-negative integer");
  expect_rejected(make_file(R"({"a":{"dtype":"F32","shape":[2]}})", kData8),
                  "missing \"data_offsets\" or not two non-negative integers");
  expect_rejected(make_file(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[8]}})", kData8),
                  "missing \"data_offsets\" or not two non-negative integers");
  expect_rejected(make_file(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8,8]}})", kData8),
                  "missing \"data_offsets\" or not two non-negative integers");
  expect_rejected(make_file(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":["0",8]}})", kData8),
                  "missing \"data_offsets\" or not two non-negative integers");
  expect_rejected(make_file(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[-1,8]}})", kData8),
                  "missing \"data_offsets\" or not two non-negative integers");
}

TEST(SafetensorsReader, RejectsUnknownDtype) {
  expect_rejected(make_file(R"({"a":{"dtype":"F12","shape":[2],"data_offsets":[0,8]}})", kData8),
                  "tensor 'a': unknown dtype 'F12'");
  expect_rejected(make_file(R"({"a":{"dtype":"f32","shape":[2],"data_offsets":[0,8]}})", kData8),
                  "unknown dtype 'f32'");
}

TEST(SafetensorsReader, RejectsShapeThatDoesNotMatchTheOffsets) {
  expect_rejected(make_file(R"({"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", kData8),
                  "tensor 'a': shape [3] of F32 needs 3 x 4 bytes but data_offsets span 8");
  expect_rejected(make_file(R"({"a":{"dtype":"F16","shape":[2,2],"data_offsets":[0,4]}})",
                            std::string(4, '\0')),
                  "shape [2,2] of F16 needs 4 x 2 bytes but data_offsets span 4");
  expect_rejected(make_file(R"({"a":{"dtype":"F64","shape":[4294967296,4294967296],"data_offsets":[0,8]}})",
                            kData8),
                  "needs too many bytes");
}

TEST(SafetensorsReader, RejectsOffsetsOutOfRangeOrOverlapping) {
  expect_rejected(make_file(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})",
                            std::string(7, '\0')),
                  "tensor 'a': data_offsets [0, 8] reach beyond the data section (7 bytes)");
  expect_rejected(make_file(R"({"a":{"dtype":"F32","shape":[0],"data_offsets":[8,4]}})", kData8),
                  "data_offsets [8, 4] end before they begin");
  expect_rejected(make_file(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                            R"("b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})",
                            kData8),
                  "tensors 'a' and 'b' overlap");
  // Gaps and trailing bytes: the reference implementation requires the tensors to tile the data.
  expect_rejected(make_file(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})", kData8),
                  "bytes [0, 4) of the data section belong to no tensor");
  expect_rejected(make_file("{" + kA + "}", kData8 + "xy"),
                  "the data section has 10 bytes but the tensors cover 8");
}

TEST(SafetensorsReader, RejectsMetadataThatIsNotStringToString) {
  expect_rejected(make_file(R"({"__metadata__":[1],)" + kA + "}", kData8),
                  "\"__metadata__\" is not an object of strings");
  expect_rejected(make_file(R"({"__metadata__":"x",)" + kA + "}", kData8),
                  "\"__metadata__\" is not an object of strings");
  expect_rejected(make_file(R"({"__metadata__":{"k":1},)" + kA + "}", kData8),
                  "\"__metadata__\" value of 'k' is not a string");
  expect_rejected(make_file(R"({"__metadata__":{"k":{"x":"y"}},)" + kA + "}", kData8),
                  "\"__metadata__\" value of 'k' is not a string");
}

TEST(SafetensorsReader, MessagesStayOnOneLine) {
  expect_rejected(make_file("{\"a\nb\":5}"), "header is not valid JSON");  // raw newline
  expect_rejected(make_file("{\"a\\nb\":5}"), "tensor 'a?b': entry is not an object");
}

TEST(SafetensorsReader, UnreadableFiles) {
  TempDir dir;
  EXPECT_THROW(io::read_safetensors(dir / "missing.safetensors"), Error);
  EXPECT_THROW(io::read_safetensors(dir.path()), Error);  // a directory
}

// Writes that must fail before the target is touched.
void expect_write_rejected(const SafeTensorsFile& f, const std::string& fragment) {
  TempDir dir;
  const std::string path = dir / "out.safetensors";
  testing::write_text(path, "old");
  try {
    io::write_safetensors(path, f);
    ADD_FAILURE() << "wrote an invalid file; expected: " << fragment;
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos) << e.what();
  }
  EXPECT_EQ(testing::read_bytes(path), (std::vector<unsigned char>{'o', 'l', 'd'}));
  EXPECT_EQ(dir.entries(), std::vector<std::string>{"out.safetensors"});
}

TEST(SafetensorsWriter, RejectsInvalidTensorsAndKeepsTheOldFile) {
  SafeTensorsFile f;
  f.tensors.push_back({"a", "F32", {2}, bytes_of_values<float>({1, 2})});
  auto g = f;
  g.tensors[0].dtype = "F12";
  expect_write_rejected(g, "tensor 'a': unknown dtype 'F12'");
  g = f;
  g.tensors[0].shape = {3};
  expect_write_rejected(g, "tensor 'a': has 8 bytes of data but its shape [3] of F32 needs 12");
  g = f;
  g.tensors[0].shape = {-2};
  expect_write_rejected(g, "negative dimension -2");
  g = f;
  g.tensors.push_back(f.tensors[0]);
  expect_write_rejected(g, "tensor 'a': duplicate name");
  g = f;
  g.tensors[0].name = "__metadata__";
  expect_write_rejected(g, "the name is reserved");
  g = f;
  g.metadata["k"] = "\xff";
  expect_write_rejected(g, "cannot encode the header");
}

TEST(AtomicFileSafety, ReplacesTheTargetAndLeavesNoTemporary) {
  TempDir dir;
  const std::string path = dir / "f.bin";
  testing::write_text(path, "old contents");
  const std::string data = "new";
  io::write_file_atomic(path, std::as_bytes(std::span(data)));
  EXPECT_EQ(testing::read_bytes(path), (std::vector<unsigned char>{'n', 'e', 'w'}));
  EXPECT_EQ(dir.entries(), std::vector<std::string>{"f.bin"});
}

TEST(AtomicFileSafety, TemporaryIsNamedAfterThePidInTheSameDirectory) {
  TempDir dir;
  io::AtomicFile f(dir / "f.bin");
  EXPECT_EQ(f.temp_path(), dir / ("f.bin.tmp." + std::to_string(::getpid())));
  EXPECT_TRUE(testing::exists(f.temp_path()));
  EXPECT_FALSE(testing::exists(dir / "f.bin"));
  f.write("abc", 3);
  f.commit();
  EXPECT_FALSE(testing::exists(f.temp_path()));
  EXPECT_EQ(testing::read_bytes(dir / "f.bin"), (std::vector<unsigned char>{'a', 'b', 'c'}));
  EXPECT_THROW(f.write("x", 1), Error);  // committed: no more writes
}

TEST(AtomicFileSafety, ExceptionBeforeCommitKeepsTheOldFile) {
  TempDir dir;
  const std::string path = dir / "f.bin";
  testing::write_text(path, "old");
  try {
    io::AtomicFile f(path);
    f.write("partial", 7);
    throw std::runtime_error("interrupted");
  } catch (const std::runtime_error&) {
  }
  EXPECT_EQ(testing::read_bytes(path), (std::vector<unsigned char>{'o', 'l', 'd'}));
  EXPECT_EQ(dir.entries(), std::vector<std::string>{"f.bin"});
}

TEST(AtomicFileSafety, FailedRenameRemovesTheTemporary) {
  // The target is a non-empty directory: rename() fails after all data was written.
  TempDir dir;
  const std::string path = dir / "target";
  ASSERT_EQ(0, ::mkdir(path.c_str(), 0755));
  testing::write_text(path + "/inside", "x");
  io::AtomicFile f(path);
  f.write("data", 4);
  try {
    f.commit();
    ADD_FAILURE() << "renamed a file over a non-empty directory";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("cannot write '" + path + "'"), std::string::npos) << e.what();
  }
  EXPECT_EQ(dir.entries(), std::vector<std::string>{"target"});
  EXPECT_TRUE(testing::exists(path + "/inside"));
}

TEST(AtomicFileSafety, UnwritableDirectory) {
  TempDir dir;
  try {
    io::write_safetensors(dir / "no/such/dir/x.safetensors", sample());
    ADD_FAILURE() << "wrote into a missing directory";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("No such file or directory"), std::string::npos) << e.what();
  }
  EXPECT_TRUE(dir.entries().empty());
}

TEST(AtomicFileSafety, ReadFile) {
  TempDir dir;
  testing::write_text(dir / "r", std::string("a\0b", 3));
  const auto b = io::read_file(dir / "r");
  EXPECT_EQ(b, bytes_of({'a', 0, 'b'}));
  EXPECT_THROW(io::read_file(dir / "missing"), Error);
  EXPECT_THROW(io::read_file(dir.path()), Error);
}

}  // namespace
}  // namespace mixtrain
