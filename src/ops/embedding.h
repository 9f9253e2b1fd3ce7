// Embedding lookup op (the backend's embedding family): rows of a (V, D) table gathered by integer ids,
// differentiable in the table (a deterministic scatter-add of the output gradient).
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "tensor/tensor.h"

namespace mixtrain::ops {

// y (ids_shape..., D) = table[ids]; table (V, D) of any dtype; ids (numel(ids_shape) of them)
// in [0, V). The gather copies codes, so y is exact: in table's dtype (after autocast) by default,
// or converted once to `out`. Backward: dtable (V, D) in fp32 (fp64 for fp64 tables), the sum of
// the output gradients of every occurrence of each id (repeated ids add up, in id order).
// Throws mixtrain::Error for an id outside [0, V) or an id count that does not fill ids_shape.
Tensor embedding(const Tensor& table, const std::vector<std::int64_t>& ids, const Shape& ids_shape,
                 std::optional<DType> out = std::nullopt);

}  // namespace mixtrain::ops
