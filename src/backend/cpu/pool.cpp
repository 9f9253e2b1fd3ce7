// Pooling kernels (pool.h). The fast forms clip each window to the input once per output row and
// column instead of testing every tap (the reference backend tests every tap, same order).
#include "backend/cpu/pool.h"

#include <algorithm>
#include <limits>

#include "runtime/error.h"
#include "runtime/parallel.h"

namespace mixtrain::backend::cpu {
namespace {

using i64 = std::int64_t;

void validate(const Pool2dShape& s) {
  check(s.stride > 0 && s.KH > 0 && s.KW > 0 && s.pad >= 0, "pool2d: bad kernel/stride/pad");
  check(2 * s.pad <= s.KH && 2 * s.pad <= s.KW, "pool2d: padding must be at most half the kernel");
  check(s.H + 2 * s.pad >= s.KH && s.W + 2 * s.pad >= s.KW, "pool2d: kernel larger than input");
}

template <typename Fn>
void for_planes(const Pool2dShape& s, Fn&& fn) {
  const i64 planes = s.N * s.C;
  const i64 grain = std::max<i64>(1, 16384 / std::max<i64>(1, s.H * s.W));
  runtime::parallel_for(static_cast<std::size_t>(planes), static_cast<std::size_t>(grain),
                        [&](std::size_t b, std::size_t e) {
                          for (std::size_t p = b; p < e; ++p) fn(static_cast<i64>(p));
                        });
}

// Input range [lo, hi) of the window starting at o * stride - pad, clipped to [0, size).
inline void clip(i64 o, i64 stride, i64 pad, i64 k, i64 size, i64& lo, i64& hi) {
  const i64 start = o * stride - pad;
  lo = std::max<i64>(start, 0);
  hi = std::min<i64>(start + k, size);
}

}  // namespace

template <typename T>
void max_pool2d_forward(T* out, i64* argmax, const T* x, const Pool2dShape& s) {
  validate(s);
  const i64 OH = s.oh(), OW = s.ow();
  for_planes(s, [&](i64 p) {
    const T* xp = x + p * s.H * s.W;
    T* op = out + p * OH * OW;
    i64* ap = argmax + p * OH * OW;
    for (i64 oh = 0; oh < OH; ++oh) {
      i64 h0, h1;
      clip(oh, s.stride, s.pad, s.KH, s.H, h0, h1);
      for (i64 ow = 0; ow < OW; ++ow) {
        i64 w0, w1;
        clip(ow, s.stride, s.pad, s.KW, s.W, w0, w1);
        T best = -std::numeric_limits<T>::infinity();
        i64 bi = h0 * s.W + w0;
        for (i64 h = h0; h < h1; ++h)
          for (i64 w = w0; w < w1; ++w) {
            const T v = xp[h * s.W + w];
            if (v > best || (v != v && best == best)) {  // the first NaN wins, as in PyTorch
              best = v;
              bi = h * s.W + w;
            }
          }
        op[oh * OW + ow] = best;
        ap[oh * OW + ow] = bi;
      }
    }
  });
}

template <typename T>
void max_pool2d_backward(T* dx, const T* dout, const i64* argmax, const Pool2dShape& s) {
  validate(s);
  const i64 P = s.oh() * s.ow();
  for_planes(s, [&](i64 p) {
    T* dp = dx + p * s.H * s.W;
    std::fill(dp, dp + s.H * s.W, T(0));
    for (i64 i = 0; i < P; ++i) dp[argmax[p * P + i]] += dout[p * P + i];
  });
}

template <typename T>
void avg_pool2d_forward(T* out, const T* x, const Pool2dShape& s) {
  validate(s);
  const i64 OH = s.oh(), OW = s.ow();
  const T inv = T(1) / static_cast<T>(s.KH * s.KW);
  for_planes(s, [&](i64 p) {
    const T* xp = x + p * s.H * s.W;
    T* op = out + p * OH * OW;
    for (i64 oh = 0; oh < OH; ++oh) {
      i64 h0, h1;
      clip(oh, s.stride, s.pad, s.KH, s.H, h0, h1);
      for (i64 ow = 0; ow < OW; ++ow) {
        i64 w0, w1;
        clip(ow, s.stride, s.pad, s.KW, s.W, w0, w1);
        T acc = 0;
        for (i64 h = h0; h < h1; ++h)
          for (i64 w = w0; w < w1; ++w) acc += xp[h * s.W + w];
        op[oh * OW + ow] = acc * inv;
      }
    }
  });
}

template <typename T>
void avg_pool2d_backward(T* dx, const T* dout, const Pool2dShape& s) {
  validate(s);
  const i64 OH = s.oh(), OW = s.ow();
  const T inv = T(1) / static_cast<T>(s.KH * s.KW);
  for_planes(s, [&](i64 p) {
    T* dp = dx + p * s.H * s.W;
    const T* gp = dout + p * OH * OW;
    std::fill(dp, dp + s.H * s.W, T(0));
    for (i64 oh = 0; oh < OH; ++oh) {
      i64 h0, h1;
      clip(oh, s.stride, s.pad, s.KH, s.H, h0, h1);
      for (i64 ow = 0; ow < OW; ++ow) {
        i64 w0, w1;
        clip(ow, s.stride, s.pad, s.KW, s.W, w0, w1);
        const T g = gp[oh * OW + ow] * inv;
        for (i64 h = h0; h < h1; ++h)
          for (i64 w = w0; w < w1; ++w) dp[h * s.W + w] += g;
      }
    }
  });
}

#define MIXTRAIN_POOL_INSTANTIATE(T)                                                       \
  template void max_pool2d_forward<T>(T*, i64*, const T*, const Pool2dShape&);            \
  template void max_pool2d_backward<T>(T*, const T*, const i64*, const Pool2dShape&);     \
  template void avg_pool2d_forward<T>(T*, const T*, const Pool2dShape&);                  \
  template void avg_pool2d_backward<T>(T*, const T*, const Pool2dShape&);
MIXTRAIN_POOL_INSTANTIATE(float)
MIXTRAIN_POOL_INSTANTIATE(double)
#undef MIXTRAIN_POOL_INSTANTIATE

}  // namespace mixtrain::backend::cpu
