// Convolution kernels (conv.h). Forward and dx run one image per task (each with its own im2col
// scratch, GEMM single-threaded inside the task); with a single image the GEMM itself spreads
// over the pool. dw is a sum over images, done in image order with beta = 1 for determinism.
#include "backend/cpu/conv.h"

#include <algorithm>
#include <cstring>

#include "backend/cpu/gemm.h"
#include "backend/cpu/workspace.h"
#include "runtime/error.h"
#include "runtime/parallel.h"

namespace mixtrain::backend::cpu {
namespace {

using i64 = std::int64_t;

void validate(const Conv2dShape& s) {
  check(s.stride > 0 && s.pad >= 0, "conv2d: stride must be > 0 and padding >= 0");
  check(s.N >= 0 && s.C > 0 && s.OC > 0 && s.KH > 0 && s.KW > 0, "conv2d: bad shape");
  check(s.H + 2 * s.pad >= s.KH && s.W + 2 * s.pad >= s.KW, "conv2d: kernel larger than input");
}

// A 1x1 kernel with stride 1 and no padding needs no im2col: the image is its own column matrix.
bool pointwise(const Conv2dShape& s) {
  return s.KH == 1 && s.KW == 1 && s.stride == 1 && s.pad == 0;
}

template <typename T>
void for_images(i64 N, const auto& fn) {
  runtime::parallel_for(static_cast<std::size_t>(N), 1, [&](std::size_t b, std::size_t e) {
    for (std::size_t n = b; n < e; ++n) fn(static_cast<i64>(n));
  });
}

}  // namespace

template <typename T>
void im2col(T* col, const T* x, const Conv2dShape& s) {
  const i64 OH = s.oh(), OW = s.ow();
  for (i64 c = 0; c < s.C; ++c)
    for (i64 kh = 0; kh < s.KH; ++kh)
      for (i64 kw = 0; kw < s.KW; ++kw) {
        T* row = col + ((c * s.KH + kh) * s.KW + kw) * OH * OW;
        for (i64 oh = 0; oh < OH; ++oh) {
          const i64 ih = oh * s.stride - s.pad + kh;
          T* dst = row + oh * OW;
          if (ih < 0 || ih >= s.H) {
            std::fill(dst, dst + OW, T(0));
            continue;
          }
          const T* src = x + (c * s.H + ih) * s.W;
          for (i64 ow = 0; ow < OW; ++ow) {
            const i64 iw = ow * s.stride - s.pad + kw;
            dst[ow] = (iw >= 0 && iw < s.W) ? src[iw] : T(0);
          }
        }
      }
}

template <typename T>
void col2im(T* dx, const T* col, const Conv2dShape& s) {
  const i64 OH = s.oh(), OW = s.ow();
  for (i64 c = 0; c < s.C; ++c)
    for (i64 kh = 0; kh < s.KH; ++kh)
      for (i64 kw = 0; kw < s.KW; ++kw) {
        const T* row = col + ((c * s.KH + kh) * s.KW + kw) * OH * OW;
        for (i64 oh = 0; oh < OH; ++oh) {
          const i64 ih = oh * s.stride - s.pad + kh;
          if (ih < 0 || ih >= s.H) continue;
          T* dst = dx + (c * s.H + ih) * s.W;
          for (i64 ow = 0; ow < OW; ++ow) {
            const i64 iw = ow * s.stride - s.pad + kw;
            if (iw >= 0 && iw < s.W) dst[iw] += row[oh * OW + ow];
          }
        }
      }
}

template <typename T>
void conv2d_forward(T* out, const T* x, const T* w, const T* bias, const Conv2dShape& s) {
  validate(s);
  const i64 K = s.col_rows(), P = s.col_cols();
  const DType dt = dtype_of<T>();
  for_images<T>(s.N, [&](i64 n) {
    const T* xn = x + n * s.C * s.H * s.W;
    T* on = out + n * s.OC * P;
    const T* col = xn;
    if (!pointwise(s)) {
      T* c = thread_scratch<T>(Scratch::col, static_cast<std::size_t>(K * P));
      im2col(c, xn, s);
      col = c;
    }
    // out_n (OC, P) = w (OC, K) col (K, P)
    gemm(s.OC, P, K, 1.0f, {w, dt, K}, {col, dt, P}, 0.0f, {on, dt, P});
    if (bias)
      for (i64 o = 0; o < s.OC; ++o)
        for (i64 p = 0; p < P; ++p) on[o * P + p] += bias[o];
  });
}

template <typename T>
void conv2d_backward(T* dx, T* dw, T* db, const T* dout, const T* x, const T* w,
                     const Conv2dShape& s) {
  validate(s);
  const i64 K = s.col_rows(), P = s.col_cols(), img = s.C * s.H * s.W;
  const DType dt = dtype_of<T>();
  if (db) {
    for (i64 o = 0; o < s.OC; ++o) db[o] = T(0);
    for (i64 n = 0; n < s.N; ++n)
      for (i64 o = 0; o < s.OC; ++o) {
        const T* d = dout + (n * s.OC + o) * P;
        T acc = 0;
        for (i64 p = 0; p < P; ++p) acc += d[p];
        db[o] += acc;
      }
  }
  if (dw) {
    if (s.N == 0) std::fill(dw, dw + s.OC * K, T(0));
    // dw (OC, K) += dout_n (OC, P) col_n^T (P, K), images in order; the GEMM is parallel.
    T* col = pointwise(s) ? nullptr : thread_scratch<T>(Scratch::col2, static_cast<std::size_t>(K * P));
    for (i64 n = 0; n < s.N; ++n) {
      const T* cn = x + n * img;
      if (col) {
        im2col(col, x + n * img, s);
        cn = col;
      }
      gemm(s.OC, K, P, 1.0f, {dout + n * s.OC * P, dt, P}, {cn, dt, P, true}, n == 0 ? 0.0f : 1.0f,
           {dw, dt, K});
    }
  }
  if (dx) {
    for_images<T>(s.N, [&](i64 n) {
      T* dxn = dx + n * img;
      const T* dn = dout + n * s.OC * P;
      if (pointwise(s)) {  // dx_n (C, P) = w^T (C, OC) dout_n (OC, P)
        gemm(K, P, s.OC, 1.0f, {w, dt, K, true}, {dn, dt, P}, 0.0f, {dxn, dt, P});
        return;
      }
      T* dcol = thread_scratch<T>(Scratch::col, static_cast<std::size_t>(K * P));
      gemm(K, P, s.OC, 1.0f, {w, dt, K, true}, {dn, dt, P}, 0.0f, {dcol, dt, P});
      std::fill(dxn, dxn + img, T(0));
      col2im(dxn, dcol, s);
    });
  }
}

#define MIXTRAIN_CONV_INSTANTIATE(T)                                                          \
  template void im2col<T>(T*, const T*, const Conv2dShape&);                                 \
  template void col2im<T>(T*, const T*, const Conv2dShape&);                                 \
  template void conv2d_forward<T>(T*, const T*, const T*, const T*, const Conv2dShape&);     \
  template void conv2d_backward<T>(T*, T*, T*, const T*, const T*, const T*,                 \
                                   const Conv2dShape&);
MIXTRAIN_CONV_INSTANTIATE(float)
MIXTRAIN_CONV_INSTANTIATE(double)
#undef MIXTRAIN_CONV_INSTANTIATE

}  // namespace mixtrain::backend::cpu
