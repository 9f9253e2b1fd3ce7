// Embedding.
#include "nn/embedding.h"

#include <cmath>

#include "amp/autocast.h"
#include "ops/embedding.h"
#include "runtime/error.h"

namespace mixtrain::nn {

Embedding::Embedding(const EmbeddingOptions& o) : opt_(o) {
  check(o.num > 0 && o.dim > 0, "Embedding: num and dim must be positive");
  check(o.init_std > 0, "Embedding: init_std must be positive");
  tensor::LedgerScope scope(tensor::Category::weights);
  weight_ = &register_parameter("weight", Tensor::randn({o.num, o.dim}, o.seed, o.init_std));
}

Tensor Embedding::forward_ids(const std::vector<std::int64_t>& ids, const Shape& shape) {
  // The same scope Module::forward sets, so autocast and the precision map see this module.
  amp::ModuleScope scope(name());
  return ops::embedding(*weight_, ids, shape);
}

Tensor Embedding::forward_impl(const Tensor& x) { return ops::embedding(*weight_, ids_from_tensor(x), x.shape()); }

std::vector<std::int64_t> ids_from_tensor(const Tensor& x) {
  const auto v = x.to_vector_f64();
  std::vector<std::int64_t> ids(v.size());
  for (std::size_t i = 0; i < v.size(); ++i) {
    check(std::isfinite(v[i]) && v[i] == std::floor(v[i]) && std::fabs(v[i]) < 9.0e15,
          "ids: value " + std::to_string(v[i]) + " at index " + std::to_string(i) + " is not an integer id");
    ids[i] = static_cast<std::int64_t>(v[i]);
  }
  return ids;
}

}  // namespace mixtrain::nn
