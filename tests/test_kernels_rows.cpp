// Tests for the row kernels: softmax, log_softmax, cross-entropy, layer_norm and bias+activation.
// Optimised kernels against the reference backend's (fp32 and fp64), backward kernels against
// central finite differences in fp64.
#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstdint>

#include <cstdint>
#include <limits>
#include <random>
#include <vector>

#include "backend/cpu/bias_act.h"
#include "backend/cpu/layernorm.h"
#include "backend/cpu/row_kernels.h"
#include "backend/cpu/softmax.h"
#include "backend/cpu/softmax_rows.h"
#include "backend/cpu/vec_math.h"
#include "numerics/convert.h"
#include "kernels_test_util.h"
#include "runtime/cpu_features.h"
#include "runtime/error.h"

namespace {

namespace kc = mixtrain::backend::cpu;
namespace bk = mixtrain::backend;  // the kernels' argument types
using ktest::expect_close;
using ktest::rnd;
using i64 = std::int64_t;

TEST(kernels_vec_math, ExpWithinTwoUlp) {
  for (float x = -87.0f; x < 88.0f; x += 0.0137f) {
    const float got = kc::vec::exp(x), ref = std::exp(x);
    ASSERT_LE(std::fabs(got - ref), 2.5e-7f * ref) << x;
  }
  EXPECT_EQ(kc::vec::exp(-100.0f), 0.0f);
  EXPECT_EQ(kc::vec::exp(0.0f), 1.0f);
  EXPECT_TRUE(std::isnan(kc::vec::exp(std::nanf(""))));
}

template <typename T>
void softmax_vs_reference(i64 N, i64 C, double rtol, double atol) {
  const auto& R = ktest::ref<T>();
  std::mt19937 g(unsigned(N * 131 + C));
  auto x = rnd<T>(N * C, g, -8, 8), dy = rnd<T>(N * C, g);
  std::vector<T> y(N * C), y0(N * C), dx(N * C), dx0(N * C);
  kc::softmax_forward(y.data(), x.data(), N, C);
  R.softmax_forward(y0.data(), x.data(), N, C);
  expect_close(y, y0, rtol, atol, "softmax");
  kc::softmax_backward(dx.data(), dy.data(), y0.data(), N, C);
  R.softmax_backward(dx0.data(), dy.data(), y0.data(), N, C);
  expect_close(dx, dx0, rtol, atol, "softmax_backward");
  kc::log_softmax_forward(y.data(), x.data(), N, C);
  R.log_softmax_forward(y0.data(), x.data(), N, C);
  expect_close(y, y0, rtol, atol * 10, "log_softmax");
  kc::log_softmax_backward(dx.data(), dy.data(), y0.data(), N, C);
  R.log_softmax_backward(dx0.data(), dy.data(), y0.data(), N, C);
  expect_close(dx, dx0, rtol, atol * 10, "log_softmax_backward");
  std::vector<std::int64_t> labels(N);
  for (i64 n = 0; n < N; ++n) labels[n] = (n * 7) % C;
  std::vector<T> lse(N), lse0(N);
  const T l = kc::cross_entropy_forward(lse.data(), x.data(), labels.data(), N, C);
  const T l0 = R.cross_entropy_forward(lse0.data(), x.data(), labels.data(), N, C);
  EXPECT_NEAR(l, l0, atol * 10 + rtol * std::fabs(l0));
  expect_close(lse, lse0, rtol, atol, "lse");
  kc::cross_entropy_backward(dx.data(), x.data(), lse0.data(), labels.data(), T(2), N, C);
  R.cross_entropy_backward(dx0.data(), x.data(), lse0.data(), labels.data(), T(2), N, C);
  expect_close(dx, dx0, rtol, atol, "cross_entropy_backward");
}

TEST(kernels_softmax, MatchesReference) {
  for (i64 C : {1, 7, 33, 1000})
    for (i64 N : {1, 37, 300}) {
      softmax_vs_reference<float>(N, C, 2e-6, 1e-7);
      softmax_vs_reference<double>(N, C, 1e-13, 1e-15);
    }
}

TEST(kernels_softmax, StableForLargeLogits) {
  std::vector<float> x = {1000.0f, 1000.0f, -1000.0f}, y(3);
  kc::softmax_forward(y.data(), x.data(), 1, 3);
  EXPECT_FLOAT_EQ(y[0], 0.5f);
  EXPECT_FLOAT_EQ(y[2], 0.0f);
  kc::log_softmax_forward(y.data(), x.data(), 1, 3);
  EXPECT_NEAR(y[0], -std::log(2.0f), 1e-4);  // 1000 + log 2 has ulp 6e-5 in fp32
}

TEST(kernels_softmax, GradientsMatchFiniteDifferences) {
  std::mt19937 g(3);
  const i64 N = 3, C = 5;
  auto x = rnd(N * C, g, -2, 2);
  const auto w = rnd(N * C, g);
  std::vector<double> y(N * C), dx(N * C);
  kc::softmax_forward(y.data(), x.data(), N, C);
  kc::softmax_backward(dx.data(), w.data(), y.data(), N, C);
  ktest::expect_grad(x, dx, [&] {
    kc::softmax_forward(y.data(), x.data(), N, C);
    return ktest::weighted(y, w);
  }, "softmax");
  kc::log_softmax_forward(y.data(), x.data(), N, C);
  kc::log_softmax_backward(dx.data(), w.data(), y.data(), N, C);
  ktest::expect_grad(x, dx, [&] {
    kc::log_softmax_forward(y.data(), x.data(), N, C);
    return ktest::weighted(y, w);
  }, "log_softmax");
  const std::vector<std::int64_t> labels = {4, 0, 2};
  std::vector<double> lse(N);
  kc::cross_entropy_forward(lse.data(), x.data(), labels.data(), N, C);
  kc::cross_entropy_backward(dx.data(), x.data(), lse.data(), labels.data(), 1.0, N, C);
  ktest::expect_grad(x, dx, [&] {
    return kc::cross_entropy_forward(lse.data(), x.data(), labels.data(), N, C);
  }, "cross_entropy");
}

TEST(kernels_softmax, CrossEntropyRejectsBadLabels) {
  std::vector<float> x(6), lse(2);
  const std::vector<std::int64_t> labels = {0, 3};
  EXPECT_THROW(kc::cross_entropy_forward(lse.data(), x.data(), labels.data(), 2, 3),
               mixtrain::Error);
}

template <typename T>
void layer_norm_vs_reference(i64 N, i64 C, bool affine, double rtol, double atol) {
  const auto& R = ktest::ref<T>();
  std::mt19937 g(unsigned(N + C));
  const auto x = rnd<T>(N * C, g, -3, 3), gm = rnd<T>(C, g), bt = rnd<T>(C, g),
             d = rnd<T>(N * C, g);
  std::vector<T> o(N * C), o0(N * C), m(N), m0(N), r(N), r0(N);
  const T* gp = affine ? gm.data() : nullptr;
  const T* bp = affine ? bt.data() : nullptr;
  kc::layer_norm_forward(o.data(), m.data(), r.data(), x.data(), gp, bp, N, C, T(1e-5));
  R.layer_norm_forward(o0.data(), m0.data(), r0.data(), x.data(), gp, bp, N, C, T(1e-5));
  expect_close(o, o0, rtol, atol, "layer_norm");
  expect_close(r, r0, rtol, atol, "rstd");
  std::vector<T> dx(N * C), dx0(N * C), dg(C), dg0(C), db(C), db0(C);
  kc::layer_norm_backward(dx.data(), dg.data(), db.data(), d.data(), x.data(), m0.data(), r0.data(),
                          gp, N, C);
  R.layer_norm_backward(dx0.data(), dg0.data(), db0.data(), d.data(), x.data(), m0.data(), r0.data(), gp, N,
                        C);
  expect_close(dx, dx0, rtol, atol, "layer_norm dx");
  expect_close(dg, dg0, rtol, atol * double(N), "dgamma");
  expect_close(db, db0, rtol, atol * double(N), "dbeta");
}

TEST(kernels_layer_norm, MatchesReference) {
  for (i64 C : {1, 7, 33, 768})
    for (i64 N : {1, 19, 200})
      for (bool affine : {true, false}) {
        layer_norm_vs_reference<float>(N, C, affine, 1e-5, 1e-5);
        layer_norm_vs_reference<double>(N, C, affine, 1e-12, 1e-12);
      }
}

// The fp32 row loops are built twice (portable, and AVX-512 on that tier) from one source with
// the same operation order: both give the same bits for every output, on widths that leave 16-,
// 8- and 1-lane tails.
TEST(kernels_layer_norm, Avx512RowsMatchPortableRowsBitForBit) {
  namespace rt = mixtrain::runtime;
  if (static_cast<int>(rt::cpu_tier()) < static_cast<int>(rt::IsaTier::avx512))
    GTEST_SKIP() << "no AVX-512 on this CPU (tier " << rt::tier_name(rt::cpu_tier()) << ")";
  std::mt19937 g(21);
  for (const i64 C : {i64{7}, i64{83}, i64{256}}) {
    const i64 N = 37;
    const auto x = rnd<float>(N * C, g, -3, 5), gamma = rnd<float>(C, g), beta = rnd<float>(C, g),
               dout = rnd<float>(N * C, g);
    struct Out {
      std::vector<float> y, mean, rstd, dx, dgamma, dbeta;
    };
    auto run = [&](rt::IsaTier cap) {
      rt::set_isa_cap(cap);
      Out o{std::vector<float>(N * C), std::vector<float>(N), std::vector<float>(N), std::vector<float>(N * C),
            std::vector<float>(C), std::vector<float>(C)};
      kc::layer_norm_forward<float>(o.y.data(), o.mean.data(), o.rstd.data(), x.data(), gamma.data(), beta.data(), N,
                                    C, 1e-5f);
      kc::layer_norm_backward<float>(o.dx.data(), o.dgamma.data(), o.dbeta.data(), dout.data(), x.data(),
                                     o.mean.data(), o.rstd.data(), gamma.data(), N, C);
      rt::reset_isa_cap();
      return o;
    };
    const Out a = run(rt::IsaTier::avx2), b = run(rt::IsaTier::avx512);
    auto same = [](const std::vector<float>& u, const std::vector<float>& v) {
      for (std::size_t i = 0; i < u.size(); ++i)
        if (std::bit_cast<std::uint32_t>(u[i]) != std::bit_cast<std::uint32_t>(v[i])) return false;
      return true;
    };
    EXPECT_TRUE(same(a.y, b.y)) << C;
    EXPECT_TRUE(same(a.mean, b.mean)) << C;
    EXPECT_TRUE(same(a.rstd, b.rstd)) << C;
    EXPECT_TRUE(same(a.dx, b.dx)) << C;
    EXPECT_TRUE(same(a.dgamma, b.dgamma)) << C;
    EXPECT_TRUE(same(a.dbeta, b.dbeta)) << C;
  }
}

TEST(kernels_layer_norm, GradientsMatchFiniteDifferences) {
  std::mt19937 g(5);
  const i64 N = 4, C = 6;
  auto x = rnd(N * C, g, -2, 2), gm = rnd(C, g), bt = rnd(C, g);
  const auto w = rnd(N * C, g);
  std::vector<double> o(N * C), m(N), r(N), dx(N * C), dg(C), db(C);
  auto loss = [&] {
    kc::layer_norm_forward(o.data(), m.data(), r.data(), x.data(), gm.data(), bt.data(), N, C, 1e-5);
    return ktest::weighted(o, w);
  };
  loss();
  kc::layer_norm_backward(dx.data(), dg.data(), db.data(), w.data(), x.data(), m.data(), r.data(),
                          gm.data(), N, C);
  ktest::expect_grad(x, dx, loss, "layer_norm dx");
  ktest::expect_grad(gm, dg, loss, "layer_norm dgamma");
  ktest::expect_grad(bt, db, loss, "layer_norm dbeta");
}

// GELU's definition, 0.5 u (1 + tanh(sqrt(2/pi) (u + 0.044715 u^3))), in fp64: what the sigmoid
// form with the polynomial exp approximates.
double gelu_tanh(double u) { return 0.5 * u * (1 + std::tanh(0.7978845608028654 * (u + 0.044715 * u * u * u))); }

// bias_act is an exact family: the cpu kernels (vector lanes) give the reference backend's bits.
TEST(kernels_bias_act, MatchesReferenceAndFiniteDifferences) {
  const auto& R = ktest::ref<float>();
  for (auto act : {bk::Activation::identity, bk::Activation::relu, bk::Activation::gelu}) {
    std::mt19937 g(7);
    for (i64 C : {1, 7, 33, 1024}) {
      const i64 N = 13;
      const auto x = rnd<float>(N * C, g, -4, 4), b = rnd<float>(C, g), d = rnd<float>(N * C, g);
      std::vector<float> o(N * C), o0(N * C), dx(N * C), dx0(N * C), db(C), db0(C);
      kc::bias_act_forward(o.data(), x.data(), b.data(), N, C, act);
      R.bias_act_forward(o0.data(), x.data(), b.data(), N, C, act);
      EXPECT_EQ(o, o0) << "bias_act";
      if (act == bk::Activation::gelu) {
        for (i64 i = 0; i < N * C; ++i)
          ASSERT_NEAR(o[i], gelu_tanh(double(x[i]) + double(b[i % C])), 1e-6 * (1 + std::fabs(o[i]))) << i;
      }
      kc::bias_act_backward(dx.data(), db.data(), d.data(), x.data(), b.data(), N, C, act);
      R.bias_act_backward(dx0.data(), db0.data(), d.data(), x.data(), b.data(), N, C, act);
      EXPECT_EQ(dx, dx0) << "bias_act backward";
      EXPECT_EQ(db, db0) << "dbias";
      kc::bias_act_forward<float>(o.data(), x.data(), nullptr, N, C, act);
      R.bias_act_forward(o0.data(), x.data(), nullptr, N, C, act);
      EXPECT_EQ(o, o0) << "act without bias";
    }
    const i64 N = 3, C = 5;
    auto x = rnd(N * C, g, -2, 2), b = rnd(C, g);
    for (auto& v : x)
      if (std::fabs(v) < 0.05) v = 0.3;  // keep relu away from its kink
    const auto w = rnd(N * C, g);
    std::vector<double> o(N * C), dx(N * C), db(C);
    auto loss = [&] {
      kc::bias_act_forward(o.data(), x.data(), b.data(), N, C, act);
      return ktest::weighted(o, w);
    };
    kc::bias_act_backward(dx.data(), db.data(), w.data(), x.data(), b.data(), N, C, act);
    if (act != bk::Activation::relu) {
      ktest::expect_grad(x, dx, loss, "bias_act dx");
      ktest::expect_grad(b, db, loss, "bias_act dbias");
    } else {
      ktest::expect_grad(x, dx, loss, "relu dx", 1e-7);
    }
  }
}

// The GELU row kernels run 16 lanes (AVX-512) or 8 (AVX2), then 4, then one at a time: every path
// gives the same bits, so an element's value does not depend on where it falls in its row. Each
// element of a 37-column row (16- or 8-lane body, a 4-lane chunk, scalar tail) equals the same
// input computed alone. ctest runs this on the avx2 tier too.
TEST(kernels_bias_act, GeluLanesAgreeBitForBit) {
  std::mt19937 g(11);
  const i64 C = 37;
  const auto x = rnd<float>(C, g, -9, 9), d = rnd<float>(C, g);
  std::vector<float> o(C), dx(C);
  kc::bias_act_forward<float>(o.data(), x.data(), nullptr, 1, C, bk::Activation::gelu);
  kc::bias_act_backward<float>(dx.data(), nullptr, d.data(), x.data(), nullptr, 1, C, bk::Activation::gelu);
  for (i64 c = 0; c < C; ++c) {
    float o1 = 0, dx1 = 0;
    kc::bias_act_forward<float>(&o1, &x[c], nullptr, 1, 1, bk::Activation::gelu);
    kc::bias_act_backward<float>(&dx1, nullptr, &d[c], &x[c], nullptr, 1, 1, bk::Activation::gelu);
    EXPECT_EQ(std::bit_cast<std::uint32_t>(o[c]), std::bit_cast<std::uint32_t>(o1)) << c;
    EXPECT_EQ(std::bit_cast<std::uint32_t>(dx[c]), std::bit_cast<std::uint32_t>(dx1)) << c;
  }
}

// column_sums (a bias gradient) sums each column in row order, whatever the input format: the
// fp32 and bf16 fast paths and the decoding path (fp16) give the sequential fp32 sum exactly.
TEST(ColumnSums, EveryFormatSumsEachColumnInRowOrder) {
  std::mt19937 g(3);
  std::uniform_real_distribution<float> d(-4.0f, 4.0f);
  const i64 N = 300, C = 77;
  std::vector<float> x(static_cast<std::size_t>(N * C));
  for (auto& v : x) v = d(g);
  for (mixtrain::DType t : {mixtrain::DType::fp32, mixtrain::DType::bf16, mixtrain::DType::fp16}) {
    std::vector<unsigned char> codes(x.size() * mixtrain::size_of(t));
    std::vector<float> back(x.size());
    mixtrain::numerics::encode(codes.data(), t, x.data(), x.size());
    mixtrain::numerics::decode(back.data(), codes.data(), t, back.size());
    std::vector<float> got(static_cast<std::size_t>(C));
    kc::column_sums(got.data(), codes.data(), t, N, C);
    for (i64 c = 0; c < C; ++c) {
      float want = 0;
      for (i64 n = 0; n < N; ++n) want += back[static_cast<std::size_t>(n * C + c)];
      EXPECT_EQ(std::bit_cast<std::uint32_t>(got[static_cast<std::size_t>(c)]), std::bit_cast<std::uint32_t>(want))
          << mixtrain::name(t) << " column " << c;
    }
  }
}


// The softmax-family sums have one documented order (softmax_rows.h): element i into partial sum
// i % 8, a last partial group padded with -0, folded ((s0+s4)+(s1+s5))+((s2+s6)+(s3+s7)). Pinned
// bit for bit on the 4-lane build against a scalar model, for every length up to 40 and values
// whose sum depends on the order (mixed magnitudes and signs, and all--0 rows, whose sum is -0).
struct TestLanes : kc::rows::PlainLanes<4> {};

float sum_model(const std::vector<float>& v) {
  float s[8];
  for (float& x : s) x = -0.0f;
  for (std::size_t i = 0; i < v.size(); ++i) s[i % 8] = i < 8 ? v[i] : s[i % 8] + v[i];
  return ((s[0] + s[4]) + (s[1] + s[5])) + ((s[2] + s[6]) + (s[3] + s[7]));
}

TEST(kernels_softmax, SumsFollowTheDocumentedOrder) {
  std::mt19937 g(9);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  for (i64 n = 1; n <= 40; ++n)
    for (int trial = 0; trial < 4; ++trial) {
      std::vector<float> x(n), ones(n, 1.0f);
      for (float& v : x) v = trial == 3 ? -0.0f : u(g) * std::ldexp(1.0f, int(g() % 40) - 20);
      const float model = sum_model(x);
      EXPECT_EQ(std::bit_cast<std::uint32_t>(kc::rows::sum<TestLanes>(x.data(), n)), std::bit_cast<std::uint32_t>(model))
          << n;
      EXPECT_EQ(std::bit_cast<std::uint32_t>(kc::rows::dot<TestLanes>(x.data(), ones.data(), n)),
                std::bit_cast<std::uint32_t>(model))
          << n;
      std::vector<float> e(n);
      const float es = kc::rows::exp_sum<TestLanes>(e.data(), x.data(), 1.0f, 0.0f, n);
      EXPECT_EQ(std::bit_cast<std::uint32_t>(es), std::bit_cast<std::uint32_t>(sum_model(e))) << n;
    }
}

// The fp32 softmax-family rows are built at 4 lanes (portable) and at 16 (AVX-512) from one
// source: both give the same bits for every output, on row lengths that leave every tail, with
// NaN, infinities, -0 and huge logits in some rows.
TEST(kernels_softmax, Avx512RowsMatchPortableRowsBitForBit) {
  namespace rt = mixtrain::runtime;
  if (static_cast<int>(rt::cpu_tier()) < static_cast<int>(rt::IsaTier::avx512))
    GTEST_SKIP() << "no AVX-512 on this CPU (tier " << rt::tier_name(rt::cpu_tier()) << ")";
  std::mt19937 g(31);
  auto bits_equal = [](const std::vector<float>& a, const std::vector<float>& b) {
    for (std::size_t i = 0; i < a.size(); ++i)
      if (std::bit_cast<std::uint32_t>(a[i]) != std::bit_cast<std::uint32_t>(b[i])) return false;
    return true;
  };
  for (i64 C = 1; C <= 70; C += (C < 34 ? 1 : 9)) {
    const i64 N = 12;
    auto x = rnd<float>(N * C, g, -30, 30);
    const auto dy = rnd<float>(N * C, g, -1, 1);
    x[0] = -0.0f;
    x[C * 2 + C / 2] = std::numeric_limits<float>::quiet_NaN();
    x[C * 3] = std::numeric_limits<float>::infinity();
    x[C * 4 + C - 1] = -std::numeric_limits<float>::infinity();
    x[C * 5 + C / 3] = 3e38f;
    std::vector<std::int64_t> labels(N);
    for (i64 i = 0; i < N; ++i) labels[i] = i % C;
    using Outs = std::vector<std::vector<float>>;
    auto run = [&](rt::IsaTier cap) {
      rt::set_isa_cap(cap);
      const auto& k = kc::detail::row_kernels<float>();
      Outs o(8, std::vector<float>(N * C));
      k.softmax_forward(o[0].data(), x.data(), 0, N, C);
      k.softmax_backward(o[1].data(), dy.data(), o[0].data(), 0, N, C);
      k.log_softmax_forward(o[2].data(), x.data(), 0, N, C);
      k.log_softmax_backward(o[3].data(), dy.data(), o[2].data(), 0, N, C);
      k.cross_entropy_lse(o[4].data(), x.data(), 0, N, C);
      k.cross_entropy_backward(o[5].data(), x.data(), o[4].data(), labels.data(), 0.25f, 0, N, C);
      // Causal rows of a (N / C..., C, C) stack: reuse x as scores, rows of length C.
      o[6] = x;
      k.attention_softmax(o[6].data(), 0, N, C, 0.125f);
      o[7] = dy;
      k.attention_dscores(o[7].data(), o[6].data(), 0, N, C, 0.125f);
      rt::reset_isa_cap();
      return o;
    };
    const Outs a = run(rt::IsaTier::avx2), b = run(rt::IsaTier::avx512);
    const char* names[] = {"softmax", "softmax_backward", "log_softmax", "log_softmax_backward",
                           "lse", "cross_entropy_backward", "attention_softmax", "attention_dscores"};
    for (int f = 0; f < 8; ++f) EXPECT_TRUE(bits_equal(a[f], b[f])) << names[f] << " C=" << C;
  }
}


// The mixed-dtype LayerNorm entries are the fp32 kernels on decoded inputs with the output
// rounded once: the same bits as decoding, running layer_norm_forward/backward and encoding.
TEST(kernels_layer_norm, FromAnyDtypeMatchesTheFp32KernelBitForBit) {
  namespace nm = mixtrain::numerics;
  using mixtrain::DType;
  std::mt19937 g(44);
  for (DType t : {DType::bf16, DType::fp16, DType::fp32})
    for (const i64 C : {i64{5}, i64{64}, i64{256}, i64{771}}) {
      const i64 N = 23;
      const auto n = static_cast<std::size_t>(N * C);
      const auto xf = rnd<float>(n, g, -4, 4), df = rnd<float>(n, g), gamma = rnd<float>(C, g), beta = rnd<float>(C, g);
      std::vector<unsigned char> x(n * mixtrain::size_of(t)), d(x.size()), out(x.size()), ref_out(x.size());
      nm::encode(x.data(), t, xf.data(), n);
      nm::encode(d.data(), t, df.data(), n);
      std::vector<float> xd(n), dd(n), y(n), m(N), r(N), m2(N), r2(N);
      nm::decode(xd.data(), x.data(), t, n);
      nm::decode(dd.data(), d.data(), t, n);
      kc::layer_norm_forward<float>(y.data(), m.data(), r.data(), xd.data(), gamma.data(), beta.data(), N, C, 1e-5f);
      nm::encode(ref_out.data(), t, y.data(), n);
      kc::layer_norm_forward_from(out.data(), t, m2.data(), r2.data(), x.data(), t, gamma.data(), beta.data(), N, C, 1e-5f);
      EXPECT_EQ(out, ref_out) << nm::spec(t).name << " C=" << C;
      EXPECT_EQ(m, m2);
      EXPECT_EQ(r, r2);
      std::vector<float> dx(n), dg(C), db(C), dx2(n), dg2(C), db2(C);
      kc::layer_norm_backward<float>(dx.data(), dg.data(), db.data(), dd.data(), xd.data(), m.data(), r.data(),
                                     gamma.data(), N, C);
      kc::layer_norm_backward_from(dx2.data(), dg2.data(), db2.data(), d.data(), t, x.data(), t, m.data(), r.data(),
                                   gamma.data(), N, C);
      EXPECT_EQ(dx, dx2) << nm::spec(t).name << " C=" << C;
      EXPECT_EQ(dg, dg2);
      EXPECT_EQ(db, db2);
    }
}

}  // namespace
