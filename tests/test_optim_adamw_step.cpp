// The AdamW element loop at AVX-512 width gives the portable loop's bits (backend/cpu/adamw_step.h).
#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include "backend/cpu/adamw_step.h"
#include "runtime/cpu_features.h"

namespace {

namespace od = mixtrain::backend::cpu::detail;
namespace rt = mixtrain::runtime;

TEST(AdamWStep, Avx512LoopMatchesPortableLoopBitForBit) {
  if (static_cast<int>(rt::cpu_tier()) < static_cast<int>(rt::IsaTier::avx512))
    GTEST_SKIP() << "no AVX-512 on this CPU (tier " << rt::tier_name(rt::cpu_tier()) << ")";
  std::mt19937 gen(1);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  std::uniform_int_distribution<int> e(-40, 10);
  const std::size_t n = 1037;  // a ragged tail
  std::vector<float> w(n), g(n), m(n), v(n);
  for (std::size_t i = 0; i < n; ++i) {
    w[i] = u(gen);
    g[i] = std::ldexp(u(gen), e(gen));
    m[i] = std::ldexp(u(gen), e(gen));
    v[i] = std::ldexp(std::fabs(u(gen)), 2 * e(gen));
  }
  for (int step : {1, 10, 1000}) {
    od::AdamWConstants k{0.9f, 0.999f, static_cast<float>(1.0 / (1.0 - std::pow(0.9, step))),
                         static_cast<float>(1.0 / std::sqrt(1.0 - std::pow(0.999, step))), 3e-4f,
                         1.0f - 3e-4f * 0.1f, 1e-8f};
    auto w1 = w, m1 = m, v1 = v, w2 = w, m2 = m, v2 = v;
    od::adamw_loop(w1.data(), g.data(), m1.data(), v1.data(), static_cast<std::int64_t>(n), k);
    od::adamw_step_avx512(w2.data(), g.data(), m2.data(), v2.data(), static_cast<std::int64_t>(n), k);
    for (std::size_t i = 0; i < n; ++i) {
      ASSERT_EQ(std::bit_cast<std::uint32_t>(w1[i]), std::bit_cast<std::uint32_t>(w2[i])) << "w " << i;
      ASSERT_EQ(std::bit_cast<std::uint32_t>(m1[i]), std::bit_cast<std::uint32_t>(m2[i])) << "m " << i;
      ASSERT_EQ(std::bit_cast<std::uint32_t>(v1[i]), std::bit_cast<std::uint32_t>(v2[i])) << "v " << i;
    }
  }
}

}  // namespace
