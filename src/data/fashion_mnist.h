// Fashion-MNIST from Debian's `dataset-fashion-mnist` package (or any directory holding the four
// gzip IDX files): 28x28 grey images scaled to [0, 1] and labels 0-9.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace mixtrain::data {

struct ImageDataset {
  std::int64_t count = 0;
  std::int64_t channels = 1, height = 0, width = 0;
  std::vector<float> images;          // (count, channels*height*width), values in [0, 1]
  std::vector<std::int32_t> labels;   // (count,)
  int classes = 10;
  std::int64_t features() const { return channels * height * width; }
};

inline constexpr const char* kFashionMnistDefaultDir = "/usr/share/datasets/fashion-mnist";

// split: "train" (60000) or "test" (10000). data_dir empty: $FASHION_MNIST_DIR, then the Debian
// package's directory. A missing directory throws an Error that names the package to install.
ImageDataset load_fashion_mnist(const std::string& split, const std::string& data_dir = "");

}  // namespace mixtrain::data
