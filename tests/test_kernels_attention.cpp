// Tests for causal self-attention: forward and backward against the reference backend (fp32, fp64),
// the causal mask, and every gradient against central finite differences in fp64.
#include <gtest/gtest.h>

#include <cstdint>
#include <random>
#include <vector>

#include "backend/cpu/attention.h"
#include "kernels_test_util.h"

namespace {

namespace kc = mixtrain::backend::cpu;
using ktest::expect_close;
using ktest::rnd;
using i64 = std::int64_t;

template <typename T>
void vs_reference(i64 B, i64 H, i64 Tn, i64 D, double rtol, double atol) {
  const auto& R = ktest::ref<T>();
  std::mt19937 g(unsigned(B * 1000 + H * 100 + Tn * 10 + D));
  const i64 n4 = B * H * Tn * D, n2 = B * H * Tn * Tn;
  const auto q = rnd<T>(n4, g), k = rnd<T>(n4, g), v = rnd<T>(n4, g), d = rnd<T>(n4, g);
  std::vector<T> o(n4), o0(n4), a(n2), a0(n2);
  kc::attention_forward(o.data(), a.data(), q.data(), k.data(), v.data(), B, H, Tn, D);
  R.attention_forward(o0.data(), a0.data(), q.data(), k.data(), v.data(), B, H, Tn, D);
  expect_close(o, o0, rtol, atol, "attention out");
  expect_close(a, a0, rtol, atol, "attention probabilities");
  for (i64 bh = 0; bh < B * H; ++bh)
    for (i64 t = 0; t < Tn; ++t)
      for (i64 j = t + 1; j < Tn; ++j) ASSERT_EQ(a[(bh * Tn + t) * Tn + j], T(0));
  std::vector<T> dq(n4), dk(n4), dv(n4), dq0(n4), dk0(n4), dv0(n4), w(n2), w0(n2);
  kc::attention_backward(dq.data(), dk.data(), dv.data(), w.data(), d.data(), q.data(), k.data(),
                         v.data(), a0.data(), B, H, Tn, D);
  R.attention_backward(dq0.data(), dk0.data(), dv0.data(), w0.data(), d.data(), q.data(), k.data(), v.data(),
                       a0.data(), B, H, Tn, D);
  expect_close(dq, dq0, rtol, atol, "dq");
  expect_close(dk, dk0, rtol, atol, "dk");
  expect_close(dv, dv0, rtol, atol, "dv");
}

TEST(kernels_attention, MatchesReference) {
  vs_reference<float>(2, 3, 7, 5, 1e-5, 1e-6);
  vs_reference<float>(1, 2, 65, 16, 1e-5, 1e-6);
  vs_reference<float>(4, 4, 33, 32, 1e-5, 1e-6);
  vs_reference<double>(2, 3, 7, 5, 1e-12, 1e-14);
  vs_reference<double>(1, 1, 1, 1, 1e-12, 1e-14);
  vs_reference<double>(2, 2, 40, 8, 1e-12, 1e-14);
}

TEST(kernels_attention, GradientsMatchFiniteDifferences) {
  std::mt19937 g(3);
  const i64 B = 1, H = 2, Tn = 4, D = 3, n4 = B * H * Tn * D, n2 = B * H * Tn * Tn;
  auto q = rnd(n4, g), k = rnd(n4, g), v = rnd(n4, g);
  const auto w = rnd(n4, g);
  std::vector<double> o(n4), a(n2), dq(n4), dk(n4), dv(n4), ws(n2);
  auto loss = [&] {
    kc::attention_forward(o.data(), a.data(), q.data(), k.data(), v.data(), B, H, Tn, D);
    return ktest::weighted(o, w);
  };
  loss();
  kc::attention_backward(dq.data(), dk.data(), dv.data(), ws.data(), w.data(), q.data(), k.data(),
                         v.data(), a.data(), B, H, Tn, D);
  ktest::expect_grad(q, dq, loss, "dq");
  ktest::expect_grad(k, dk, loss, "dk");
  ktest::expect_grad(v, dv, loss, "dv");
}

}  // namespace
