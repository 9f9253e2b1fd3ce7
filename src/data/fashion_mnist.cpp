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
  if (!std::filesystem::exists(images_path) || !std::filesystem::exists(labels_path))
    throw Error("Fashion-MNIST not found in " + dir +
                ": install it with `apt-get install dataset-fashion-mnist` or pass --data-dir");
  const IdxArray images = read_idx_gz(images_path);
  const IdxArray labels = read_idx_gz(labels_path);
  if (images.dims.size() != 3) throw Error(images_path + ": expected a 3-d image array");
  if (labels.dims.size() != 1) throw Error(labels_path + ": expected a 1-d label array");
  if (images.dims[0] != labels.dims[0])
    throw Error(dir + ": image and label counts differ (" + std::to_string(images.dims[0]) +
                " vs " + std::to_string(labels.dims[0]) + ")");
  ImageDataset d;
  d.count = images.dims[0];
  d.height = images.dims[1];
  d.width = images.dims[2];
  d.images.resize(images.data.size());
  for (std::size_t i = 0; i < images.data.size(); ++i) d.images[i] = images.data[i] / 255.0f;
  d.labels.resize(labels.data.size());
  for (std::size_t i = 0; i < labels.data.size(); ++i) {
    if (labels.data[i] >= d.classes) throw Error(labels_path + ": label out of range 0-9");
    d.labels[i] = labels.data[i];
  }
  return d;
}

}  // namespace mixtrain::data
