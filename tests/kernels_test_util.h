// Shared helpers for the kernel tests: random vectors, closeness checks, a central finite
// difference gradient check in fp64, and the reference backend's kernels (the oracle the cpu
// kernels are checked against).
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <cstddef>
#include <random>
#include <vector>

#include "backend/registry.h"

namespace ktest {

// The reference backend's fp32 or fp64 kernel families (backend/reference).
template <typename T>
const mixtrain::backend::RealKernels<T>& ref() {
  const mixtrain::backend::Kernels& k = mixtrain::backend::backend_table("reference");
  if constexpr (sizeof(T) == 8) return k.f64;
  else return k.f32;
}
inline const mixtrain::backend::Kernels& ref_table() { return mixtrain::backend::backend_table("reference"); }

template <typename T = double>
inline std::vector<T> rnd(std::size_t n, std::mt19937& g, double lo = -1.0, double hi = 1.0) {
  std::uniform_real_distribution<double> d(lo, hi);
  std::vector<T> v(n);
  for (auto& x : v) x = static_cast<T>(d(g));
  return v;
}

// |a - b| <= atol + rtol * |b| elementwise.
template <typename T>
inline void expect_close(const std::vector<T>& a, const std::vector<T>& b, double rtol,
                         double atol, const char* what) {
  ASSERT_EQ(a.size(), b.size()) << what;
  for (std::size_t i = 0; i < a.size(); ++i)
    ASSERT_LE(std::fabs(double(a[i]) - double(b[i])), atol + rtol * std::fabs(double(b[i])))
        << what << " at " << i << ": " << a[i] << " vs " << b[i];
}

// Central differences of loss() with respect to every element of x, compared with analytic.
template <typename F>
inline void expect_grad(std::vector<double>& x, const std::vector<double>& analytic, F&& loss,
                        const char* what, double h = 1e-6, double tol = 1e-6) {
  ASSERT_EQ(x.size(), analytic.size()) << what;
  for (std::size_t i = 0; i < x.size(); ++i) {
    const double keep = x[i];
    x[i] = keep + h;
    const double lp = loss();
    x[i] = keep - h;
    const double lm = loss();
    x[i] = keep;
    const double num = (lp - lm) / (2 * h);
    ASSERT_NEAR(analytic[i], num, tol * (1 + std::fabs(num))) << what << " element " << i;
  }
}

inline double weighted(const std::vector<double>& y, const std::vector<double>& w) {
  double s = 0;
  for (std::size_t i = 0; i < y.size(); ++i) s += y[i] * w[i];
  return s;
}

}  // namespace ktest
