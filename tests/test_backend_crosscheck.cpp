// The cross-check suite: every kernel family of the cpu backend against the reference backend
// (backend/kernels.h), one table of cases, each case a family x dtype x shape.
//
// Each case builds its inputs from a fixed seed, runs the family on both backends and compares:
//  - exact families (conversions, elementwise, copies, dropout, pooling maxima, optimizer
//    updates): the output bytes must be identical;
//  - summing families (GEMM, reductions, norms, softmax, losses, attention, convolution): the
//    backends sum in different orders, so each output element must agree within
//        |cpu - ref| <= 2 * gamma(n) * S + tiny,   gamma(n) = n u / (1 - n u)
//    where n is the number of terms summed into that element, S the sum of the terms' magnitudes
//    (both results are within gamma(n) * S of the exact sum: Higham, Accuracy and Stability of
//    Numerical Algorithms, 2nd ed., Thm 4.3), u the unit roundoff of the accumulation (2^-24 in
//    fp32, 2^-53 in fp64) and tiny = 2^-100 absorbs flushed subnormals. Families with a
//    normalisation after the sum (softmax, norms, attention) get the same bound on their
//    statistics propagated by a stated factor (kNormFactor).
//
// The real-valued families compute in fp32 or fp64; "dtype" for them is the format their inputs
// are drawn from (values rounded to fp16/bf16/e4m3/e5m2 and widened), which is how the ops call
// them under autocast. GEMM, conversions, abs_max, all_finite, the mixed-dtype binary op, the
// epilogue helpers, permute, the head layout and the optimizer's parameter copy take the
// low-precision buffers themselves.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "backend/kernels.h"
#include "backend/registry.h"
#include "runtime/error.h"
#include "numerics/convert.h"
#include "numerics/format.h"

