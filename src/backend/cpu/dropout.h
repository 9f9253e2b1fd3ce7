// Inverted dropout with a counter-based mask: element i is kept iff the 32 random bits
// numerics::stochastic_bits(seed, offset + i) are >= p * 2^32, so the mask depends only on
// (seed, offset + i), never on the thread count or chunking (and a tensor can be processed in
// pieces by advancing offset). Kept values are scaled by 1 / (1 - p).
#pragma once

#include <cstdint>

namespace mixtrain::backend::cpu {

// out (n) = keep ? x / (1 - p) : 0; mask (n) = keep (0 or 1), kept for the backward (may be
// nullptr). p in [0, 1] (mixtrain::Error otherwise); p = 1 drops everything. out may alias x.
template <typename T>
void dropout_forward(T* out, std::uint8_t* mask, const T* x, std::int64_t n, double p,
                     std::uint64_t seed, std::uint64_t offset = 0);

// dx (n) = mask ? dout / (1 - p) : 0. dx may alias dout.
template <typename T>
void dropout_backward(T* dx, const T* dout, const std::uint8_t* mask, std::int64_t n, double p);

// The mask alone (n bytes), as dropout_forward draws it.
void dropout_mask(std::uint8_t* mask, std::int64_t n, double p, std::uint64_t seed,
                  std::uint64_t offset = 0);

}  // namespace mixtrain::backend::cpu
