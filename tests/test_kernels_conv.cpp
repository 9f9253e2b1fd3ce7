// Tests for conv2d (im2col + GEMM) and max/avg pooling: optimised kernels against the reference
// backend's for strides, paddings and odd sizes (fp32 and fp64; pooling is an exact family, so
// bit for bit), backward kernels against central finite differences in fp64.
#include <gtest/gtest.h>

#include <cstdint>
#include <random>
#include <vector>

#include "backend/cpu/conv.h"
#include "backend/cpu/pool.h"
#include "kernels_test_util.h"
#include "runtime/error.h"

namespace {

namespace kc = mixtrain::backend::cpu;
namespace bk = mixtrain::backend;  // the kernels' argument types
using ktest::expect_close;
using ktest::rnd;
using i64 = std::int64_t;

template <typename T>
void conv_vs_reference(const bk::Conv2dShape& s, double rtol, double atol) {
  const auto& R = ktest::ref<T>();
  std::mt19937 g(unsigned(s.N + s.C * 7 + s.H * 13 + s.KH * 17 + s.stride * 19 + s.pad * 23));
  const i64 nx = s.N * s.C * s.H * s.W, nw = s.OC * s.C * s.KH * s.KW,
            no = s.N * s.OC * s.oh() * s.ow();
  const auto x = rnd<T>(nx, g), w = rnd<T>(nw, g), b = rnd<T>(s.OC, g), d = rnd<T>(no, g);
  std::vector<T> o(no), o0(no);
  kc::conv2d_forward(o.data(), x.data(), w.data(), b.data(), s);
  R.conv2d_forward(o0.data(), x.data(), w.data(), b.data(), s);
  expect_close(o, o0, rtol, atol, "conv2d");
  std::vector<T> dx(nx), dw(nw), db(s.OC), dx0(nx), dw0(nw), db0(s.OC);
  kc::conv2d_backward(dx.data(), dw.data(), db.data(), d.data(), x.data(), w.data(), s);
  R.conv2d_backward(dx0.data(), dw0.data(), db0.data(), d.data(), x.data(), w.data(), s);
  expect_close(dx, dx0, rtol, atol, "conv2d dx");
  expect_close(dw, dw0, rtol, atol * 10, "conv2d dw");
  expect_close(db, db0, rtol, atol * 10, "conv2d db");
}

TEST(kernels_conv, MatchesReference) {
  const bk::Conv2dShape shapes[] = {
      {2, 3, 8, 8, 4, 3, 3, 1, 1},  {1, 1, 7, 5, 2, 3, 2, 2, 0},  {3, 4, 9, 9, 5, 1, 1, 1, 0},
      {2, 2, 7, 7, 3, 5, 5, 2, 2},  {1, 3, 1, 1, 2, 1, 1, 1, 0},  {5, 6, 28, 28, 8, 3, 3, 1, 1},
      {1, 16, 33, 33, 8, 3, 3, 2, 1}};
  for (const auto& s : shapes) {
    conv_vs_reference<float>(s, 1e-5, 1e-5);
    conv_vs_reference<double>(s, 1e-12, 1e-12);
  }
}

TEST(kernels_conv, GradientsMatchFiniteDifferences) {
  std::mt19937 g(5);
  const bk::Conv2dShape s{2, 2, 5, 4, 3, 3, 2, 2, 1};
  const i64 nx = s.N * s.C * s.H * s.W, nw = s.OC * s.C * s.KH * s.KW,
            no = s.N * s.OC * s.oh() * s.ow();
  auto x = rnd(nx, g), w = rnd(nw, g), b = rnd(s.OC, g);
  const auto wt = rnd(no, g);
  std::vector<double> o(no), dx(nx), dw(nw), db(s.OC);
  auto loss = [&] {
    kc::conv2d_forward(o.data(), x.data(), w.data(), b.data(), s);
    return ktest::weighted(o, wt);
  };
  kc::conv2d_backward(dx.data(), dw.data(), db.data(), wt.data(), x.data(), w.data(), s);
  ktest::expect_grad(x, dx, loss, "conv dx");
  ktest::expect_grad(w, dw, loss, "conv dw");
  ktest::expect_grad(b, db, loss, "conv db");
}

TEST(kernels_conv, RejectsBadShapes) {
  std::vector<float> x(16), w(9), o(16);
  EXPECT_THROW(kc::conv2d_forward<float>(o.data(), x.data(), w.data(), nullptr,
                                         {1, 1, 2, 2, 1, 3, 3, 1, 0}),
               mixtrain::Error);
  EXPECT_THROW(kc::conv2d_forward<float>(o.data(), x.data(), w.data(), nullptr,
                                         {1, 1, 4, 4, 1, 3, 3, 0, 0}),
               mixtrain::Error);
}

template <typename T>
void pool_vs_reference(const bk::Pool2dShape& s) {
  const auto& R = ktest::ref<T>();
  std::mt19937 g(unsigned(s.H * 31 + s.KH * 7 + s.stride * 3 + s.pad));
  const i64 nx = s.N * s.C * s.H * s.W, no = s.N * s.C * s.oh() * s.ow();
  const auto x = rnd<T>(nx, g), d = rnd<T>(no, g);
  std::vector<T> o(no), o0(no), dx(nx), dx0(nx);
  std::vector<i64> idx(no), idx0(no);
  kc::max_pool2d_forward(o.data(), idx.data(), x.data(), s);
  R.max_pool2d_forward(o0.data(), idx0.data(), x.data(), s);
  ASSERT_EQ(o, o0);
  ASSERT_EQ(idx, idx0);
  kc::max_pool2d_backward(dx.data(), d.data(), idx.data(), s);
  R.max_pool2d_backward(dx0.data(), d.data(), idx0.data(), s);
  ASSERT_EQ(dx, dx0);
  kc::avg_pool2d_forward(o.data(), x.data(), s);
  R.avg_pool2d_forward(o0.data(), x.data(), s);
  ASSERT_EQ(o, o0);
  kc::avg_pool2d_backward(dx.data(), d.data(), s);
  R.avg_pool2d_backward(dx0.data(), d.data(), s);
  ASSERT_EQ(dx, dx0);
}

TEST(kernels_pool, MatchesReference) {
  const bk::Pool2dShape shapes[] = {{2, 3, 8, 8, 2, 2, 2, 0}, {1, 2, 7, 9, 3, 3, 2, 1},
                                    {2, 1, 5, 5, 3, 2, 1, 1}, {1, 1, 1, 1, 1, 1, 1, 0},
                                    {4, 8, 28, 28, 2, 2, 2, 0}};
  for (const auto& s : shapes) {
    pool_vs_reference<float>(s);
    pool_vs_reference<double>(s);
  }
}

TEST(kernels_pool, GradientsMatchFiniteDifferences) {
  std::mt19937 g(9);
  const bk::Pool2dShape s{1, 2, 5, 6, 3, 2, 2, 1};
  const i64 nx = s.N * s.C * s.H * s.W, no = s.N * s.C * s.oh() * s.ow();
  auto x = rnd(nx, g);
  const auto wt = rnd(no, g);
  std::vector<double> o(no), dx(nx);
  std::vector<i64> idx(no);
  auto avg = [&] {
    kc::avg_pool2d_forward(o.data(), x.data(), s);
    return ktest::weighted(o, wt);
  };
  kc::avg_pool2d_backward(dx.data(), wt.data(), s);
  ktest::expect_grad(x, dx, avg, "avg_pool dx");
  auto mx = [&] {
    kc::max_pool2d_forward(o.data(), idx.data(), x.data(), s);
    return ktest::weighted(o, wt);
  };
  mx();
  kc::max_pool2d_backward(dx.data(), wt.data(), idx.data(), s);
  ktest::expect_grad(x, dx, mx, "max_pool dx");
}

}  // namespace
