// Internal: the softmax-family row loops (softmax, log-softmax, cross-entropy and the attention
// probabilities and score gradients) as templates over a lane policy `L` (below): the portable
// units instantiate them at 4 fp32 lanes (row_kernels.cpp), the AVX-512 unit at 16 with masked
// loads and stores for row ends (softmax_rows_avx512.cpp). Every width gives the same bits:
//  - exp runs per lane (vec_lanes.h's exp_n: the same IEEE operations on every width);
//  - every sum keeps 8 partial sums, element i going into s[i % 8] in element order, and folds
//    them as ((s0+s4)+(s1+s5))+((s2+s6)+(s3+s7)). The sums start at -0 and a row's last partial
//    group is padded with -0, which adds exactly nothing (x + -0 = x for every x, zeros
//    included), so a vector of any width feeds whole groups with no scalar tail;
//  - max is exact (a signed zero may come out either way, which no caller can see: it is only
//    ever subtracted before an exp, or added to a log >= 0), and a NaN in the row is returned as
//    the first NaN of the row.
// fp64 rows are plain loops with the same sum order and libm exp.
//
// Like layernorm_rows.h: templates and builtins only, and every template takes the calling
// unit's lane policy, a type in that unit's unnamed namespace, so an AVX-512 unit may include
// this inside its `#pragma GCC target` region and its instantiations keep internal linkage
// (never merged with the portable ones).
#pragma once

#include <cstdint>

// row_kernels.h declares functions: an ISA unit includes it before its target pragma (as
// softmax_rows_avx512.cpp does), so that only the templates below are built for its ISA.
#include "backend/cpu/row_kernels.h"
#include "backend/cpu/vec_lanes.h"

