// Gradient checks (fp64, central differences) for the layer ops: conv2d, pools, batch_norm,
// embedding, dropout and causal self-attention; plus the behaviour their gradients rest on
// (running-statistics rule, eval mode, seeded masks, causality) and their shape errors.
#include <cmath>

#include "gradcheck.h"
#include "ops/attention.h"
#include "ops/batch_norm.h"
#include "ops/conv_pool.h"
#include "ops/dropout.h"
#include "ops/embedding.h"
#include "ops/shape_ops.h"
#include "ops/reduce.h"
#include "ops/elementwise.h"
#include "runtime/error.h"

namespace mixtrain::ops {
namespace {

using testing::gradcheck;
using testing::param;
using V = std::vector<Tensor>;
constexpr double kTol = 1e-6;

TEST(ops_gradcheck_nn, Conv2d) {
  // stride 2, pad 1, with bias; odd sizes so the last window is partial.
  EXPECT_LT(gradcheck([](const V& x) { return conv2d(x[0], x[1], x[2], 2, 1); },
                      {param({2, 3, 5, 6}, 101), param({4, 3, 3, 3}, 102), param({4}, 103)}),
            kTol);
  // stride 1, no padding, no bias, non-square kernel.
  EXPECT_LT(gradcheck([](const V& x) { return conv2d(x[0], x[1]); }, {param({1, 2, 4, 5}, 104), param({3, 2, 2, 3}, 105)}),
            kTol);
  // 1x1 kernel (the kernel's no-im2col path).
  EXPECT_LT(gradcheck([](const V& x) { return conv2d(x[0], x[1], x[2]); },
                      {param({2, 3, 3, 3}, 106), param({2, 3, 1, 1}, 107), param({2}, 108)}),
            kTol);
}

TEST(ops_gradcheck_nn, Conv2dMatchesDirectSum) {
  const Tensor x = Tensor::uniform({1, 2, 4, 4}, -1, 1, 110, DType::fp64);
  const Tensor w = Tensor::uniform({3, 2, 3, 3}, -1, 1, 111, DType::fp64);
  const Tensor b = Tensor::uniform({3}, -1, 1, 112, DType::fp64);
  const auto y = conv2d(x, w, b, 2, 1).to_vector_f64();
  ASSERT_EQ(y.size(), 3u * 2 * 2);
  const auto xv = x.to_vector_f64(), wv = w.to_vector_f64(), bv = b.to_vector_f64();
  for (int oc = 0; oc < 3; ++oc)
    for (int oh = 0; oh < 2; ++oh)
      for (int ow = 0; ow < 2; ++ow) {
        double s = bv[oc];
        for (int c = 0; c < 2; ++c)
          for (int kh = 0; kh < 3; ++kh)
            for (int kw = 0; kw < 3; ++kw) {
              const int ih = oh * 2 - 1 + kh, iw = ow * 2 - 1 + kw;
              if (ih < 0 || ih >= 4 || iw < 0 || iw >= 4) continue;
              s += xv[(c * 4 + ih) * 4 + iw] * wv[((oc * 2 + c) * 3 + kh) * 3 + kw];
            }
        EXPECT_NEAR(y[(oc * 2 + oh) * 2 + ow], s, 1e-12);
      }
}

TEST(ops_gradcheck_nn, Pools) {
  EXPECT_LT(gradcheck([](const V& x) { return max_pool2d(x[0], 2, 2); }, {param({2, 2, 4, 5}, 120)}), kTol);
  EXPECT_LT(gradcheck([](const V& x) { return max_pool2d(x[0], 3, 2, 1); }, {param({1, 3, 5, 5}, 121)}), kTol);
  EXPECT_LT(gradcheck([](const V& x) { return avg_pool2d(x[0], 2, 2); }, {param({2, 2, 4, 4}, 122)}), kTol);
  EXPECT_LT(gradcheck([](const V& x) { return avg_pool2d(x[0], 3, 2, 1); }, {param({1, 2, 5, 6}, 123)}), kTol);
}

TEST(ops_gradcheck_nn, PoolValues) {
  const Tensor x = Tensor::from(std::vector<float>{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}, {1, 1, 4, 4});
  EXPECT_EQ(max_pool2d(x, 2, 2).to_vector(), (std::vector<float>{6, 8, 14, 16}));
  EXPECT_EQ(avg_pool2d(x, 2, 2).to_vector(), (std::vector<float>{3.5f, 5.5f, 11.5f, 13.5f}));
  // Padding counts in the average's divisor (count_include_pad): corner window = (1+2+5+6)/9.
  EXPECT_FLOAT_EQ(avg_pool2d(x, 3, 2, 1).to_vector()[0], 14.0f / 9.0f);
}

TEST(ops_gradcheck_nn, BatchNormTraining) {
  // 4-d (BatchNorm2d) with affine parameters and running statistics being updated.
  Tensor rm = Tensor::zeros({3}, DType::fp64), rv = Tensor::ones({3}, DType::fp64);
  EXPECT_LT(gradcheck([&](const V& x) { return batch_norm(x[0], x[1], x[2], rm, rv, true); },
                      {param({4, 3, 2, 2}, 130, -2, 2), param({3}, 131), param({3}, 132)}),
            kTol);
  // 2-d (BatchNorm1d), no affine, no running statistics.
  EXPECT_LT(gradcheck([](const V& x) { return batch_norm(x[0], Tensor(), Tensor(), Tensor(), Tensor(), true); },
                      {param({5, 4}, 133, -2, 2)}),
            kTol);
}

TEST(ops_gradcheck_nn, BatchNormEval) {
  const Tensor rm = Tensor::uniform({3}, -0.5, 0.5, 134, DType::fp64), rv = Tensor::uniform({3}, 0.5, 2, 135, DType::fp64);
  EXPECT_LT(gradcheck([&](const V& x) { return batch_norm(x[0], x[1], x[2], rm, rv, false); },
                      {param({2, 3, 2, 3}, 136, -2, 2), param({3}, 137), param({3}, 138)}),
            kTol);
}

TEST(ops_gradcheck_nn, BatchNormRunningStatsFollowPyTorchRule) {
  const std::int64_t N = 4, C = 3, HW = 5;
  const Tensor x = Tensor::uniform({N, C, HW}, -2, 3, 140);
  Tensor rm = Tensor::from(std::vector<float>{0.5f, -1.0f, 2.0f}, {C});
  Tensor rv = Tensor::from(std::vector<float>{1.0f, 0.25f, 4.0f}, {C});
  std::vector<double> erm = rm.to_vector_f64(), erv = rv.to_vector_f64();
  const auto xv = x.to_vector_f64();
  const double momentum = 0.1;
  std::vector<double> batch_mean(C), batch_var(C);
  for (int step = 0; step < 2; ++step) {
    const Tensor y = batch_norm(x, Tensor(), Tensor(), rm, rv, true, momentum);
    EXPECT_EQ(y.dtype(), DType::fp32);
    for (std::int64_t c = 0; c < C; ++c) {
      double m = 0, v = 0;
      for (std::int64_t n = 0; n < N; ++n)
        for (std::int64_t i = 0; i < HW; ++i) m += xv[static_cast<std::size_t>((n * C + c) * HW + i)];
      m /= double(N * HW);
      for (std::int64_t n = 0; n < N; ++n)
        for (std::int64_t i = 0; i < HW; ++i) {
          const double d = xv[static_cast<std::size_t>((n * C + c) * HW + i)] - m;
          v += d * d;
        }
      const double unbiased = v / double(N * HW - 1);
      batch_mean[c] = m;
      batch_var[c] = unbiased;
      erm[c] = (1 - momentum) * erm[c] + momentum * m;
      erv[c] = (1 - momentum) * erv[c] + momentum * unbiased;
    }
    const auto grm = rm.to_vector_f64(), grv = rv.to_vector_f64();
    for (std::int64_t c = 0; c < C; ++c) {
      EXPECT_NEAR(grm[c], erm[c], 1e-6 * (1 + std::abs(erm[c]))) << "step " << step << " channel " << c;
      EXPECT_NEAR(grv[c], erv[c], 1e-6 * (1 + std::abs(erv[c]))) << "step " << step << " channel " << c;
    }
  }
  // fp64 running buffers with an fp32 input: updated through a converted copy, same rule
  // (momentum 1 leaves exactly the batch statistics).
  Tensor rm64 = Tensor::zeros({C}, DType::fp64), rv64 = Tensor::ones({C}, DType::fp64);
  batch_norm(x, Tensor(), Tensor(), rm64, rv64, true, 1.0);
  const auto m64 = rm64.to_vector_f64(), v64 = rv64.to_vector_f64();
  for (std::int64_t c = 0; c < C; ++c) {
    EXPECT_NEAR(m64[c], batch_mean[c], 1e-6);
    EXPECT_NEAR(v64[c], batch_var[c], 1e-5);
  }
}

TEST(ops_gradcheck_nn, BatchNormEvalUsesRunningStats) {
  const std::int64_t C = 2;
  const Tensor x = Tensor::uniform({3, C, 2, 2}, -2, 2, 150);
  Tensor rm = Tensor::from(std::vector<float>{0.25f, -0.5f}, {C});
  Tensor rv = Tensor::from(std::vector<float>{2.0f, 0.5f}, {C});
  const Tensor gamma = Tensor::from(std::vector<float>{1.5f, -0.5f}, {C});
  const Tensor beta = Tensor::from(std::vector<float>{0.1f, 0.2f}, {C});
  const auto y = batch_norm(x, gamma, beta, rm, rv, false).to_vector_f64();
  const auto xv = x.to_vector_f64();
  const double m[] = {0.25, -0.5}, v[] = {2.0, 0.5}, g[] = {1.5, -0.5}, b[] = {0.1, 0.2};
  for (std::size_t i = 0; i < xv.size(); ++i) {
    const std::size_t c = (i / 4) % 2;
    const double ref = (xv[i] - m[c]) / std::sqrt(v[c] + 1e-5) * double(float(g[c])) + double(float(b[c]));
    EXPECT_NEAR(y[i], ref, 1e-5) << i;
  }
  // Eval neither reads the batch statistics nor changes the buffers: one image alone gives the
  // same rows as inside the batch.
  EXPECT_EQ(rm.to_vector(), (std::vector<float>{0.25f, -0.5f}));
  EXPECT_EQ(rv.to_vector(), (std::vector<float>{2.0f, 0.5f}));
  const auto y0 = batch_norm(x.narrow0(0, 1), gamma, beta, rm, rv, false).to_vector_f64();
  for (std::size_t i = 0; i < y0.size(); ++i) EXPECT_DOUBLE_EQ(y0[i], y[i]);
  EXPECT_THROW(batch_norm(x, gamma, beta, Tensor(), Tensor(), false), Error);
}

TEST(ops_gradcheck_nn, EmbeddingRepeatedIds) {
  const std::vector<std::int64_t> ids{1, 3, 1, 0, 1, 4};
  EXPECT_LT(gradcheck([&](const V& x) { return embedding(x[0], ids, {2, 3}); }, {param({5, 3}, 160)}), kTol);
  // The table gradient of sum(y) counts occurrences: row 1 thrice, row 2 never.
  Tensor table = Tensor::uniform({5, 2}, -1, 1, 161);
  table.set_requires_grad(true);
  const Tensor y = embedding(table, ids, {2, 3});
  EXPECT_EQ(y.shape(), (Shape{2, 3, 2}));
  sum(y).backward();
  EXPECT_EQ(table.grad().to_vector(), (std::vector<float>{1, 1, 3, 3, 0, 0, 1, 1, 1, 1}));
  // Rows are copied exactly, in the table's dtype (codes, not a conversion round trip).
  const Tensor tb = table.to(DType::bf16);
  const Tensor yb = embedding(tb, ids, {6});
  EXPECT_EQ(yb.dtype(), DType::bf16);
  const auto tv = tb.to_vector(), yv = yb.to_vector();
  for (std::size_t i = 0; i < ids.size(); ++i)
    for (std::size_t d = 0; d < 2; ++d) EXPECT_EQ(yv[i * 2 + d], tv[static_cast<std::size_t>(ids[i]) * 2 + d]);
  // An fp8 table's rows keep its codes and its scale.
  const Tensor t8 = table.to(DType::e4m3, numerics::Rounding::nearest, 0, 64.0f);
  const Tensor y8 = embedding(t8, ids, {6});
  EXPECT_EQ(y8.dtype(), DType::e4m3);
  EXPECT_EQ(y8.scale(), 64.0f);
  const auto t8v = t8.to_vector(), y8v = y8.to_vector();
  for (std::size_t i = 0; i < ids.size(); ++i)
    for (std::size_t d = 0; d < 2; ++d) EXPECT_EQ(y8v[i * 2 + d], t8v[static_cast<std::size_t>(ids[i]) * 2 + d]);
}

TEST(ops_gradcheck_nn, EmbeddingBadIds) {
  const Tensor table = Tensor::zeros({5, 3});
  EXPECT_THROW(embedding(table, {0, 5}, {2}), Error);
  EXPECT_THROW(embedding(table, {-1}, {1}), Error);
  EXPECT_THROW(embedding(table, {0, 1, 2}, {2}), Error);
}

TEST(ops_gradcheck_nn, Dropout) {
  const double p = 0.3;
  EXPECT_LT(gradcheck([p](const V& x) { return dropout(x[0], p, 7); }, {param({6, 7}, 170)}), kTol);
  // Gradient = mask / (1 - p): with x = 1 the output is that same mask / (1 - p).
  Tensor x = Tensor::ones({1000});
  x.set_requires_grad(true);
  const Tensor y = dropout(x, p, 42);
  sum(y).backward();
  const auto yv = y.to_vector(), gv = x.grad().to_vector();
  int kept = 0;
  for (std::size_t i = 0; i < yv.size(); ++i) {
    EXPECT_TRUE(yv[i] == 0.0f || yv[i] == static_cast<float>(1.0 / (1.0 - p))) << yv[i];
    EXPECT_EQ(gv[i], yv[i]);
    kept += yv[i] != 0.0f;
  }
  EXPECT_GT(kept, 600);
  EXPECT_LT(kept, 800);
  // Same seed, same mask; another seed, another mask; an offset continues the stream.
  EXPECT_EQ(dropout(x, p, 42).to_vector(), yv);
  EXPECT_NE(dropout(x, p, 43).to_vector(), yv);
  const auto tail = dropout(Tensor::ones({400}), p, 42, 600).to_vector();
  EXPECT_EQ(tail, std::vector<float>(yv.begin() + 600, yv.end()));
}

TEST(ops_gradcheck_nn, DropoutIdentityAndEdges) {
  Tensor x = Tensor::uniform({4, 5}, -1, 1, 171);
  x.set_requires_grad(true);
  const Tensor y0 = dropout(x, 0.0, 1);
  EXPECT_EQ(y0.to_vector(), x.to_vector());
  sum(y0).backward();
  EXPECT_EQ(x.grad().to_vector(), std::vector<float>(20, 1.0f));
  EXPECT_EQ(dropout(x, 0.5, 1, 0, /*training=*/false).to_vector(), x.to_vector());
  EXPECT_EQ(dropout(x, 1.0, 1).to_vector(), std::vector<float>(20, 0.0f));
  EXPECT_THROW(dropout(x, 1.5, 1), Error);
  EXPECT_THROW(dropout(x, -0.1, 1), Error);
}

TEST(ops_gradcheck_nn, CausalSelfAttention) {
  EXPECT_LT(gradcheck([](const V& x) { return causal_self_attention(x[0], x[1], x[2]); },
                      {param({2, 2, 5, 3}, 180, -2, 2), param({2, 2, 5, 3}, 181, -2, 2), param({2, 2, 5, 3}, 182)}),
            kTol);
}

TEST(ops_gradcheck_nn, CausalSelfAttentionQkv) {
  EXPECT_LT(gradcheck([](const V& x) { return causal_self_attention_qkv(x[0], 2); }, {param({2, 5, 12}, 186, -2, 2)}),
            kTol);
}

// The packed-layout op against the per-head op on permuted slices of the same qkv: outputs and
// the qkv gradient agree bit for bit, in fp32 and in bf16 (whose gradient is rounded as the
// engine rounds every 16-bit intermediate's gradient).
TEST(ops_gradcheck_nn, CausalSelfAttentionQkvEqualsPermutedSlices) {
  const std::int64_t B = 2, T = 7, H = 3, D = 4, C = H * D;
  for (DType t : {DType::fp32, DType::bf16}) {
    Tensor base = Tensor::uniform({B, T, 3 * C}, -1.5, 1.5, 187).to(t);
    Tensor a = base.clone(), b = base.clone();
    a.set_requires_grad(true);
    b.set_requires_grad(true);
    const Tensor w = Tensor::uniform({B, T, C}, -1, 1, 188);
    // Through an op first, so that qkv is an intermediate (as the projection's output is) whose
    // 16-bit gradient the engine rounds.
    const Tensor ya = causal_self_attention_qkv(scale(a, 1.0), H);
    const Tensor p = permute(reshape(scale(b, 1.0), {B, T, 3, H, D}), {2, 0, 3, 1, 4});
    auto part = [&](std::int64_t i) { return reshape(slice(p, 0, i, i + 1), {B, H, T, D}); };
    const Tensor yb = reshape(permute(causal_self_attention(part(0), part(1), part(2)), {0, 2, 1, 3}), {B, T, C});
    EXPECT_EQ(ya.dtype(), yb.dtype());
    EXPECT_EQ(ya.to_vector(), yb.to_vector()) << name(t);
    sum(mul(ya, w)).backward();
    sum(mul(yb, w)).backward();
    EXPECT_EQ(a.grad().to_vector(), b.grad().to_vector()) << name(t);
  }
  EXPECT_THROW(causal_self_attention_qkv(Tensor::zeros({1, 4, 10}), 2), Error);  // 10 != 3 * 2 * D
}

TEST(ops_gradcheck_nn, AttentionIsCausal) {
  const Tensor q = Tensor::uniform({1, 2, 5, 3}, -1, 1, 183, DType::fp64);
  const Tensor k = Tensor::uniform({1, 2, 5, 3}, -1, 1, 184, DType::fp64);
  Tensor v = Tensor::uniform({1, 2, 5, 3}, -1, 1, 185, DType::fp64);
  const auto y = causal_self_attention(q, k, v).to_vector_f64();
  // Changing the last position's key and value cannot change earlier outputs.
  Tensor k2 = k.clone(), v2 = v.clone();
  for (int h = 0; h < 2; ++h)
    for (int d = 0; d < 3; ++d) {
      k2.data_as<double>()[(h * 5 + 4) * 3 + d] += 1.0;
      v2.data_as<double>()[(h * 5 + 4) * 3 + d] += 1.0;
    }
  const auto y2 = causal_self_attention(q, k2, v2).to_vector_f64();
  for (int h = 0; h < 2; ++h)
    for (int t = 0; t < 5; ++t)
      for (int d = 0; d < 3; ++d) {
        const std::size_t i = static_cast<std::size_t>((h * 5 + t) * 3 + d);
        if (t < 4) EXPECT_EQ(y2[i], y[i]);
        else EXPECT_NE(y2[i], y[i]);
      }
  // Position 0 attends only to itself: its output is v[0].
  const auto vv = v.to_vector_f64();
  for (int d = 0; d < 3; ++d) EXPECT_NEAR(y[static_cast<std::size_t>(d)], vv[static_cast<std::size_t>(d)], 1e-15);
}

TEST(ops_gradcheck_nn, ShapeErrors) {
  const Tensor x = Tensor::zeros({1, 3, 4, 4});
  EXPECT_THROW(conv2d(x, Tensor::zeros({2, 2, 3, 3})), Error);             // channels
  EXPECT_THROW(conv2d(x, Tensor::zeros({2, 3, 3, 3}), Tensor::zeros({3})), Error);  // bias
  EXPECT_THROW(conv2d(x, Tensor::zeros({2, 3, 7, 7})), Error);             // kernel > input
  EXPECT_THROW(conv2d(x, Tensor::zeros({2, 3, 3, 3}), Tensor(), 0), Error); // stride
  EXPECT_THROW(conv2d(Tensor::zeros({3, 4, 4}), Tensor::zeros({2, 3, 3, 3})), Error);
  EXPECT_THROW(max_pool2d(x, 2, 2, 2), Error);                             // pad > k/2
  EXPECT_THROW(avg_pool2d(Tensor::zeros({4, 4}), 2, 2), Error);
  EXPECT_THROW(batch_norm(x, Tensor::ones({2}), Tensor(), Tensor(), Tensor(), true), Error);
  EXPECT_THROW(causal_self_attention(x, x, Tensor::zeros({1, 3, 4, 5})), Error);
  try {
    conv2d(x, Tensor::zeros({2, 2, 3, 3}));
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()).find('\n'), std::string::npos);
    EXPECT_NE(std::string(e.what()).find("conv2d"), std::string::npos);
  }
}

}  // namespace
}  // namespace mixtrain::ops
