// Autograd engine tests: gradients accumulate into .grad across backward calls and across uses
// of a tensor, leaf gradient dtypes (fp32 for fp32/bf16/fp16 leaves, fp64 for fp64), no-grad
// scopes, seeds, and the errors for a second backward through a freed graph and for a non-scalar
// root without a seed.
#include <gtest/gtest.h>

#include <cmath>
#include <thread>

#include "autograd/grad_info.h"
#include "ops/elementwise.h"
#include "ops/reduce.h"
#include "runtime/error.h"
#include "tensor/ledger.h"

using namespace mixtrain;

namespace {
Tensor vec(std::vector<double> v, DType t = DType::fp64) {
  const auto n = static_cast<std::int64_t>(v.size());
  return Tensor::from(v, {n}, t);
}
}  // namespace

TEST(autograd_engine, ScalarBackwardAndAccumulation) {
  Tensor x = vec({1, 2, 3}).set_requires_grad(true);
  EXPECT_TRUE(x.requires_grad());
  EXPECT_TRUE(x.is_leaf());
  // y = sum(x * x + x): dy/dx = 2x + 1.
  Tensor y = ops::sum(ops::add(ops::mul(x, x), x));
  EXPECT_FALSE(y.is_leaf());
  EXPECT_EQ(y.item(), 1 + 2 + 3 + 1 + 4 + 9);
  y.backward();
  EXPECT_EQ(x.grad().dtype(), DType::fp64);
  EXPECT_EQ(x.grad().to_vector_f64(), (std::vector<double>{3, 5, 7}));
  // A second graph adds into the same .grad.
  ops::sum(ops::scale(x, 10.0)).backward();
  EXPECT_EQ(x.grad().to_vector_f64(), (std::vector<double>{13, 15, 17}));
  x.zero_grad();
  EXPECT_FALSE(x.grad().defined());
}

TEST(autograd_engine, DiamondGraphSumsBothPaths) {
  Tensor x = vec({0.5, -1.5}).set_requires_grad(true);
  Tensor a = ops::exp(x);
  Tensor b = ops::mul(a, a);    // exp(2x)
  Tensor c = ops::add(a, b);    // exp(x) + exp(2x)
  ops::sum(c).backward();
  const auto g = x.grad().to_vector_f64();
  for (std::size_t i = 0; i < 2; ++i) {
    const double xv = i == 0 ? 0.5 : -1.5;
    EXPECT_NEAR(g[i], std::exp(xv) + 2 * std::exp(2 * xv), 1e-14);
  }
}

TEST(autograd_engine, LeafGradientsAreFp32ForLowPrecisionLeaves) {
  for (DType t : {DType::fp32, DType::bf16, DType::fp16}) {
    Tensor w = Tensor::from(std::vector<float>{1, 2, 3, 4}, {4}, t).set_requires_grad(true);
    tensor::LedgerScope scope(tensor::Category::weights);
    const auto grads_before = tensor::Ledger::live(tensor::Category::gradients);
    ops::sum(ops::scale(w, 0.5)).backward();
    ASSERT_TRUE(w.grad().defined());
    EXPECT_EQ(w.grad().dtype(), DType::fp32) << numerics::spec(t).name;
    EXPECT_EQ(w.grad().to_vector(), (std::vector<float>(4, 0.5f)));
    // The leaf gradient is accounted as a gradient whatever scope backward ran in.
    EXPECT_EQ(w.grad().category(), tensor::Category::gradients);
    EXPECT_EQ(tensor::Ledger::live(tensor::Category::gradients) - grads_before, 16);
  }
}

TEST(autograd_engine, SeedGradientAndNonScalarError) {
  Tensor x = vec({1, 2, 3}).set_requires_grad(true);
  Tensor y = ops::mul(x, vec({2, 3, 4}));
  try {
    y.backward();
    FAIL() << "non-scalar backward without seed must throw";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("not a scalar"), std::string::npos) << e.what();
  }
  EXPECT_THROW(y.backward(vec({1, 1})), Error);  // wrong seed size
  y.backward(vec({1, 10, 100}));
  EXPECT_EQ(x.grad().to_vector_f64(), (std::vector<double>{2, 30, 400}));
}

