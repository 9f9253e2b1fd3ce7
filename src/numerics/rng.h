// Counter-based random bits for stochastic rounding.
//
// The random word for element i depends only on (seed, i), never on thread count, chunking or
// the order of evaluation, so a stochastic conversion is reproducible bit for bit. The hash is
// built from 32-bit multiplies and shifts only, so the AVX2 kernel computes the same words
// eight lanes at a time.
#pragma once

#include <cstdint>

namespace mixtrain::numerics {

// "lowbias32" integer finaliser (C. Wellons): full avalanche, 32-bit operations only.
constexpr std::uint32_t mix32(std::uint32_t x) {
  x ^= x >> 16;
  x *= 0x7feb352dU;
  x ^= x >> 15;
  x *= 0x846ca68bU;
  x ^= x >> 16;
  return x;
}

// Per-(seed, index>>32) key; constant over any range that does not cross a 2^32 boundary.
constexpr std::uint32_t stochastic_key(std::uint64_t seed, std::uint64_t index) {
  const auto seed_lo = static_cast<std::uint32_t>(seed);
  const auto seed_hi = static_cast<std::uint32_t>(seed >> 32);
  const auto idx_hi = static_cast<std::uint32_t>(index >> 32);
  return mix32(seed_lo ^ mix32(seed_hi ^ mix32(idx_hi + 0x632BE5ABU)));
}

constexpr std::uint32_t stochastic_bits_keyed(std::uint32_t key, std::uint32_t index_lo) {
  return mix32(mix32(index_lo ^ key) + key);
}

// The 32 random bits used to round element `index` of a stochastic conversion seeded `seed`.
constexpr std::uint32_t stochastic_bits(std::uint64_t seed, std::uint64_t index) {
  return stochastic_bits_keyed(stochastic_key(seed, index), static_cast<std::uint32_t>(index));
}

}  // namespace mixtrain::numerics
