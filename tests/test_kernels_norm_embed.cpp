// Tests for batch_norm (train/eval/backward, running statistics), embedding (gather and
// scatter-add backward) and dropout (counter-based mask): optimised kernels against the reference backend's,
// gradients against central finite differences in fp64, thread-count and chunking independence.
#include <gtest/gtest.h>

#include <cstdint>
#include <random>
#include <vector>

#include "backend/cpu/batchnorm.h"
#include "backend/cpu/dropout.h"
#include "backend/cpu/embedding.h"
#include "kernels_test_util.h"
#include "runtime/error.h"
#include "runtime/parallel.h"

namespace {

namespace kc = mixtrain::backend::cpu;
using ktest::expect_close;
using ktest::rnd;
using i64 = std::int64_t;

template <typename T>
void bn_vs_reference(i64 N, i64 C, i64 HW, double rtol, double atol) {
  const auto& R = ktest::ref<T>();
  std::mt19937 g(unsigned(N * 100 + C * 10 + HW));
  const i64 n = N * C * HW;
  const auto x = rnd<T>(n, g, 2, 5), gm = rnd<T>(C, g), bt = rnd<T>(C, g), d = rnd<T>(n, g);
  std::vector<T> o(n), o0(n), m(C), m0(C), r(C), r0(C), rm(C, T(0.5)), rv(C, T(2)), rm0 = rm,
                                                                                     rv0 = rv;
  kc::batch_norm_forward_train(o.data(), m.data(), r.data(), rm.data(), rv.data(), x.data(),
                               gm.data(), bt.data(), N, C, HW, T(0.1), T(1e-5));
  R.batch_norm_forward_train(o0.data(), m0.data(), r0.data(), rm0.data(), rv0.data(), x.data(), gm.data(),
                             bt.data(), N, C, HW, T(0.1), T(1e-5));
  expect_close(o, o0, rtol, atol, "batch_norm train");
  expect_close(rm, rm0, rtol, atol, "running_mean");
  expect_close(rv, rv0, rtol, atol, "running_var");
  std::vector<T> dx(n), dx0(n), dg(C), dg0(C), db(C), db0(C);
  kc::batch_norm_backward(dx.data(), dg.data(), db.data(), d.data(), x.data(), m0.data(), r0.data(),
                          gm.data(), N, C, HW);
  R.batch_norm_backward(dx0.data(), dg0.data(), db0.data(), d.data(), x.data(), m0.data(), r0.data(),
                        gm.data(), N, C, HW);
  expect_close(dx, dx0, rtol, atol * 10, "batch_norm dx");
  expect_close(dg, dg0, rtol, atol * double(N * HW), "dgamma");
  expect_close(db, db0, rtol, atol * double(N * HW), "dbeta");
  // Eval with the batch's own statistics as running ones reproduces the training output.
  std::vector<T> var(C), oe(n);
  for (i64 c = 0; c < C; ++c) var[c] = T(1) / (r0[c] * r0[c]) - T(1e-5);
  kc::batch_norm_forward_eval(oe.data(), x.data(), gm.data(), bt.data(), m0.data(), var.data(), N,
                              C, HW, T(1e-5));
  expect_close(oe, o0, rtol * 100, atol * 100, "batch_norm eval");
}

TEST(kernels_batch_norm, MatchesReference) {
  bn_vs_reference<float>(8, 3, 1, 1e-5, 1e-5);
  bn_vs_reference<float>(4, 5, 49, 1e-5, 1e-5);
  bn_vs_reference<float>(2, 16, 1024, 1e-4, 1e-5);
  bn_vs_reference<double>(8, 3, 1, 1e-11, 1e-12);
  bn_vs_reference<double>(3, 4, 33, 1e-11, 1e-12);
}

TEST(kernels_batch_norm, RunningStatistics) {
  const std::vector<float> x = {1, 2, 3, 4};  // N = 4, C = 1
  std::vector<float> o(4), m(1), r(1), rm = {0}, rv = {1};
  kc::batch_norm_forward_train<float>(o.data(), m.data(), r.data(), rm.data(), rv.data(),
                                      x.data(), nullptr, nullptr, 4, 1, 1, 0.1f, 0.0f);
  EXPECT_FLOAT_EQ(m[0], 2.5f);
  EXPECT_FLOAT_EQ(rm[0], 0.25f);
  EXPECT_FLOAT_EQ(rv[0], 0.9f + 0.1f * (5.0f / 3.0f));  // unbiased variance 5/3
  EXPECT_FLOAT_EQ(r[0], 1.0f / std::sqrt(1.25f));        // biased variance 5/4
}

TEST(kernels_batch_norm, GradientsMatchFiniteDifferences) {
  std::mt19937 g(11);
  const i64 N = 3, C = 2, HW = 4, n = N * C * HW;
  auto x = rnd(n, g, -2, 2), gm = rnd(C, g), bt = rnd(C, g);
  const auto w = rnd(n, g);
  std::vector<double> o(n), m(C), r(C), dx(n), dg(C), db(C);
  auto loss = [&] {
    kc::batch_norm_forward_train<double>(o.data(), m.data(), r.data(), nullptr, nullptr, x.data(),
                                         gm.data(), bt.data(), N, C, HW, 0.1, 1e-5);
    return ktest::weighted(o, w);
  };
  loss();
  kc::batch_norm_backward(dx.data(), dg.data(), db.data(), w.data(), x.data(), m.data(), r.data(),
                          gm.data(), N, C, HW);
  ktest::expect_grad(x, dx, loss, "batch_norm dx");
  ktest::expect_grad(gm, dg, loss, "batch_norm dgamma");
  ktest::expect_grad(bt, db, loss, "batch_norm dbeta");
}

TEST(kernels_embedding, ForwardBackward) {
  std::mt19937 g(13);
  for (i64 D : {1, 7, 64, 300}) {
    const i64 V = 11, N = 50;
    const auto table = rnd<float>(V * D, g), d = rnd<float>(N * D, g);
    std::vector<std::int64_t> ids(N);
    for (i64 i = 0; i < N; ++i) ids[i] = (i * 7 + i / 3) % V;
    std::vector<float> out(N * D), dt(V * D, 42.0f), dt0(V * D);
    kc::embedding_forward(out.data(), table.data(), ids.data(), N, V, D);
    for (i64 i = 0; i < N; ++i)
      for (i64 c = 0; c < D; ++c) ASSERT_EQ(out[i * D + c], table[ids[i] * D + c]);
    kc::embedding_backward(dt.data(), d.data(), ids.data(), N, V, D);
    ktest::ref<float>().embedding_backward(dt0.data(), d.data(), ids.data(), N, V, D);
    ASSERT_EQ(dt, dt0);  // same order of additions per element
  }
  std::vector<float> t(4), o(2);
  const std::vector<std::int64_t> bad = {0, 4};
  EXPECT_THROW(kc::embedding_forward(o.data(), t.data(), bad.data(), 2, 4, 1), mixtrain::Error);
}

TEST(kernels_embedding, GradientMatchesFiniteDifferences) {
  std::mt19937 g(17);
  const i64 V = 4, D = 3, N = 6;
  auto table = rnd(V * D, g);
  const auto w = rnd(N * D, g);
  const std::vector<std::int64_t> ids = {1, 3, 1, 0, 1, 3};  // id 2 never used
  std::vector<double> out(N * D), dt(V * D);
  auto loss = [&] {
    kc::embedding_forward(out.data(), table.data(), ids.data(), N, V, D);
    return ktest::weighted(out, w);
  };
  kc::embedding_backward(dt.data(), w.data(), ids.data(), N, V, D);
  ktest::expect_grad(table, dt, loss, "embedding dtable");
}

TEST(kernels_dropout, MaskIsCounterBased) {
  const i64 n = 200000;
  std::vector<float> x(n, 1.0f), y(n), y1(n);
  std::vector<std::uint8_t> m(n), m1(n), pieces(n);
  kc::dropout_forward(y.data(), m.data(), x.data(), n, 0.3, 1234);
  mixtrain::runtime::set_num_threads(1);
  kc::dropout_forward(y1.data(), m1.data(), x.data(), n, 0.3, 1234);
  mixtrain::runtime::set_num_threads(0);
  EXPECT_EQ(m, m1);
  EXPECT_EQ(y, y1);
  kc::dropout_mask(pieces.data(), 777, 0.3, 1234);
  kc::dropout_mask(pieces.data() + 777, n - 777, 0.3, 1234, 777);
  EXPECT_EQ(pieces, m);
  i64 kept = 0;
  for (i64 i = 0; i < n; ++i) {
    kept += m[i];
    ASSERT_EQ(y[i], m[i] ? 1.0f / 0.7f : 0.0f);
  }
  EXPECT_NEAR(double(kept) / double(n), 0.7, 0.005);
  std::vector<float> other(n);
  std::vector<std::uint8_t> m2(n);
  kc::dropout_forward(other.data(), m2.data(), x.data(), n, 0.3, 1235);
  EXPECT_NE(m, m2);
}

TEST(kernels_dropout, BackwardAndEdgeProbabilities) {
  const i64 n = 1000;
  std::vector<double> x(n, 2.0), y(n), d(n, 1.0), dx(n);
  std::vector<std::uint8_t> m(n);
  kc::dropout_forward(y.data(), m.data(), x.data(), n, 0.0, 1);
  for (i64 i = 0; i < n; ++i) ASSERT_EQ(y[i], 2.0);
  kc::dropout_forward(y.data(), m.data(), x.data(), n, 1.0, 1);
  for (i64 i = 0; i < n; ++i) ASSERT_EQ(y[i], 0.0);
  kc::dropout_forward(y.data(), m.data(), x.data(), n, 0.5, 9);
  kc::dropout_backward(dx.data(), d.data(), m.data(), n, 0.5);
  for (i64 i = 0; i < n; ++i) ASSERT_EQ(dx[i], m[i] ? 2.0 : 0.0);
  EXPECT_THROW(kc::dropout_forward(y.data(), m.data(), x.data(), n, 1.5, 1), mixtrain::Error);
}

}  // namespace
