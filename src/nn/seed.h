// derive_seed: the initialisation seed of a model's i-th layer from the model's seed. Distinct
// layers get unrelated streams (a splitmix64 mix), and a model is deterministic in its one seed.
#pragma once

#include <cstdint>

namespace mixtrain::nn {

constexpr std::uint64_t derive_seed(std::uint64_t seed, std::uint64_t salt) {
  std::uint64_t z = seed * 0x9e3779b97f4a7c15ULL + salt + 0x632be59bd9b4e019ULL;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

}  // namespace mixtrain::nn
