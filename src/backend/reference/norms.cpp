// Reference layer and batch normalisation, in T (fp32 or fp64), biased variance, two passes
// (mean, then the centred squares). Summation order:
//  - LayerNorm: each row's sums over c = 0..C-1 from 0; dgamma/dbeta add rows n = 0..N-1.
//  - BatchNorm: each channel's sums over n = 0..N-1, then i = 0..HW-1 within (n, c), from 0.
// Everything else is per element; batch_norm_inv_std and the evaluation forward are written as
// the cpu backend writes them (x * (rstd * gamma) + (beta - mean * rstd * gamma)), so they match
// it exactly.
#include <cmath>
#include <vector>

#include "backend/reference/scalar.h"
#include "runtime/error.h"

namespace mixtrain::backend::reference {

template <typename T>
void layer_norm_forward(T* out, T* mean, T* rstd, const T* x, const T* gamma, const T* beta, i64 N, i64 C, T eps) {
  for (i64 n = 0; n < N; ++n) {
    const T* xr = x + n * C;
    T m = 0;
    for (i64 c = 0; c < C; ++c) m += xr[c];
    m /= static_cast<T>(C);
    T v = 0;
    for (i64 c = 0; c < C; ++c) v += (xr[c] - m) * (xr[c] - m);
    v /= static_cast<T>(C);
    const T r = T(1) / std::sqrt(v + eps);
    mean[n] = m;
    rstd[n] = r;
    for (i64 c = 0; c < C; ++c)
      out[n * C + c] = (xr[c] - m) * r * (gamma ? gamma[c] : T(1)) + (beta ? beta[c] : T(0));
  }
}

// dx = rstd * (g - mean_c(g) - xhat * mean_c(g * xhat)), g = dout * gamma.
template <typename T>
void layer_norm_backward(T* dx, T* dgamma, T* dbeta, const T* dout, const T* x, const T* mean, const T* rstd,
                         const T* gamma, i64 N, i64 C) {
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
    for (i64 c = 0; c < C; ++c) {  // dx may alias dout: each element is read before it is written
      const T xhat = (x[n * C + c] - mean[n]) * rstd[n];
      const T g = dout[n * C + c] * (gamma ? gamma[c] : T(1));
      dx[n * C + c] = rstd[n] * (g - mg - xhat * mgx);
    }
  }
}

template <typename T>
void batch_norm_forward_train(T* out, T* mean, T* rstd, T* running_mean, T* running_var, const T* x, const T* gamma,
                              const T* beta, i64 N, i64 C, i64 HW, T momentum, T eps) {
  const i64 M = N * HW;
  check(M >= 1, "batch_norm: no values per channel");
  check(!running_var || M >= 2, "batch_norm: the running variance needs >= 2 values per channel");
  for (i64 c = 0; c < C; ++c) {
    T m = 0;
    for (i64 n = 0; n < N; ++n)
      for (i64 i = 0; i < HW; ++i) m += x[(n * C + c) * HW + i];
    m /= static_cast<T>(M);
    T v = 0;
    for (i64 n = 0; n < N; ++n)
      for (i64 i = 0; i < HW; ++i) {
        const T d = x[(n * C + c) * HW + i] - m;
        v += d * d;
      }
    const T r = T(1) / std::sqrt(v / static_cast<T>(M) + eps);
    mean[c] = m;
    rstd[c] = r;
    if (running_mean) running_mean[c] = (T(1) - momentum) * running_mean[c] + momentum * m;
    if (running_var) running_var[c] = (T(1) - momentum) * running_var[c] + momentum * (v / static_cast<T>(M - 1));
    for (i64 n = 0; n < N; ++n)
      for (i64 i = 0; i < HW; ++i) {
        const i64 j = (n * C + c) * HW + i;
        out[j] = (x[j] - m) * r * (gamma ? gamma[c] : T(1)) + (beta ? beta[c] : T(0));
      }
  }
}

template <typename T>
void batch_norm_forward_eval(T* out, const T* x, const T* gamma, const T* beta, const T* running_mean,
                             const T* running_var, i64 N, i64 C, i64 HW, T eps) {
  for (i64 c = 0; c < C; ++c) {
    const T r = T(1) / std::sqrt(running_var[c] + eps);
    const T g = gamma ? gamma[c] : T(1), b = beta ? beta[c] : T(0);
    const T scale = r * g, shift = b - running_mean[c] * r * g;
    for (i64 n = 0; n < N; ++n)
      for (i64 i = 0; i < HW; ++i) out[(n * C + c) * HW + i] = x[(n * C + c) * HW + i] * scale + shift;
  }
}

