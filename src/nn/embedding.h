// Embedding: a (num, dim) table ("weight") whose rows are looked up by integer ids. Ids come as a
// std::vector through forward_ids(); forward(Tensor) also accepts ids stored as integral floating
// values, so an Embedding (or a model starting with one) fits the generic Module interface.
#pragma once

#include <vector>

#include "nn/module.h"

namespace mixtrain::nn {

struct EmbeddingOptions {
  std::int64_t num = 0, dim = 0;  // vocabulary size V and row width D
  double init_std = 1.0;          // rows ~ N(0, init_std^2) (PyTorch's default is 1; GPTs use 0.02)
  std::uint64_t seed = 0;
};

class Embedding : public Module {
 public:
  explicit Embedding(const EmbeddingOptions& o);
  std::string type() const override { return "Embedding"; }
  Tensor& weight() { return *weight_; }
  const EmbeddingOptions& options() const { return opt_; }
  // y (shape..., D) = weight[ids], in the table's dtype; ids in [0, num) and numel(shape) of them
  // (mixtrain::Error otherwise). Differentiable in the table (repeated ids add up).
  Tensor forward_ids(const std::vector<std::int64_t>& ids, const Shape& shape);

 protected:
  // x holds the ids as integral values in any floating dtype: y (x.shape..., D).
  Tensor forward_impl(const Tensor& x) override;

 private:
  EmbeddingOptions opt_;
  Tensor* weight_;
};

// The ids held by a floating tensor (exact integers; mixtrain::Error for a fractional or
// non-finite value). Shared by the models that take token ids as a Tensor.
std::vector<std::int64_t> ids_from_tensor(const Tensor& x);

}  // namespace mixtrain::nn
