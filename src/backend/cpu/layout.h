// Data movement: permuted copies and the attention head split/merge (rows <-> per-head slabs,
// converting dtypes on the way). Exact: bytes are moved, values converted by numerics/convert.h.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "backend/types.h"

namespace mixtrain::backend::cpu {

void permute(void* y, const void* x, std::size_t elem, const Shape& in, const std::vector<std::int64_t>& perm);
void gather_rows(void* dst, const void* table, std::size_t row_bytes, const std::int64_t* ids, std::int64_t N);
void copy_rows(void* dst, std::size_t dst_stride, const void* src, std::size_t src_stride, std::int64_t rows,
               std::size_t row_bytes);
template <typename U>
void to_heads(U* slabs, const void* rows, DType rows_type, std::int64_t B, std::int64_t T, std::int64_t G,
              std::int64_t H, std::int64_t D);
template <typename U>
void from_heads(void* rows, DType rows_type, const U* slabs, std::int64_t B, std::int64_t T, std::int64_t G,
                std::int64_t H, std::int64_t D);

}  // namespace mixtrain::backend::cpu