namespace mixtrain::backend::cpu::rows {

using i64 = std::int64_t;

typedef float F8 __attribute__((vector_size(32)));  // the 8 partial sums

// A lane policy gives W, the fp32 and int32 vector types F and I of W lanes, and
//   static F load_part(const float* p, i64 n, float fill);  // lanes [0, n) from p, others fill
//   static void store_part(float* p, F v, i64 n);          // lanes [0, n) to p
// for 0 < n < W, touching no memory past p + n. PlainLanes is the portable one (unit policies
// derive from it inside their unnamed namespace).
template <int W>
struct PlainLanes;
template <>
struct PlainLanes<4> {
  static constexpr int W = 4;
  typedef float F __attribute__((vector_size(16)));
  typedef std::int32_t I __attribute__((vector_size(16)));
  static F load_part(const float* p, i64 n, float fill) {
    F v = F{} + fill;
    for (i64 i = 0; i < n; ++i) v[i] = p[i];
    return v;
  }
  static void store_part(float* p, F v, i64 n) {
    for (i64 i = 0; i < n; ++i) p[i] = v[i];
  }
};

template <typename L>
inline typename L::F load(const float* p) {
  typename L::F v;
  __builtin_memcpy(&v, p, sizeof v);
  return v;
}
template <typename L>
inline void store(float* p, typename L::F v) {
  __builtin_memcpy(p, &v, sizeof v);
}
// Lanes [i, i + W) of x, or up to n with the rest `fill`.
template <typename L>
inline typename L::F load_upto(const float* x, i64 i, i64 n, float fill) {
  return i + L::W <= n ? load<L>(x + i) : L::load_part(x + i, n - i, fill);
}
template <typename L>
inline void store_upto(float* y, i64 i, i64 n, typename L::F v) {
  if (i + L::W <= n)
    store<L>(y + i, v);
  else
    L::store_part(y + i, v, n - i);
}
// Lane l of the vector at element i is element i + l; lanes at or past n become -0.
template <typename L>
inline typename L::F pad_neg_zero(typename L::F v, i64 i, i64 n) {
  if (i + L::W <= n) return v;
  typename L::I idx;
  for (int l = 0; l < L::W; ++l) idx[l] = l;
  return idx < static_cast<std::int32_t>(n - i) ? v : -typename L::F{};
}

// Adds W >= 8 values (element i + l in lane l, i a multiple of W) into the 8 partial sums.
template <typename L>
inline void add_lanes(F8& s, typename L::F v) {
  if constexpr (L::W == 8) {
    s += v;
  } else {
    s += __builtin_shufflevector(v, v, 0, 1, 2, 3, 4, 5, 6, 7);
    s += __builtin_shufflevector(v, v, 8, 9, 10, 11, 12, 13, 14, 15);
  }
}

// By reference: passing an 8-lane vector by value is an AVX calling-convention choice, which the
// portable (SSE) units must not make (-Wpsabi at -O0, where this is not inlined).
template <typename L>
inline float fold(const F8& s) {
  return ((s[0] + s[4]) + (s[1] + s[5])) + ((s[2] + s[6]) + (s[3] + s[7]));
}

// The sum of the values body(i) gives for elements [0, n), W at a time (lanes past n are
// replaced by -0 here), in the 8-sum order above.
template <typename L, typename Body>
inline float sum_lanes(i64 n, Body&& body) {
  F8 s = -F8{};  // -0: the exact identity of +, so a row of -0 sums to -0
  if constexpr (L::W == 4) {
    for (i64 i = 0; i < n; i += 8) {
      const typename L::F lo = pad_neg_zero<L>(body(i), i, n);
      const typename L::F hi = i + 4 < n ? pad_neg_zero<L>(body(i + 4), i + 4, n) : -typename L::F{};
      s += __builtin_shufflevector(lo, hi, 0, 1, 2, 3, 4, 5, 6, 7);
    }
  } else {
    for (i64 i = 0; i < n; i += L::W) add_lanes<L>(s, pad_neg_zero<L>(body(i), i, n));
  }
  return fold<L>(s);
}

// ---- fp32 ------------------------------------------------------------------------------------

// Max of n >= 1 values; the first NaN of x if there is one.
template <typename L>
inline float max_of(const float* x, i64 n) {
  using F = typename L::F;
  using I = typename L::I;
  F m = F{} + x[0];
  I nan{};
  for (i64 i = 0; i < n; i += L::W) {
    const F v = load_upto<L>(x, i, n, x[0]);
    m = v > m ? v : m;
    nan |= v != v;
  }
  float r = m[0];
  std::int32_t any_nan = nan[0];
  for (int l = 1; l < L::W; ++l) {
    r = m[l] > r ? m[l] : r;
    any_nan |= nan[l];
  }
  if (any_nan != 0)
    for (i64 j = 0; j < n; ++j)
      if (x[j] != x[j]) return x[j];
  return r;
}

// y[i] = exp(x[i] * scale - shift) (y may be null, or alias x); returns their sum.
template <typename L>
inline float exp_sum(float* y, const float* x, float scale, float shift, i64 n) {
  using F = typename L::F;
  return sum_lanes<L>(n, [&](i64 i) {
    const F e = vec::exp_n<F, typename L::I>(load_upto<L>(x, i, n, 0.0f) * scale - shift);
    if (y != nullptr) store_upto<L>(y, i, n, e);
    return e;
  });
}

template <typename L>
inline float dot(const float* x, const float* y, i64 n) {
  return sum_lanes<L>(n, [&](i64 i) { return load_upto<L>(x, i, n, 0.0f) * load_upto<L>(y, i, n, 0.0f); });
}

template <typename L>
inline float sum(const float* x, i64 n) {
  return sum_lanes<L>(n, [&](i64 i) { return load_upto<L>(x, i, n, 0.0f); });
}

// ---- fp64: the same sums, one element at a time -----------------------------------------------

template <typename L>
inline double max_of(const double* x, i64 n) {
  double m = x[0];
  for (i64 i = 1; i < n; ++i) m = x[i] > m ? x[i] : m;
  for (i64 j = 0; j < n; ++j)
    if (x[j] != x[j]) return x[j];
  return m;
}

template <typename L, typename F>
inline double sum8(i64 n, F&& f) {
  double acc[8] = {-0.0, -0.0, -0.0, -0.0, -0.0, -0.0, -0.0, -0.0};
  for (i64 i = 0; i < n; ++i) acc[i & 7] += f(i);
  return ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
}

template <typename L>
inline double exp_sum(double* y, const double* x, double scale, double shift, i64 n) {
  return sum8<L>(n, [&](i64 i) {
    const double e = __builtin_exp(x[i] * scale - shift);
    if (y != nullptr) y[i] = e;
    return e;
  });
}
template <typename L>
inline double dot(const double* x, const double* y, i64 n) {
  return sum8<L>(n, [&](i64 i) { return x[i] * y[i]; });
}
template <typename L>
inline double sum(const double* x, i64 n) {
  return sum8<L>(n, [&](i64 i) { return x[i]; });
}

template <typename L>
inline float log_of(float x) {
  return __builtin_logf(x);
}
template <typename L>
inline double log_of(double x) {
  return __builtin_log(x);
}

// ---- element passes (per element, so any width gives the same bits) ---------------------------

// out[i] for i in [0, n): fp32 W lanes at a time from vf(i) (which loads with load_upto), fp64
// one at a time from sf(i).
template <typename L, typename T, typename VecFn, typename ScalarFn>
inline void each(T* out, i64 n, VecFn&& vf, ScalarFn&& sf) {
  if constexpr (sizeof(T) == sizeof(float)) {
    for (i64 i = 0; i < n; i += L::W) store_upto<L>(reinterpret_cast<float*>(out), i, n, vf(i));
  } else {
    for (i64 i = 0; i < n; ++i) out[i] = sf(i);
  }
}

template <typename T>
inline const float* f32(const T* p) {
  return reinterpret_cast<const float*>(p);
}

// ---- row blocks: rows [r0, r1) of each family -------------------------------------------------

template <typename L, typename T>
void softmax_forward_rows(T* y, const T* x, i64 r0, i64 r1, i64 C) {
  for (i64 r = r0; r < r1; ++r) {
    const T* xr = x + r * C;
    T* yr = y + r * C;
    const T m = max_of<L>(xr, C);
    const T inv = T(1) / exp_sum<L>(yr, xr, T(1), m, C);
    each<L>(yr, C, [&](i64 i) { return load_upto<L>(f32(yr), i, C, 0.0f) * float(inv); },
            [&](i64 i) { return yr[i] * inv; });
  }
}

template <typename L, typename T>
void softmax_backward_rows(T* dx, const T* dy, const T* y, i64 r0, i64 r1, i64 C) {
  for (i64 r = r0; r < r1; ++r) {
    const T* dyr = dy + r * C;
    const T* yr = y + r * C;
    const T s = dot<L>(dyr, yr, C);
    each<L>(dx + r * C, C,
            [&](i64 i) { return load_upto<L>(f32(yr), i, C, 0.0f) * (load_upto<L>(f32(dyr), i, C, 0.0f) - float(s)); },
            [&](i64 i) { return yr[i] * (dyr[i] - s); });
  }
}

template <typename L, typename T>
void log_softmax_forward_rows(T* y, const T* x, i64 r0, i64 r1, i64 C) {
  for (i64 r = r0; r < r1; ++r) {
    const T* xr = x + r * C;
    const T m = max_of<L>(xr, C);
    const T shift = m + log_of<L>(exp_sum<L>(static_cast<T*>(nullptr), xr, T(1), m, C));
    each<L>(y + r * C, C, [&](i64 i) { return load_upto<L>(f32(xr), i, C, 0.0f) - float(shift); },
            [&](i64 i) { return xr[i] - shift; });
  }
}

template <typename L, typename T>
void log_softmax_backward_rows(T* dx, const T* dy, const T* y, i64 r0, i64 r1, i64 C) {
  for (i64 r = r0; r < r1; ++r) {
    const T* dyr = dy + r * C;
    const T* yr = y + r * C;
    T* dxr = dx + r * C;
    const T s = sum<L>(dyr, C);
    // exp(y) a stack block at a time (dx may alias dy, so it cannot hold exp(y) itself).
    alignas(64) T e[256];
    for (i64 c0 = 0; c0 < C; c0 += 256) {
      const i64 len = C - c0 < 256 ? C - c0 : 256;
      exp_sum<L>(e, yr + c0, T(1), T(0), len);
      const T* g = dyr + c0;
      each<L>(dxr + c0, len,
              [&](i64 i) { return load_upto<L>(f32(g), i, len, 0.0f) - load_upto<L>(f32(e), i, len, 0.0f) * float(s); },
              [&](i64 i) { return g[i] - e[i] * s; });
    }
  }
}

template <typename L, typename T>
void cross_entropy_lse_rows(T* lse, const T* logits, i64 r0, i64 r1, i64 C) {
  for (i64 r = r0; r < r1; ++r) {
    const T* xr = logits + r * C;
    const T m = max_of<L>(xr, C);
    lse[r] = m + log_of<L>(exp_sum<L>(static_cast<T*>(nullptr), xr, T(1), m, C));
  }
}

// dlogits = g * (softmax - onehot(label)); dlogits may alias logits.
template <typename L, typename T>
void cross_entropy_backward_rows(T* dlogits, const T* logits, const T* lse, const std::int64_t* labels, T g,
                                 i64 r0, i64 r1, i64 C) {
  for (i64 r = r0; r < r1; ++r) {
    T* dr = dlogits + r * C;
    exp_sum<L>(dr, logits + r * C, T(1), lse[r], C);
    each<L>(dr, C, [&](i64 i) { return load_upto<L>(f32(dr), i, C, 0.0f) * float(g); },
            [&](i64 i) { return dr[i] * g; });
    dr[labels[r]] -= g;
  }
}

// Causal attention rows of a (.., Tn, Tn) stack: row r sees keys [0, r % Tn]. Scores become
// softmax(scores * scale) over the visible keys, masked entries 0.
template <typename L, typename T>
void attention_softmax_rows(T* att, i64 r0, i64 r1, i64 Tn, T scale) {
  for (i64 r = r0; r < r1; ++r) {
    T* row = att + r * Tn;
    const i64 n = r % Tn + 1;
    const T m = max_of<L>(row, n) * scale;
    const T inv = T(1) / exp_sum<L>(row, row, scale, m, n);
    each<L>(row, n, [&](i64 i) { return load_upto<L>(f32(row), i, n, 0.0f) * float(inv); },
            [&](i64 i) { return row[i] * inv; });
    __builtin_memset(row + n, 0, static_cast<unsigned long>(Tn - n) * sizeof(T));
  }
}

// Score gradients in place: d = a * (d - sum(d * a)) * scale over the visible keys, masked 0.
template <typename L, typename T>
void attention_dscores_rows(T* datt, const T* att, i64 r0, i64 r1, i64 Tn, T scale) {
  for (i64 r = r0; r < r1; ++r) {
    T* d = datt + r * Tn;
    const T* a = att + r * Tn;
    const i64 n = r % Tn + 1;
    const T s = dot<L>(d, a, n);
    each<L>(d, n,
            [&](i64 i) {
              return load_upto<L>(f32(a), i, n, 0.0f) * (load_upto<L>(f32(d), i, n, 0.0f) - float(s)) * float(scale);
            },
            [&](i64 i) { return a[i] * (d[i] - s) * scale; });
    __builtin_memset(d + n, 0, static_cast<unsigned long>(Tn - n) * sizeof(T));
  }
}

// The table of the row blocks above for one lane policy (row_kernels.h).
template <typename L, typename T>
constexpr detail::RowKernels<T> table() {
  return detail::RowKernels<T>{
      .softmax_forward = &softmax_forward_rows<L, T>,
      .softmax_backward = &softmax_backward_rows<L, T>,
      .log_softmax_forward = &log_softmax_forward_rows<L, T>,
      .log_softmax_backward = &log_softmax_backward_rows<L, T>,
      .cross_entropy_lse = &cross_entropy_lse_rows<L, T>,
      .cross_entropy_backward = &cross_entropy_backward_rows<L, T>,
      .attention_softmax = &attention_softmax_rows<L, T>,
      .attention_dscores = &attention_dscores_rows<L, T>,
  };
}

}  // namespace mixtrain::backend::cpu::rows
