// Fashion-MNIST loading: locate the files, read both IDX files, check they agree.
#include "data/fashion_mnist.h"

#include <cstdlib>
#include <filesystem>

#include "data/idx.h"
#include "runtime/error.h"

namespace mixtrain::data {

ImageDataset load_fashion_mnist(const std::string& split, const std::string& data_dir) {
  if (split != "train" && split != "test") throw Error("fashion-mnist: unknown split '" + split + "'");
  std::string dir = data_dir;
  if (dir.empty()) {
    const char* env = std::getenv("FASHION_MNIST_DIR");
    dir = env && *env ? env : kFashionMnistDefaultDir;
  }
  const std::string prefix = split == "train" ? "train" : "t10k";
  const std::string images_path = dir + "/" + prefix + "-images-idx3-ubyte.gz";
  const std::string labels_path = dir + "/" + prefix + "-labels-idx1-ubyte.gz";
  std::error_code ec;
  if (!std::filesystem::exists(images_path, ec) && !std::filesystem::exists(labels_path, ec))
    throw Error("Fashion-MNIST not found in " + dir +
                ": install it with `apt-get install dataset-fashion-mnist` or pass --data-dir");
  // One of the two present: read_idx_gz names the other ("cannot read '...': No such file").
  const IdxArray images = read_idx_gz(images_path);
  const IdxArray labels = read_idx_gz(labels_path);
  if (images.dims.size() != 3)
    throw Error(images_path + ": expected a 3-d image array (count, height, width), got " +
                std::to_string(images.dims.size()) + " dimensions");
  if (labels.dims.size() != 1)
    throw Error(labels_path + ": expected a 1-d label array, got " + std::to_string(labels.dims.size()) + " dimensions");
  if (images.dims[0] != labels.dims[0])
    throw Error(dir + ": image and label counts differ (" + std::to_string(images.dims[0]) +
                " vs " + std::to_string(labels.dims[0]) + ")");
  ImageDataset d;
  d.source = images_path;
  d.count = images.dims[0];
  d.height = images.dims[1];
  d.width = images.dims[2];
  d.images.resize(images.data.size());
  for (std::size_t i = 0; i < images.data.size(); ++i) d.images[i] = images.data[i] / 255.0f;
  d.labels.resize(labels.data.size());
  for (std::size_t i = 0; i < labels.data.size(); ++i) {
    if (labels.data[i] >= d.classes)
      throw Error(labels_path + ": label " + std::to_string(labels.data[i]) + " of example " + std::to_string(i) +
                  " is out of range 0-" + std::to_string(d.classes - 1));
    d.labels[i] = labels.data[i];
  }
  check_image_shape(d, d.channels, d.height, d.width, "");  // internal consistency
  return d;
}

void check_image_shape(const ImageDataset& d, std::int64_t channels, std::int64_t height, std::int64_t width,
                       const std::string& why) {
  const std::string name = d.source.empty() ? std::string("image data set") : d.source;
  if (d.count <= 0) throw Error(name + ": the data set is empty");
  if (d.channels != channels || d.height != height || d.width != width) {
    auto dims = [](std::int64_t c, std::int64_t h, std::int64_t w) {
      return (c == 1 ? std::string() : std::to_string(c) + "x") + std::to_string(h) + "x" + std::to_string(w);
    };
    throw Error(name + ": images are " + dims(d.channels, d.height, d.width) + ", expected " + dims(channels, height, width) +
                (why.empty() ? "" : " (" + why + ")"));
  }
  std::int64_t features = 0, pixels = 0;
  if (d.height <= 0 || d.width <= 0 || d.channels <= 0 || __builtin_mul_overflow(d.channels, d.height, &features) ||
      __builtin_mul_overflow(features, d.width, &features) || __builtin_mul_overflow(d.count, features, &pixels) ||
      static_cast<std::int64_t>(d.images.size()) != pixels || static_cast<std::int64_t>(d.labels.size()) != d.count)
    throw Error(name + ": image, label and pixel counts disagree");
  for (const auto l : d.labels)
    if (l < 0 || l >= d.classes) throw Error(name + ": label " + std::to_string(l) + " is out of range 0-" + std::to_string(d.classes - 1));
}

}  // namespace mixtrain::data
