// Low-precision semantics of the ops: GEMM operands in fp16/bf16/e4m3/e5m2 are decoded exactly
// and accumulated in fp32 (checked against the fp64 product of the decoded operands within the
// fp32-accumulation bound), results written in bf16/fp16 are the fp32 result rounded once;
// softmax and layer_norm of bf16 input compute in fp32; ops on bf16 return bf16 by default;
// gradients of bf16 intermediates arrive rounded to bf16.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "autograd/grad_info.h"
#include "ops/attention.h"
#include "ops/batch_norm.h"
#include "ops/conv_pool.h"
#include "ops/dropout.h"
#include "ops/elementwise.h"
#include "ops/embedding.h"
#include "ops/linear.h"
#include "ops/norm.h"
#include "ops/reduce.h"
#include "ops/shape_ops.h"
#include "ops/softmax_loss.h"

namespace mixtrain::ops {
namespace {

constexpr double kU32 = 0x1p-24;  // fp32 unit roundoff

// Half an ulp of `format` (8 or 11 significant bits) at |v|, normal range.
double half_ulp(double v, int significant_bits) {
  if (v == 0) return 0;
  int e;
  std::frexp(std::abs(v), &e);  // |v| in [2^(e-1), 2^e)
  return std::ldexp(1.0, e - 1 - (significant_bits - 1) - 1);
}

int significant_bits(DType t) { return t == DType::bf16 ? 8 : 11; }

struct Operand {
  Tensor t;
  std::vector<double> decoded;  // the real values the kernel must use
};

// Random values in [-2, 2) stored in dtype (fp8 with a non-power-of-two scale, so the scale
// handling is exercised; codes hold value * scale).
Operand make(const Shape& s, DType dtype, std::uint64_t seed) {
  const Tensor f = Tensor::uniform(s, -2, 2, seed);
  const bool fp8 = dtype == DType::e4m3 || dtype == DType::e5m2;
  Tensor t = fp8 ? f.to(dtype, numerics::Rounding::nearest, 0, dtype == DType::e4m3 ? 100.0f : 3000.0f) : f.to(dtype);
  return {t, t.to_vector_f64()};
}

// |c - ref| <= (K + 3) u sum_k |a_ik| |b_kj| + u |ref|: fp32 accumulation in any order plus the
// scale multiply and the final rounding (Higham's gamma_K bound, first order).
void expect_gemm_bound(const std::vector<double>& c, const std::vector<double>& A, const std::vector<double>& Bt,
                       std::int64_t M, std::int64_t N, std::int64_t K, bool b_is_nk, const std::vector<double>* bias,
                       const char* what) {
  int bad = 0;
  for (std::int64_t i = 0; i < M; ++i)
    for (std::int64_t j = 0; j < N; ++j) {
      double ref = bias ? (*bias)[static_cast<std::size_t>(j)] : 0.0, mag = std::abs(ref);
      for (std::int64_t k = 0; k < K; ++k) {
        const double a = A[static_cast<std::size_t>(i * K + k)];
        const double b = b_is_nk ? Bt[static_cast<std::size_t>(j * K + k)] : Bt[static_cast<std::size_t>(k * N + j)];
        ref += a * b;
        mag += std::abs(a * b);
      }
      const double bound = double(K + 3) * kU32 * mag + kU32 * std::abs(ref);
      const double err = std::abs(c[static_cast<std::size_t>(i * N + j)] - ref);
      if (err > bound && ++bad <= 3) ADD_FAILURE() << what << " (" << i << "," << j << "): err " << err << " > bound " << bound;
    }
  EXPECT_EQ(bad, 0) << what;
}

TEST(ops_lowp, MatmulOperandsAccumulateInFp32) {
  const std::int64_t M = 7, K = 300, N = 9;  // K > one 256-wide K block of the panel path
  for (DType t : {DType::fp16, DType::bf16, DType::e4m3, DType::e5m2}) {
    const Operand a = make({M, K}, t, 1), b = make({K, N}, t, 2);
    const Tensor c = matmul(a.t, b.t, DType::fp32);
    EXPECT_EQ(c.dtype(), DType::fp32);
    expect_gemm_bound(c.to_vector_f64(), a.decoded, b.decoded, M, N, K, false, nullptr, std::string(numerics::spec(t).name).c_str());
    // Mixed: low-precision a with fp32 b.
    const Operand bf = make({K, N}, DType::fp32, 3);
    expect_gemm_bound(matmul(a.t, bf.t, DType::fp32).to_vector_f64(), a.decoded, bf.decoded, M, N, K, false, nullptr,
                      "mixed");
  }
  // Batched with a shared right operand.
  const Operand a = make({2, 3, 40}, DType::bf16, 4), b = make({40, 5}, DType::bf16, 5);
  expect_gemm_bound(matmul(a.t, b.t, DType::fp32).to_vector_f64(), a.decoded, b.decoded, 6, 5, 40, false, nullptr,
                    "batched");
}

TEST(ops_lowp, LinearOperandsAccumulateInFp32) {
  const std::int64_t M = 5, K = 270, N = 6;
  for (DType t : {DType::fp16, DType::bf16, DType::e4m3}) {
    const Operand x = make({M, K}, t, 10), w = make({N, K}, t, 11);
    const Operand b = make({N}, DType::fp32, 12);
    const Tensor y = linear(x.t, w.t, b.t, backend::Activation::identity, DType::fp32);
    expect_gemm_bound(y.to_vector_f64(), x.decoded, w.decoded, M, N, K, true, &b.decoded, std::string(numerics::spec(t).name).c_str());
  }
}

TEST(ops_lowp, Lowp16OutputIsTheFp32ResultRoundedOnce) {
  const std::int64_t M = 8, K = 64, N = 12;
  for (DType in : {DType::bf16, DType::fp16, DType::e4m3})
    for (DType out : {DType::bf16, DType::fp16}) {
      const Operand a = make({M, K}, in, 20), b = make({K, N}, in, 21);
      const auto c32 = matmul(a.t, b.t, DType::fp32).to_vector_f64();
      const Tensor c = matmul(a.t, b.t, out);
      ASSERT_EQ(c.dtype(), out);
      const auto cl = c.to_vector_f64();
      for (std::size_t i = 0; i < cl.size(); ++i)
        EXPECT_LE(std::abs(cl[i] - c32[i]), half_ulp(c32[i], significant_bits(out))) << i;
      const Operand w = make({N, K}, in, 22);
      const auto y32 = linear(a.t, w.t, Tensor(), backend::Activation::identity, DType::fp32).to_vector_f64();
      const auto yl = linear(a.t, w.t, Tensor(), backend::Activation::identity, out).to_vector_f64();
      for (std::size_t i = 0; i < yl.size(); ++i)
        EXPECT_LE(std::abs(yl[i] - y32[i]), half_ulp(y32[i], significant_bits(out))) << i;
    }
}

TEST(ops_lowp, SoftmaxOfBf16ComputesInFp32) {
  const Tensor x = Tensor::uniform({6, 33}, -8, 8, 30).to(DType::bf16);
  const auto xv = x.to_vector_f64();
  std::vector<double> ref(xv.size());
  for (std::size_t r = 0; r < 6; ++r) {
    double mx = -1e300, s = 0;
    for (std::size_t c = 0; c < 33; ++c) mx = std::max(mx, xv[r * 33 + c]);
    for (std::size_t c = 0; c < 33; ++c) s += std::exp(xv[r * 33 + c] - mx);
    for (std::size_t c = 0; c < 33; ++c) ref[r * 33 + c] = std::exp(xv[r * 33 + c] - mx) / s;
  }
  const Tensor y = softmax(x);
  EXPECT_EQ(y.dtype(), DType::bf16);
  const auto yv = y.to_vector_f64(), y32 = softmax(x, DType::fp32).to_vector_f64();
  for (std::size_t i = 0; i < ref.size(); ++i) {
    // fp32 computation: a few fp32 ulps of the fp64 result (a bf16 computation would be ~2^-9 off).
    EXPECT_NEAR(y32[i], ref[i], 64 * kU32 * ref[i] + 1e-30) << i;
    EXPECT_LE(std::abs(yv[i] - ref[i]), half_ulp(ref[i], 8) + 64 * kU32 * ref[i]) << i;
  }
}

TEST(ops_lowp, LayerNormOfBf16ComputesInFp32) {
  const std::size_t N = 4, C = 48;
  const Tensor x = Tensor::uniform({4, 48}, -3, 5, 31).to(DType::bf16);
  const Tensor gamma = Tensor::uniform({48}, 0.5, 1.5, 32), beta = Tensor::uniform({48}, -0.5, 0.5, 33);
  const auto xv = x.to_vector_f64(), gv = gamma.to_vector_f64(), bv = beta.to_vector_f64();
  std::vector<double> ref(xv.size());
  for (std::size_t r = 0; r < N; ++r) {
    double m = 0, v = 0;
    for (std::size_t c = 0; c < C; ++c) m += xv[r * C + c];
    m /= double(C);
    for (std::size_t c = 0; c < C; ++c) v += (xv[r * C + c] - m) * (xv[r * C + c] - m);
    v /= double(C);
    for (std::size_t c = 0; c < C; ++c) ref[r * C + c] = (xv[r * C + c] - m) / std::sqrt(v + 1e-5) * gv[c] + bv[c];
  }
  const Tensor y = layer_norm(x, gamma, beta);
  EXPECT_EQ(y.dtype(), DType::bf16);
  const auto yv = y.to_vector_f64(), y32 = layer_norm(x, gamma, beta, 1e-5, DType::fp32).to_vector_f64();
  for (std::size_t i = 0; i < ref.size(); ++i) {
    const double fp32_err = 256 * kU32 * (std::abs(ref[i]) + 4);  // O(C u) relative to the row scale
    EXPECT_NEAR(y32[i], ref[i], fp32_err) << i;
    EXPECT_LE(std::abs(yv[i] - ref[i]), half_ulp(ref[i], 8) + fp32_err) << i;
  }
}

TEST(ops_lowp, OpsOnBf16ReturnBf16ByDefault) {
  const auto bf = [](const Shape& s, std::uint64_t seed) { return Tensor::uniform(s, -1, 1, seed).to(DType::bf16); };
  const Tensor a = bf({4, 6}, 40), b = bf({4, 6}, 41), w = bf({5, 6}, 42);
  for (const Tensor& t : {add(a, b), mul(a, b), sub(a, b), div(a, add(b, Tensor::full({1}, 3.0, DType::bf16))),
                          scale(a, 2.0), relu(a), gelu(a), sigmoid(a), ops::tanh(a), ops::exp(a),
                          matmul(a, transpose(b, 0, 1)), linear(a, w), softmax(a), log_softmax(a),
                          layer_norm(a, Tensor(), Tensor()), reshape(a, {-1}), slice(a, 1, 0, 2), concat({a, b}, 0),
                          dropout(a, 0.5, 1), embedding(w, {0, 4}, {2})})
    EXPECT_EQ(t.dtype(), DType::bf16);
  const Tensor img = bf({2, 3, 6, 6}, 43);
  for (const Tensor& t : {conv2d(img, bf({4, 3, 3, 3}, 44), bf({4}, 45), 2, 1), max_pool2d(img, 2, 2),
                          avg_pool2d(img, 3, 1, 1), batch_norm(img, Tensor(), Tensor(), Tensor(), Tensor(), true)})
    EXPECT_EQ(t.dtype(), DType::bf16);
  const Tensor q = bf({1, 2, 4, 3}, 46);
  EXPECT_EQ(causal_self_attention(q, q, q).dtype(), DType::bf16);
  // Reductions and losses are fp32 ops: fp32 results.
  EXPECT_EQ(sum(a).dtype(), DType::fp32);
  EXPECT_EQ(mean(a, {1}).dtype(), DType::fp32);
  EXPECT_EQ(cross_entropy(a, {0, 1, 2, 3}).dtype(), DType::fp32);
  // An explicit output dtype wins.
  EXPECT_EQ(add(a, b, DType::fp32).dtype(), DType::fp32);
  EXPECT_EQ(conv2d(img, bf({4, 3, 3, 3}, 44), Tensor(), 1, 0, DType::fp32).dtype(), DType::fp32);
}

TEST(ops_lowp, Bf16IntermediateGradientsArriveRoundedToBf16) {
  // x (fp32 leaf) -> h = cast(x, bf16) -> y = h * w in fp32. dL/dh = w, which is not a bf16
  // value; the engine stores h's gradient in bf16, so x receives round_bf16(w), not w.
  Tensor x = Tensor::uniform({64}, -1, 1, 50);
  x.set_requires_grad(true);
  const Tensor w = Tensor::uniform({64}, -1, 1, 51);
  const Tensor h = cast(x, DType::bf16);
  ASSERT_FALSE(h.is_leaf());
  sum(mul(h, w, DType::fp32)).backward();
  const auto g = x.grad().to_vector_f64(), wv = w.to_vector_f64(), wb = w.to(DType::bf16).to_vector_f64();
  EXPECT_EQ(x.grad().dtype(), DType::fp32);
  EXPECT_EQ(g, wb);
  int differ = 0;
  for (std::size_t i = 0; i < wv.size(); ++i) differ += wv[i] != wb[i];
  EXPECT_GT(differ, 32);  // the rounding is visible: most fp32 w are not bf16 values
  // An fp32 intermediate keeps the exact gradient.
  Tensor x2 = Tensor::uniform({64}, -1, 1, 50);
  x2.set_requires_grad(true);
  sum(mul(scale(x2, 1.0), w)).backward();
  EXPECT_EQ(x2.grad().to_vector_f64(), wv);
}

// Same-shape elementwise ops on 16-bit operands (the one-pass path): each output is the fp32
// result of the decoded operands, rounded once into the output dtype, for every op and for fp32,
// bf16 and fp16 outputs; sizes cross the block and chunk edges.
TEST(ops_lowp, SameShapeBinaryIsTheFp32ResultRoundedOnce) {
  const std::int64_t n = 40000 + 7;
  const Tensor a = Tensor::uniform({n}, -3, 3, 1).to(DType::bf16);
  const Tensor b = Tensor::uniform({n}, 0.5, 2, 2).to(DType::fp16);
  const std::vector<float> av = a.to_vector(), bv = b.to_vector();
  for (DType od : {DType::fp32, DType::bf16, DType::fp16}) {
    const Tensor r[4] = {add(a, b, od), sub(a, b, od), mul(a, b, od), div(a, b, od)};
    for (int op = 0; op < 4; ++op) {
      std::vector<float> want(static_cast<std::size_t>(n));
      for (std::size_t i = 0; i < want.size(); ++i)
        want[i] = op == 0 ? av[i] + bv[i] : op == 1 ? av[i] - bv[i] : op == 2 ? av[i] * bv[i] : av[i] / bv[i];
      const std::vector<float> got = r[op].to_vector();
      const std::vector<float> rounded = Tensor::from(want, {n}).to(od).to_vector();
      ASSERT_EQ(r[op].dtype(), od);
      for (std::size_t i = 0; i < got.size(); ++i)
        ASSERT_EQ(got[i], rounded[i]) << name(od) << " op " << op << " at " << i;
    }
  }
}

}  // namespace
}  // namespace mixtrain::ops