// With M = N * HW: dbeta = sum dout, dgamma = sum dout * xhat,
// dx = gamma * rstd / M * (M dout - dbeta - xhat dgamma).
template <typename T>
void batch_norm_backward(T* dx, T* dgamma, T* dbeta, const T* dout, const T* x, const T* mean, const T* rstd,
                         const T* gamma, i64 N, i64 C, i64 HW) {
  const i64 M = N * HW;
  for (i64 c = 0; c < C; ++c) {
    T db = 0, dg = 0;
    for (i64 n = 0; n < N; ++n)
      for (i64 i = 0; i < HW; ++i) {
        const i64 j = (n * C + c) * HW + i;
        db += dout[j];
        dg += dout[j] * (x[j] - mean[c]) * rstd[c];
      }
    if (dgamma) dgamma[c] = dg;
    if (dbeta) dbeta[c] = db;
    for (i64 n = 0; n < N; ++n)
      for (i64 i = 0; i < HW; ++i) {
        const i64 j = (n * C + c) * HW + i;
        const T xhat = (x[j] - mean[c]) * rstd[c];
        dx[j] = (gamma ? gamma[c] : T(1)) * rstd[c] / static_cast<T>(M) * (static_cast<T>(M) * dout[j] - db - xhat * dg);
      }
  }
}

template <typename T>
void batch_norm_inv_std(T* rstd, const T* var, i64 C, T eps) {
  for (i64 c = 0; c < C; ++c) rstd[c] = T(1) / std::sqrt(var[c] + eps);
}

// Fixed statistics: dx = dout * (gamma * rstd), dgamma = sum dout * (x - mean) * rstd,
// dbeta = sum dout.
template <typename T>
void batch_norm_backward_frozen(T* dx, T* dgamma, T* dbeta, const T* dout, const T* x, const T* mean, const T* rstd,
                                const T* gamma, i64 N, i64 C, i64 HW) {
  for (i64 c = 0; c < C; ++c) {
    const T a = (gamma ? gamma[c] : T(1)) * rstd[c];
    T sg = 0, sgx = 0;
    for (i64 n = 0; n < N; ++n)
      for (i64 i = 0; i < HW; ++i) {
        const i64 j = (n * C + c) * HW + i;
        dx[j] = dout[j] * a;
        sg += dout[j];
        sgx += dout[j] * (x[j] - mean[c]) * rstd[c];
      }
    if (dgamma) dgamma[c] = sgx;
    if (dbeta) dbeta[c] = sg;
  }
}

#define MIXTRAIN_REF_NORMS(T)                                                                                 \
  template void layer_norm_forward<T>(T*, T*, T*, const T*, const T*, const T*, i64, i64, T);                \
  template void layer_norm_backward<T>(T*, T*, T*, const T*, const T*, const T*, const T*, const T*, i64, i64); \
  template void batch_norm_forward_train<T>(T*, T*, T*, T*, T*, const T*, const T*, const T*, i64, i64, i64, T, T); \
  template void batch_norm_forward_eval<T>(T*, const T*, const T*, const T*, const T*, const T*, i64, i64, i64, T); \
  template void batch_norm_backward<T>(T*, T*, T*, const T*, const T*, const T*, const T*, const T*, i64, i64, i64); \
  template void batch_norm_inv_std<T>(T*, const T*, i64, T);                                                 \
  template void batch_norm_backward_frozen<T>(T*, T*, T*, const T*, const T*, const T*, const T*, const T*, i64, \
                                              i64, i64);
MIXTRAIN_REF_NORMS(float)
MIXTRAIN_REF_NORMS(double)
#undef MIXTRAIN_REF_NORMS

// The mixed-dtype LayerNorm entries: decode, the fp32 loops above, round once.
namespace {
std::vector<float> decoded(const void* p, DType t, i64 n) {
  std::vector<float> v(static_cast<std::size_t>(n));
  for (i64 i = 0; i < n; ++i) v[static_cast<std::size_t>(i)] = load_f32(p, t, static_cast<std::size_t>(i));
  return v;
}
}  // namespace

void layer_norm_forward_from(void* out, DType out_type, float* mean, float* rstd, const void* x, DType x_type,
                             const float* gamma, const float* beta, i64 N, i64 C, float eps) {
  const std::vector<float> xf = decoded(x, x_type, N * C);
  std::vector<float> y(xf.size());
  layer_norm_forward<float>(y.data(), mean, rstd, xf.data(), gamma, beta, N, C, eps);
  for (std::size_t i = 0; i < y.size(); ++i) store_f32(out, out_type, i, y[i]);
}

void layer_norm_backward_from(float* dx, float* dgamma, float* dbeta, const void* dout, DType dout_type, const void* x,
                              DType x_type, const float* mean, const float* rstd, const float* gamma, i64 N, i64 C) {
  const std::vector<float> d = decoded(dout, dout_type, N * C), xf = decoded(x, x_type, N * C);
  layer_norm_backward<float>(dx, dgamma, dbeta, d.data(), xf.data(), mean, rstd, gamma, N, C);
}

}  // namespace mixtrain::backend::reference
