// Internal: runs a per-row kernel over N rows of C elements on the pool, with row blocks sized
// so that each chunk carries at least ~32k elements of work (fixed by N and C only, never by the
// thread count, so results are deterministic).
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>

#include "runtime/parallel.h"

namespace mixtrain::backend::cpu::detail {

// The row blocks, each handed whole to fn(r0, r1) (for kernels that take a block of rows).
template <typename Fn>
void for_row_blocks(std::int64_t N, std::int64_t C, Fn&& fn) {
  if (N <= 0) return;
  const std::int64_t grain = std::max<std::int64_t>(1, 32768 / std::max<std::int64_t>(1, C));
  runtime::parallel_for(static_cast<std::size_t>(N), static_cast<std::size_t>(grain),
                        [&](std::size_t b, std::size_t e) {
                          fn(static_cast<std::int64_t>(b), static_cast<std::int64_t>(e));
                        });
}

// One row at a time: fn(n) for each row of each block.
template <typename Fn>
void for_rows(std::int64_t N, std::int64_t C, Fn&& fn) {
  for_row_blocks(N, C, [&](std::int64_t b, std::int64_t e) {
    for (std::int64_t i = b; i < e; ++i) fn(i);
  });
}

}  // namespace mixtrain::backend::cpu::detail
