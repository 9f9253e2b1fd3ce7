// Byte-level language modelling: random windows of context+1 bytes from the training split at
// each step (stateless in (seed, step)), validation over fixed windows of the held-out split.
#include "amp/autocast.h"
#include "autograd/grad_info.h"
#include "data/sampler.h"
#include "data/text_corpus.h"
#include "nn/gpt.h"
#include "ops/softmax_loss.h"
#include "runtime/error.h"
#include "train/task.h"

namespace mixtrain::train {
namespace {

class LanguageTask : public Task {
 public:
  explicit LanguageTask(const ResolvedRun& rc) : cfg_(rc.spec) {
    const std::string text = cfg_.data == DataSet::text ? data::load_text_file(cfg_.data_path) : data::load_fortunes(cfg_.data_dir);
    corpus_ = data::split_corpus(text, 0.1);
    const std::int64_t window = cfg_.context + 1;
    const std::string what = cfg_.data == DataSet::text ? cfg_.data_path : "the fortunes corpus";
    check(static_cast<std::int64_t>(corpus_.val.size()) > window && static_cast<std::int64_t>(corpus_.train.size()) > window,
          what + ": text too small for --context " + std::to_string(cfg_.context) + " (" + std::to_string(text.size()) +
              " bytes; the held-out tenth must exceed context + 1 bytes)");
    // A batch larger than the training text is nonsense (as a batch larger than an image set is),
    // and it bounds a step's token arithmetic and memory by the data that exists.
    check(cfg_.batch * cfg_.context <= static_cast<std::int64_t>(corpus_.train.size()),
          what + ": --batch " + std::to_string(cfg_.batch) + " x --context " + std::to_string(cfg_.context) +
              " tokens per step exceed the training text (" + std::to_string(corpus_.train.size()) + " bytes)");
    nn::GPTConfig gc;
    gc.context = cfg_.context;
    gc.seed = cfg_.seed;
    model_ = std::make_unique<nn::GPT>(gc);
    // Where the map meets the model: every pattern must name one of its layers.
    check_precision_map(rc.policy.map, *model_);
  }
  nn::Module& model() override { return *model_; }
  std::int64_t steps_per_epoch() const override {
    return std::max<std::int64_t>(1, static_cast<std::int64_t>(corpus_.train.size()) / (cfg_.batch * cfg_.context));
  }
  std::int64_t samples_per_step() const override { return cfg_.batch; }
  bool is_language_model() const override { return true; }

  Tensor loss(std::int64_t step, std::int64_t micro, std::int64_t micro_count, double* accuracy) override {
    const std::int64_t T = cfg_.context;
    const auto starts = data::window_starts(static_cast<std::int64_t>(corpus_.train.size()), T + 1, cfg_.batch,
                                            cfg_.seed, step);
    const std::int64_t per = cfg_.batch / micro_count;
    std::vector<std::int64_t> ids, targets;
    for (std::int64_t b = micro * per; b < (micro + 1) * per; ++b)
      for (std::int64_t t = 0; t < T; ++t) {
        ids.push_back(corpus_.train[static_cast<std::size_t>(starts[static_cast<std::size_t>(b)] + t)]);
        targets.push_back(corpus_.train[static_cast<std::size_t>(starts[static_cast<std::size_t>(b)] + t + 1)]);
      }
    if (accuracy) *accuracy = -1;
    return ops::cross_entropy(model_->logits(ids, per, T), targets);
  }

  EvalResult evaluate(const amp::Policy& policy) override {
    autograd::NoGradGuard ng;
    model_->eval();
    const std::int64_t T = cfg_.context;
    const std::int64_t n_windows = static_cast<std::int64_t>(corpus_.val.size() - 1) / T;
    const std::int64_t max_windows = cfg_.eval_batches > 0 ? cfg_.eval_batches * cfg_.batch : 64;
    const std::int64_t windows = std::min(n_windows, max_windows);
    double sum = 0;
    std::int64_t counted = 0;
    for (std::int64_t w0 = 0; w0 < windows; w0 += cfg_.batch) {
      const std::int64_t B = std::min(cfg_.batch, windows - w0);
      std::vector<std::int64_t> ids, targets;
      for (std::int64_t b = 0; b < B; ++b)
        for (std::int64_t t = 0; t < T; ++t) {
          const std::size_t at = static_cast<std::size_t>((w0 + b) * T + t);
          ids.push_back(corpus_.val[at]);
          targets.push_back(corpus_.val[at + 1]);
        }
      amp::Autocast guard(policy);
      sum += ops::cross_entropy(model_->logits(ids, B, T), targets).item() * static_cast<double>(B);
      counted += B;
    }
    model_->train();
    return {sum / static_cast<double>(counted), -1};
  }

 private:
  RunSpec cfg_;
  data::TextCorpus corpus_;
  std::unique_ptr<nn::GPT> model_;
};

}  // namespace

std::unique_ptr<Task> make_classification_task(const ResolvedRun& rc);

std::unique_ptr<Task> make_task(const ResolvedRun& rc) {
  if (rc.spec.model == ModelFamily::gpt) return std::make_unique<LanguageTask>(rc);
  return make_classification_task(rc);
}

}  // namespace mixtrain::train
