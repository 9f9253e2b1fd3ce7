// Layer-norm kernels (layernorm.h). The forward is one parallel pass over rows; the backward
// first reduces dgamma/dbeta over column blocks (reads dout before dx may overwrite it), then
// computes dx row by row.
#include "kernels/cpu/layernorm.h"

#include <cmath>

#include "kernels/cpu/parallel_cols.h"
#include "kernels/cpu/parallel_rows.h"
#include "kernels/cpu/vec_math.h"

namespace mixtrain::kernels::cpu {

using i64 = std::int64_t;

template <typename T>
void layer_norm_forward(T* out, T* mean, T* rstd, const T* x, const T* gamma, const T* beta, i64 N,
                        i64 C, T eps) {
  if (C <= 0) return;
  detail::for_rows(N, C, [&](i64 n) {
    const T* xr = x + n * C;
    T* o = out + n * C;
    const T m = vec::sum(xr, C) / static_cast<T>(C);
    T acc[8] = {};
    i64 i = 0;
    for (; i + 8 <= C; i += 8)
      for (int l = 0; l < 8; ++l) acc[l] += (xr[i + l] - m) * (xr[i + l] - m);
    for (; i < C; ++i) acc[0] += (xr[i] - m) * (xr[i] - m);
    const T var =
        (((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]))) /
        static_cast<T>(C);
    const T r = T(1) / std::sqrt(var + eps);
    mean[n] = m;
    rstd[n] = r;
    if (gamma && beta)
      for (i64 c = 0; c < C; ++c) o[c] = (xr[c] - m) * r * gamma[c] + beta[c];
    else if (gamma)
      for (i64 c = 0; c < C; ++c) o[c] = (xr[c] - m) * r * gamma[c];
    else
      for (i64 c = 0; c < C; ++c) o[c] = (xr[c] - m) * r + (beta ? beta[c] : T(0));
  });
}

template <typename T>
void layer_norm_backward(T* dx, T* dgamma, T* dbeta, const T* dout, const T* x, const T* mean,
                         const T* rstd, const T* gamma, i64 N, i64 C) {
  if (C <= 0) return;
  if (dgamma || dbeta)
    detail::for_col_blocks(C, N, [&](i64 c0, i64 c1) {
      for (i64 c = c0; c < c1; ++c) {
        if (dgamma) dgamma[c] = 0;
        if (dbeta) dbeta[c] = 0;
      }
      for (i64 n = 0; n < N; ++n) {
        const T* d = dout + n * C;
        const T* xr = x + n * C;
        const T m = mean[n], r = rstd[n];
        if (dgamma)
          for (i64 c = c0; c < c1; ++c) dgamma[c] += d[c] * ((xr[c] - m) * r);
        if (dbeta)
          for (i64 c = c0; c < c1; ++c) dbeta[c] += d[c];
      }
    });
  detail::for_rows(N, C, [&](i64 n) {
    const T* d = dout + n * C;
    const T* xr = x + n * C;
    T* o = dx + n * C;
    const T m = mean[n], r = rstd[n];
    T sg[8] = {}, sgx[8] = {};
    i64 i = 0;
    for (; i + 8 <= C; i += 8)
      for (int l = 0; l < 8; ++l) {
        const T g = d[i + l] * (gamma ? gamma[i + l] : T(1));
        sg[l] += g;
        sgx[l] += g * ((xr[i + l] - m) * r);
      }
    for (; i < C; ++i) {
      const T g = d[i] * (gamma ? gamma[i] : T(1));
      sg[0] += g;
      sgx[0] += g * ((xr[i] - m) * r);
    }
    const T inv_c = T(1) / static_cast<T>(C);
    const T mg = (((sg[0] + sg[4]) + (sg[1] + sg[5])) + ((sg[2] + sg[6]) + (sg[3] + sg[7]))) * inv_c;
    const T mgx =
        (((sgx[0] + sgx[4]) + (sgx[1] + sgx[5])) + ((sgx[2] + sgx[6]) + (sgx[3] + sgx[7]))) * inv_c;
    for (i64 c = 0; c < C; ++c) {
      const T g = d[c] * (gamma ? gamma[c] : T(1));
      o[c] = r * (g - mg - ((xr[c] - m) * r) * mgx);
    }
  });
}

template <typename T>
void layer_norm_forward_naive(T* out, T* mean, T* rstd, const T* x, const T* gamma, const T* beta,
                              i64 N, i64 C, T eps) {
  for (i64 n = 0; n < N; ++n) {
    T m = 0;
    for (i64 c = 0; c < C; ++c) m += x[n * C + c];
    m /= static_cast<T>(C);
    T v = 0;
    for (i64 c = 0; c < C; ++c) v += (x[n * C + c] - m) * (x[n * C + c] - m);
    v /= static_cast<T>(C);
    const T r = T(1) / std::sqrt(v + eps);
    mean[n] = m;
    rstd[n] = r;
    for (i64 c = 0; c < C; ++c)
      out[n * C + c] = (x[n * C + c] - m) * r * (gamma ? gamma[c] : T(1)) + (beta ? beta[c] : T(0));
  }
}

template <typename T>
void layer_norm_backward_naive(T* dx, T* dgamma, T* dbeta, const T* dout, const T* x,
                               const T* mean, const T* rstd, const T* gamma, i64 N, i64 C) {
  for (i64 c = 0; c < C; ++c) {
    if (dgamma) dgamma[c] = 0;
    if (dbeta) dbeta[c] = 0;
  }
  for (i64 n = 0; n < N; ++n) {
    T mg = 0, mgx = 0;
    for (i64 c = 0; c < C; ++c) {
      const T xhat = (x[n * C + c] - mean[n]) * rstd[n];
      const T g = dout[n * C + c] * (gamma ? gamma[c] : T(1));
      mg += g;
      mgx += g * xhat;
      if (dgamma) dgamma[c] += dout[n * C + c] * xhat;
      if (dbeta) dbeta[c] += dout[n * C + c];
    }
    mg /= static_cast<T>(C);
    mgx /= static_cast<T>(C);
    for (i64 c = 0; c < C; ++c) {
      const T xhat = (x[n * C + c] - mean[n]) * rstd[n];
      const T g = dout[n * C + c] * (gamma ? gamma[c] : T(1));
      dx[n * C + c] = rstd[n] * (g - mg - xhat * mgx);
    }
  }
}

#define MIXTRAIN_LN_INSTANTIATE(T)                                                              \
  template void layer_norm_forward<T>(T*, T*, T*, const T*, const T*, const T*, i64, i64, T);  \
  template void layer_norm_backward<T>(T*, T*, T*, const T*, const T*, const T*, const T*,     \
                                       const T*, i64, i64);                                    \
  template void layer_norm_forward_naive<T>(T*, T*, T*, const T*, const T*, const T*, i64, i64, \
                                            T);                                                \
  template void layer_norm_backward_naive<T>(T*, T*, T*, const T*, const T*, const T*,         \
                                             const T*, const T*, i64, i64);
MIXTRAIN_LN_INSTANTIATE(float)
MIXTRAIN_LN_INSTANTIATE(double)
#undef MIXTRAIN_LN_INSTANTIATE

}  // namespace mixtrain::kernels::cpu
