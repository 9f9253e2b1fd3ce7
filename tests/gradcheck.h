// Finite-difference gradient checking in fp64: the analytic gradient of sum(f(x) * R) (R a fixed
// random weighting, so every output element matters) against central differences.
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <vector>

#include "autograd/grad_info.h"
#include "ops/elementwise.h"
#include "ops/reduce.h"
#include "tensor/tensor.h"

namespace mixtrain::testing {

inline Tensor param(const Shape& s, std::uint64_t seed, double lo = -1.0, double hi = 1.0) {
  Tensor t = Tensor::uniform(s, lo, hi, seed, DType::fp64);
  t.set_requires_grad(true);
  return t;
}

// Max relative error between analytic and numeric gradients over all inputs.
inline double gradcheck(const std::function<Tensor(const std::vector<Tensor>&)>& f, std::vector<Tensor> inputs,
                        double h = 1e-6) {
  Tensor out = f(inputs);
  const Tensor weight = Tensor::uniform(out.shape(), 0.5, 1.5, 99, DType::fp64);
  auto objective = [&](const std::vector<Tensor>& in) {
    autograd::NoGradGuard ng;
    return ops::sum(ops::mul(f(in), weight)).item();
  };
  for (auto& t : inputs) t.zero_grad();
  ops::sum(ops::mul(out, weight)).backward();
  double worst = 0;
  for (std::size_t k = 0; k < inputs.size(); ++k) {
    Tensor& t = inputs[k];
    if (!t.requires_grad()) continue;
    const Tensor g = t.grad();
    EXPECT_TRUE(g.defined()) << "input " << k << " got no gradient";
    if (!g.defined()) return 1e9;
    const std::vector<double> analytic = g.to_vector_f64();
    double* p = t.data_as<double>();
    for (std::int64_t i = 0; i < t.numel(); ++i) {
      const double saved = p[i];
      p[i] = saved + h;
      const double up = objective(inputs);
      p[i] = saved - h;
      const double down = objective(inputs);
      p[i] = saved;
      const double numeric = (up - down) / (2 * h);
      const double err = std::abs(numeric - analytic[static_cast<std::size_t>(i)]) / std::max(1.0, std::abs(numeric));
      worst = std::max(worst, err);
    }
  }
  return worst;
}

}  // namespace mixtrain::testing
