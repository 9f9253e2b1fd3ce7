// permute/transpose copies against a direct index computation: every permutation of a 4-d
// tensor in every element size (fp64, fp32, bf16, e4m3 with its scale), and a large attention
// head split that spans many parallel chunks. Copies move codes, so results are bit-exact.
#include <gtest/gtest.h>

#include <algorithm>
#include <numeric>

#include "ops/ops.h"

using namespace mixtrain;

namespace {
void expect_permuted(const Tensor& x, const std::vector<std::int64_t>& perm) {
  const Tensor y = ops::permute(x, perm);
  const Shape& xs = x.shape();
  ASSERT_EQ(y.dtype(), x.dtype());
  ASSERT_EQ(y.scale(), x.scale());
  const auto xv = x.to_vector_f64(), yv = y.to_vector_f64();
  std::int64_t k = 0;
  std::vector<std::int64_t> o(4);
  for (o[0] = 0; o[0] < y.size(0); ++o[0])
    for (o[1] = 0; o[1] < y.size(1); ++o[1])
      for (o[2] = 0; o[2] < y.size(2); ++o[2])
        for (o[3] = 0; o[3] < y.size(3); ++o[3], ++k) {
          std::vector<std::int64_t> in(4);
          for (std::size_t i = 0; i < 4; ++i) in[static_cast<std::size_t>(perm[i])] = o[i];
          const std::int64_t flat = ((in[0] * xs[1] + in[1]) * xs[2] + in[2]) * xs[3] + in[3];
          ASSERT_EQ(yv[static_cast<std::size_t>(k)], xv[static_cast<std::size_t>(flat)]);
        }
}
}  // namespace

TEST(ops_permute, EveryPermutationEveryElementSize) {
  const Tensor base = Tensor::randn({3, 5, 7, 11}, 3, 1.0, DType::fp64);
  for (const auto& x : {base, base.to(DType::fp32), base.to(DType::bf16),
                        base.to(DType::e4m3, numerics::Rounding::nearest, 0, 16.0f)}) {
    std::vector<std::int64_t> perm{0, 1, 2, 3};
    do {
      expect_permuted(x, perm);
    } while (std::next_permutation(perm.begin(), perm.end()));
  }
}

TEST(ops_permute, LargeHeadSplitAndTranspose) {
  const Tensor x = Tensor::randn({8, 128, 4, 32}, 4, 1.0, DType::bf16);  // (B, T, H, D)
  expect_permuted(x, {0, 2, 1, 3});                                      // (B, H, T, D)
  expect_permuted(x, {0, 2, 3, 1});                                      // strided inner copy
  const Tensor m = Tensor::randn({300, 200}, 5);
  const Tensor t = ops::transpose(m, 0, 1);
  EXPECT_EQ(t.shape(), (Shape{200, 300}));
  for (std::int64_t i : {0, 17, 299})
    for (std::int64_t j : {0, 3, 199}) EXPECT_EQ(t.at({j, i}), m.at({i, j}));
}
