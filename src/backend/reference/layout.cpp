// Reference data movement: a permuted copy of element bytes, and the attention head split/merge
// between rows (B*T, G*H*D) of any dtype and G slabs (B*H, T, D) of fp32/fp64. Exact family:
// bytes are copied and values converted per element by the reference conversions (nearest
// rounding into the rows' dtype), as the cpu backend does.
#include <cstring>

#include "backend/reference/scalar.h"

namespace mixtrain::backend::reference {

// y has shape os[i] = in[perm[i]]; output element k (row-major in os) is the input element whose
// index along in-dimension perm[i] is k's index along output dimension i.
void permute(void* y, const void* x, std::size_t elem, const Shape& in, const std::vector<i64>& perm) {
  const std::size_t nd = perm.size();
  std::vector<i64> in_stride(nd);
  i64 acc = 1;
  for (std::size_t d = nd; d-- > 0;) {
    in_stride[d] = acc;
    acc *= in[d];
  }
  const i64 n = acc;
  for (i64 k = 0; k < n; ++k) {
    i64 rest = k, off = 0;
    for (std::size_t i = nd; i-- > 0;) {  // output dimensions, last first
      const i64 dim = in[static_cast<std::size_t>(perm[i])];
      off += (rest % dim) * in_stride[static_cast<std::size_t>(perm[i])];
      rest /= dim;
    }
    std::memcpy(static_cast<unsigned char*>(y) + static_cast<std::size_t>(k) * elem,
                static_cast<const unsigned char*>(x) + static_cast<std::size_t>(off) * elem, elem);
  }
}

// Slab g, head h, position (b, t), feature d  <->  row b * T + t, column (g * H + h) * D + d.
template <typename U>
void to_heads(U* slabs, const void* rows, DType rows_type, i64 B, i64 T, i64 G, i64 H, i64 D) {
  const i64 width = G * H * D, slab = B * H * T * D;
  for (i64 b = 0; b < B; ++b)
    for (i64 t = 0; t < T; ++t)
      for (i64 g = 0; g < G; ++g)
        for (i64 h = 0; h < H; ++h)
          for (i64 d = 0; d < D; ++d)
            slabs[g * slab + ((b * H + h) * T + t) * D + d] =
                load<U>(rows, rows_type, static_cast<std::size_t>((b * T + t) * width + (g * H + h) * D + d));
}

template <typename U>
void from_heads(void* rows, DType rows_type, const U* slabs, i64 B, i64 T, i64 G, i64 H, i64 D) {
  const i64 width = G * H * D, slab = B * H * T * D;
  for (i64 b = 0; b < B; ++b)
    for (i64 t = 0; t < T; ++t)
      for (i64 g = 0; g < G; ++g)
        for (i64 h = 0; h < H; ++h)
          for (i64 d = 0; d < D; ++d)
            store<U>(rows, rows_type, static_cast<std::size_t>((b * T + t) * width + (g * H + h) * D + d),
                     slabs[g * slab + ((b * H + h) * T + t) * D + d]);
}

template void to_heads<float>(float*, const void*, DType, i64, i64, i64, i64, i64);
template void to_heads<double>(double*, const void*, DType, i64, i64, i64, i64, i64);
template void from_heads<float>(void*, DType, const float*, i64, i64, i64, i64, i64);
template void from_heads<double>(void*, DType, const double*, i64, i64, i64, i64, i64);

// Byte by byte, rows in order.
void gather_rows(void* dst, const void* table, std::size_t row_bytes, const i64* ids, i64 N) {
  auto* d = static_cast<unsigned char*>(dst);
  const auto* t = static_cast<const unsigned char*>(table);
  for (i64 i = 0; i < N; ++i)
    for (std::size_t b = 0; b < row_bytes; ++b)
      d[static_cast<std::size_t>(i) * row_bytes + b] = t[static_cast<std::size_t>(ids[i]) * row_bytes + b];
}

void copy_rows(void* dst, std::size_t dst_stride, const void* src, std::size_t src_stride, i64 rows,
               std::size_t row_bytes) {
  auto* d = static_cast<unsigned char*>(dst);
  const auto* s = static_cast<const unsigned char*>(src);
  for (i64 r = 0; r < rows; ++r)
    for (std::size_t b = 0; b < row_bytes; ++b)
      d[static_cast<std::size_t>(r) * dst_stride + b] = s[static_cast<std::size_t>(r) * src_stride + b];
}

}  // namespace mixtrain::backend::reference
