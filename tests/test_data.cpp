// Data loading: IDX files written here with zlib (valid, truncated, corrupt), Fashion-MNIST
// discovery and its error message, text corpora and UTF-8 checks, and the stateless samplers.
#include <gtest/gtest.h>
#include <zlib.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>

#include "data/fashion_mnist.h"
#include "data_test_util.h"
#include "data/idx.h"
#include "data/sampler.h"
#include "data/text_corpus.h"
#include "runtime/error.h"

namespace mixtrain::data {
namespace {
namespace fs = std::filesystem;
using mixtrain::testing::error_of;

class DataTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("mixtrain_data_" + std::to_string(::getpid()) + "_" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  // Writes an IDX file (gzip) with the given header dims and payload.
  std::string write_idx(const std::string& name, std::vector<std::uint32_t> dims,
                        const std::vector<std::uint8_t>& payload, unsigned char type = 0x08) {
    const std::string p = (dir_ / name).string();
    EXPECT_TRUE(mixtrain::testing::write_idx_gz(p, dims, payload, type)) << p;
    return p;
  }

  fs::path dir_;
};

TEST_F(DataTest, ReadsIdx) {
  const auto p = write_idx("a.gz", {2, 3}, {1, 2, 3, 4, 5, 6});
  const IdxArray a = read_idx_gz(p);
  EXPECT_EQ(a.dims, (std::vector<std::int64_t>{2, 3}));
  EXPECT_EQ(a.data, (std::vector<std::uint8_t>{1, 2, 3, 4, 5, 6}));
}

TEST_F(DataTest, RejectsBadIdx) {
  EXPECT_NE(error_of([&] { read_idx_gz(write_idx("short.gz", {2, 3}, {1, 2, 3})); }).find("truncated"),
            std::string::npos);
  EXPECT_NE(error_of([&] { read_idx_gz(write_idx("long.gz", {1}, {1, 2})); }).find("trailing"),
            std::string::npos);
  EXPECT_NE(error_of([&] { read_idx_gz(write_idx("type.gz", {1}, {1}, 0x0D)); }).find("bad magic"),
            std::string::npos);
  EXPECT_NE(error_of([&] { read_idx_gz((dir_ / "missing.gz").string()); }).find("No such file"),
            std::string::npos);
  // A gzip stream cut in the middle.
  const auto good = write_idx("cut.gz", {4096}, std::vector<std::uint8_t>(4096, 7));
  const auto size = fs::file_size(good);
  fs::resize_file(good, size / 2);
  EXPECT_NE(error_of([&] { read_idx_gz(good); }).find("truncated or corrupt"), std::string::npos);
}

TEST_F(DataTest, FashionMnistFromDirectoryAndMissingMessage) {
  std::vector<std::uint8_t> pixels(2 * 2 * 3);
  for (std::size_t i = 0; i < pixels.size(); ++i) pixels[i] = static_cast<std::uint8_t>(i * 20);
  write_idx("t10k-images-idx3-ubyte.gz", {2, 2, 3}, pixels);
  write_idx("t10k-labels-idx1-ubyte.gz", {2}, {3, 9});
  const ImageDataset d = load_fashion_mnist("test", dir_.string());
  EXPECT_EQ(d.count, 2);
  EXPECT_EQ(d.features(), 6);
  EXPECT_EQ(d.labels, (std::vector<std::int32_t>{3, 9}));
  EXPECT_FLOAT_EQ(d.images[5], 100.0f / 255.0f);
  const std::string msg = error_of([&] { load_fashion_mnist("train", dir_.string()); });
  EXPECT_NE(msg.find("apt-get install dataset-fashion-mnist"), std::string::npos) << msg;
  write_idx("train-images-idx3-ubyte.gz", {2, 2, 3}, pixels);
  write_idx("train-labels-idx1-ubyte.gz", {3}, {1, 2, 3});
  EXPECT_NE(error_of([&] { load_fashion_mnist("train", dir_.string()); }).find("counts differ"),
            std::string::npos);
}

TEST(DataReal, FashionMnistPackage) {
  if (!fs::exists(std::string(kFashionMnistDefaultDir) + "/t10k-images-idx3-ubyte.gz"))
    GTEST_SKIP() << "dataset-fashion-mnist not installed (apt-get install dataset-fashion-mnist)";
  const ImageDataset d = load_fashion_mnist("test");
  EXPECT_EQ(d.count, 10000);
  EXPECT_EQ(d.height, 28);
  EXPECT_EQ(d.width, 28);
  std::set<int> classes(d.labels.begin(), d.labels.end());
  EXPECT_EQ(classes.size(), 10u);
}

TEST_F(DataTest, TextCorpora) {
  fs::create_directories(dir_ / "fortunes");
  std::ofstream(dir_ / "fortunes" / "b") << "second\n%\nthird\n";
  std::ofstream(dir_ / "fortunes" / "a") << "first\n";
  std::ofstream(dir_ / "fortunes" / "a.dat") << "binary index";
  fs::create_symlink(dir_ / "fortunes" / "a", dir_ / "fortunes" / "a.u8");
  EXPECT_EQ(load_fortunes((dir_ / "fortunes").string()), "first\nsecond\n\nthird\n");
  EXPECT_NE(error_of([&] { load_fortunes((dir_ / "none").string()); }).find("apt-get install fortunes"),
            std::string::npos);
  std::ofstream(dir_ / "bad.txt") << "ok \xC3\x28 bad";
  EXPECT_NE(error_of([&] { load_text_file((dir_ / "bad.txt").string()); }).find("UTF-8 at byte 3"),
            std::string::npos);
  std::ofstream(dir_ / "good.txt") << "h\xC3\xA9llo \xE2\x82\xAC \xF0\x9F\x98\x80";
  EXPECT_EQ(load_text_file((dir_ / "good.txt").string()).size(), 15u);
  const TextCorpus c = split_corpus("0123456789", 0.2);
  EXPECT_EQ(std::string(c.train.begin(), c.train.end()), "01234567");
  EXPECT_EQ(std::string(c.val.begin(), c.val.end()), "89");
}

TEST(Sampler, PermutationsAreSeededAndComplete) {
  const auto p = epoch_permutation(1000, 42, 0);
  std::vector<std::int64_t> sorted = p;
  std::sort(sorted.begin(), sorted.end());
  for (std::int64_t i = 0; i < 1000; ++i) ASSERT_EQ(sorted[static_cast<std::size_t>(i)], i);
  EXPECT_EQ(p, epoch_permutation(1000, 42, 0));
  EXPECT_NE(p, epoch_permutation(1000, 42, 1));
  EXPECT_NE(p, epoch_permutation(1000, 43, 0));
}

TEST(Sampler, StepsAreStateless) {
  EpochSampler a(100, 32, 7), b(100, 32, 7);
  EXPECT_EQ(a.steps_per_epoch(), 3);
  // Asking for step 5 directly equals walking there.
  for (int s = 0; s < 5; ++s) a.batch_indices(s);
  EXPECT_EQ(a.batch_indices(5), b.batch_indices(5));
  EXPECT_THROW(EpochSampler(10, 32, 1), Error);
  const auto w = window_starts(1000, 129, 8, 3, 17);
  EXPECT_EQ(w, window_starts(1000, 129, 8, 3, 17));
  for (auto s : w) EXPECT_TRUE(s >= 0 && s <= 1000 - 129);
  EXPECT_THROW(window_starts(100, 129, 1, 0, 0), Error);
}

}  // namespace
}  // namespace mixtrain::data
