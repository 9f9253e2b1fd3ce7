// Internal: elements of a row of an (N, C) array of any dtype as fp32, for the kernels that take
// mixed-dtype inputs (bias_act_backward_from, column_sums, layer_norm_*_from).
#pragma once

#include <cstddef>
#include <cstdint>

#include "numerics/convert.h"
#include "numerics/decode_tables.h"

namespace mixtrain::backend::cpu::detail {

// Elements [n * C + c0, n * C + c0 + len) as fp32: in place for fp32, a shift per element for
// bf16 (inline: these runs are short, and a decode call per run costs more than the widening),
// numerics::decoded into buf otherwise. Exact.
inline const float* row_f32(float* buf, const void* base, DType t, std::int64_t n, std::int64_t C,
                            std::int64_t c0, std::int64_t len) {
  const auto at = static_cast<std::size_t>(n * C + c0);
  if (t == DType::fp32) return static_cast<const float*>(base) + at;
  if (t == DType::bf16) {
    const auto* v = static_cast<const std::uint16_t*>(base) + at;
    for (std::int64_t c = 0; c < len; ++c) buf[c] = numerics::detail::bf16_to_f32(v[c]);
    return buf;
  }
  return numerics::decoded(buf, static_cast<const unsigned char*>(base) + at * size_of(t), t,
                           static_cast<std::size_t>(len));
}

}  // namespace mixtrain::backend::cpu::detail
