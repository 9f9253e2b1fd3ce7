// Data movement kernels (layout.h): permuted copies of element bytes and the attention head
// split/merge, rows split over the pool.
#include "backend/cpu/layout.h"

#include <algorithm>
#include <cstring>

#include "numerics/convert.h"
#include "runtime/parallel.h"

namespace mixtrain::backend::cpu {
namespace {

using i64 = std::int64_t;

// Copies `n` elements of size ES from a strided source (stride in elements) to a contiguous
// destination; ES is a compile-time size so each copy is a single load/store.
template <std::size_t ES>
void strided_copy(unsigned char* dst, const unsigned char* src, i64 stride, i64 n) {
  if (stride == 1) {
    std::memcpy(dst, src, static_cast<std::size_t>(n) * ES);
    return;
  }
  for (i64 i = 0; i < n; ++i)
    std::memcpy(dst + static_cast<std::size_t>(i) * ES, src + static_cast<std::size_t>(i * stride) * ES, ES);
}

}  // namespace

// The output is walked row by row (its last dimension): a row is one memcpy when the last
// dimension stays last (head split/merge in attention), else a strided gather. Rows are split
// over the pool; each chunk finds its starting input offset by decomposing its first row index.
void permute(void* y, const void* x, std::size_t elem, const Shape& in, const std::vector<i64>& perm) {
  const std::size_t nd = perm.size();
  Shape os(nd);
  for (std::size_t i = 0; i < nd; ++i) os[i] = in[static_cast<std::size_t>(perm[i])];
  const i64 total = numel(os);
  if (total == 0) return;
  if (nd == 0) {
    std::memcpy(y, x, elem);
    return;
  }
  std::vector<i64> in_stride(nd), st(nd);
  i64 acc = 1;
  for (std::size_t d = nd; d-- > 0;) {
    in_stride[d] = acc;
    acc *= in[d];
  }
  for (std::size_t i = 0; i < nd; ++i) st[i] = in_stride[static_cast<std::size_t>(perm[i])];
  const std::size_t es = elem;
  const auto* src = static_cast<const unsigned char*>(x);
  auto* dst = static_cast<unsigned char*>(y);
  const i64 cols = os[nd - 1], inner_stride = st[nd - 1];
  const auto rows = static_cast<std::size_t>(total / cols);
  const std::size_t grain = std::max<std::size_t>(1, (std::size_t{1} << 14) / static_cast<std::size_t>(cols));
  runtime::parallel_for(rows, grain, [&](std::size_t b, std::size_t e) {
    // Index of row b over the leading nd - 1 output dimensions, and its input offset.
    std::vector<i64> idx(nd, 0);
    i64 off = 0, rest = static_cast<i64>(b);
    for (std::size_t d = nd - 1; d-- > 0;) {
      idx[d] = rest % os[d];
      rest /= os[d];
      off += idx[d] * st[d];
    }
    for (std::size_t r = b; r < e; ++r) {
      unsigned char* out = dst + r * static_cast<std::size_t>(cols) * es;
      const unsigned char* inp = src + static_cast<std::size_t>(off) * es;
      switch (es) {
        case 1: strided_copy<1>(out, inp, inner_stride, cols); break;
        case 2: strided_copy<2>(out, inp, inner_stride, cols); break;
        case 4: strided_copy<4>(out, inp, inner_stride, cols); break;
        default: strided_copy<8>(out, inp, inner_stride, cols); break;
      }
      for (std::size_t d = nd - 1; d-- > 0;) {
        ++idx[d];
        off += st[d];
        if (idx[d] < os[d]) break;
        off -= st[d] * idx[d];
        idx[d] = 0;
      }
    }
  });
}

// One conversion call per (b, t) row (the head pieces are D elements, too short to convert one
// by one), rows in parallel.
template <typename U>
void to_heads(U* slabs, const void* rows, DType rows_type, i64 B, i64 T, i64 G, i64 H, i64 D) {
  const std::size_t es = size_of(rows_type);
  const auto* src = static_cast<const unsigned char*>(rows);
  const i64 width = G * H * D, slab = B * H * T * D;
  runtime::parallel_for(static_cast<std::size_t>(B * T), 64, [&](std::size_t lo, std::size_t hi) {
    std::vector<U> buf(static_cast<std::size_t>(width));
    for (std::size_t r = lo; r < hi; ++r) {
      const auto bt = static_cast<i64>(r), b = bt / T, t = bt % T;
      const U* row = numerics::decoded(buf.data(), src + static_cast<std::size_t>(bt * width) * es, rows_type,
                                       buf.size());
      for (i64 g = 0; g < G; ++g)
        for (i64 h = 0; h < H; ++h)
          std::copy_n(row + (g * H + h) * D, D, slabs + g * slab + ((b * H + h) * T + t) * D);
    }
  });
}

template <typename U>
void from_heads(void* rows, DType rows_type, const U* slabs, i64 B, i64 T, i64 G, i64 H, i64 D) {
  const std::size_t es = size_of(rows_type);
  auto* dst = static_cast<unsigned char*>(rows);
  const i64 width = G * H * D, slab = B * H * T * D;
  runtime::parallel_for(static_cast<std::size_t>(B * T), 64, [&](std::size_t lo, std::size_t hi) {
    std::vector<U> buf(static_cast<std::size_t>(width));
    const bool same = rows_type == dtype_of<U>();  // then written in place, no conversion
    for (std::size_t r = lo; r < hi; ++r) {
      const auto bt = static_cast<i64>(r), b = bt / T, t = bt % T;
      unsigned char* p = dst + static_cast<std::size_t>(bt * width) * es;
      U* row = same ? reinterpret_cast<U*>(p) : buf.data();
      for (i64 g = 0; g < G; ++g)
        for (i64 h = 0; h < H; ++h)
          std::copy_n(slabs + g * slab + ((b * H + h) * T + t) * D, D, row + (g * H + h) * D);
      if (!same) numerics::encode(p, rows_type, buf.data(), buf.size());
    }
  });
}

template void to_heads<float>(float*, const void*, DType, i64, i64, i64, i64, i64);
template void to_heads<double>(double*, const void*, DType, i64, i64, i64, i64, i64);
template void from_heads<float>(void*, DType, const float*, i64, i64, i64, i64, i64);
template void from_heads<double>(void*, DType, const double*, i64, i64, i64, i64, i64);

// Rows split over the pool (embedding lookups of 16- and 8-bit tables).
void gather_rows(void* dst, const void* table, std::size_t row_bytes, const std::int64_t* ids, std::int64_t N) {
  auto* d = static_cast<unsigned char*>(dst);
  const auto* t = static_cast<const unsigned char*>(table);
  runtime::parallel_for(static_cast<std::size_t>(N), 256, [&](std::size_t b, std::size_t e) {
    for (std::size_t i = b; i < e; ++i) std::memcpy(d + i * row_bytes, t + static_cast<std::size_t>(ids[i]) * row_bytes, row_bytes);
  });
}

// One memcpy per row on the calling thread: slices and concats move activation-sized blocks
// whose rows are long (the whole trailing extent), so the copy runs at memory speed already.
void copy_rows(void* dst, std::size_t dst_stride, const void* src, std::size_t src_stride, std::int64_t rows,
               std::size_t row_bytes) {
  auto* d = static_cast<unsigned char*>(dst);
  const auto* s = static_cast<const unsigned char*>(src);
  for (std::int64_t r = 0; r < rows; ++r)
    std::memcpy(d + static_cast<std::size_t>(r) * dst_stride, s + static_cast<std::size_t>(r) * src_stride, row_bytes);
}

}  // namespace mixtrain::backend::cpu
