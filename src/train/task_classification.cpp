// Fashion-MNIST classification: batches gathered from the epoch permutation of the training set,
// evaluation over the whole test set in fixed-size chunks.
#include <algorithm>
#include <cstring>

#include "amp/autocast.h"
#include "autograd/grad_info.h"
#include "data/fashion_mnist.h"
#include "data/sampler.h"
#include "nn/models.h"
#include "ops/softmax_loss.h"
#include "runtime/error.h"
#include "train/task.h"

namespace mixtrain::train {
namespace {

class ClassificationTask : public Task {
 public:
  explicit ClassificationTask(const ResolvedRun& rc)
      : cfg_(rc.spec),
        train_(data::load_fashion_mnist("train", rc.spec.data_dir)),
        test_(data::load_fashion_mnist("test", rc.spec.data_dir)),
        sampler_(checked(train_, "training set", std::string(to_string(cfg_.model))).count, rc.spec.batch, rc.spec.seed) {
    // The held-out set must have the training set's shape: the model is built for it, and the
    // batches are gathered with it.
    checked(test_, "test set", std::string(to_string(cfg_.model)));
    model_ = nn::make_model(std::string(to_string(cfg_.model)), cfg_.seed);
    // Where the map meets the model: every pattern must name one of its layers.
    check_precision_map(rc.policy.map, *model_);
    image_shape_ = cfg_.model == ModelFamily::mlp ? Shape{train_.features()} : Shape{1, train_.height, train_.width};
  }
  nn::Module& model() override { return *model_; }
  std::int64_t steps_per_epoch() const override { return sampler_.steps_per_epoch(); }
  std::int64_t samples_per_step() const override { return cfg_.batch; }
  bool is_language_model() const override { return false; }

  Tensor loss(std::int64_t step, std::int64_t micro, std::int64_t micro_count, double* accuracy) override {
    const auto idx = sampler_.batch_indices(step);
    const std::int64_t per = cfg_.batch / micro_count;
    const std::vector<std::int64_t> rows(idx.begin() + micro * per, idx.begin() + (micro + 1) * per);
    std::vector<std::int64_t> labels;
    Tensor x = gather(train_, rows, &labels);
    Tensor logits = model_->forward(x);
    if (accuracy) *accuracy = batch_accuracy(logits, labels);
    return ops::cross_entropy(logits, labels);
  }

  EvalResult evaluate(const amp::Policy& policy) override {
    autograd::NoGradGuard ng;
    model_->eval();
    double loss_sum = 0, correct = 0;
    constexpr std::int64_t kChunk = 1000;
    // --eval-batches N evaluates the first N batches' worth of the test set (slow backends, quick
    // checks); by default all of it.
    const std::int64_t count = cfg_.eval_batches > 0 ? std::min(test_.count, cfg_.eval_batches * cfg_.batch) : test_.count;
    for (std::int64_t b = 0; b < count; b += kChunk) {
      std::vector<std::int64_t> rows;
      for (std::int64_t i = b; i < std::min(count, b + kChunk); ++i) rows.push_back(i);
      std::vector<std::int64_t> labels;
      Tensor x = gather(test_, rows, &labels);
      amp::Autocast guard(policy);
      Tensor logits = model_->forward(x);
      loss_sum += ops::cross_entropy(logits, labels).item() * static_cast<double>(rows.size());
      correct += batch_accuracy(logits, labels) * static_cast<double>(rows.size());
    }
    model_->train();
    return {loss_sum / static_cast<double>(count), correct / static_cast<double>(count)};
  }

 private:
  // Every Fashion-MNIST model takes 1 x 28 x 28 images (784 features for the MLP): a set of
  // another shape is refused here, where the data meets the model, before any batch is gathered.
  static const data::ImageDataset& checked(const data::ImageDataset& d, const char* which, const std::string& model) {
    data::check_image_shape(d, 1, data::kFashionMnistSide, data::kFashionMnistSide,
                            std::string(which) + " images must match the " + model + " model's input");
    return d;
  }

  Tensor gather(const data::ImageDataset& d, const std::vector<std::int64_t>& rows, std::vector<std::int64_t>* labels) {
    const std::int64_t f = d.features();
    Shape shape{static_cast<std::int64_t>(rows.size())};
    shape.insert(shape.end(), image_shape_.begin(), image_shape_.end());
    Tensor x = Tensor::empty(shape, DType::fp32);
    float* p = x.data_as<float>();
    labels->clear();
    for (std::size_t i = 0; i < rows.size(); ++i) {
      std::memcpy(p + static_cast<std::int64_t>(i) * f, d.images.data() + rows[i] * f, static_cast<std::size_t>(f) * 4);
      labels->push_back(d.labels[static_cast<std::size_t>(rows[i])]);
    }
    return x;
  }

  static double batch_accuracy(const Tensor& logits, const std::vector<std::int64_t>& labels) {
    const auto v = logits.to_vector();
    const std::int64_t C = logits.size(-1);
    std::int64_t correct = 0;
    for (std::size_t i = 0; i < labels.size(); ++i) {
      const float* row = v.data() + static_cast<std::int64_t>(i) * C;
      correct += (std::max_element(row, row + C) - row) == labels[i];
    }
    return static_cast<double>(correct) / static_cast<double>(labels.size());
  }

  RunSpec cfg_;
  data::ImageDataset train_, test_;
  data::EpochSampler sampler_;
  std::unique_ptr<nn::Module> model_;
  Shape image_shape_;
};

}  // namespace

std::unique_ptr<Task> make_classification_task(const ResolvedRun& rc) {
  return std::make_unique<ClassificationTask>(rc);
}

}  // namespace mixtrain::train
