// The GEMM's ISA tiers and their contracts (gemm.h): the CPU-feature probe and its cap, the
// portable emulation of one vdpbf16ps step against the measured hardware facts, the avx512_bf16dot
// kernel against that emulation bit for bit, the avx512 fp32 kernel against the avx2 one bit for
// bit, and every tier against an fp64 reference within its stated bound. Tests whose tier the CPU
// lacks skip and say so.
#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "backend/cpu/bf16_dot.h"
#include "backend/cpu/gemm.h"
#include "numerics/convert.h"
#include "runtime/cpu_features.h"
#include "runtime/error.h"
#include "runtime/parallel.h"

namespace {

using mixtrain::DType;
using mixtrain::size_of;
using mixtrain::runtime::IsaTier;
namespace kc = mixtrain::backend::cpu;
namespace bk = mixtrain::backend;  // the kernels' argument types
namespace nm = mixtrain::numerics;
namespace rt = mixtrain::runtime;
using i64 = std::int64_t;

std::uint16_t bf16(float f) { return static_cast<std::uint16_t>(std::bit_cast<std::uint32_t>(f) >> 16); }
std::uint32_t pair(float lo, float hi) { return bf16(lo) | (std::uint32_t{bf16(hi)} << 16); }

// Lowers the tier for one scope (the probe is process-wide).
struct TierCap {
  explicit TierCap(IsaTier t) { rt::set_isa_cap(t); }
  ~TierCap() { rt::reset_isa_cap(); }
};

bool cpu_has(IsaTier t) { return static_cast<int>(rt::cpu_tier()) >= static_cast<int>(t); }

TEST(cpu_features, TierNamesRoundTripAndBadNamesAreErrors) {
  for (IsaTier t : {IsaTier::generic, IsaTier::avx2, IsaTier::avx512, IsaTier::avx512_bf16,
                    IsaTier::amx_bf16})
    EXPECT_EQ(rt::parse_tier(rt::tier_name(t), "x"), t);
  try {
    rt::parse_tier("avx1024", "MIXTRAIN_ISA");
    FAIL() << "no error";
  } catch (const mixtrain::Error& e) {
    EXPECT_NE(std::string(e.what()).find("MIXTRAIN_ISA"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("avx1024"), std::string::npos) << e.what();
  }
}

TEST(cpu_features, CapLowersTheTierForEveryKernel) {
  const IsaTier before = rt::isa_tier();
  EXPECT_LE(static_cast<int>(before), static_cast<int>(rt::cpu_tier()));
  {
    TierCap cap(IsaTier::generic);
    EXPECT_EQ(rt::isa_tier(), IsaTier::generic);
    EXPECT_EQ(nm::active_isa(), "generic");
    EXPECT_EQ(kc::gemm_kernel_for(DType::bf16, DType::bf16), kc::GemmKernel::blas);
  }
  EXPECT_EQ(rt::isa_tier(), before);
}

// The facts measured on Zen 5 (shared/design/x86-bf16-semantics.md), pinned on the emulation.
TEST(bf16_dot_emulation, MatchesTheMeasuredInstruction) {
  // Odd-indexed product first: (1 + 2^-24) ties to 1, then + 2^-24 (1 + 2^-7) rounds up; the
  // other order would give 1 + 2^-22.
  const float l = 0x1p-24f * (1.0f + 0x1p-7f);
  EXPECT_EQ(kc::bf16_dot_step(1.0f, pair(l, 0x1p-24f), pair(1.0f, 1.0f)), 1.0f + 0x1p-23f);
  // bf16 subnormal inputs read as zero: 2^-127 x 2^100 gives 0, not 2^-27.
  EXPECT_EQ(kc::bf16_dot_step(0.0f, pair(0x1p-127f, 0.0f), pair(0x1p100f, 0.0f)), 0.0f);
  // A subnormal product is flushed: 2^-70 x 2^-70.
  EXPECT_EQ(kc::bf16_dot_step(0.0f, pair(0x1p-70f, 0.0f), pair(0x1p-70f, 0.0f)), 0.0f);
  // A subnormal accumulator is read as zero.
  EXPECT_EQ(kc::bf16_dot_step(1e-40f, 0, 0), 0.0f);
  // Products are exact: (1 + 2^-7)^2 = 1 + 2^-6 + 2^-14 needs 15 bits, and fp32 keeps them.
  const float a = 1.0f + 0x1p-7f;
  EXPECT_EQ(kc::bf16_dot_step(0.0f, pair(a, 0.0f), pair(a, 0.0f)), 1.0f + 0x1p-6f + 0x1p-14f);
  // Overflow to inf and inf - inf = NaN.
  EXPECT_TRUE(std::isinf(kc::bf16_dot_step(0.0f, pair(0x1p100f, 0.0f), pair(0x1p100f, 0.0f))));
  EXPECT_TRUE(std::isnan(kc::bf16_dot_step(0.0f, pair(0x1p100f, -0x1p100f), pair(0x1p100f, 0x1p100f))));
}

// Values spread over many binades, including bf16 subnormals and products that underflow, so
// that the flush rules are exercised; a few exact zeros and negative zeros too.
std::vector<float> wide_values(std::size_t n, std::mt19937& g) {
  std::uniform_real_distribution<float> m(-2.0f, 2.0f);
  std::uniform_int_distribution<int> e(-135, 10), pick(0, 99);
  std::vector<float> v(n);
  for (auto& x : v) {
    const int p = pick(g);
    x = p == 0 ? 0.0f : p == 1 ? -0.0f : p < 40 ? std::ldexp(m(g), e(g)) : m(g);
  }
  return v;
}

struct Operand {
  std::vector<unsigned char> bytes;
  i64 ld;
};

Operand store(const std::vector<float>& v, i64 rows, i64 cols, i64 pad, DType t, float scale = 1.0f) {
  Operand o{std::vector<unsigned char>(static_cast<std::size_t>(rows * (cols + pad)) * size_of(t)), cols + pad};
  std::vector<float> all(static_cast<std::size_t>(rows * o.ld), 0.0f);
  for (i64 r = 0; r < rows; ++r)
    for (i64 c = 0; c < cols; ++c) all[r * o.ld + c] = v[r * cols + c];
  nm::ConvertOptions opt;
  opt.scale = scale;
  nm::encode(o.bytes.data(), t, all.data(), all.size(), opt);
  return o;
}

struct Shape {
  i64 M, N, K;
  bool ta, tb;
  DType a, b, c;
  float beta;
};

// gemm() on the current tier and the emulation, both from the same operands; returns whether
// they agree byte for byte (and reports the first difference).
void expect_kernel_matches_emulation(const Shape& s, std::mt19937& g) {
  const i64 ar = s.ta ? s.K : s.M, ac = s.ta ? s.M : s.K, br = s.tb ? s.N : s.K, bc = s.tb ? s.K : s.N;
  const float sa = s.a == DType::bf16 ? 1.0f : 64.0f, sb = s.b == DType::bf16 ? 1.0f : 0.5f;
  const Operand A = store(wide_values(static_cast<std::size_t>(ar * ac), g), ar, ac, 3, s.a, sa);
  const Operand B = store(wide_values(static_cast<std::size_t>(br * bc), g), br, bc, 1, s.b, sb);
  const Operand C0 = store(wide_values(static_cast<std::size_t>(s.M * s.N), g), s.M, s.N, 2, s.c);
  Operand hw = C0, emu = C0;
  const bk::GemmOperand a{A.bytes.data(), s.a, A.ld, s.ta, 1.0f / sa};
  const bk::GemmOperand b{B.bytes.data(), s.b, B.ld, s.tb, 1.0f / sb};
  kc::gemm(s.M, s.N, s.K, 0.75f, a, b, s.beta, {hw.bytes.data(), s.c, hw.ld});
  kc::gemm_bf16dot_emulated(s.M, s.N, s.K, 0.75f, a, b, s.beta, {emu.bytes.data(), s.c, emu.ld});
  const std::string what = std::string(mixtrain::name(s.a)) + "x" + std::string(mixtrain::name(s.b)) +
                           "->" + std::string(mixtrain::name(s.c)) + " M" + std::to_string(s.M) +
                           " N" + std::to_string(s.N) + " K" + std::to_string(s.K) +
                           (s.ta ? " At" : "") + (s.tb ? " Bt" : "");
  for (std::size_t i = 0; i < hw.bytes.size(); i += size_of(s.c)) {
    if (std::memcmp(&hw.bytes[i], &emu.bytes[i], size_of(s.c)) == 0) continue;
    double h, e;
    nm::decode(&h, &hw.bytes[i], s.c, 1);
    nm::decode(&e, &emu.bytes[i], s.c, 1);
    if (std::isnan(h) && std::isnan(e)) continue;  // NaN payloads are not part of the contract
    FAIL() << what << ": element " << i / size_of(s.c) << " hardware " << h << " emulation " << e;
  }
}

TEST(kernels_gemm_tiers, Bf16DotKernelMatchesEmulationBitForBit) {
  if (kc::gemm_kernel_for(DType::bf16, DType::bf16) != kc::GemmKernel::avx512_bf16dot)
    GTEST_SKIP() << "the avx512_bf16dot kernel is not in use here (tier "
                 << rt::tier_name(rt::isa_tier()) << ", needs avx512_bf16 and MIXTRAIN_GEMM not exact)";
  std::mt19937 g(5);
  const DType lp[] = {DType::bf16, DType::e4m3, DType::e5m2};
  for (DType da : lp)
    for (DType db : lp)
      for (int t = 0; t < 4; ++t)
        expect_kernel_matches_emulation({13, 70, 517, bool(t & 1), bool(t & 2), da, db, DType::fp32,
                                         t == 3 ? 0.5f : 0.0f}, g);
  // Odd K within one block, every edge, bf16 output with beta reading it, a multi-tile problem.
  expect_kernel_matches_emulation({1, 1, 1, false, false, DType::bf16, DType::bf16, DType::fp32, 0.0f}, g);
  expect_kernel_matches_emulation({7, 65, 255, true, false, DType::bf16, DType::bf16, DType::bf16, -1.0f}, g);
  expect_kernel_matches_emulation({300, 700, 600, false, true, DType::bf16, DType::bf16, DType::fp32, 0.0f}, g);
}

// Every fp8 code through the bf16dot kernel's packing (both layouts of A): C = A * 1 with K = 1
// gives each code's value back exactly (NaN as NaN, -0 as +0).
TEST(kernels_gemm_tiers, EveryFp8CodeWidensExactlyInTheBf16DotPack) {
  if (kc::gemm_kernel_for(DType::e4m3, DType::bf16) != kc::GemmKernel::avx512_bf16dot)
    GTEST_SKIP() << "the avx512_bf16dot kernel is not in use here (tier " << rt::tier_name(rt::isa_tier()) << ")";
  for (DType t : {DType::e4m3, DType::e5m2}) {
    std::vector<unsigned char> codes(256);
    for (int i = 0; i < 256; ++i) codes[static_cast<std::size_t>(i)] = static_cast<unsigned char>(i);
    std::vector<float> want(256);
    nm::decode(want.data(), codes.data(), t, 256);
    const std::uint16_t one = 0x3F80;  // bf16 1.0
    for (bool ta : {false, true}) {
      std::vector<float> c(256, -1.0f);
      kc::gemm(256, 1, 1, 1.0f, {codes.data(), t, ta ? 256 : 1, ta}, {&one, DType::bf16, 1}, 0.0f,
               {c.data(), DType::fp32, 1});
      for (int i = 0; i < 256; ++i) {
        const auto k = static_cast<std::size_t>(i);
        if (std::isnan(want[k]))
          EXPECT_TRUE(std::isnan(c[k])) << mixtrain::name(t) << " code " << i;
        else  // -0 comes back as +0: the sum starts from +0, as every GEMM's does
          EXPECT_EQ(c[k], want[k]) << mixtrain::name(t) << " code " << i << (ta ? " At" : "");
      }
    }
  }
}

// Computes C for one shape on the given tier, fp32 output.
std::vector<unsigned char> run_on(IsaTier tier, i64 M, i64 N, i64 K, bool ta, bool tb, DType t,
                                  std::mt19937 g) {
  TierCap cap(tier);
  const i64 ar = ta ? K : M, ac = ta ? M : K, br = tb ? N : K, bc = tb ? K : N;
  std::uniform_real_distribution<float> d(-1.0f, 1.0f);
  std::vector<float> av(static_cast<std::size_t>(ar * ac)), bv(static_cast<std::size_t>(br * bc));
  for (auto& x : av) x = d(g);
  for (auto& x : bv) x = d(g);
  const Operand A = store(av, ar, ac, 0, t), B = store(bv, br, bc, 0, t);
  std::vector<unsigned char> c(static_cast<std::size_t>(M * N) * 4);
  kc::gemm(M, N, K, 1.0f, {A.bytes.data(), t, A.ld, ta}, {B.bytes.data(), t, B.ld, tb}, 0.0f,
           {c.data(), DType::fp32, N});
  return c;
}

// The exact contract fixes the summation order, so the AVX2 and AVX-512 fp32 kernels agree bit
// for bit (and so do bf16/fp16 operands widened into them).
TEST(kernels_gemm_tiers, Avx512Fp32KernelMatchesAvx2BitForBit) {
  if (!cpu_has(IsaTier::avx512) ||
      kc::gemm_kernel_for(DType::fp32, DType::fp32) != kc::GemmKernel::avx512_fp32)
    GTEST_SKIP() << "no avx512 tier here (CPU tier " << rt::tier_name(rt::cpu_tier())
                 << ", in use " << rt::tier_name(rt::isa_tier()) << ")";
  std::mt19937 g(9);
  for (DType t : {DType::fp32, DType::fp16, DType::e4m3})
    for (int tr = 0; tr < 4; ++tr) {
      const bool ta = tr & 1, tb = tr & 2;
      EXPECT_EQ(run_on(IsaTier::avx2, 77, 130, 600, ta, tb, t, g),
                run_on(IsaTier::avx512, 77, 130, 600, ta, tb, t, g))
          << mixtrain::name(t) << " ta" << ta << " tb" << tb;
    }
}

// Every tier the CPU has, against the fp64 product of the decoded operands: |C - C64| <=
// gamma_K * sum_k |a_ik b_kj| (+ 2^-126 K for bf16dot's flushes), gamma_K = K u / (1 - K u),
// u = 2^-24, plus C's own rounding. Data in [-1, 1) (no flushes in practice).
TEST(kernels_gemm_tiers, EveryTierWithinItsBoundOfFp64) {
  const i64 M = 37, N = 90, K = 700;
  for (IsaTier tier : {IsaTier::generic, IsaTier::avx2, IsaTier::avx512, IsaTier::avx512_bf16}) {
    if (!cpu_has(tier)) continue;
    for (DType t : {DType::fp32, DType::bf16, DType::e4m3}) {
      std::mt19937 g(3);
      const auto c = run_on(tier, M, N, K, false, true, t, g);
      // Rebuild the same operands to form the fp64 reference.
      std::mt19937 g2(3);
      std::uniform_real_distribution<float> d(-1.0f, 1.0f);
      std::vector<float> av(static_cast<std::size_t>(M * K)), bv(static_cast<std::size_t>(N * K));
      for (auto& x : av) x = d(g2);
      for (auto& x : bv) x = d(g2);
      std::vector<double> ad(av.size()), bd(bv.size());
      const Operand A = store(av, M, K, 0, t), B = store(bv, N, K, 0, t);
      nm::decode(ad.data(), A.bytes.data(), t, ad.size());
      nm::decode(bd.data(), B.bytes.data(), t, bd.size());
      const double u = 0x1p-24, gamma = K * u / (1 - K * u);
      for (i64 i = 0; i < M; ++i)
        for (i64 j = 0; j < N; ++j) {
          double exact = 0, mag = 0;
          for (i64 k = 0; k < K; ++k) {
            exact += ad[i * K + k] * bd[j * K + k];
            mag += std::fabs(ad[i * K + k] * bd[j * K + k]);
          }
          float got;
          std::memcpy(&got, &c[static_cast<std::size_t>(i * N + j) * 4], 4);
          const double bound = gamma * mag + K * 0x1p-126 + u * std::fabs(exact);
          ASSERT_LE(std::fabs(got - exact), bound)
              << rt::tier_name(tier) << " " << mixtrain::name(t) << " (" << i << ", " << j << ")";
        }
    }
  }
}

// Thread count never changes the bits, on any tier the CPU has.
TEST(kernels_gemm_tiers, ThreadCountInvariantOnEveryTier) {
  for (IsaTier tier : {IsaTier::avx2, IsaTier::avx512, IsaTier::avx512_bf16}) {
    if (!cpu_has(tier)) continue;
    for (DType t : {DType::fp32, DType::bf16, DType::e5m2}) {
      std::mt19937 g(11);
      rt::set_num_threads(1);
      const auto one = run_on(tier, 500, 333, 520, true, false, t, g);
      rt::set_num_threads(0);
      const auto all = run_on(tier, 500, 333, 520, true, false, t, g);
      EXPECT_EQ(one, all) << rt::tier_name(tier) << " " << mixtrain::name(t);
    }
  }
}

}  // namespace
