// Internal: runs fn(c0, c1) over fixed column blocks of [0, C) on the pool, for per-column
// reductions over rows (dgamma, dbias, ...) that stay deterministic and need no workspace: each
// block walks the rows in order with a contiguous, vectorisable inner loop.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>

#include "runtime/parallel.h"

namespace mixtrain::backend::cpu::detail {

template <typename Fn>
void for_col_blocks(std::int64_t C, std::int64_t N, Fn&& fn) {
  if (C <= 0) return;
  // ~32k elements of work per chunk, blocks of at least 16 columns.
  const std::int64_t block =
      std::max<std::int64_t>(16, 32768 / std::max<std::int64_t>(1, N)) / 16 * 16;
  runtime::parallel_for(static_cast<std::size_t>(C), static_cast<std::size_t>(block),
                        [&](std::size_t b, std::size_t e) {
                          fn(static_cast<std::int64_t>(b), static_cast<std::int64_t>(e));
                        });
}

}  // namespace mixtrain::backend::cpu::detail
