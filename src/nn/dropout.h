// Dropout: seeded inverted dropout whose mask changes every training forward yet is reproducible.
// The forward count lives in a one-element fp64 buffer ("step"), so checkpoints carry it and a
// resumed run draws the same masks as an uninterrupted one.
#pragma once

#include "nn/module.h"

namespace mixtrain::nn {

struct DropoutOptions {
  double p = 0.1;  // drop probability in [0, 1]
  std::uint64_t seed = 0;
};

// training(): y = keep ? x / (1 - p) : 0 with the mask of (seed, step), then step += 1.
// eval() or p == 0: the identity (step unchanged).
class Dropout : public Module {
 public:
  explicit Dropout(const DropoutOptions& o);
  std::string type() const override { return "Dropout"; }
  std::int64_t step() const;

 protected:
  Tensor forward_impl(const Tensor& x) override;

 private:
  DropoutOptions opt_;
  Tensor* step_;
};

}  // namespace mixtrain::nn
