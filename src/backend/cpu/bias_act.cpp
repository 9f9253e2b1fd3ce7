// Bias + activation kernels (bias_act.h). The activation is chosen outside the element loop so
// each loop body is branch-free and vectorises; gelu uses vec::exp (polynomial) via a sigmoid.
#include "backend/cpu/bias_act.h"

#include <cmath>
#include <type_traits>

#include "backend/cpu/parallel_cols.h"
#include "backend/cpu/parallel_rows.h"
#include "backend/cpu/bias_act_simd.h"
#include "backend/cpu/gelu_math.h"
#include "backend/cpu/vec_math.h"
#include "backend/cpu/row_slice.h"
#include "backend/cpu/workspace.h"
#include "numerics/convert.h"
#include "numerics/decode_tables.h"
#include "runtime/cpu_features.h"

namespace mixtrain::backend::cpu {
namespace {

using i64 = std::int64_t;

template <typename T>
constexpr T kGeluC = T(0.7978845608028654);  // sqrt(2 / pi)
template <typename T>
constexpr T kGeluA = T(0.044715);

// The fast form writes 0.5 (1 + tanh(z)) as the logistic sigmoid(2z) = 1 / (1 + exp(-2z)),
// which has no cancellation where tanh(z) is near -1 (the gradient for negative inputs), and
// 1 - tanh^2 as 4 s (1 - s).
struct Fast {
  template <typename T>
  static T gelu(T u) {
    const T z = kGeluC<T> * (u + kGeluA<T> * u * u * u);
    return u / (T(1) + vec::exp(T(-2) * z));
  }
  template <typename T>
  static T gelu_grad(T u) {
    const T z = kGeluC<T> * (u + kGeluA<T> * u * u * u);
    const T s = T(1) / (T(1) + vec::exp(T(-2) * z));
    return s + u * T(2) * s * (T(1) - s) * kGeluC<T> * (T(1) + T(3) * kGeluA<T> * u * u);
  }
  // The same formulas on 4 fp32 lanes (gelu_math.h; the scalar forms above are one lane of
  // these, and the AVX2 rows' 8 lanes give the same bits).
  static vec::f32x4 gelu4(vec::f32x4 u) { return vec::gelu_n<vec::f32x4, vec::i32x4>(u); }
  static vec::f32x4 gelu_grad4(vec::f32x4 u) { return vec::gelu_grad_n<vec::f32x4, vec::i32x4>(u); }
};

template <typename M, typename T>
void forward_row(T* o, const T* x, const T* bias, i64 C, Activation act) {
  switch (act) {
    // identity and relu: the bias test is hoisted out of the loops and every load is
    // unconditional, so GCC can if-convert and vectorise them (a `bias ? bias[c] : 0` or a
    // conditional load inside the loop is control flow it will not vectorise). Without a bias
    // the loops still add +0 (it turns -0 into +0), so results are unchanged.
    case Activation::identity:
      if (bias)
        for (i64 c = 0; c < C; ++c) o[c] = x[c] + bias[c];
      else
        for (i64 c = 0; c < C; ++c) o[c] = x[c] + T(0);
      break;
    case Activation::relu:
      if (bias)
        for (i64 c = 0; c < C; ++c) {
          const T u = x[c] + bias[c];
          o[c] = u > T(0) ? u : T(0);
        }
      else
        for (i64 c = 0; c < C; ++c) {
          const T u = x[c] + T(0);
          o[c] = u > T(0) ? u : T(0);
        }
      break;
    case Activation::gelu: {
      i64 c = 0;
      if constexpr (std::is_same_v<M, Fast> && std::is_same_v<T, float>) {
        if (detail::gelu_avx512_available())
          c = detail::gelu_forward_avx512(o, x, bias, C);
        else if (detail::gelu_avx2_available())
          c = detail::gelu_forward_avx2(o, x, bias, C);
        for (; c + 4 <= C; c += 4) {
          const vec::f32x4 u = vec::load4(x + c) + (bias ? vec::load4(bias + c) : vec::splat4(0));
          vec::store4(o + c, Fast::gelu4(u));
        }
      }
      for (; c < C; ++c) o[c] = M::gelu(x[c] + (bias ? bias[c] : T(0)));
      break;
    }
  }
}

template <typename M, typename T>
void backward_row(T* dx, const T* d, const T* x, const T* bias, i64 C, Activation act) {
  switch (act) {
    case Activation::identity:
      for (i64 c = 0; c < C; ++c) dx[c] = d[c];
      break;
    case Activation::relu:
      // As in forward_row: hoisted bias test, unconditional loads, a select per element.
      if (bias)
        for (i64 c = 0; c < C; ++c) {
          const T dv = d[c];
          dx[c] = x[c] + bias[c] > T(0) ? dv : T(0);
        }
      else
        for (i64 c = 0; c < C; ++c) {
          const T dv = d[c];
          dx[c] = x[c] + T(0) > T(0) ? dv : T(0);
        }
      break;
    case Activation::gelu: {
      i64 c = 0;
      if constexpr (std::is_same_v<M, Fast> && std::is_same_v<T, float>) {
        if (detail::gelu_avx512_available())
          c = detail::gelu_backward_avx512(dx, d, x, bias, C);
        else if (detail::gelu_avx2_available())
          c = detail::gelu_backward_avx2(dx, d, x, bias, C);
        for (; c + 4 <= C; c += 4) {
          const vec::f32x4 u = vec::load4(x + c) + (bias ? vec::load4(bias + c) : vec::splat4(0));
          vec::store4(dx + c, vec::load4(d + c) * Fast::gelu_grad4(u));
        }
      }
      for (; c < C; ++c) dx[c] = d[c] * M::gelu_grad(x[c] + (bias ? bias[c] : T(0)));
      break;
    }
  }
}

}  // namespace

template <typename T>
void bias_act_forward(T* out, const T* x, const T* bias, i64 N, i64 C, Activation act) {
  detail::for_rows(N, C, [&](i64 n) { forward_row<Fast>(out + n * C, x + n * C, bias, C, act); });
}

template <typename T>
void bias_act_backward(T* dx, T* dbias, const T* dout, const T* x, const T* bias, i64 N, i64 C,
                       Activation act) {
  detail::for_rows(N, C, [&](i64 n) {
    backward_row<Fast>(dx + n * C, dout + n * C, x + n * C, bias, C, act);
  });
  if (dbias)
    detail::for_col_blocks(C, N, [&](i64 c0, i64 c1) {
      for (i64 c = c0; c < c1; ++c) dbias[c] = 0;
      for (i64 n = 0; n < N; ++n)
        for (i64 c = c0; c < c1; ++c) dbias[c] += dx[n * C + c];
    });
}

namespace detail {
bool gelu_avx2_available() {
#if MIXTRAIN_HAVE_AVX2_KERNELS
  return runtime::isa_at_least(runtime::IsaTier::avx2);
#else
  return false;
#endif
}
#if !MIXTRAIN_HAVE_AVX2_KERNELS
std::int64_t gelu_forward_avx2(float*, const float*, const float*, std::int64_t) { return 0; }
std::int64_t gelu_backward_avx2(float*, const float*, const float*, const float*, std::int64_t) { return 0; }
#endif
bool gelu_avx512_available() {
#if MIXTRAIN_HAVE_AVX512_KERNELS
  return runtime::isa_at_least(runtime::IsaTier::avx512);
#else
  return false;
#endif
}
#if !MIXTRAIN_HAVE_AVX512_KERNELS
std::int64_t gelu_forward_avx512(float*, const float*, const float*, std::int64_t) { return 0; }
std::int64_t gelu_backward_avx512(float*, const float*, const float*, const float*, std::int64_t) { return 0; }
#endif
}  // namespace detail

void bias_act_forward_block(float* x, i64 ld, const float* bias, i64 rows, i64 C,
                            Activation act) {
  for (i64 r = 0; r < rows; ++r) forward_row<Fast>(x + r * ld, x + r * ld, bias, C, act);
}

void bias_act_backward_from(float* dx, float* dbias, const void* dout, DType dout_type,
                            const void* x, DType x_type, i64 N, i64 C, Activation act) {
  detail::for_rows(N, C, [&](i64 n) {
    float* ba = thread_scratch<float>(Scratch::act_a, static_cast<std::size_t>(C));
    float* bb = thread_scratch<float>(Scratch::act_b, static_cast<std::size_t>(C));
    const float* d = detail::row_f32(ba, dout, dout_type, n, C, 0, C);
    const float* xv = act == Activation::identity ? d : detail::row_f32(bb, x, x_type, n, C, 0, C);
    backward_row<Fast>(dx + n * C, d, xv, static_cast<const float*>(nullptr), C, act);
  });
  if (dbias) column_sums(dbias, dx, DType::fp32, N, C);
}

void column_sums(float* dbias, const void* x, DType x_type, i64 N, i64 C) {
  if (x_type == DType::bf16 || x_type == DType::fp32) {
    // Widened in the loop (a shift for bf16): the per-row decode calls of the general path cost
    // more than the sums for narrow column blocks. Same values, same order, so the same sums.
    detail::for_col_blocks(C, N, [&](i64 c0, i64 c1) {
      for (i64 c = c0; c < c1; ++c) dbias[c] = 0;
      for (i64 n = 0; n < N; ++n) {
        if (x_type == DType::fp32) {
          const float* v = static_cast<const float*>(x) + n * C;
          for (i64 c = c0; c < c1; ++c) dbias[c] += v[c];
        } else {
          const auto* v = static_cast<const std::uint16_t*>(x) + n * C;
          for (i64 c = c0; c < c1; ++c) dbias[c] += numerics::detail::bf16_to_f32(v[c]);
        }
      }
    });
    return;
  }
  detail::for_col_blocks(C, N, [&](i64 c0, i64 c1) {
    float* buf = thread_scratch<float>(Scratch::act_a, static_cast<std::size_t>(c1 - c0));
    for (i64 c = c0; c < c1; ++c) dbias[c] = 0;
    for (i64 n = 0; n < N; ++n) {
      const float* v = detail::row_f32(buf, x, x_type, n, C, c0, c1 - c0);
      for (i64 c = c0; c < c1; ++c) dbias[c] += v[c - c0];
    }
  });
}

#define MIXTRAIN_BIAS_ACT_INSTANTIATE(T)                                                        \
  template void bias_act_forward<T>(T*, const T*, const T*, i64, i64, Activation);             \
  template void bias_act_backward<T>(T*, T*, const T*, const T*, const T*, i64, i64,           \
                                     Activation);
MIXTRAIN_BIAS_ACT_INSTANTIATE(float)
MIXTRAIN_BIAS_ACT_INSTANTIATE(double)
#undef MIXTRAIN_BIAS_ACT_INSTANTIATE

}  // namespace mixtrain::backend::cpu
