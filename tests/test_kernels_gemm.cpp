// Tests for backend::cpu::gemm / gemm_batched: every operand dtype combination against the
// reference backend's triple loop (bit-exact on integer data, within an fp32-accumulation bound on random data) and
// against the fp64 product of the decoded operands within a bound from each format's epsilon;
// transposes, ld > cols, beta != 0, fp8 scale_inv, odd sizes, K = 0 and thread-count invariance.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>
#include <vector>

#include "backend/cpu/gemm.h"
#include "backend/cpu/gemm_tile.h"
#include "kernels_test_util.h"
#include "numerics/convert.h"
#include "runtime/error.h"
#include "runtime/parallel.h"

namespace {

using mixtrain::DType;
using mixtrain::size_of;
namespace kc = mixtrain::backend::cpu;
namespace bk = mixtrain::backend;  // the kernels' argument types
namespace nm = mixtrain::numerics;
using i64 = std::int64_t;

// A matrix stored in some dtype with ld >= cols; padding holds NaN codes so a read of it shows.
struct Mat {
  i64 rows = 0, cols = 0, ld = 0;
  DType dtype = DType::fp32;
  float scale_inv = 1.0f;
  std::vector<unsigned char> bytes;

  void* data() { return bytes.data(); }
  // Decoded value (including scale_inv) in fp64.
  double get(i64 r, i64 c) const {
    double v;
    nm::decode(&v, bytes.data() + static_cast<std::size_t>(r * ld + c) * size_of(dtype), dtype, 1);
    return v * scale_inv;
  }
};

Mat make(i64 rows, i64 cols, i64 pad, DType t, const std::vector<double>& vals, double scale = 1.0) {
  Mat m;
  m.rows = rows;
  m.cols = cols;
  m.ld = cols + pad;
  m.dtype = t;
  m.bytes.resize(static_cast<std::size_t>(std::max<i64>(1, rows * m.ld)) * size_of(t));
  std::vector<double> all(static_cast<std::size_t>(rows * m.ld), std::nan(""));
  for (i64 r = 0; r < rows; ++r)
    for (i64 c = 0; c < cols; ++c) all[r * m.ld + c] = vals[r * cols + c];
  nm::ConvertOptions opt;
  opt.scale = scale;
  nm::encode(m.bytes.data(), t, all.data(), all.size(), opt);
  m.scale_inv = static_cast<float>(1.0 / scale);
  return m;
}

std::vector<double> ints(std::size_t n, std::mt19937& g) {
  std::uniform_int_distribution<int> d(-4, 4);
  std::vector<double> v(n);
  for (auto& x : v) x = d(g);
  return v;
}
std::vector<double> uniform(std::size_t n, std::mt19937& g, double lo = -1.0, double hi = 1.0) {
  std::uniform_real_distribution<double> d(lo, hi);
  std::vector<double> v(n);
  for (auto& x : v) x = d(g);
  return v;
}

struct Case {
  i64 M, N, K;
  bool ta, tb;
  DType da, db, dc;
  float alpha, beta;
  i64 pad;
};

struct Built {
  Mat A, B, C;
};

Built build(const Case& c, std::mt19937& g, bool integer, double sa = 1.0, double sb = 1.0) {
  auto gen = [&](std::size_t n) { return integer ? ints(n, g) : uniform(n, g); };
  const i64 ar = c.ta ? c.K : c.M, ac = c.ta ? c.M : c.K;
  const i64 br = c.tb ? c.N : c.K, bc = c.tb ? c.K : c.N;
  Built b;
  b.A = make(ar, ac, c.pad, c.da, gen(static_cast<std::size_t>(ar * ac)), sa);
  b.B = make(br, bc, c.pad, c.db, gen(static_cast<std::size_t>(br * bc)), sb);
  b.C = make(c.M, c.N, c.pad, c.dc, gen(static_cast<std::size_t>(c.M * c.N)));
  return b;
}

void run(const Case& c, Mat& A, Mat& B, Mat& C, bool reference) {
  const bk::GemmOperand a{A.data(), A.dtype, A.ld, c.ta, A.scale_inv};
  const bk::GemmOperand b{B.data(), B.dtype, B.ld, c.tb, B.scale_inv};
  const bk::GemmOutput o{C.data(), C.dtype, C.ld};
  if (reference)
    ktest::ref_table().gemm(c.M, c.N, c.K, c.alpha, a, b, c.beta, o, {});
  else
    kc::gemm(c.M, c.N, c.K, c.alpha, a, b, c.beta, o);
}

double eps(DType t) { return nm::epsilon(nm::spec(t)); }

std::string describe(const Case& c) {
  return std::string(mixtrain::name(c.da)) + "x" + std::string(mixtrain::name(c.db)) + "->" +
         std::string(mixtrain::name(c.dc)) + " M" + std::to_string(c.M) + " N" +
         std::to_string(c.N) + " K" + std::to_string(c.K) + (c.ta ? " At" : "") +
         (c.tb ? " Bt" : "") + " pad" + std::to_string(c.pad) + " beta" + std::to_string(c.beta);
}

constexpr DType kOperand[] = {DType::fp32, DType::fp16, DType::bf16, DType::e4m3, DType::e5m2,
                              DType::fp64};
constexpr DType kOut[] = {DType::fp32, DType::fp16, DType::bf16, DType::fp64};

// Integer data: every product and partial sum is exact in fp32, so gemm and the reference must
// agree bit for bit for every combination (outputs are then rounded identically).
TEST(kernels_gemm, AllDtypeCombinationsBitExactOnIntegers) {
  std::mt19937 g(7);
  for (DType da : kOperand)
    for (DType db : kOperand)
      for (DType dc : kOut)
        for (int variant = 0; variant < 4; ++variant) {
          const bool ta = variant & 1, tb = variant & 2;
          const Case c{33, 7, 45, ta, tb, da, db, dc, 1.0f, variant == 3 ? 2.0f : 0.0f, variant};
          Built x = build(c, g, true);
          Built y = x;
          run(c, x.A, x.B, x.C, false);
          run(c, y.A, y.B, y.C, true);
          ASSERT_EQ(x.C.bytes, y.C.bytes) << describe(c);
        }
}

// |C - C_reference| within twice the fp32 accumulation bound gamma_K * (|alpha| sum|a||b| + |beta c|)
// plus one unit of the output format at |C|.
void expect_close_to_reference(const Case& c, std::mt19937& g, double sa = 1.0, double sb = 1.0) {
  Built x = build(c, g, false, sa, sb);
  Built y = x;
  const Built orig = x;
  run(c, x.A, x.B, x.C, false);
  run(c, y.A, y.B, y.C, true);
  const double u32 = eps(DType::fp32) / 2;
  const double gamma = double(c.K + 2) * u32 / (1 - double(c.K + 2) * u32);
  // op(A) as (M, K) and op(B) transposed as (N, K), decoded once.
  std::vector<double> a(static_cast<std::size_t>(c.M * c.K)), bt(static_cast<std::size_t>(c.N * c.K));
  for (i64 i = 0; i < c.M; ++i)
    for (i64 k = 0; k < c.K; ++k) a[i * c.K + k] = c.ta ? orig.A.get(k, i) : orig.A.get(i, k);
  for (i64 j = 0; j < c.N; ++j)
    for (i64 k = 0; k < c.K; ++k) bt[j * c.K + k] = c.tb ? orig.B.get(j, k) : orig.B.get(k, j);
  for (i64 i = 0; i < c.M; ++i)
    for (i64 j = 0; j < c.N; ++j) {
      double mag = 0.0, exact = 0.0;
      for (i64 k = 0; k < c.K; ++k) {
        const double ab = a[i * c.K + k] * bt[j * c.K + k];
        mag += std::fabs(ab);
        exact += ab;
      }

      const double cold = c.beta != 0.0f ? orig.C.get(i, j) : 0.0;
      mag = std::fabs(c.alpha) * mag + std::fabs(c.beta * cold);
      exact = c.alpha * exact + c.beta * cold;
      const double got = x.C.get(i, j), ref = y.C.get(i, j);
      const double out_u = c.dc == DType::fp64 ? 0.0 : eps(c.dc);
      const double tiny = 1e-30;
      // vs the reference: both within the bound of the exact value.
      ASSERT_LE(std::fabs(got - ref), 2 * gamma * mag + out_u * std::fabs(exact) * 2 + tiny)
          << describe(c) << " at " << i << "," << j;
      // vs the fp64 product of the decoded operands: fp32 accumulation plus one rounding into C.
      ASSERT_LE(std::fabs(got - exact), gamma * mag + out_u / 2 * std::fabs(exact) * (1 + gamma) +
                                            out_u * gamma * mag + tiny)
          << describe(c) << " at " << i << "," << j << " got " << got << " exact " << exact;
    }
}

// Sizes on either side of the packed kernel's blocking (6-row and 16-column micro-tiles, 96-row
// A blocks, 256-deep K-blocks, whose second and later blocks accumulate into C) and of the
// tiling, in every orientation, bit-exact against the reference on integer data. Run again with
// MIXTRAIN_GEMM=blas (the OpenBLAS path) by its own ctest entry.
TEST(kernels_gemm, BlockingEdgesBitExactOnIntegers) {
  std::mt19937 g(19);
  const i64 ms[] = {5, 6, 7, 97, 193}, ns[] = {15, 16, 17, 33}, ks[] = {255, 256, 257, 513};
  int n_case = 0;
  for (i64 m : ms)
    for (i64 n : ns)
      for (i64 k : ks) {
        const int t = n_case++ % 4;
        const DType da = (n_case % 3 == 0) ? DType::fp32 : DType::bf16;
        const DType db = (n_case % 2 == 0) ? DType::fp16 : DType::e4m3;
        const Case c{m, n, k, bool(t & 1), bool(t & 2), da, db, DType::fp32, 1.0f,
                     t == 3 ? 2.0f : (t == 2 ? 1.0f : 0.0f), t};
        Built x = build(c, g, true);
        Built y = x;
        run(c, x.A, x.B, x.C, false);
        run(c, y.A, y.B, y.C, true);
        ASSERT_EQ(x.C.bytes, y.C.bytes) << describe(c);
      }
}

TEST(kernels_gemm, AllDtypeCombinationsRandomWithinBound) {
  std::mt19937 g(11);
  for (DType da : kOperand)
    for (DType db : kOperand)
      for (DType dc : kOut) {
        expect_close_to_reference({33, 17, 300, false, false, da, db, dc, 1.0f, 0.0f, 0}, g);
        expect_close_to_reference({7, 33, 257, true, true, da, db, dc, 0.5f, -1.5f, 3}, g);
      }
}

TEST(kernels_gemm, OddSizesTransposesAndPadding) {
  std::mt19937 g(3);
  const i64 sizes[] = {1, 7, 33, 257};
  for (i64 m : sizes)
    for (i64 n : sizes)
      for (i64 k : sizes)
        for (int t = 0; t < 4; ++t) {
          if (m * n * k > 257 * 33 * 33 && t != 0) continue;  // keep the oracle affordable
          expect_close_to_reference({m, n, k, bool(t & 1), bool(t & 2), DType::bf16, DType::fp16,
                                 DType::fp32, 1.0f, t == 3 ? 0.25f : 0.0f, t},
                                g);
        }
}

// Large enough to take the parallel tiled path and several K-blocks and tiles.
TEST(kernels_gemm, LargeTiledPaths) {
  std::mt19937 g(5);
  expect_close_to_reference({600, 1100, 530, false, false, DType::bf16, DType::bf16, DType::fp32, 1.0f,
                         0.0f, 0},
                        g);
  expect_close_to_reference({530, 300, 700, true, true, DType::fp16, DType::e4m3, DType::bf16, 1.0f,
                         1.0f, 5},
                        g);
  expect_close_to_reference({300, 520, 400, false, true, DType::fp32, DType::fp32, DType::fp32, 2.0f,
                         0.5f, 1},
                        g);
  expect_close_to_reference({257, 300, 260, true, false, DType::fp64, DType::fp64, DType::fp64, 1.0f,
                         0.5f, 2},
                        g);
}

// fp8 with per-tensor scales: values are decode(code) * scale_inv, non-power-of-two scales too.
TEST(kernels_gemm, Fp8ScaleInv) {
  std::mt19937 g(9);
  for (DType t : {DType::e4m3, DType::e5m2})
    for (double s : {1.0, 64.0, 300.0, 0.37}) {
      expect_close_to_reference({33, 45, 70, false, true, t, t, DType::fp32, 1.0f, 0.0f, 2}, g, s,
                            s * 2);
      expect_close_to_reference({17, 9, 257, true, false, t, DType::bf16, DType::bf16, 1.0f, 0.5f, 0}, g,
                            s, 1.0);
    }
}

// Low-precision operands quantised from fp32 data: the result is within the formats' epsilons
// of the fp64 product of the original data (quantisation of each operand plus fp32 accumulation
// and the output rounding). Values are kept in the normal range of every format.
TEST(kernels_gemm, LowPrecisionWithinFormatEpsilonOfFp64) {
  std::mt19937 g(13);
  for (DType t : {DType::fp16, DType::bf16, DType::e4m3, DType::e5m2})
    for (DType dc : {DType::fp32, DType::bf16}) {
      const i64 M = 20, N = 30, K = 300;
      std::vector<double> a = uniform(M * K, g, 0.5, 2.0), b = uniform(K * N, g, 0.5, 2.0);
      for (auto& x : a) x = (g() & 1) ? -x : x;
      const Mat A = make(M, K, 0, t, a), B = make(K, N, 0, t, b);
      Mat C = make(M, N, 0, dc, std::vector<double>(M * N, 0.0));
      Mat Ac = A, Bc = B;
      kc::gemm(M, N, K, 1.0f, {Ac.data(), t, K}, {Bc.data(), t, N}, 0.0f, {C.data(), dc, N});
      const double ut = eps(t) / 2, u32 = eps(DType::fp32) / 2, uc = eps(dc) / 2;
      const double gamma = double(K) * u32 / (1 - double(K) * u32);
      for (i64 i = 0; i < M; ++i)
        for (i64 j = 0; j < N; ++j) {
          double exact = 0.0, mag = 0.0;
          for (i64 k = 0; k < K; ++k) {
            exact += a[i * K + k] * b[k * N + j];
            mag += std::fabs(a[i * K + k] * b[k * N + j]);
          }
          const double bound =
              ((2 * ut + ut * ut) * (1 + gamma) + gamma) * mag * (1 + uc) + uc * std::fabs(exact);
          ASSERT_LE(std::fabs(C.get(i, j) - exact), bound) << mixtrain::name(t) << " " << i << "," << j;
        }
    }
}

TEST(kernels_gemm, KZeroScalesC) {
  std::mt19937 g(1);
  for (DType dc : kOut) {
    const Case c{5, 6, 0, false, false, DType::fp16, DType::fp32, dc, 1.0f, 0.5f, 1};
    Built x = build(c, g, true);
    Built y = x;
    const Mat before = x.C;
    run(c, x.A, x.B, x.C, false);
    run(c, y.A, y.B, y.C, true);
    EXPECT_EQ(x.C.bytes, y.C.bytes);
    for (i64 i = 0; i < c.M; ++i)
      for (i64 j = 0; j < c.N; ++j) EXPECT_EQ(x.C.get(i, j), 0.5 * before.get(i, j));
  }
}

TEST(kernels_gemm, BetaZeroDoesNotReadC) {
  const i64 n = 8;
  std::vector<float> a(n * n, 1.0f), b(n * n, 1.0f), c(n * n, std::nanf(""));
  kc::gemm(n, n, n, 1.0f, {a.data(), DType::fp32, n}, {b.data(), DType::fp32, n}, 0.0f,
           {c.data(), DType::fp32, n});
  for (float v : c) EXPECT_EQ(v, 8.0f);
  std::vector<std::uint16_t> h(n * n, 0x7E00);  // fp16 NaN
  kc::gemm(n, n, n, 1.0f, {a.data(), DType::fp32, n}, {b.data(), DType::fp32, n}, 0.0f,
           {h.data(), DType::bf16, n});
  for (auto v : h) EXPECT_EQ(v, 0x4100);  // bf16 8.0
}

// Holds for mixtrain's packed kernel by construction (each element's summation order depends on K
// alone). OpenBLAS picks kernels by tile shape, so on its path the fp32 result may change with
// the tiling (seen on Zen 1), and the test does not apply there.
TEST(kernels_gemm, ThreadCountDoesNotChangeResult) {
  if (kc::gemm_kernel_for(DType::fp32, DType::fp32) == kc::GemmKernel::blas)
    GTEST_SKIP() << "OpenBLAS path: its kernels, not mixtrain, decide the summation order";
  std::mt19937 g(17);
  for (DType t : {DType::fp32, DType::bf16, DType::e4m3}) {
    const Case c{700, 650, 600, false, true, t, t, DType::fp32, 1.0f, 0.0f, 0};
    Built x = build(c, g, false);
    Built y = x;
    mixtrain::runtime::set_num_threads(1);
    run(c, x.A, x.B, x.C, false);
    mixtrain::runtime::set_num_threads(0);
    run(c, y.A, y.B, y.C, false);
    EXPECT_EQ(x.C.bytes, y.C.bytes) << mixtrain::name(t);
  }
}

TEST(kernels_gemm, BatchedMatchesLoopOfReference) {
  std::mt19937 g(21);
  for (i64 batch : {1, 3, 8})
    for (DType t : {DType::fp32, DType::bf16, DType::fp64}) {
      const i64 M = 17, N = 9, K = 33;
      const i64 sa = M * K + 5, sb = K * N + 3, sc = M * N + 1;
      const Mat A = make(1, batch * sa, 0, t, ints(batch * sa, g));
      const Mat B = make(1, batch * sb, 0, t, ints(batch * sb, g));
      Mat C1 = make(1, batch * sc, 0, t, ints(batch * sc, g));
      Mat C2 = C1;
      Mat Ac = A, Bc = B;
      kc::gemm_batched(batch, M, N, K, 1.0f, {Ac.data(), t, K}, sa, {Bc.data(), t, N}, sb, 1.0f,
                       {C1.data(), t, N}, sc);
      const std::size_t e = size_of(t);
      for (i64 b = 0; b < batch; ++b)
        ktest::ref_table().gemm(M, N, K, 1.0f, {Ac.bytes.data() + b * sa * e, t, K},
                                {Bc.bytes.data() + b * sb * e, t, N}, 1.0f, {C2.bytes.data() + b * sc * e, t, N}, {});
      EXPECT_EQ(C1.bytes, C2.bytes) << batch << " " << mixtrain::name(t);
    }
}

TEST(kernels_gemm, RejectsBadLeadingDimension) {
  std::vector<float> a(16), b(16), c(16);
  EXPECT_THROW(kc::gemm(4, 4, 4, 1.0f, {a.data(), DType::fp32, 3}, {b.data(), DType::fp32, 4}, 0.0f,
                        {c.data(), DType::fp32, 4}),
               mixtrain::Error);
}

}  // namespace
