// Seeded, stateless sampling: the batch at step s is a pure function of (seed, s), so a resumed
// run sees exactly the data an uninterrupted run would, and thread counts never matter.
#pragma once

#include <cstdint>
#include <vector>

namespace mixtrain::data {

// splitmix64: the mixing function behind every seeded choice here.
constexpr std::uint64_t splitmix64(std::uint64_t x) {
  x += 0x9E3779B97F4A7C15ULL;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
  return x ^ (x >> 31);
}

// The largest data set (examples) and batch the samplers accept: 2^33, so that every index and
// offset product they form stays far from int64 overflow. Larger values throw mixtrain::Error.
inline constexpr std::int64_t kMaxExamples = std::int64_t{1} << 33;

// A permutation of [0, n) for one epoch (Fisher-Yates driven by splitmix64(seed, epoch)).
std::vector<std::int64_t> epoch_permutation(std::int64_t n, std::uint64_t seed, std::int64_t epoch);

// Epoch-shuffled mini-batches over a data set of n examples; the last partial batch of an epoch
// is dropped so every step has `batch` examples. Throws mixtrain::Error for an empty set, a
// batch < 1 or one larger than the set.
class EpochSampler {
 public:
  EpochSampler(std::int64_t n, std::int64_t batch, std::uint64_t seed);
  std::int64_t steps_per_epoch() const { return steps_per_epoch_; }
  // Indices of the examples in global step `step` (0-based, across epochs).
  std::vector<std::int64_t> batch_indices(std::int64_t step);

 private:
  std::int64_t n_, batch_, steps_per_epoch_;
  std::uint64_t seed_;
  std::int64_t cached_epoch_ = -1;
  std::vector<std::int64_t> perm_;
};

// Start offsets of `batch` random windows of `window` tokens in a corpus of `length` tokens for
// global step `step`.
std::vector<std::int64_t> window_starts(std::int64_t length, std::int64_t window, std::int64_t batch,
                                        std::uint64_t seed, std::int64_t step);

}  // namespace mixtrain::data
