// A task ties a model to its data: it builds the model, produces the loss of any global step
// (data chosen statelessly from (seed, step), so resumed runs see the same batches) and evaluates
// on held-out data. Classification (Fashion-MNIST: mlp, cnn, resnet) and byte-level language
// modelling (gpt on fortunes or a text file).
#pragma once

#include <memory>

#include "nn/module.h"
#include "train/config.h"

namespace mixtrain::train {

struct EvalResult {
  double loss = 0;
  double accuracy = -1;  // < 0 for language models
};

class Task {
 public:
  virtual ~Task() = default;
  virtual nn::Module& model() = 0;
  virtual std::int64_t steps_per_epoch() const = 0;
  virtual std::int64_t samples_per_step() const = 0;
  // Loss of micro-batch `micro` (of `micro_count`) of global step `step`, under whatever
  // autocast guard the caller holds; *accuracy gets the batch accuracy (or -1).
  virtual Tensor loss(std::int64_t step, std::int64_t micro, std::int64_t micro_count, double* accuracy) = 0;
  virtual EvalResult evaluate(const amp::Policy& policy) = 0;
  // The name of the evaluation loss in summaries: "test_loss" or "val_loss".
  virtual bool is_language_model() const = 0;
};

std::unique_ptr<Task> make_task(const ResolvedRun& rc);

}  // namespace mixtrain::train
