// Seeded inverted dropout (the backend's dropout family, backend/kernels.h): the keep mask is a counter-based hash of
// (seed, offset + i), so it is reproducible, independent of threads, and recomputed in the
// backward instead of stored.
#pragma once

#include <cstdint>
#include <optional>

#include "tensor/tensor.h"

namespace mixtrain::ops {

// training: y = keep_i ? x / (1 - p) : 0, computed in fp32 (fp64 for fp64 x), written in `out`
// (default x's dtype); dx = keep_i ? dy / (1 - p) : 0. The same (seed, offset) gives the same
// mask; a tensor processed in pieces advances offset by the elements already done.
// Not training, or p == 0: x itself (the identity; converted differentiably when `out` differs).
// p in [0, 1] (mixtrain::Error otherwise); p = 1 drops everything.
Tensor dropout(const Tensor& x, double p, std::uint64_t seed, std::uint64_t offset = 0, bool training = true,
               std::optional<DType> out = std::nullopt);

}  // namespace mixtrain::ops
