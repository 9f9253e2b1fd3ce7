// The reduction layouts sum_to and the reduce backward special-case (reductions over leading
// dims: column sums, wide or in row blocks; over trailing dims: row sums) against the generic
// layout, on integer-valued data so that fp32 sums are exact in any order and must match an
// fp64 reference bit for bit.
#include <gtest/gtest.h>

#include <cmath>

#include "ops/ops.h"

using namespace mixtrain;

namespace {
Tensor ints(const Shape& s, std::uint64_t seed) {
  // Integers in [-8, 8]: every partial sum below 2^24 is exact in fp32.
  auto v = Tensor::uniform(s, -8.0, 9.0, seed, DType::fp64).to_vector_f64();
  for (auto& x : v) x = std::floor(x);
  return Tensor::from(v, s, DType::fp32);
}

std::vector<double> ref_sum(const Tensor& x, std::int64_t axis) {  // 2-d only
  const auto v = x.to_vector_f64();
  const std::int64_t R = x.size(0), C = x.size(1);
  std::vector<double> r(static_cast<std::size_t>(axis == 0 ? C : R), 0.0);
  for (std::int64_t i = 0; i < R; ++i)
    for (std::int64_t j = 0; j < C; ++j) r[static_cast<std::size_t>(axis == 0 ? j : i)] += v[static_cast<std::size_t>(i * C + j)];
  return r;
}
}  // namespace

TEST(ops_reduce, LeadingAndTrailingLayoutsAreExact) {
  for (const auto& [shape, axis] : std::vector<std::pair<Shape, std::int64_t>>{
           {{20000, 3}, 0},   // narrow columns: several row blocks of partials
           {{300, 700}, 0},   // wide columns split over the pool
           {{700, 300}, 1},   // row sums
           {{1, 50000}, 1}}) {
    const Tensor x = ints(shape, 7);
    const auto got = ops::sum(x, {axis}).to_vector_f64();
    EXPECT_EQ(got, ref_sum(x, axis)) << to_string(shape) << " axis " << axis;
  }
  const Tensor x = ints({6000, 5}, 8);
  double total = 0;
  for (double v : x.to_vector_f64()) total += v;
  EXPECT_EQ(ops::sum(x).item(), total);
  EXPECT_EQ(ops::mean(x).item(), static_cast<double>(static_cast<float>(total / 30000.0)));
}

TEST(ops_reduce, BackwardExpandsEveryLayout) {
  // d sum(x * w over axes) / dx = w broadcast back: each layout against the generic one.
  for (const std::vector<std::int64_t>& axes : {std::vector<std::int64_t>{0}, {2}, {0, 1}, {1, 2}, {0, 2}, {1}}) {
    Tensor x = ints({30, 40, 50}, 9).set_requires_grad(true);
    Tensor s = ops::sum(x, axes, /*keepdim=*/true);
    const Tensor seed = ints(s.shape(), 10);
    s.backward(seed);
    const auto g = x.grad().to_vector_f64();
    const auto w = seed.to_vector_f64();
    const Shape ks = s.shape();
    for (std::int64_t i = 0; i < 30; ++i)
      for (std::int64_t j = 0; j < 40; ++j)
        for (std::int64_t k = 0; k < 50; ++k) {
          const std::int64_t wi = (ks[0] == 1 ? 0 : i) * ks[1] * ks[2] + (ks[1] == 1 ? 0 : j) * ks[2] + (ks[2] == 1 ? 0 : k);
          ASSERT_EQ(g[static_cast<std::size_t>((i * 40 + j) * 50 + k)], w[static_cast<std::size_t>(wi)]);
        }
  }
}

TEST(ops_reduce, BiasGradientOfBroadcastAdd) {
  Tensor x = ints({512, 96}, 11).set_requires_grad(true);
  Tensor b = ints({96}, 12).set_requires_grad(true);
  Tensor c = ints({512, 1}, 13).set_requires_grad(true);
  const Tensor seed = ints({512, 96}, 14);
  ops::add(ops::add(x, b), c).backward(seed);
  EXPECT_EQ(b.grad().to_vector_f64(), ref_sum(seed, 0));
  EXPECT_EQ(c.grad().to_vector_f64(), ref_sum(seed, 1));
  EXPECT_EQ(x.grad().to_vector_f64(), seed.to_vector_f64());
}
