// Sampling implementations; see sampler.h for the statelessness contract.
#include "data/sampler.h"

#include <numeric>

#include "runtime/error.h"

namespace mixtrain::data {

std::vector<std::int64_t> epoch_permutation(std::int64_t n, std::uint64_t seed, std::int64_t epoch) {
  if (n < 0 || n > kMaxExamples) throw Error("data set size " + std::to_string(n) + " is out of range");
  std::vector<std::int64_t> p(static_cast<std::size_t>(n));
  std::iota(p.begin(), p.end(), std::int64_t{0});
  std::uint64_t state = splitmix64(seed ^ splitmix64(static_cast<std::uint64_t>(epoch) + 1));
  for (std::int64_t i = n - 1; i > 0; --i) {
    state = splitmix64(state);
    // Modulo bias is below 2^-40 for any data set that fits in memory.
    const auto j = static_cast<std::int64_t>(state % static_cast<std::uint64_t>(i + 1));
    std::swap(p[static_cast<std::size_t>(i)], p[static_cast<std::size_t>(j)]);
  }
  return p;
}

EpochSampler::EpochSampler(std::int64_t n, std::int64_t batch, std::uint64_t seed)
    : n_(n), batch_(batch), steps_per_epoch_(batch > 0 ? n / batch : 0), seed_(seed) {
  if (n <= 0) throw Error("the data set is empty");
  if (n > kMaxExamples) throw Error("data set of " + std::to_string(n) + " examples is too large");
  if (batch <= 0) throw Error("batch size must be positive");
  if (steps_per_epoch_ == 0)
    throw Error("batch size " + std::to_string(batch) + " exceeds the data set (" + std::to_string(n) + ")");
}

std::vector<std::int64_t> EpochSampler::batch_indices(std::int64_t step) {
  if (step < 0) throw Error("step " + std::to_string(step) + " is negative");
  const std::int64_t epoch = step / steps_per_epoch_;
  const std::int64_t k = step % steps_per_epoch_;
  if (epoch != cached_epoch_) {
    perm_ = epoch_permutation(n_, seed_, epoch);
    cached_epoch_ = epoch;
  }
  return {perm_.begin() + k * batch_, perm_.begin() + (k + 1) * batch_};
}

std::vector<std::int64_t> window_starts(std::int64_t length, std::int64_t window, std::int64_t batch,
                                        std::uint64_t seed, std::int64_t step) {
  if (window < 1 || batch < 0 || batch > kMaxExamples || step < 0)
    throw Error("window_starts: window " + std::to_string(window) + ", batch " + std::to_string(batch) + " or step " +
                std::to_string(step) + " out of range");
  if (length <= window) throw Error("corpus of " + std::to_string(length) +
                                    " bytes is shorter than the context window");
  const auto range = static_cast<std::uint64_t>(length - window);
  std::vector<std::int64_t> starts(static_cast<std::size_t>(batch));
  for (std::int64_t b = 0; b < batch; ++b) {
    const std::uint64_t r = splitmix64(seed ^ splitmix64((static_cast<std::uint64_t>(step) << 20) ^
                                                         static_cast<std::uint64_t>(b)));
    starts[static_cast<std::size_t>(b)] =
        static_cast<std::int64_t>(r % range);
  }
  return starts;
}

}  // namespace mixtrain::data
