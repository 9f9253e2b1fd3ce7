// Reference 2-D convolution (direct loops, no im2col) and pooling (NCHW, zero padding).
// Convolution summation order: out[n, o, oh, ow] = (sum over c, then kh, then kw, from 0) + bias;
// the backward visits (n, o, oh, ow) in that order and adds each tap's contribution to dx, dw
// and db as it goes. Pooling is an exact family: the window is walked kh, then kw, skipping
// padding, the average is sum * (1 / (KH * KW)) (padding counts in the divisor) and ties keep the
// first maximum, exactly as the cpu backend computes them.
#include <algorithm>
#include <limits>

#include "backend/reference/scalar.h"
#include "runtime/error.h"

namespace mixtrain::backend::reference {
namespace {

void validate(const Conv2dShape& s) {
  check(s.stride > 0 && s.pad >= 0, "conv2d: stride must be > 0 and padding >= 0");
  check(s.N >= 0 && s.C > 0 && s.OC > 0 && s.KH > 0 && s.KW > 0, "conv2d: bad shape");
  check(s.H + 2 * s.pad >= s.KH && s.W + 2 * s.pad >= s.KW, "conv2d: kernel larger than input");
}

void validate(const Pool2dShape& s) {
  check(s.stride > 0 && s.KH > 0 && s.KW > 0 && s.pad >= 0, "pool2d: bad kernel/stride/pad");
  check(2 * s.pad <= s.KH && 2 * s.pad <= s.KW, "pool2d: padding must be at most half the kernel");
  check(s.H + 2 * s.pad >= s.KH && s.W + 2 * s.pad >= s.KW, "pool2d: kernel larger than input");
}

}  // namespace

template <typename T>
void conv2d_forward(T* out, const T* x, const T* w, const T* bias, const Conv2dShape& s) {
  validate(s);
  const i64 OH = s.oh(), OW = s.ow();
  for (i64 n = 0; n < s.N; ++n)
    for (i64 o = 0; o < s.OC; ++o)
      for (i64 oh = 0; oh < OH; ++oh)
        for (i64 ow = 0; ow < OW; ++ow) {
          T acc = 0;
          for (i64 c = 0; c < s.C; ++c)
            for (i64 kh = 0; kh < s.KH; ++kh)
              for (i64 kw = 0; kw < s.KW; ++kw) {
                const i64 ih = oh * s.stride - s.pad + kh, iw = ow * s.stride - s.pad + kw;
                if (ih < 0 || ih >= s.H || iw < 0 || iw >= s.W) continue;
                acc += x[((n * s.C + c) * s.H + ih) * s.W + iw] * w[((o * s.C + c) * s.KH + kh) * s.KW + kw];
              }
          out[((n * s.OC + o) * OH + oh) * OW + ow] = acc + (bias ? bias[o] : T(0));
        }
}

template <typename T>
void conv2d_backward(T* dx, T* dw, T* db, const T* dout, const T* x, const T* w, const Conv2dShape& s) {
  validate(s);
  const i64 OH = s.oh(), OW = s.ow();
  if (dx) std::fill(dx, dx + s.N * s.C * s.H * s.W, T(0));
  if (dw) std::fill(dw, dw + s.OC * s.C * s.KH * s.KW, T(0));
  if (db) std::fill(db, db + s.OC, T(0));
  for (i64 n = 0; n < s.N; ++n)
    for (i64 o = 0; o < s.OC; ++o)
      for (i64 oh = 0; oh < OH; ++oh)
        for (i64 ow = 0; ow < OW; ++ow) {
          const T g = dout[((n * s.OC + o) * OH + oh) * OW + ow];
          if (db) db[o] += g;
          for (i64 c = 0; c < s.C; ++c)
            for (i64 kh = 0; kh < s.KH; ++kh)
              for (i64 kw = 0; kw < s.KW; ++kw) {
                const i64 ih = oh * s.stride - s.pad + kh, iw = ow * s.stride - s.pad + kw;
                if (ih < 0 || ih >= s.H || iw < 0 || iw >= s.W) continue;
                const i64 xi = ((n * s.C + c) * s.H + ih) * s.W + iw;
                const i64 wi = ((o * s.C + c) * s.KH + kh) * s.KW + kw;
                if (dx) dx[xi] += g * w[wi];
                if (dw) dw[wi] += g * x[xi];
              }
        }
}

// argmax: index h * W + w within the plane; the first NaN wins (as PyTorch), else the first max.
template <typename T>
void max_pool2d_forward(T* out, i64* argmax, const T* x, const Pool2dShape& s) {
  validate(s);
  const i64 OH = s.oh(), OW = s.ow();
  for (i64 p = 0; p < s.N * s.C; ++p)
    for (i64 oh = 0; oh < OH; ++oh)
      for (i64 ow = 0; ow < OW; ++ow) {
        T best = -std::numeric_limits<T>::infinity();
        i64 bi = -1;
        for (i64 kh = 0; kh < s.KH; ++kh)
          for (i64 kw = 0; kw < s.KW; ++kw) {
            const i64 h = oh * s.stride - s.pad + kh, w = ow * s.stride - s.pad + kw;
            if (h < 0 || h >= s.H || w < 0 || w >= s.W) continue;
            const T v = x[p * s.H * s.W + h * s.W + w];
            if (bi < 0 || v > best || (v != v && best == best)) {
              best = v;
              bi = h * s.W + w;
            }
          }
        out[p * OH * OW + oh * OW + ow] = best;
        argmax[p * OH * OW + oh * OW + ow] = bi;
      }
}

// dx = dout routed to the argmax positions, outputs of each plane in order.
template <typename T>
void max_pool2d_backward(T* dx, const T* dout, const i64* argmax, const Pool2dShape& s) {
  validate(s);
  const i64 P = s.oh() * s.ow();
  std::fill(dx, dx + s.N * s.C * s.H * s.W, T(0));
  for (i64 p = 0; p < s.N * s.C; ++p)
    for (i64 i = 0; i < P; ++i) dx[p * s.H * s.W + argmax[p * P + i]] += dout[p * P + i];
}

template <typename T>
void avg_pool2d_forward(T* out, const T* x, const Pool2dShape& s) {
  validate(s);
  const i64 OH = s.oh(), OW = s.ow();
  const T inv = T(1) / static_cast<T>(s.KH * s.KW);
  for (i64 p = 0; p < s.N * s.C; ++p)
    for (i64 oh = 0; oh < OH; ++oh)
      for (i64 ow = 0; ow < OW; ++ow) {
        T acc = 0;
        for (i64 kh = 0; kh < s.KH; ++kh)
          for (i64 kw = 0; kw < s.KW; ++kw) {
            const i64 h = oh * s.stride - s.pad + kh, w = ow * s.stride - s.pad + kw;
            if (h >= 0 && h < s.H && w >= 0 && w < s.W) acc += x[p * s.H * s.W + h * s.W + w];
          }
        out[p * OH * OW + oh * OW + ow] = acc * inv;
      }
}

// dx[h, w] = sum over the windows that cover it, in output order, of dout * (1 / (KH * KW)).
template <typename T>
void avg_pool2d_backward(T* dx, const T* dout, const Pool2dShape& s) {
  validate(s);
  const i64 OH = s.oh(), OW = s.ow();
  const T inv = T(1) / static_cast<T>(s.KH * s.KW);
  std::fill(dx, dx + s.N * s.C * s.H * s.W, T(0));
  for (i64 p = 0; p < s.N * s.C; ++p)
    for (i64 oh = 0; oh < OH; ++oh)
      for (i64 ow = 0; ow < OW; ++ow) {
        const T g = dout[p * OH * OW + oh * OW + ow] * inv;
        for (i64 kh = 0; kh < s.KH; ++kh)
          for (i64 kw = 0; kw < s.KW; ++kw) {
            const i64 h = oh * s.stride - s.pad + kh, w = ow * s.stride - s.pad + kw;
            if (h >= 0 && h < s.H && w >= 0 && w < s.W) dx[p * s.H * s.W + h * s.W + w] += g;
          }
      }
}

#define MIXTRAIN_REF_CONV_POOL(T)                                                                   \
  template void conv2d_forward<T>(T*, const T*, const T*, const T*, const Conv2dShape&);           \
  template void conv2d_backward<T>(T*, T*, T*, const T*, const T*, const T*, const Conv2dShape&); \
  template void max_pool2d_forward<T>(T*, i64*, const T*, const Pool2dShape&);                     \
  template void max_pool2d_backward<T>(T*, const T*, const i64*, const Pool2dShape&);              \
  template void avg_pool2d_forward<T>(T*, const T*, const Pool2dShape&);                           \
  template void avg_pool2d_backward<T>(T*, const T*, const Pool2dShape&);
MIXTRAIN_REF_CONV_POOL(float)
MIXTRAIN_REF_CONV_POOL(double)
#undef MIXTRAIN_REF_CONV_POOL

}  // namespace mixtrain::backend::reference
