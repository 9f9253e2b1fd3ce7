// Autograd tape contract: gradients accumulate into .grad over backward calls, leaf gradients
// are fp32 (fp64 for fp64 leaves), NoGradGuard records nothing, a freed graph and a non-scalar
// root without a seed are clear errors, retain_graph allows a second backward.
#include <gtest/gtest.h>

#include <string>

#include "autograd/grad_info.h"
#include "ops/elementwise.h"
#include "ops/linear.h"
#include "ops/reduce.h"
#include "runtime/error.h"

namespace mixtrain {
namespace {

Tensor leaf(const std::vector<float>& v, const Shape& s, DType t = DType::fp32) {
  Tensor x = Tensor::from(v, s, t);
  x.set_requires_grad(true);
  return x;
}

TEST(autograd, GradientsAccumulateOverTwoBackwardCalls) {
  Tensor x = leaf({1, -2, 3}, {3});
  ops::sum(ops::mul(x, x)).backward();  // d/dx sum x^2 = 2x
  EXPECT_EQ(x.grad().to_vector(), (std::vector<float>{2, -4, 6}));
  ops::sum(ops::scale(x, 3.0)).backward();  // + 3
  EXPECT_EQ(x.grad().to_vector(), (std::vector<float>{5, -1, 9}));
  x.zero_grad();
  EXPECT_FALSE(x.grad().defined());
  ops::sum(x).backward();
  EXPECT_EQ(x.grad().to_vector(), (std::vector<float>{1, 1, 1}));
}

TEST(autograd, TensorUsedTwiceSumsItsGradients) {
  Tensor x = leaf({2, 5}, {2});
  const Tensor y = ops::add(ops::mul(x, x), ops::scale(x, 4.0));  // x^2 + 4x -> 2x + 4
  ops::sum(y).backward();
  EXPECT_EQ(x.grad().to_vector(), (std::vector<float>{8, 14}));
}

TEST(autograd, LeafGradientDtypes) {
  Tensor h = leaf({1.5f, 2.0f}, {2}, DType::bf16);
  Tensor d = Tensor::from(std::vector<double>{1.0, 2.0}, {2}, DType::fp64);
  d.set_requires_grad(true);
  ops::sum(ops::mul(h, h)).backward();
  ops::sum(ops::mul(d, d)).backward();
  EXPECT_EQ(h.grad().dtype(), DType::fp32);
  EXPECT_EQ(h.grad().to_vector(), (std::vector<float>{3, 4}));
  EXPECT_EQ(d.grad().dtype(), DType::fp64);
}

TEST(autograd, NoGradGuardRecordsNothing) {
  Tensor x = leaf({1, 2}, {2});
  {
    autograd::NoGradGuard ng;
    EXPECT_FALSE(autograd::grad_enabled());
    const Tensor y = ops::mul(x, x);
    EXPECT_FALSE(y.requires_grad());
    EXPECT_TRUE(y.is_leaf());
    EXPECT_THROW(ops::sum(y).backward(), Error);
    {
      autograd::NoGradGuard nested;
    }
    EXPECT_FALSE(autograd::grad_enabled());  // the nested guard restored "off"
  }
  EXPECT_TRUE(autograd::grad_enabled());
  EXPECT_FALSE(x.grad().defined());
  EXPECT_TRUE(ops::mul(x, x).requires_grad());
  // Constants (no requires_grad) record nothing either.
  const Tensor c = Tensor::ones({2});
  EXPECT_FALSE(ops::mul(c, c).requires_grad());
}

TEST(autograd, SecondBackwardWithoutRetainGraphThrows) {
  Tensor x = leaf({1, 2}, {2});
  const Tensor loss = ops::sum(ops::mul(x, x));
  loss.backward();
  try {
    loss.backward();
    FAIL() << "second backward through a freed graph did not throw";
  } catch (const Error& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("retain_graph"), std::string::npos) << msg;
    EXPECT_EQ(msg.find('\n'), std::string::npos);
  }
  EXPECT_EQ(x.grad().to_vector(), (std::vector<float>{2, 4}));  // the failed call added nothing
}

TEST(autograd, RetainGraphAllowsTwice) {
  Tensor x = leaf({1, 2}, {2});
  const Tensor loss = ops::sum(ops::mul(x, x));
  loss.backward(Tensor(), /*retain_graph=*/true);
  loss.backward(Tensor(), /*retain_graph=*/true);
  EXPECT_EQ(x.grad().to_vector(), (std::vector<float>{4, 8}));
  loss.backward();  // a third, freeing the graph
  EXPECT_EQ(x.grad().to_vector(), (std::vector<float>{6, 12}));
  EXPECT_THROW(loss.backward(), Error);
}

TEST(autograd, NonScalarNeedsASeed) {
  Tensor x = leaf({1, 2, 3}, {3});
  const Tensor y = ops::mul(x, x);
  try {
    y.backward();
    FAIL() << "backward on a non-scalar without a seed did not throw";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("seed"), std::string::npos) << e.what();
  }
  EXPECT_THROW(y.backward(Tensor::ones({4})), Error);  // wrong seed size
  y.backward(Tensor::from(std::vector<float>{1, 0, -1}, {3}));
  EXPECT_EQ(x.grad().to_vector(), (std::vector<float>{2, 0, -6}));
}

TEST(autograd, BackwardOnAConstantThrows) {
  const Tensor c = Tensor::ones({});
  EXPECT_THROW(c.backward(), Error);
}

TEST(autograd, OnlyLeavesChangeRequiresGrad) {
  Tensor x = leaf({1}, {1});
  Tensor y = ops::mul(x, x);
  EXPECT_FALSE(y.is_leaf());
  EXPECT_THROW(y.set_requires_grad(false), Error);
}

TEST(autograd, DeepChainDoesNotOverflowTheStack) {
  Tensor x = leaf({1.0f}, {1});
  Tensor y = x;
  for (int i = 0; i < 5000; ++i) y = ops::scale(y, 1.0);
  ops::sum(y).backward();
  EXPECT_EQ(x.grad().to_vector(), (std::vector<float>{1}));
}

}  // namespace
}  // namespace mixtrain