namespace mixtrain {
namespace {

using backend::i64;
using backend::Kernels;

// ---- Results -----------------------------------------------------------------------------------

struct Result {
  std::vector<unsigned char> exact;  // compared byte for byte
  std::vector<double> approx, tol;   // compared element-wise within tol
};

template <typename T>
void add_exact(Result& r, const std::vector<T>& v) {
  const auto* p = reinterpret_cast<const unsigned char*>(v.data());
  r.exact.insert(r.exact.end(), p, p + v.size() * sizeof(T));
}
template <typename T>
void add_approx(Result& r, const std::vector<T>& v, const std::vector<double>& tol) {
  for (std::size_t i = 0; i < v.size(); ++i) {
    r.approx.push_back(static_cast<double>(v[i]));
    r.tol.push_back(tol.empty() ? 0.0 : tol[i % tol.size()]);
  }
}

constexpr double kTiny = 0x1p-100;
template <typename T>
constexpr double unit_roundoff() {
  return sizeof(T) == 8 ? 0x1p-53 : 0x1p-24;
}
template <typename T>
double sum_bound(double n, double magnitude) {
  const double nu = n * unit_roundoff<T>();
  return 2 * nu / (1 - nu) * magnitude + kTiny;
}
// Normalised families: the statistics' error reaches each output scaled by at most this much
// (softmax and log-softmax: the exp of a shifted value and one division; norms: the centred
// value times rstd and its rounding; attention: two chained sums).
constexpr double kNormFactor = 16;

// ---- Inputs ------------------------------------------------------------------------------------

// n values uniform in [lo, hi], rounded to `format` (then held as T).
template <typename T>
std::vector<T> values(std::size_t n, std::uint64_t seed, DType format, double lo = -2, double hi = 2) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> u(lo, hi);
  std::vector<double> d(n);
  for (double& x : d) x = u(rng);
  std::vector<unsigned char> codes(n * size_of(format));
  numerics::encode(codes.data(), format, d.data(), n);
  std::vector<double> back(n);
  numerics::decode(back.data(), codes.data(), format, n);
  return std::vector<T>(back.begin(), back.end());
}
// n codes of `format` for values in [lo, hi].
std::vector<unsigned char> codes(std::size_t n, std::uint64_t seed, DType format, double lo = -2, double hi = 2) {
  const std::vector<double> d = values<double>(n, seed, DType::fp64, lo, hi);
  std::vector<unsigned char> c(n * size_of(format));
  numerics::encode(c.data(), format, d.data(), n);
  return c;
}
std::vector<i64> labels(std::size_t n, i64 classes, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<i64> l(n);
  for (i64& x : l) x = static_cast<i64>(rng() % static_cast<std::uint64_t>(classes));
  return l;
}
template <typename T>
std::vector<double> abs_of(const std::vector<T>& v) {
  std::vector<double> a(v.size());
  for (std::size_t i = 0; i < v.size(); ++i) a[i] = std::abs(static_cast<double>(v[i]));
  return a;
}

// ---- The table ---------------------------------------------------------------------------------

struct Case {
  std::string name;
  std::function<Result(const Kernels&)> run;
};

std::vector<Case>& table() {
  static std::vector<Case> t;
  return t;
}
void add(std::string name, std::function<Result(const Kernels&)> run) {
  for (char& c : name)
    if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
  // Loops over format lists can produce the same case twice (an output format equal to the
  // input's); names encode every parameter, so a repeated name is a repeated case.
  for (const Case& c : table())
    if (c.name == name) return;
  table().push_back({std::move(name), std::move(run)});
}

constexpr DType kFormats[] = {DType::fp32, DType::fp16, DType::bf16, DType::e4m3, DType::e5m2};
std::string fname(DType t) { return std::string(numerics::spec(t).name); }

struct Rows {
  i64 N, C;
};
// Awkward row shapes: one element, odd widths around vector lengths, tall, wide.
constexpr Rows kRows[] = {{1, 1}, {3, 5}, {2, 17}, {7, 33}, {64, 3}, {2, 257}};
// Flat lengths around vector and chunk widths, and zero.
constexpr i64 kLengths[] = {0, 1, 7, 16, 33, 1000, 4099};

// Real-valued families in T, inputs drawn from format F.
template <typename T>
void add_real_families(DType F) {
  const std::string tag = std::string(sizeof(T) == 8 ? "f64_" : "f32_") + fname(F);
  auto R = [](const Kernels& k) -> const backend::RealKernels<T>& {
    if constexpr (sizeof(T) == 8) return k.f64;
    else return k.f32;
  };

  // Elementwise (exact). binary over same, scalar, row-broadcast and general layouts.
  const std::vector<std::pair<Shape, Shape>> bshapes = {
      {{5}, {5}}, {{3, 17}, {1}}, {{4, 33}, {33}}, {{3, 1, 5}, {1, 4, 1}}, {{2, 3, 4}, {3, 1}}, {{0, 3}, {3}}};
  for (auto op : {backend::BinaryOp::add, backend::BinaryOp::sub, backend::BinaryOp::mul, backend::BinaryOp::div})
    for (std::size_t si = 0; si < bshapes.size(); ++si)
      add("binary_" + std::to_string(int(op)) + "_" + tag + "_s" + std::to_string(si), [=](const Kernels& k) {
        const auto& [as, bs] = bshapes[si];
        Shape os(std::max(as.size(), bs.size()));
        for (std::size_t i = 0; i < os.size(); ++i) {
          auto dim = [&](const Shape& s) {
            const std::size_t off = os.size() - s.size();
            return i < off ? i64{1} : s[i - off];
          };
          os[i] = std::max(dim(as), dim(bs));
          if (dim(as) == 0 || dim(bs) == 0) os[i] = 0;
        }
        auto a = values<T>(static_cast<std::size_t>(numel(as)), 1, F);
        auto b = values<T>(static_cast<std::size_t>(numel(bs)), 2, F, 0.25, 2);
        std::vector<T> o(static_cast<std::size_t>(numel(os)));
        R(k).binary(op, o.data(), a.data(), as, b.data(), bs, os);
        Result r;
        add_exact(r, o);
        return r;
      });
  for (auto op : {backend::UnaryOp::relu, backend::UnaryOp::gelu, backend::UnaryOp::sigmoid, backend::UnaryOp::tanh,
                  backend::UnaryOp::exp, backend::UnaryOp::log})
    for (i64 n : kLengths)
      add("unary_" + std::to_string(int(op)) + "_" + tag + "_n" + std::to_string(n), [=](const Kernels& k) {
        const bool positive = op == backend::UnaryOp::log;
        auto x = values<T>(static_cast<std::size_t>(n), 3, F, positive ? 0.1 : -4, 4);
        auto dy = values<T>(static_cast<std::size_t>(n), 4, F);
        std::vector<T> y(x.size()), dx(x.size());
        R(k).unary_forward(op, y.data(), x.data(), n);
        R(k).unary_backward(op, dx.data(), dy.data(), x.data(), y.data(), n);
        Result r;
        add_exact(r, y);
        add_exact(r, dx);
        return r;
      });
  for (auto act : {backend::Activation::identity, backend::Activation::relu, backend::Activation::gelu})
    for (Rows s : kRows)
      add("bias_act_" + std::to_string(int(act)) + "_" + tag + "_" + std::to_string(s.N) + "x" + std::to_string(s.C),
          [=](const Kernels& k) {
            const auto n = static_cast<std::size_t>(s.N * s.C);
            auto x = values<T>(n, 5, F, -4, 4), bias = values<T>(static_cast<std::size_t>(s.C), 6, F);
            auto dout = values<T>(n, 7, F);
            std::vector<T> out(n), dx(n), dbias(static_cast<std::size_t>(s.C));
            R(k).bias_act_forward(out.data(), x.data(), bias.data(), s.N, s.C, act);
            R(k).bias_act_backward(dx.data(), dbias.data(), dout.data(), x.data(), bias.data(), s.N, s.C, act);
            Result r;
            add_exact(r, out);
            add_exact(r, dx);
            // dbias sums N rows of dx.
            std::vector<double> tol(dbias.size(), 0);
            for (i64 c = 0; c < s.C; ++c)
              for (i64 i = 0; i < s.N; ++i)
                tol[static_cast<std::size_t>(c)] += std::abs(static_cast<double>(dx[static_cast<std::size_t>(i * s.C + c)]));
            for (double& t : tol) t = sum_bound<T>(static_cast<double>(s.N), t);
            add_approx(r, dbias, tol);
            return r;
          });
  for (auto kind : {backend::PointLoss::mse, backend::PointLoss::bce_with_logits})
    for (i64 n : {i64{1}, i64{7}, i64{1000}})
      add("point_loss_" + std::to_string(int(kind)) + "_" + tag + "_n" + std::to_string(n), [=](const Kernels& k) {
        auto p = values<T>(static_cast<std::size_t>(n), 8, F), t = values<T>(static_cast<std::size_t>(n), 9, F, 0, 1);
        std::vector<T> dp(p.size()), dt(p.size());
        const T loss = R(k).point_loss_forward(kind, p.data(), t.data(), n);
        R(k).point_loss_backward(kind, dp.data(), dt.data(), p.data(), t.data(), n, T(1));
        Result r;
        // Each term is at most ~max(|p|, 0) + |p||t| + log 2 + (p - t)^2 <= 20 here.
        add_approx(r, std::vector<T>{loss}, {sum_bound<double>(static_cast<double>(n), 20.0 * static_cast<double>(n)) / static_cast<double>(n) + 1e-6 * (sizeof(T) == 4)});
        add_exact(r, dp);
        add_exact(r, dt);
        return r;
      });

  // Reductions.
  const std::vector<std::pair<Shape, Shape>> rshapes = {
      {{5}, {1}}, {{3, 17}, {1, 17}}, {{40, 3}, {40, 1}}, {{2, 3, 4}, {1, 3, 1}}, {{1000, 1}, {1, 1}}, {{4, 70}, {1, 70}}};
  for (std::size_t si = 0; si < rshapes.size(); ++si)
    add("sum_to_broadcast_to_" + tag + "_s" + std::to_string(si), [=](const Kernels& k) {
      const auto& [src_shape, dst_shape] = rshapes[si];
      auto x = values<T>(static_cast<std::size_t>(numel(src_shape)), 10, F);
      std::vector<T> s(static_cast<std::size_t>(numel(dst_shape)), T(7));  // the kernel zeroes dst
      R(k).sum_to(s.data(), x.data(), src_shape, dst_shape);
      std::vector<T> back(x.size());
      R(k).broadcast_to(back.data(), s.data(), dst_shape, src_shape, T(0.5));
      Result r;
      const double terms = static_cast<double>(numel(src_shape) / std::max<i64>(1, numel(dst_shape)));
      add_approx(r, s, {sum_bound<T>(terms, terms * 2)});
      // broadcast_to is exact given its input; compare it on the reference's sums to stay exact.
      std::vector<T> back_on_same(x.size());
      std::vector<T> fixed = values<T>(s.size(), 11, F);
      R(k).broadcast_to(back_on_same.data(), fixed.data(), dst_shape, src_shape, T(0.5));
      add_exact(r, back_on_same);
      return r;
    });
  for (i64 n : kLengths)
    add("accumulate_" + tag + "_n" + std::to_string(n), [=](const Kernels& k) {
      auto acc = values<T>(static_cast<std::size_t>(n), 12, F), x = values<T>(static_cast<std::size_t>(n), 13, F);
      R(k).accumulate(acc.data(), x.data(), n);
      Result r;
      add_exact(r, acc);
      return r;
    });

  // Softmax family and cross-entropy over rows.
  for (Rows s : kRows)
    add("softmax_family_" + tag + "_" + std::to_string(s.N) + "x" + std::to_string(s.C), [=](const Kernels& k) {
      const auto n = static_cast<std::size_t>(s.N * s.C);
      auto x = values<T>(n, 14, F, -6, 6), dy = values<T>(n, 15, F);
      std::vector<T> y(n), dx(n), ly(n), ldx(n), lse(static_cast<std::size_t>(s.N)), dl(n);
      R(k).softmax_forward(y.data(), x.data(), s.N, s.C);
      R(k).softmax_backward(dx.data(), dy.data(), y.data(), s.N, s.C);
      R(k).log_softmax_forward(ly.data(), x.data(), s.N, s.C);
      R(k).log_softmax_backward(ldx.data(), dy.data(), ly.data(), s.N, s.C);
      auto lab = labels(static_cast<std::size_t>(s.N), s.C, 16);
      const T loss = R(k).cross_entropy_forward(lse.data(), x.data(), lab.data(), s.N, s.C);
      R(k).cross_entropy_backward(dl.data(), x.data(), lse.data(), lab.data(), T(1), s.N, s.C);
      Result r;
      const double c = static_cast<double>(s.C), tol_row = kNormFactor * sum_bound<T>(c, c * 8);
      add_approx(r, y, {tol_row});
      add_approx(r, dx, {tol_row * 2});
      add_approx(r, ly, {tol_row * 8});
      add_approx(r, ldx, {tol_row * 8 * c});
      add_approx(r, std::vector<T>{loss}, {tol_row * 8});
      add_approx(r, lse, {tol_row * 8});
      add_approx(r, dl, {tol_row});
      return r;
    });

  // LayerNorm over rows; BatchNorm over (N, C, HW).
  for (Rows s : kRows)
    add("layer_norm_" + tag + "_" + std::to_string(s.N) + "x" + std::to_string(s.C), [=](const Kernels& k) {
      const auto n = static_cast<std::size_t>(s.N * s.C);
      auto x = values<T>(n, 17, F), g = values<T>(static_cast<std::size_t>(s.C), 18, F);
      auto b = values<T>(static_cast<std::size_t>(s.C), 19, F), dout = values<T>(n, 20, F);
      std::vector<T> out(n), mean(static_cast<std::size_t>(s.N)), rstd(mean.size()), dx(n), dg(g.size()), db(g.size());
      R(k).layer_norm_forward(out.data(), mean.data(), rstd.data(), x.data(), g.data(), b.data(), s.N, s.C, T(1e-5));
      // The backward on the reference's statistics would hide nothing: each side uses its own.
      R(k).layer_norm_backward(dx.data(), dg.data(), db.data(), dout.data(), x.data(), mean.data(), rstd.data(),
                               g.data(), s.N, s.C);
      Result r;
      const double c = static_cast<double>(s.C), rs = 1 / std::sqrt(1e-5);  // rstd <= 1/sqrt(eps)
      const double t = kNormFactor * sum_bound<T>(c, c * 4) * rs * rs;
      add_approx(r, mean, {t});
      add_approx(r, rstd, {t * rs * rs});
      add_approx(r, out, {t * rs * 4});
      add_approx(r, dx, {t * rs * rs * 16 * c});
      add_approx(r, dg, {t * rs * 8 * static_cast<double>(s.N)});
      add_approx(r, db, {sum_bound<T>(static_cast<double>(s.N), 2.0 * static_cast<double>(s.N))});
      return r;
    });
  for (Rows s : {Rows{2, 3}, Rows{4, 1}, Rows{3, 5}})
    for (i64 HW : {i64{1}, i64{9}, i64{50}})
      add("batch_norm_" + tag + "_" + std::to_string(s.N) + "x" + std::to_string(s.C) + "x" + std::to_string(HW),
          [=](const Kernels& k) {
            const auto n = static_cast<std::size_t>(s.N * s.C * HW), C = static_cast<std::size_t>(s.C);
            auto x = values<T>(n, 21, F), g = values<T>(C, 22, F, 0.5, 2), b = values<T>(C, 23, F), dout = values<T>(n, 24, F);
            std::vector<T> out(n), mean(C), rstd(C), rm(C, T(0)), rv(C, T(1)), dx(n), dg(C), db(C);
            R(k).batch_norm_forward_train(out.data(), mean.data(), rstd.data(), rm.data(), rv.data(), x.data(), g.data(),
                                          b.data(), s.N, s.C, HW, T(0.1), T(1e-5));
            R(k).batch_norm_backward(dx.data(), dg.data(), db.data(), dout.data(), x.data(), mean.data(), rstd.data(),
                                     g.data(), s.N, s.C, HW);
            std::vector<T> eout(n), erstd(C), edx(n), edg(C), edb(C);
            const auto var = values<T>(C, 25, F, 0.1, 2), mu = values<T>(C, 26, F);
            R(k).batch_norm_forward_eval(eout.data(), x.data(), g.data(), b.data(), mu.data(), var.data(), s.N, s.C, HW,
                                         T(1e-5));
            R(k).batch_norm_inv_std(erstd.data(), var.data(), s.C, T(1e-5));
            R(k).batch_norm_backward_frozen(edx.data(), edg.data(), edb.data(), dout.data(), x.data(), mu.data(),
                                            erstd.data(), g.data(), s.N, s.C, HW);
            Result r;
            const double m = static_cast<double>(s.N * HW), rs = 1 / std::sqrt(1e-5);
            const double t = kNormFactor * sum_bound<T>(m, m * 4) * rs * rs;
            add_approx(r, mean, {t});
            add_approx(r, rstd, {t * rs * rs});
            add_approx(r, out, {t * rs * 8});
            add_approx(r, rm, {t});
            add_approx(r, rv, {t * 8});
            add_approx(r, dx, {t * rs * rs * 32 * m});
            add_approx(r, dg, {t * rs * 8 * m});
            add_approx(r, db, {sum_bound<T>(m, 2 * m)});
            add_exact(r, erstd);
            add_approx(r, eout, {kNormFactor * unit_roundoff<T>() * 64});
            add_exact(r, edx);
            add_approx(r, edg, {sum_bound<T>(m, 2 * m * 4 * 8)});
            add_approx(r, edb, {sum_bound<T>(m, 2 * m)});
            return r;
          });

  // Convolution and pooling.
  const backend::Conv2dShape convs[] = {{1, 1, 3, 3, 1, 1, 1, 1, 0},   {2, 3, 5, 7, 4, 3, 3, 1, 1},
                                        {1, 2, 8, 8, 3, 3, 3, 2, 1},   {2, 1, 6, 5, 2, 2, 3, 1, 0}};
  for (std::size_t ci = 0; ci < std::size(convs); ++ci)
    add("conv2d_" + tag + "_c" + std::to_string(ci), [=](const Kernels& k) {
      const backend::Conv2dShape s = convs[ci];
      const auto nx = static_cast<std::size_t>(s.N * s.C * s.H * s.W), nw = static_cast<std::size_t>(s.OC * s.C * s.KH * s.KW);
      const auto no = static_cast<std::size_t>(s.N * s.OC * s.oh() * s.ow());
      auto x = values<T>(nx, 27, F), w = values<T>(nw, 28, F), bias = values<T>(static_cast<std::size_t>(s.OC), 29, F);
      auto dout = values<T>(no, 30, F);
      std::vector<T> out(no), dx(nx), dw(nw), db(static_cast<std::size_t>(s.OC));
      R(k).conv2d_forward(out.data(), x.data(), w.data(), bias.data(), s);
      R(k).conv2d_backward(dx.data(), dw.data(), db.data(), dout.data(), x.data(), w.data(), s);
      Result r;
      const double taps = static_cast<double>(s.C * s.KH * s.KW) + 1, outs = static_cast<double>(s.N * s.oh() * s.ow());
      add_approx(r, out, {sum_bound<T>(taps, taps * 4 + 2)});
      add_approx(r, dx, {sum_bound<T>(static_cast<double>(s.OC * s.KH * s.KW), static_cast<double>(s.OC * s.KH * s.KW) * 4)});
      add_approx(r, dw, {sum_bound<T>(outs, outs * 4)});
      add_approx(r, db, {sum_bound<T>(outs, outs * 2)});
      return r;
    });
  const backend::Pool2dShape pools[] = {{1, 1, 4, 4, 2, 2, 2, 0}, {2, 3, 5, 7, 3, 3, 2, 1}, {1, 2, 6, 6, 3, 2, 1, 0}};
  for (std::size_t pi = 0; pi < std::size(pools); ++pi)
    add("pool2d_" + tag + "_p" + std::to_string(pi), [=](const Kernels& k) {
      const backend::Pool2dShape s = pools[pi];
      const auto nx = static_cast<std::size_t>(s.N * s.C * s.H * s.W), no = static_cast<std::size_t>(s.N * s.C * s.oh() * s.ow());
      auto x = values<T>(nx, 31, F), dout = values<T>(no, 32, F);
      std::vector<T> mo(no), ao(no), mdx(nx), adx(nx);
      std::vector<i64> arg(no);
      R(k).max_pool2d_forward(mo.data(), arg.data(), x.data(), s);
      R(k).max_pool2d_backward(mdx.data(), dout.data(), arg.data(), s);
      R(k).avg_pool2d_forward(ao.data(), x.data(), s);
      R(k).avg_pool2d_backward(adx.data(), dout.data(), s);
      Result r;
      add_exact(r, mo);
      add_exact(r, arg);
      const double win = static_cast<double>(s.KH * s.KW);
      add_approx(r, mdx, {sum_bound<T>(win, win * 2)});
      add_approx(r, ao, {sum_bound<T>(win, win * 2)});
      add_approx(r, adx, {sum_bound<T>(win, win * 2)});
      return r;
    });

  // Attention over (B, H, Tn, D).
  for (auto [B, H, Tn, D] : {std::array<i64, 4>{1, 1, 1, 1}, {2, 3, 5, 4}, {1, 2, 17, 8}, {1, 1, 33, 3}})
    add("attention_" + tag + "_" + std::to_string(Tn) + "x" + std::to_string(D), [=](const Kernels& k) {
      const auto n = static_cast<std::size_t>(B * H * Tn * D), na = static_cast<std::size_t>(B * H * Tn * Tn);
      auto q = values<T>(n, 33, F), kk = values<T>(n, 34, F), v = values<T>(n, 35, F), dout = values<T>(n, 36, F);
      std::vector<T> att(na), probs(na), out(n), dq(n), dk(n), dv(n), datt(na);
      R(k).attention_probs(probs.data(), q.data(), kk.data(), B, H, Tn, D);
      R(k).attention_forward(out.data(), att.data(), q.data(), kk.data(), v.data(), B, H, Tn, D);
      R(k).attention_backward(dq.data(), dk.data(), dv.data(), datt.data(), dout.data(), q.data(), kk.data(), v.data(),
                              att.data(), B, H, Tn, D);
      Result r;
      const double d = static_cast<double>(D), t = static_cast<double>(Tn);
      const double s = kNormFactor * sum_bound<T>(d + t, (d + t) * 16);
      add_approx(r, probs, {s});
      add_approx(r, att, {s});
      add_approx(r, out, {s * 4 * t});
      add_approx(r, dv, {s * 4 * t});
      add_approx(r, datt, {s * 4 * d});
      add_approx(r, dq, {s * 64 * t * d});
      add_approx(r, dk, {s * 64 * t * d});
      return r;
    });

  // Embedding and dropout.
  for (auto [N, V, D] : {std::array<i64, 3>{1, 1, 1}, {9, 5, 7}, {40, 3, 33}})
    add("embedding_" + tag + "_" + std::to_string(N) + "x" + std::to_string(V) + "x" + std::to_string(D),
        [=](const Kernels& k) {
          auto table_v = values<T>(static_cast<std::size_t>(V * D), 37, F), dout = values<T>(static_cast<std::size_t>(N * D), 38, F);
          auto ids = labels(static_cast<std::size_t>(N), V, 39);
          std::vector<T> out(static_cast<std::size_t>(N * D)), dtable(static_cast<std::size_t>(V * D), T(0));
          R(k).embedding_forward(out.data(), table_v.data(), ids.data(), N, V, D);
          R(k).embedding_backward(dtable.data(), dout.data(), ids.data(), N, V, D);
          Result r;
          add_exact(r, out);
          add_approx(r, dtable, {sum_bound<T>(static_cast<double>(N), 2.0 * static_cast<double>(N))});
          return r;
        });
  for (i64 n : kLengths)
    for (double p : {0.0, 0.1, 0.5})
      add("dropout_" + tag + "_n" + std::to_string(n) + "_p" + std::to_string(int(p * 10)), [=](const Kernels& k) {
        auto x = values<T>(static_cast<std::size_t>(n), 40, F);
        std::vector<T> out(x.size()), dx(x.size());
        std::vector<std::uint8_t> mask(x.size());
        R(k).dropout_forward(out.data(), mask.data(), x.data(), n, p, 1234, 77);
        R(k).dropout_backward(dx.data(), x.data(), mask.data(), n, p);
        Result r;
        add_exact(r, out);
        add_exact(r, mask);
        add_exact(r, dx);
        return r;
      });
}

void add_gemm_families() {
  struct G {
    i64 M, N, K;
    bool ta, tb;
  };
  const G shapes[] = {{1, 1, 1, false, false}, {3, 5, 7, false, true}, {17, 33, 65, true, false},
                      {64, 48, 300, false, true}, {5, 9, 600, true, true}};
  for (DType a : kFormats)
    for (DType b : {a, DType::fp32})
      for (const G& g : shapes)
        for (float beta : {0.0f, 0.5f})
          add("gemm_" + fname(a) + "_" + fname(b) + "_" + std::to_string(g.M) + "x" + std::to_string(g.N) + "x" +
                  std::to_string(g.K) + (g.ta ? "_ta" : "") + (g.tb ? "_tb" : "") + (beta != 0 ? "_beta" : ""),
              [=](const Kernels& k) {
                const bool fp8 = numerics::spec(a).bits() == 8;
                auto A = codes(static_cast<std::size_t>(g.M * g.K), 41, a), B = codes(static_cast<std::size_t>(g.K * g.N), 42, b);
                std::vector<float> C(static_cast<std::size_t>(g.M * g.N), 0.25f);
                backend::GemmOperand oa{A.data(), a, g.ta ? g.M : g.K, g.ta, fp8 ? 0.5f : 1.0f};
                backend::GemmOperand ob{B.data(), b, g.tb ? g.K : g.N, g.tb, 1.0f};
                k.gemm(g.M, g.N, g.K, 1.5f, oa, ob, beta, backend::GemmOutput{C.data(), DType::fp32, g.N}, {});
                Result r;
                // |a|, |b| <= 2, scale 0.5 for fp8: S <= K * 4 * 1.5 (alpha) plus beta * 0.25.
                add_approx(r, C, {sum_bound<float>(static_cast<double>(g.K) + 2, static_cast<double>(g.K) * 6 + 1)});
                return r;
              });
  for (DType out : {DType::fp32, DType::bf16, DType::fp16})
    add("gemm_batched_epilogue_out_" + fname(out), [=](const Kernels& k) {
      const i64 batch = 3, M = 4, N = 6, K = 20;
      auto A = values<float>(static_cast<std::size_t>(batch * M * K), 43, DType::bf16);
      auto B = values<float>(static_cast<std::size_t>(batch * K * N), 44, DType::bf16);
      std::vector<unsigned char> C(static_cast<std::size_t>(batch * M * N) * size_of(out));
      k.gemm_batched(batch, M, N, K, 1.0f, {A.data(), DType::fp32, K}, M * K, {B.data(), DType::fp32, N}, K * N, 0.0f,
                     {C.data(), out, N}, M * N);
      std::vector<float> widened(static_cast<std::size_t>(batch * M * N));
      numerics::decode(widened.data(), C.data(), out, widened.size());
      // With a bias+gelu epilogue through the fp32 stage.
      std::vector<float> bias = values<float>(static_cast<std::size_t>(N), 45, DType::fp32), E(static_cast<std::size_t>(M * N));
      k.gemm(M, N, K, 1.0f, {A.data(), DType::fp32, K}, {B.data(), DType::fp32, N}, 0.0f, {E.data(), DType::fp32, N},
             [&](i64 r0, i64, i64 rows, i64, float* c, i64 ldc) {
               (void)r0;
               k.bias_act_forward_block(c, ldc, bias.data(), rows, N, backend::Activation::gelu);
             });
      Result r;
      const double rel = numerics::spec(out).mantissa_bits == 23 ? 0 : std::ldexp(1.0, -numerics::spec(out).mantissa_bits);
      add_approx(r, widened, {sum_bound<float>(K, K * 4) + rel * K * 4});
      add_approx(r, E, {4 * sum_bound<float>(K, K * 4 + 2)});
      return r;
    });
}

void add_buffer_families() {
  using numerics::Rounding;
  // Conversions: every format pair, every rounding, with and without a scale.
  for (DType from : kAllDTypes)
    for (DType to : kAllDTypes)
      for (Rounding rnd : {Rounding::nearest, Rounding::toward_zero, Rounding::stochastic})
        for (double scale : {1.0, 8.0})
          add("convert_" + fname(from) + "_to_" + fname(to) + "_r" + std::to_string(int(rnd)) + "_s" + std::to_string(int(scale)),
              [=](const Kernels& k) {
                const std::size_t n = 1037;
                auto src = codes(n, 46, from, -500, 500);
                numerics::ConvertOptions opt;
                opt.rounding = rnd;
                opt.seed = 99;
                opt.index_offset = 5;
                opt.scale = scale;
                std::vector<unsigned char> dst(n * size_of(to));
                const double amax = k.conversions.convert(dst.data(), to, src.data(), from, n, opt);
                std::vector<float> dec(n);
                k.conversions.decode_f32(dec.data(), src.data(), from, n);
                std::vector<double> dec64(n);
                k.conversions.decode_f64(dec64.data(), src.data(), from, n);
                std::vector<unsigned char> e32(n * size_of(to)), e64(n * size_of(to));
                const float a32 = k.conversions.encode_f32(e32.data(), to, dec.data(), n, opt);
                const double a64 = k.conversions.encode_f64(e64.data(), to, dec64.data(), n, opt);
                const float am = k.conversions.abs_max(src.data(), from, n);
                Result r;
                add_exact(r, dst);
                add_exact(r, dec);
                add_exact(r, dec64);
                add_exact(r, e32);
                add_exact(r, e64);
                add_exact(r, std::vector<double>{amax, a64});
                add_exact(r, std::vector<float>{a32, am});
                return r;
              });
  // Specials through the checks: NaN, inf, -0 and subnormals.
  for (DType t : kAllDTypes)
    add("all_finite_abs_max_" + fname(t), [=](const Kernels& k) {
      Result r;
      for (double special : {0.0, -0.0, 1e-40, double(INFINITY), -double(INFINITY), double(NAN)})
        for (std::size_t n : {std::size_t{1}, std::size_t{17}, std::size_t{70000}}) {
          std::vector<double> v = values<double>(n, 47, DType::fp64);
          v[n / 2] = special;
          std::vector<unsigned char> c(n * size_of(t));
          numerics::encode(c.data(), t, v.data(), n);
          const bool fin = k.all_finite(c.data(), t, n);
          const float am = k.conversions.abs_max(c.data(), t, n);
          add_exact(r, std::vector<int>{fin ? 1 : 0});
          add_exact(r, std::vector<float>{am});
        }
      return r;
    });
  for (i64 n : kLengths)
    add("sum_squares_n" + std::to_string(n), [=](const Kernels& k) {
      auto x = values<float>(static_cast<std::size_t>(n), 48, DType::fp32);
      Result r;
      add_approx(r, std::vector<double>{k.sum_squares(x.data(), x.size(), 0.5)}, {sum_bound<double>(static_cast<double>(n), 4.0 * static_cast<double>(n))});
      return r;
    });
  // The mixed-dtype binary op and the epilogue helpers.
  for (DType a : kFormats)
    for (DType o : {DType::fp32, DType::bf16, a})
      for (auto op : {backend::BinaryOp::add, backend::BinaryOp::mul, backend::BinaryOp::div})
        add("binary_f32_" + fname(a) + "_" + fname(o) + "_" + std::to_string(int(op)), [=](const Kernels& k) {
          const std::size_t n = 2051;
          auto A = codes(n, 49, a), B = codes(n, 50, DType::fp32, 0.25, 2);
          std::vector<unsigned char> R(n * size_of(o));
          k.binary_f32(op, R.data(), o, A.data(), a, B.data(), DType::fp32, static_cast<i64>(n));
          Result r;
          add_exact(r, R);
          return r;
        });
  for (DType t : kFormats)
    for (auto act : {backend::Activation::identity, backend::Activation::relu, backend::Activation::gelu})
      for (Rows s : kRows)
        add("epilogue_helpers_" + fname(t) + "_" + std::to_string(int(act)) + "_" + std::to_string(s.N) + "x" + std::to_string(s.C),
            [=](const Kernels& k) {
              const auto n = static_cast<std::size_t>(s.N * s.C);
              auto dout = codes(n, 51, t), x = codes(n, 52, t, -4, 4);
              std::vector<float> dx(n), dbias(static_cast<std::size_t>(s.C)), sums(static_cast<std::size_t>(s.C));
              k.bias_act_backward_from(dx.data(), dbias.data(), dout.data(), t, x.data(), t, s.N, s.C, act);
              k.column_sums(sums.data(), x.data(), t, s.N, s.C);
              auto block = values<float>(n, 53, DType::fp32, -4, 4);
              auto bias = values<float>(static_cast<std::size_t>(s.C), 54, DType::fp32);
              k.bias_act_forward_block(block.data(), s.C, bias.data(), s.N, s.C, act);
              Result r;
              add_exact(r, dx);
              add_exact(r, block);
              add_approx(r, dbias, {sum_bound<float>(static_cast<double>(s.N), 4.0 * static_cast<double>(s.N))});
              add_approx(r, sums, {sum_bound<float>(static_cast<double>(s.N), 4.0 * static_cast<double>(s.N))});
              return r;
            });
  // LayerNorm on 16-bit (or fp32) inputs and outputs, computed in fp32.
  for (DType in : {DType::fp32, DType::fp16, DType::bf16})
    for (DType o : {DType::fp32, DType::bf16, in})
      for (Rows s : kRows)
        add("layer_norm_from_" + fname(in) + "_" + fname(o) + "_" + std::to_string(s.N) + "x" + std::to_string(s.C),
            [=](const Kernels& k) {
              const auto n = static_cast<std::size_t>(s.N * s.C), c = static_cast<std::size_t>(s.C);
              auto x = codes(n, 63, in, -3, 3), dout = codes(n, 64, in);
              auto g = values<float>(c, 65, DType::fp32), b = values<float>(c, 66, DType::fp32);
              std::vector<unsigned char> out(n * size_of(o));
              std::vector<float> mean(static_cast<std::size_t>(s.N)), rstd(mean.size()), dx(n), dg(c), db(c), y(n);
              k.layer_norm_forward_from(out.data(), o, mean.data(), rstd.data(), x.data(), in, g.data(), b.data(), s.N,
                                        s.C, 1e-5f);
              k.layer_norm_backward_from(dx.data(), dg.data(), db.data(), dout.data(), in, x.data(), in, mean.data(),
                                         rstd.data(), g.data(), s.N, s.C);
              numerics::decode(y.data(), out.data(), o, n);
              Result r;
              const double cd = static_cast<double>(s.C), rs = 1 / std::sqrt(1e-5);
              const double t = kNormFactor * sum_bound<float>(cd, cd * 4) * rs * rs;
              // Outputs (|y| < 16 here) may round to neighbouring codes of a 16-bit format.
              const double out_ulp = o == DType::fp32 ? 0.0 : o == DType::bf16 ? 0x1p-4 : 0x1p-7;
              add_approx(r, mean, {t});
              add_approx(r, rstd, {t * rs * rs});
              add_approx(r, y, {t * rs * 4 + out_ulp});
              add_approx(r, dx, {t * rs * rs * 16 * cd});
              add_approx(r, dg, {t * rs * 8 * static_cast<double>(s.N)});
              add_approx(r, db, {sum_bound<float>(static_cast<double>(s.N), 2.0 * static_cast<double>(s.N))});
              return r;
            });
  // Layout.
  const std::vector<std::pair<Shape, std::vector<i64>>> perms = {
      {{5}, {0}}, {{3, 4}, {1, 0}}, {{2, 3, 5}, {0, 2, 1}}, {{2, 3, 4, 5}, {0, 2, 1, 3}}, {{1, 7, 1, 9}, {3, 2, 1, 0}}, {{0, 4}, {1, 0}}};
  for (DType t : kAllDTypes)
    for (std::size_t pi = 0; pi < perms.size(); ++pi)
      add("permute_" + fname(t) + "_p" + std::to_string(pi), [=](const Kernels& k) {
        const auto& [shape, perm] = perms[pi];
        auto x = codes(static_cast<std::size_t>(numel(shape)), 55, t);
        std::vector<unsigned char> y(x.size());
        k.permute(y.data(), x.data(), size_of(t), shape, perm);
        Result r;
        add_exact(r, y);
        return r;
      });
  for (DType t : kAllDTypes)
    for (auto [N, V, D] : {std::array<i64, 3>{0, 3, 4}, {1, 1, 1}, {33, 7, 17}})
      add("gather_copy_rows_" + fname(t) + "_" + std::to_string(N) + "x" + std::to_string(V) + "x" + std::to_string(D),
          [=](const Kernels& k) {
            const std::size_t row = static_cast<std::size_t>(D) * size_of(t);
            auto table_codes = codes(static_cast<std::size_t>(V * D), 62, t);
            auto ids = labels(static_cast<std::size_t>(N), V, 63);
            std::vector<unsigned char> g(static_cast<std::size_t>(N) * row), c(static_cast<std::size_t>(V) * 2 * row, 0);
            k.gather_rows(g.data(), table_codes.data(), row, ids.data(), N);
            // Rows of the table into every other row of c (a concat-like stride).
            k.copy_rows(c.data(), 2 * row, table_codes.data(), row, V, row);
            Result r;
            add_exact(r, g);
            add_exact(r, c);
            return r;
          });
  for (DType t : kFormats)
    add("heads_" + fname(t), [=](const Kernels& k) {
      const i64 B = 2, T = 5, G = 3, H = 2, D = 4;
      const auto n = static_cast<std::size_t>(B * T * G * H * D);
      auto rows = codes(n, 56, t);
      std::vector<float> s32(n);
      std::vector<double> s64(n);
      k.to_heads_f32(s32.data(), rows.data(), t, B, T, G, H, D);
      k.to_heads_f64(s64.data(), rows.data(), t, B, T, G, H, D);
      std::vector<unsigned char> back32(rows.size()), back64(rows.size());
      k.from_heads_f32(back32.data(), t, s32.data(), B, T, G, H, D);
      k.from_heads_f64(back64.data(), t, s64.data(), B, T, G, H, D);
      Result r;
      add_exact(r, s32);
      add_exact(r, s64);
      add_exact(r, back32);
      add_exact(r, back64);
      return r;
    });
  for (i64 n : kLengths)
    for (double p : {0.0, 0.3, 0.9})
      add("dropout_mask_n" + std::to_string(n) + "_p" + std::to_string(int(p * 10)), [=](const Kernels& k) {
        std::vector<std::uint8_t> mask(static_cast<std::size_t>(n));
        k.dropout_mask(mask.data(), n, p, 4321, 3);
        Result r;
        add_exact(r, mask);
        return r;
      });
}

void add_optimizer_families() {
  using backend::OptimizerKind;
  for (OptimizerKind kind : {OptimizerKind::sgd, OptimizerKind::adamw})
    for (DType param : {DType::fp32, DType::fp64, DType::fp16, DType::bf16, DType::e4m3, DType::e5m2})
      for (DType master : {DType::fp32, DType::fp64, DType::fp16 /* stands for: no master */})
        for (auto rnd : {numerics::Rounding::nearest, numerics::Rounding::stochastic})
          for (i64 n : {i64{1}, i64{33}, i64{5000}}) {
            const bool own = master == DType::fp16;
            if (own && (param == DType::fp32 || param == DType::fp64) && rnd == numerics::Rounding::stochastic) continue;
            if (!own && (param == DType::fp32 || param == DType::fp64)) continue;  // masters are for low precision
            add(std::string("optimizer_") + (kind == OptimizerKind::sgd ? "sgd" : "adamw") + "_" + fname(param) + "_" +
                    (own ? "own" : fname(master)) + "_r" + std::to_string(int(rnd)) + "_n" + std::to_string(n),
                [=](const Kernels& k) {
                  const auto un = static_cast<std::size_t>(n);
                  backend::OptimizerHyper h;
                  h.kind = kind;
                  h.lr = 0.01f;
                  h.momentum = 0.9f;
                  h.weight_decay = 0.01f;
                  h.nesterov = true;
                  h.c1 = 1 / (1 - 0.9f * 0.9f);
                  h.c2 = 1 / std::sqrt(1 - 0.999f * 0.999f);
                  h.adamw_decay = static_cast<float>(1.0 - 0.01 * 0.01);
                  Result r;
                  std::vector<unsigned char> p = codes(un, 57, param);
                  std::vector<double> master64 = values<double>(un, 58, DType::fp64);
                  std::vector<float> master32(master64.begin(), master64.end());
                  std::vector<float> g = values<float>(un, 59, DType::fp32), m = values<float>(un, 60, DType::fp32);
                  std::vector<float> v = values<float>(un, 61, DType::fp32, 0, 1);
                  for (std::int64_t step : {1, 2, 3}) {
                    h.step = step;
                    backend::ParamUpdate u{};
                    u.param = p.data();
                    u.param_dtype = param;
                    u.master = own ? nullptr : (master == DType::fp64 ? static_cast<void*>(master64.data()) : master32.data());
                    u.master_dtype = own ? param : master;
                    u.grad = g.data();
                    u.m = m.data();
                    u.v = kind == OptimizerKind::adamw ? v.data() : nullptr;
                    u.n = n;
                    u.grad_factor = 0.5f;
                    u.decay = step != 2;
                    u.rounding = rnd;
                    u.seed = 1000 + static_cast<std::uint64_t>(step);
                    k.optimizer_update(h, u);
                  }
                  add_exact(r, p);
                  add_exact(r, master32);
                  add_exact(r, master64);
                  add_exact(r, m);
                  add_exact(r, v);
                  return r;
                });
          }
}

const std::vector<Case>& all_cases() {
  static const bool built = [] {
    for (DType f : kFormats) {
      add_real_families<float>(f);
      if (f == DType::fp32) add_real_families<double>(DType::fp64);
    }
    add_gemm_families();
    add_buffer_families();
    add_optimizer_families();
    return true;
  }();
  (void)built;
  return table();
}

class CrossCheck : public testing::TestWithParam<Case> {};

// Every registered backend but the reference itself is checked against the reference (today:
// cpu; a new backend is covered by registering it).
TEST_P(CrossCheck, EveryBackendAgreesWithReference) {
  const Kernels& ref = backend::backend_table("reference");
  const Result b = GetParam().run(ref);
  for (const std::string& name : backend::backend_names()) {
    if (name == "reference") continue;
    SCOPED_TRACE("backend " + name);
    const Result a = GetParam().run(backend::backend_table(name));
    ASSERT_EQ(a.exact.size(), b.exact.size());
    ASSERT_EQ(a.approx.size(), b.approx.size());
    std::size_t first_diff = a.exact.size();
    for (std::size_t i = 0; i < a.exact.size() && first_diff == a.exact.size(); ++i)
      if (a.exact[i] != b.exact[i]) first_diff = i;
    EXPECT_EQ(first_diff, a.exact.size()) << "exact outputs differ from byte " << first_diff << " of " << a.exact.size();
    int reported = 0;
    for (std::size_t i = 0; i < a.approx.size(); ++i) {
      const double x = a.approx[i], y = b.approx[i];
      const bool ok = (std::isnan(x) && std::isnan(y)) || x == y || std::abs(x - y) <= b.tol[i];
      if (!ok && reported++ < 5)
        ADD_FAILURE() << "element " << i << ": " << name << " " << x << " reference " << y << " differ by "
                      << std::abs(x - y) << " > bound " << b.tol[i];
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Families, CrossCheck, testing::ValuesIn(all_cases()),
                         [](const testing::TestParamInfo<Case>& p) { return p.param.name; });

// The table covers every family of the Kernels table: a family added to kernels.h without a row
// here is caught by this count (one per RealKernels entry and per Kernels entry, by name prefix).
TEST(CrossCheckTable, EveryFamilyHasRows) {
  const char* prefixes[] = {"binary_", "unary_", "bias_act_", "point_loss_", "sum_to_", "accumulate_", "softmax_family_",
                            "layer_norm_", "batch_norm_", "conv2d_", "pool2d_", "attention_", "embedding_", "dropout_",
                            "gemm_", "gemm_batched_", "convert_", "all_finite_", "sum_squares_", "binary_f32_",
                            "epilogue_helpers_", "permute_", "gather_copy_rows_", "heads_", "dropout_mask_", "optimizer_"};
  for (const char* p : prefixes) {
    int rows = 0;
    for (const Case& c : all_cases()) rows += c.name.rfind(p, 0) == 0;
    EXPECT_GT(rows, 0) << p;
  }
}

}  // namespace
}  // namespace mixtrain

namespace mixtrain {
namespace {

// The registry checks every entry of a table, not a hand-kept list: a table missing any one
// family (a per-dtype one, a type-erased one, a conversion) is refused at registration.
TEST(BackendRegistry, RefusesATableWithAnUnsetFamily) {
  const Kernels& cpu = backend::backend_table("cpu");
  auto refused = [](Kernels t) {
    t.name = "incomplete";
    try {
      backend::register_backend(t);
    } catch (const Error& e) {
      return std::string(e.what()).find("leaves a kernel family unset") != std::string::npos;
    }
    return false;
  };
  Kernels a = cpu, b = cpu, c = cpu, d = cpu;
  a.f64.dropout_backward = nullptr;
  b.gemm = nullptr;
  c.copy_rows = nullptr;
  d.conversions.abs_max = nullptr;
  for (const Kernels& t : {a, b, c, d}) EXPECT_TRUE(refused(t));
  EXPECT_EQ(backend::backend_names(), (std::vector<std::string>{"cpu", "reference"}));
}

}  // namespace
}  // namespace mixtrain
