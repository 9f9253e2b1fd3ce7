// Layer-norm kernels (layernorm.h). The forward is one parallel pass over rows; the backward
// first reduces dgamma/dbeta over column blocks (reads dout before dx may overwrite it), then
// computes dx row by row. The row loops are layernorm_rows.h's, built here and, for fp32 on the
// avx512 tier, in layernorm_avx512.cpp (same bits).
#include "backend/cpu/layernorm.h"

#include <cmath>

#include <type_traits>

#include "backend/cpu/layernorm_rows.h"
#include "backend/cpu/parallel_cols.h"
#include "backend/cpu/parallel_rows.h"
#include "backend/cpu/workspace.h"
#include "backend/cpu/row_slice.h"
#include "numerics/convert.h"
#include "runtime/cpu_features.h"

namespace mixtrain::backend::cpu {

using i64 = std::int64_t;

namespace {

struct Portable {};  // this unit's tag for the row loops (layernorm_rows.h)

// The AVX-512 build of the fp32 rows where the tier allows (same bits), else the portable one.
template <typename T>
bool use_avx512() {
#if MIXTRAIN_HAVE_AVX512_KERNELS
  if constexpr (std::is_same_v<T, float>) return runtime::isa_at_least(runtime::IsaTier::avx512);
#endif
  return false;
}

}  // namespace

template <typename T>
void layer_norm_forward(T* out, T* mean, T* rstd, const T* x, const T* gamma, const T* beta, i64 N,
                        i64 C, T eps) {
  if (C <= 0) return;
  const bool wide = use_avx512<T>();
  detail::for_rows(N, C, [&](i64 n) {
    if constexpr (std::is_same_v<T, float>)
      if (wide) {
        detail::layer_norm_forward_row_avx512(out + n * C, mean + n, rstd + n, x + n * C, gamma, beta, C, eps);
        return;
      }
    detail::layer_norm_forward_row<Portable>(out + n * C, mean + n, rstd + n, x + n * C, gamma, beta, C, eps);
  });
}

template <typename T>
void layer_norm_backward(T* dx, T* dgamma, T* dbeta, const T* dout, const T* x, const T* mean,
                         const T* rstd, const T* gamma, i64 N, i64 C) {
  if (C <= 0) return;
  const bool wide = use_avx512<T>();
  if (dgamma || dbeta)
    detail::for_col_blocks(C, N, [&](i64 c0, i64 c1) {
      if constexpr (std::is_same_v<T, float>)
        if (wide) {
          detail::layer_norm_param_grads_avx512(dgamma, dbeta, dout, x, mean, rstd, N, C, c0, c1);
          return;
        }
      detail::layer_norm_param_grads<Portable>(dgamma, dbeta, dout, x, mean, rstd, N, C, c0, c1);
    });
  detail::for_rows(N, C, [&](i64 n) {
    if constexpr (std::is_same_v<T, float>)
      if (wide) {
        detail::layer_norm_backward_row_avx512(dx + n * C, dout + n * C, x + n * C, mean[n], rstd[n], gamma, C);
        return;
      }
    detail::layer_norm_backward_row<Portable>(dx + n * C, dout + n * C, x + n * C, mean[n], rstd[n], gamma, C);
  });
}

void layer_norm_forward_from(void* out, DType out_type, float* mean, float* rstd, const void* x, DType x_type,
                             const float* gamma, const float* beta, i64 N, i64 C, float eps) {
  if (C <= 0) return;
  const bool wide = use_avx512<float>();
  detail::for_rows(N, C, [&](i64 n) {
    const float* xr = detail::row_f32(thread_scratch<float>(Scratch::act_a, static_cast<std::size_t>(C)), x, x_type, n, C, 0, C);
    float* o = out_type == DType::fp32 ? static_cast<float*>(out) + n * C
                                       : thread_scratch<float>(Scratch::act_b, static_cast<std::size_t>(C));
    if (wide)
      detail::layer_norm_forward_row_avx512(o, mean + n, rstd + n, xr, gamma, beta, C, eps);
    else
      detail::layer_norm_forward_row<Portable>(o, mean + n, rstd + n, xr, gamma, beta, C, eps);
    if (out_type != DType::fp32)
      numerics::encode(static_cast<unsigned char*>(out) + static_cast<std::size_t>(n * C) * size_of(out_type), out_type,
                       o, static_cast<std::size_t>(C));
  });
}

void layer_norm_backward_from(float* dx, float* dgamma, float* dbeta, const void* dout, DType dout_type,
                              const void* x, DType x_type, const float* mean, const float* rstd, const float* gamma,
                              i64 N, i64 C) {
  if (C <= 0) return;
  const bool wide = use_avx512<float>();
  if (dgamma || dbeta)
    // layer_norm_param_grads's loops on decoded column slices: the same operations in the same
    // order, so the same sums.
    detail::for_col_blocks(C, N, [&](i64 c0, i64 c1) {
      const i64 len = c1 - c0;
      float* bd = thread_scratch<float>(Scratch::col, static_cast<std::size_t>(len));
      float* bx = thread_scratch<float>(Scratch::col2, static_cast<std::size_t>(len));
      float* dg = dgamma ? dgamma + c0 : nullptr;
      float* db = dbeta ? dbeta + c0 : nullptr;
      for (i64 c = 0; c < len; ++c) {
        if (dg) dg[c] = 0;
        if (db) db[c] = 0;
      }
      for (i64 n = 0; n < N; ++n) {
        const float* d = detail::row_f32(bd, dout, dout_type, n, C, c0, len);
        const float m = mean[n], r = rstd[n];
        if (dg) {
          const float* xr = detail::row_f32(bx, x, x_type, n, C, c0, len);
          for (i64 c = 0; c < len; ++c) dg[c] += d[c] * ((xr[c] - m) * r);
        }
        if (db)
          for (i64 c = 0; c < len; ++c) db[c] += d[c];
      }
    });
  detail::for_rows(N, C, [&](i64 n) {
    const float* d = detail::row_f32(thread_scratch<float>(Scratch::act_a, static_cast<std::size_t>(C)), dout, dout_type, n, C, 0, C);
    const float* xr = detail::row_f32(thread_scratch<float>(Scratch::act_b, static_cast<std::size_t>(C)), x, x_type, n, C, 0, C);
    if (wide)
      detail::layer_norm_backward_row_avx512(dx + n * C, d, xr, mean[n], rstd[n], gamma, C);
    else
      detail::layer_norm_backward_row<Portable>(dx + n * C, d, xr, mean[n], rstd[n], gamma, C);
  });
}

#if !MIXTRAIN_HAVE_AVX512_KERNELS
// Never called without the AVX-512 unit (use_avx512 is false); defined so the declarations link.
void detail::layer_norm_forward_row_avx512(float* o, float* mean, float* rstd, const float* xr, const float* gamma,
                                           const float* beta, i64 C, float eps) {
  layer_norm_forward_row<Portable>(o, mean, rstd, xr, gamma, beta, C, eps);
}
void detail::layer_norm_param_grads_avx512(float* dgamma, float* dbeta, const float* dout, const float* x,
                                           const float* mean, const float* rstd, i64 N, i64 C, i64 c0, i64 c1) {
  layer_norm_param_grads<Portable>(dgamma, dbeta, dout, x, mean, rstd, N, C, c0, c1);
}
void detail::layer_norm_backward_row_avx512(float* o, const float* d, const float* xr, float m, float r,
                                            const float* gamma, i64 C) {
  layer_norm_backward_row<Portable>(o, d, xr, m, r, gamma, C);
}
#endif

#define MIXTRAIN_LN_INSTANTIATE(T)                                                              \
  template void layer_norm_forward<T>(T*, T*, T*, const T*, const T*, const T*, i64, i64, T);  \
  template void layer_norm_backward<T>(T*, T*, T*, const T*, const T*, const T*, const T*,     \
                                       const T*, i64, i64);
MIXTRAIN_LN_INSTANTIATE(float)
MIXTRAIN_LN_INSTANTIATE(double)
#undef MIXTRAIN_LN_INSTANTIATE

}  // namespace mixtrain::backend::cpu
