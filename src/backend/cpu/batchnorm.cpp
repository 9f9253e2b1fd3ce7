// Batch-norm kernels (batchnorm.h). One task per channel: its N runs of HW contiguous values are
// reduced with the 8-lane helpers, so the order of additions is fixed.
#include "backend/cpu/batchnorm.h"

#include <cmath>

#include "backend/cpu/vec_math.h"
#include "runtime/error.h"
#include "runtime/parallel.h"

namespace mixtrain::backend::cpu {
namespace {

using i64 = std::int64_t;

template <typename Fn>
void for_channels(i64 C, Fn&& fn) {
  runtime::parallel_for(static_cast<std::size_t>(C), 1, [&](std::size_t b, std::size_t e) {
    for (std::size_t c = b; c < e; ++c) fn(static_cast<i64>(c));
  });
}

template <typename T>
T channel_sum(const T* x, i64 N, i64 C, i64 HW, i64 c) {
  T s = 0;
  for (i64 n = 0; n < N; ++n) s += vec::sum(x + (n * C + c) * HW, HW);
  return s;
}

}  // namespace

template <typename T>
void batch_norm_forward_train(T* out, T* mean, T* rstd, T* running_mean, T* running_var,
                              const T* x, const T* gamma, const T* beta, i64 N, i64 C, i64 HW,
                              T momentum, T eps) {
  const i64 M = N * HW;
  check(M >= 1, "batch_norm: no values per channel");
  check(!running_var || M >= 2, "batch_norm: the running variance needs >= 2 values per channel");
  for_channels(C, [&](i64 c) {
    const T m = channel_sum(x, N, C, HW, c) / static_cast<T>(M);
    T v = 0;
    for (i64 n = 0; n < N; ++n) {
      const T* xr = x + (n * C + c) * HW;
      T acc[8] = {};
      i64 i = 0;
      for (; i + 8 <= HW; i += 8)
        for (int l = 0; l < 8; ++l) acc[l] += (xr[i + l] - m) * (xr[i + l] - m);
      for (; i < HW; ++i) acc[0] += (xr[i] - m) * (xr[i] - m);
      v += ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
    }
    const T var = v / static_cast<T>(M);
    const T r = T(1) / std::sqrt(var + eps);
    mean[c] = m;
    rstd[c] = r;
    if (running_mean) running_mean[c] = (T(1) - momentum) * running_mean[c] + momentum * m;
    if (running_var)
      running_var[c] = (T(1) - momentum) * running_var[c] + momentum * (v / static_cast<T>(M - 1));
    const T g = gamma ? gamma[c] : T(1), b = beta ? beta[c] : T(0);
    const T scale = r * g, shift = b - m * r * g;
    for (i64 n = 0; n < N; ++n) {
      const T* xr = x + (n * C + c) * HW;
      T* o = out + (n * C + c) * HW;
      for (i64 i = 0; i < HW; ++i) o[i] = xr[i] * scale + shift;
    }
  });
}

template <typename T>
void batch_norm_forward_eval(T* out, const T* x, const T* gamma, const T* beta,
                             const T* running_mean, const T* running_var, i64 N, i64 C, i64 HW,
                             T eps) {
  for_channels(C, [&](i64 c) {
    const T r = T(1) / std::sqrt(running_var[c] + eps);
    const T g = gamma ? gamma[c] : T(1), b = beta ? beta[c] : T(0);
    const T scale = r * g, shift = b - running_mean[c] * r * g;
    for (i64 n = 0; n < N; ++n) {
      const T* xr = x + (n * C + c) * HW;
      T* o = out + (n * C + c) * HW;
      for (i64 i = 0; i < HW; ++i) o[i] = xr[i] * scale + shift;
    }
  });
}

template <typename T>
void batch_norm_backward(T* dx, T* dgamma, T* dbeta, const T* dout, const T* x, const T* mean,
                         const T* rstd, const T* gamma, i64 N, i64 C, i64 HW) {
  const i64 M = N * HW;
  for_channels(C, [&](i64 c) {
    const T m = mean[c], r = rstd[c];
    // sum dout and sum dout * (x - mean): centred, so a large mean does not cancel.
    T sd = 0, sdx = 0;
    for (i64 n = 0; n < N; ++n) {
      const T* d = dout + (n * C + c) * HW;
      const T* xr = x + (n * C + c) * HW;
      sd += vec::sum(d, HW);
      T acc[8] = {};
      i64 i = 0;
      for (; i + 8 <= HW; i += 8)
        for (int l = 0; l < 8; ++l) acc[l] += d[i + l] * (xr[i + l] - m);
      for (; i < HW; ++i) acc[0] += d[i] * (xr[i] - m);
      sdx += ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
    }
    const T dg = sdx * r;  // sum dout * xhat
    if (dgamma) dgamma[c] = dg;
    if (dbeta) dbeta[c] = sd;
    const T k = (gamma ? gamma[c] : T(1)) * r / static_cast<T>(M);
    for (i64 n = 0; n < N; ++n) {
      const T* d = dout + (n * C + c) * HW;
      const T* xr = x + (n * C + c) * HW;
      T* o = dx + (n * C + c) * HW;
      for (i64 i = 0; i < HW; ++i)
        o[i] = k * (static_cast<T>(M) * d[i] - sd - (xr[i] - m) * r * dg);
    }
  });
}

template <typename T>
void batch_norm_inv_std(T* rstd, const T* var, i64 C, T eps) {
  for (i64 c = 0; c < C; ++c) rstd[c] = T(1) / std::sqrt(var[c] + eps);
}

template <typename T>
void batch_norm_backward_frozen(T* dx, T* dgamma, T* dbeta, const T* dout, const T* x, const T* mean,
                                const T* rstd, const T* gamma, i64 N, i64 C, i64 HW) {
  // Eval mode is affine per channel (y = x * a + c, a = gamma * rstd), so dx = dout * a.
  for_channels(C, [&](i64 c) {
    const T a = (gamma ? gamma[c] : T(1)) * rstd[c];
    T sg = 0, sgx = 0;
    for (i64 n = 0; n < N; ++n) {
      const i64 base = (n * C + c) * HW;
      for (i64 i = base; i < base + HW; ++i) {
        dx[i] = dout[i] * a;
        sg += dout[i];
        sgx += dout[i] * (x[i] - mean[c]) * rstd[c];
      }
    }
    if (dgamma) dgamma[c] = sgx;
    if (dbeta) dbeta[c] = sg;
  });
}

#define MIXTRAIN_BN_INSTANTIATE(T)                                                             \
  template void batch_norm_forward_train<T>(T*, T*, T*, T*, T*, const T*, const T*, const T*, \
                                            i64, i64, i64, T, T);                             \
  template void batch_norm_forward_eval<T>(T*, const T*, const T*, const T*, const T*,        \
                                           const T*, i64, i64, i64, T);                       \
  template void batch_norm_backward<T>(T*, T*, T*, const T*, const T*, const T*, const T*,    \
                                       const T*, i64, i64, i64);                              \
  template void batch_norm_inv_std<T>(T*, const T*, i64, T);                                   \
  template void batch_norm_backward_frozen<T>(T*, T*, T*, const T*, const T*, const T*,        \
                                              const T*, const T*, i64, i64, i64);
MIXTRAIN_BN_INSTANTIATE(float)
MIXTRAIN_BN_INSTANTIATE(double)
#undef MIXTRAIN_BN_INSTANTIATE

}  // namespace mixtrain::backend::cpu
