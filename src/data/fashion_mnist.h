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
  std::string source;                 // the images file (for messages)
  std::int64_t features() const { return channels * height * width; }
};

inline constexpr const char* kFashionMnistDefaultDir = "/usr/share/datasets/fashion-mnist";
// The side of Fashion-MNIST's square images, which the classifiers (mlp, cnn, resnet) take.
inline constexpr std::int64_t kFashionMnistSide = 28;

// split: "train" (60000) or "test" (10000). data_dir empty: $FASHION_MNIST_DIR, then the Debian
// package's directory. A missing directory throws an Error that names the package to install;
// images and labels that disagree (counts, a label outside 0-9, an empty set) throw an Error
// naming the file. Any image size is read; check_image_shape() says whether it is the one needed.
ImageDataset load_fashion_mnist(const std::string& split, const std::string& data_dir = "");

// Throws mixtrain::Error unless every image of `d` is channels x height x width (and the set is
// non-empty and consistent), e.g. "DIR/t10k-images-idx3-ubyte.gz: images are 27x27, expected
// 28x28 (the training set's and the model's input)". `why` ends the message.
void check_image_shape(const ImageDataset& d, std::int64_t channels, std::int64_t height, std::int64_t width,
                       const std::string& why);

}  // namespace mixtrain::data
