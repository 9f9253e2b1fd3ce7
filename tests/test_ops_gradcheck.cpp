// Every op's gradient checked in fp64 against central finite differences.
#include "gradcheck.h"

#include "ops/linear.h"
#include "ops/norm.h"
#include "ops/shape_ops.h"
#include "ops/softmax_loss.h"

namespace mixtrain::ops {
namespace {

using testing::gradcheck;
using testing::param;
using V = std::vector<Tensor>;
constexpr double kTol = 1e-6;

TEST(ops_gradcheck, BinaryWithBroadcasting) {
  EXPECT_LT(gradcheck([](const V& x) { return add(x[0], x[1]); }, {param({3, 4}, 1), param({4}, 2)}), kTol);
  EXPECT_LT(gradcheck([](const V& x) { return sub(x[0], x[1]); }, {param({2, 1, 3}, 3), param({4, 1}, 4)}), kTol);
  EXPECT_LT(gradcheck([](const V& x) { return mul(x[0], x[1]); }, {param({2, 1, 3}, 5), param({1, 4, 1}, 6)}), kTol);
  EXPECT_LT(gradcheck([](const V& x) { return div(x[0], x[1]); }, {param({3, 4}, 7), param({3, 1}, 8, 0.5, 2.0)}), kTol);
  EXPECT_LT(gradcheck([](const V& x) { return mul(x[0], x[1]); }, {param({5}, 9), param({1}, 10)}), kTol);
  EXPECT_LT(gradcheck([](const V& x) { return scale(x[0], -2.5); }, {param({3, 2}, 11)}), kTol);
}

TEST(ops_gradcheck, Unary) {
  // relu away from its kink at 0.
  EXPECT_LT(gradcheck([](const V& x) { return relu(x[0]); }, {param({4, 5}, 12, 0.1, 1.0)}), kTol);
  EXPECT_LT(gradcheck([](const V& x) { return relu(x[0]); }, {param({4, 5}, 13, -1.0, -0.1)}), kTol);
  EXPECT_LT(gradcheck([](const V& x) { return gelu(x[0]); }, {param({4, 5}, 14, -3, 3)}), kTol);
  EXPECT_LT(gradcheck([](const V& x) { return sigmoid(x[0]); }, {param({4, 5}, 15, -3, 3)}), kTol);
  EXPECT_LT(gradcheck([](const V& x) { return ops::tanh(x[0]); }, {param({4, 5}, 16, -2, 2)}), kTol);
  EXPECT_LT(gradcheck([](const V& x) { return ops::exp(x[0]); }, {param({4, 5}, 17, -2, 2)}), kTol);
  EXPECT_LT(gradcheck([](const V& x) { return ops::log(x[0]); }, {param({4, 5}, 18, 0.5, 3)}), kTol);
}

TEST(ops_gradcheck, SoftmaxAndLosses) {
  EXPECT_LT(gradcheck([](const V& x) { return softmax(x[0]); }, {param({3, 7}, 19, -3, 3)}), kTol);
  EXPECT_LT(gradcheck([](const V& x) { return log_softmax(x[0]); }, {param({2, 3, 5}, 20, -3, 3)}), kTol);
  EXPECT_LT(gradcheck([](const V& x) { return cross_entropy(x[0], {2, 0, 4, 4}); }, {param({4, 5}, 21, -3, 3)}), kTol);
  EXPECT_LT(gradcheck([](const V& x) { return mse(x[0], x[1]); }, {param({3, 4}, 22), param({3, 4}, 23)}), kTol);
  EXPECT_LT(gradcheck([](const V& x) { return bce_with_logits(x[0], x[1]); }, {param({6}, 24, -4, 4), param({6}, 25, 0, 1)}), kTol);
}

TEST(ops_gradcheck, Reductions) {
  EXPECT_LT(gradcheck([](const V& x) { return sum(x[0], {1}); }, {param({3, 4, 2}, 26)}), kTol);
  EXPECT_LT(gradcheck([](const V& x) { return mean(x[0], {0, 2}, true); }, {param({3, 4, 2}, 27)}), kTol);
  EXPECT_LT(gradcheck([](const V& x) { return mean(x[0]); }, {param({3, 4}, 28)}), kTol);
}

TEST(ops_gradcheck, MatmulAndLinear) {
  EXPECT_LT(gradcheck([](const V& x) { return matmul(x[0], x[1]); }, {param({3, 5}, 29), param({5, 4}, 30)}), kTol);
  EXPECT_LT(gradcheck([](const V& x) { return matmul(x[0], x[1]); }, {param({2, 3, 5}, 31), param({2, 5, 4}, 32)}), kTol);
  EXPECT_LT(gradcheck([](const V& x) { return matmul(x[0], x[1]); }, {param({2, 3, 5}, 33), param({5, 4}, 34)}), kTol);
  using backend::Activation;
  for (Activation act : {Activation::identity, Activation::gelu}) {
    EXPECT_LT(gradcheck([act](const V& x) { return linear(x[0], x[1], x[2], act); },
                        {param({2, 3, 6}, 35, -2, 2), param({4, 6}, 36), param({4}, 37)}),
              kTol);
  }
  // relu: inputs kept away from the kink by a positive bias.
  EXPECT_LT(gradcheck([](const V& x) { return linear(x[0], x[1], x[2], Activation::relu); },
                      {param({3, 6}, 38, 0.1, 1), param({4, 6}, 39, 0.1, 1), param({4}, 40, 0.5, 1)}),
            kTol);
  EXPECT_LT(gradcheck([](const V& x) { return linear(x[0], x[1]); }, {param({3, 6}, 41), param({4, 6}, 42)}), kTol);
}

TEST(ops_gradcheck, LayerNorm) {
  EXPECT_LT(gradcheck([](const V& x) { return layer_norm(x[0], x[1], x[2]); },
                      {param({3, 8}, 43, -2, 2), param({8}, 44), param({8}, 45)}),
            kTol);
  EXPECT_LT(gradcheck([](const V& x) { return layer_norm(x[0], Tensor(), Tensor()); }, {param({2, 2, 5}, 46, -2, 2)}), kTol);
}

TEST(ops_gradcheck, ShapeOps) {
  EXPECT_LT(gradcheck([](const V& x) { return reshape(x[0], {4, -1}); }, {param({2, 6}, 47)}), kTol);
  EXPECT_LT(gradcheck([](const V& x) { return transpose(x[0], 0, 2); }, {param({2, 3, 4}, 48)}), kTol);
  EXPECT_LT(gradcheck([](const V& x) { return permute(x[0], {1, 2, 0}); }, {param({2, 3, 4}, 49)}), kTol);
  EXPECT_LT(gradcheck([](const V& x) { return slice(x[0], 1, 1, 3); }, {param({2, 4, 3}, 50)}), kTol);
  EXPECT_LT(gradcheck([](const V& x) { return concat({x[0], x[1]}, 1); }, {param({2, 3}, 51), param({2, 2}, 52)}), kTol);
}

}  // namespace
}  // namespace mixtrain::ops