TEST(autograd_engine, SecondBackwardThroughFreedGraphThrows) {
  Tensor x = vec({1, 2}).set_requires_grad(true);
  Tensor y = ops::sum(ops::mul(x, x));
  y.backward();
  try {
    y.backward();
    FAIL() << "second backward must throw";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("already freed"), std::string::npos) << e.what();
  }
  // retain_graph keeps it usable.
  Tensor x2 = vec({1, 2}).set_requires_grad(true);
  Tensor y2 = ops::sum(ops::mul(x2, x2));
  y2.backward(Tensor(), /*retain_graph=*/true);
  y2.backward();
  EXPECT_EQ(x2.grad().to_vector_f64(), (std::vector<double>{4, 8}));
  EXPECT_THROW(y2.backward(), Error);
}

TEST(autograd_engine, NoGradRecordsNothingAndIsThreadLocal) {
  Tensor x = vec({1, 2}).set_requires_grad(true);
  {
    autograd::NoGradGuard ng;
    EXPECT_FALSE(autograd::grad_enabled());
    Tensor y = ops::mul(x, x);
    EXPECT_FALSE(y.requires_grad());
    EXPECT_TRUE(y.is_leaf());
    EXPECT_THROW(y.backward(), Error);  // does not require grad
    bool other_thread = false;
    std::thread([&] { other_thread = autograd::grad_enabled(); }).join();
    EXPECT_TRUE(other_thread);
    {
      autograd::NoGradGuard nested;
    }
    EXPECT_FALSE(autograd::grad_enabled());
  }
  EXPECT_TRUE(autograd::grad_enabled());
  EXPECT_TRUE(ops::mul(x, x).requires_grad());
}

TEST(autograd_engine, InputsWithoutRequiresGradGetNoGradient) {
  Tensor x = vec({1, 2}).set_requires_grad(true);
  Tensor c = vec({5, 7});
  ops::sum(ops::mul(x, c)).backward();
  EXPECT_EQ(x.grad().to_vector_f64(), (std::vector<double>{5, 7}));
  EXPECT_FALSE(c.grad().defined());
  // Only leaves may toggle requires_grad.
  Tensor y = ops::mul(x, c);
  EXPECT_THROW(y.set_requires_grad(false), Error);
}

TEST(autograd_engine, BackwardOnLeafSeedsItsGrad) {
  Tensor x = vec({3}).set_requires_grad(true);
  x.backward();
  EXPECT_EQ(x.grad().to_vector_f64(), (std::vector<double>{1}));
}

TEST(autograd_engine, LowPrecisionIntermediateGradientsAreRounded) {
  // An fp16 intermediate stores its gradient in fp16: 1e-8 underflows to 0 there (this is why
  // fp16 training needs loss scaling), while the fp32 path keeps it.
  for (DType t : {DType::fp16, DType::fp32}) {
    Tensor w = Tensor::from(std::vector<float>{1.0f}, {1}).set_requires_grad(true);
    Tensor h = ops::cast(w, t);         // low-precision copy of the weight
    Tensor y = ops::scale(h, 1.0);      // an op in t
    Tensor loss = ops::scale(ops::cast(y, DType::fp32), 1e-8);
    loss.backward();
    if (t == DType::fp16)
      EXPECT_EQ(w.grad().item(), 0.0);
    else
      EXPECT_FLOAT_EQ(static_cast<float>(w.grad().item()), 1e-8f);
  }
}

TEST(autograd_engine, BackwardFreesSavedTensorsAndKeepsNodesAliveWhileRunning) {
  // A chain whose intermediates are referenced only by the graph: releasing each node drops
  // the saved inputs (the ledger's activations fall back) without freeing nodes still queued.
  Tensor x = Tensor::randn({256, 256}, 5, 1.0, DType::fp32).set_requires_grad(true);
  const auto base = tensor::Ledger::live(tensor::Category::activations);
  Tensor y = ops::sum(ops::tanh(ops::exp(ops::scale(ops::tanh(x), 0.5))));
  const auto with_graph = tensor::Ledger::live(tensor::Category::activations);
  EXPECT_GE(with_graph - base, 3 * 256 * 256 * 4);  // several saved 256x256 fp32 tensors
  y.backward();
  EXPECT_LE(tensor::Ledger::live(tensor::Category::activations) - base, 16);  // only y remains
  EXPECT_TRUE(x.grad().defined());
  EXPECT_EQ(x.grad().shape(), (Shape{256, 256}));
}
