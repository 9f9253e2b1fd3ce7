// GEMM with low-precision operands (gemm.h): the fp32/fp64 fast paths straight into OpenBLAS,
// the panel path that up-converts fp16/bf16/fp8 K-blocks into per-thread fp32 workspace, the
// tile planner that spreads C over mixtrain's pool, gemm_batched and the bf16dot emulation.
#include "backend/cpu/gemm.h"

#include <cblas.h>

#include <algorithm>
#include <atomic>
#include <bit>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "backend/cpu/bf16_dot.h"
#include "backend/cpu/gemm_tile.h"
#include "backend/cpu/workspace.h"
#include "numerics/convert.h"
#include "runtime/cpu_features.h"
#include "runtime/error.h"
#include "runtime/parallel.h"

// OpenBLAS's thread control, declared weak so that another BLAS still links (then it is null).
extern "C" void openblas_set_num_threads(int) __attribute__((weak));

namespace mixtrain::backend::cpu {
namespace {

using i64 = std::int64_t;

// GEMM flop counters (gemm_flops), in units of flops; an int64 holds 9.2e18, days of work here.
std::atomic<std::uint64_t> g_flops[3];

// The same work by the kernel that ran it (GemmKernel order; all-fp64 products are not counted).
std::atomic<std::uint64_t> g_kernel_flops[4];

void count_flops(i64 batch, i64 M, i64 N, i64 K, DType a, DType b) {
  const int wa = numerics::spec(a).bits(), wb = numerics::spec(b).bits();
  const int bucket = wa == 8 && wb == 8 ? 0 : std::max(wa, wb) <= 16 ? 1 : 2;
  const auto flops = static_cast<std::uint64_t>(2 * batch * M * N * K);
  g_flops[bucket].fetch_add(flops, std::memory_order_relaxed);
  if (a != DType::fp64 || b != DType::fp64)
    g_kernel_flops[static_cast<int>(gemm_kernel_for(a, b))].fetch_add(flops, std::memory_order_relaxed);
}

// Below this many flops a GEMM runs on the calling thread: waking the pool costs ~10 us.
constexpr double kParallelFlops = 4.0e6;

void blas_single_threaded() {
  static std::once_flag once;
  std::call_once(once, [] { set_blas_num_threads(1); });
}

const unsigned char* at(const void* base, i64 row, i64 col, i64 ld, DType t) {
  return static_cast<const unsigned char*>(base) +
         static_cast<std::size_t>(row * ld + col) * size_of(t);
}
unsigned char* at(void* base, i64 row, i64 col, i64 ld, DType t) {
  return static_cast<unsigned char*>(base) + static_cast<std::size_t>(row * ld + col) * size_of(t);
}

// Decodes `rows` runs of `len` elements (source row stride ld) into dst (row stride len). One
// call when the runs are contiguous in the source. Runs stay far below the 65536-element grain of
// numerics::decode, so it never re-enters the pool from a tile.
void decode_rows(float* dst, const unsigned char* src, DType t, i64 rows, i64 len, i64 ld) {
  if (rows <= 0 || len <= 0) return;
  if (ld == len) {
    numerics::decode(dst, src, t, static_cast<std::size_t>(rows * len));
    return;
  }
  const std::size_t stride = static_cast<std::size_t>(ld) * size_of(t);
  for (i64 r = 0; r < rows; ++r)
    numerics::decode(dst + r * len, src + static_cast<std::size_t>(r) * stride, t,
                     static_cast<std::size_t>(len));
}

void encode_rows(unsigned char* dst, DType t, i64 ld, const float* src, i64 rows, i64 len) {
  if (ld == len) {
    numerics::encode(dst, t, src, static_cast<std::size_t>(rows * len));
    return;
  }
  const std::size_t stride = static_cast<std::size_t>(ld) * size_of(t);
  for (i64 r = 0; r < rows; ++r)
    numerics::encode(dst + static_cast<std::size_t>(r) * stride, t, src + r * len,
                     static_cast<std::size_t>(len));
}

CBLAS_TRANSPOSE trans(bool t) { return t ? CblasTrans : CblasNoTrans; }

struct Problem {
  i64 M, N, K;
  float alpha;  // alpha * sa * sb
  GemmOperand A, B;
  float beta;
  GemmOutput C;
  const GemmEpilogue* epilogue;  // null or empty: none
  bool has_epilogue() const { return epilogue != nullptr && *epilogue; }
};

struct Tiling {
  i64 tm, tn, nm, nn;
  i64 tiles() const { return nm * nn; }
};

i64 ceil_div(i64 a, i64 b) { return (a + b - 1) / b; }
i64 round_up(i64 a, i64 b) { return ceil_div(a, b) * b; }

// Splits C into tiles no larger than max_m x max_n and into at least `threads` tiles when the
// problem is worth it, splitting the longer tile side (so the operand that every tile re-packs
// is the smaller one). Tile sides are multiples of 16, the width of the micro-kernels, and rows
// of align_m (6 for the packed kernels' 6-row micro-tiles, so only the last tile has an edge; a
// coarser alignment unbalances two-way splits: 48 cut M = 256 into 144 + 112 rows).
Tiling plan(i64 M, i64 N, i64 K, i64 max_m, i64 max_n, int threads, i64 align_m = 16) {
  i64 nm = ceil_div(M, max_m), nn = ceil_div(N, max_n);
  const bool parallel = threads > 1 && 2.0 * double(M) * double(N) * double(K) >= kParallelFlops;
  if (parallel) {
    // Reach `threads` tiles, then round up to a multiple of it while tiles are few (balance).
    for (;;) {
      const i64 t = nm * nn;
      if (t >= threads && (t % threads == 0 || t >= 4 * threads)) break;
      const i64 tm = ceil_div(M, nm), tn = ceil_div(N, nn);
      if (tm >= tn && tm >= 32)
        ++nm;
      else if (tn >= 32)
        ++nn;
      else if (tm >= 32)
        ++nm;
      else
        break;
    }
  }
  Tiling t{};
  t.tm = std::min(M, round_up(ceil_div(M, nm), align_m));
  t.tn = std::min(N, round_up(ceil_div(N, nn), 16));
  t.nm = ceil_div(M, t.tm);
  t.nn = ceil_div(N, t.tn);
  return t;
}

template <typename Fn>
void for_each_tile(const Tiling& t, bool parallel, Fn&& fn) {
  auto one = [&](i64 idx) {
    const i64 bi = idx / t.nn, bj = idx % t.nn;
    fn(bi * t.tm, bj * t.tn);
  };
  if (!parallel || t.tiles() == 1) {
    for (i64 idx = 0; idx < t.tiles(); ++idx) one(idx);
    return;
  }
  runtime::parallel_for_chunks(static_cast<std::size_t>(t.tiles()),
                               [&](std::size_t c) { one(static_cast<i64>(c)); });
}

// fp32 x fp32 -> fp32: each tile is one sgemm on the caller's memory.
void sgemm_tiles(const Problem& p, bool parallel) {
  const Tiling t = plan(p.M, p.N, p.K, p.M, p.N, parallel ? runtime::num_threads() : 1);
  const auto* a = static_cast<const float*>(p.A.data);
  const auto* b = static_cast<const float*>(p.B.data);
  auto* c = static_cast<float*>(p.C.data);
  for_each_tile(t, parallel, [&](i64 i0, i64 j0) {
    const i64 m = std::min(t.tm, p.M - i0), n = std::min(t.tn, p.N - j0);
    const float* ap = p.A.transposed ? a + i0 : a + i0 * p.A.ld;
    const float* bp = p.B.transposed ? b + j0 * p.B.ld : b + j0;
    cblas_sgemm(CblasRowMajor, trans(p.A.transposed), trans(p.B.transposed), int(m), int(n),
                int(p.K), p.alpha, ap, int(p.A.ld), bp, int(p.B.ld), p.beta, c + i0 * p.C.ld + j0,
                int(p.C.ld));
    if (p.has_epilogue()) (*p.epilogue)(i0, j0, m, n, c + i0 * p.C.ld + j0, p.C.ld);
  });
}

void dgemm_tiles(const Problem& p, double alpha, double beta, bool parallel) {
  const Tiling t = plan(p.M, p.N, p.K, p.M, p.N, parallel ? runtime::num_threads() : 1);
  const auto* a = static_cast<const double*>(p.A.data);
  const auto* b = static_cast<const double*>(p.B.data);
  auto* c = static_cast<double*>(p.C.data);
  for_each_tile(t, parallel, [&](i64 i0, i64 j0) {
    const i64 m = std::min(t.tm, p.M - i0), n = std::min(t.tn, p.N - j0);
    const double* ap = p.A.transposed ? a + i0 : a + i0 * p.A.ld;
    const double* bp = p.B.transposed ? b + j0 * p.B.ld : b + j0;
    cblas_dgemm(CblasRowMajor, trans(p.A.transposed), trans(p.B.transposed), int(m), int(n),
                int(p.K), alpha, ap, int(p.A.ld), bp, int(p.B.ld), beta, c + i0 * p.C.ld + j0,
                int(p.C.ld));
  });
}

// The fp32 accumulator of C's tile at (i0, j0), m x n: C itself when C is fp32, else per-thread
// scratch holding C's old values when beta reads them.
std::pair<float*, i64> fp32_tile(const Problem& p, i64 i0, i64 j0, i64 m, i64 n) {
  if (p.C.dtype == DType::fp32) return {static_cast<float*>(p.C.data) + i0 * p.C.ld + j0, p.C.ld};
  float* cp = thread_scratch<float>(Scratch::gemm_c, static_cast<std::size_t>(m * n));
  if (p.beta != 0.0f) decode_rows(cp, at(p.C.data, i0, j0, p.C.ld, p.C.dtype), p.C.dtype, m, n, p.C.ld);
  return {cp, n};
}

// The general path: any operand that is not fp32 is decoded K-block by K-block into fp32 panels
// (exact for fp16/bf16/fp8), sgemm accumulates into C or, when C is not fp32, into an fp32 tile
// that is rounded into C once at the end.
void panel_tiles(const Problem& p, bool parallel) {
  const bool conv_a = p.A.dtype != DType::fp32, conv_b = p.B.dtype != DType::fp32;
  const bool conv_c = p.C.dtype != DType::fp32;
  // K-blocking only pays for operands we convert; fp32 ones are read in place.
  const i64 kb = (conv_a || conv_b) ? std::min(p.K, kGemmKBlock) : p.K;
  const Tiling t =
      plan(p.M, p.N, p.K, kGemmTileM, kGemmTileN, parallel ? runtime::num_threads() : 1);
  for_each_tile(t, parallel, [&](i64 i0, i64 j0) {
    const i64 m = std::min(t.tm, p.M - i0), n = std::min(t.tn, p.N - j0);
    auto [cp, ldc] = fp32_tile(p, i0, j0, m, n);
    float* wa = conv_a ? thread_scratch<float>(Scratch::gemm_a, static_cast<std::size_t>(m * kb)) : nullptr;
    float* wb = conv_b ? thread_scratch<float>(Scratch::gemm_b, static_cast<std::size_t>(kb * n)) : nullptr;
    for (i64 k0 = 0; k0 < p.K; k0 += kb) {
      const i64 kc = std::min(kb, p.K - k0);
      // op(A) block: rows i0..i0+m, cols k0..k0+kc. Panels keep the source's orientation.
      const float* ap;
      i64 lda;
      if (!conv_a) {
        ap = reinterpret_cast<const float*>(p.A.transposed ? at(p.A.data, k0, i0, p.A.ld, p.A.dtype)
                                                           : at(p.A.data, i0, k0, p.A.ld, p.A.dtype));
        lda = p.A.ld;
      } else if (!p.A.transposed) {
        decode_rows(wa, at(p.A.data, i0, k0, p.A.ld, p.A.dtype), p.A.dtype, m, kc, p.A.ld);
        ap = wa;
        lda = kc;
      } else {
        decode_rows(wa, at(p.A.data, k0, i0, p.A.ld, p.A.dtype), p.A.dtype, kc, m, p.A.ld);
        ap = wa;
        lda = m;
      }
      const float* bp;
      i64 ldb;
      if (!conv_b) {
        bp = reinterpret_cast<const float*>(p.B.transposed ? at(p.B.data, j0, k0, p.B.ld, p.B.dtype)
                                                           : at(p.B.data, k0, j0, p.B.ld, p.B.dtype));
        ldb = p.B.ld;
      } else if (!p.B.transposed) {
        decode_rows(wb, at(p.B.data, k0, j0, p.B.ld, p.B.dtype), p.B.dtype, kc, n, p.B.ld);
        bp = wb;
        ldb = n;
      } else {
        decode_rows(wb, at(p.B.data, j0, k0, p.B.ld, p.B.dtype), p.B.dtype, n, kc, p.B.ld);
        bp = wb;
        ldb = kc;
      }
      cblas_sgemm(CblasRowMajor, trans(p.A.transposed), trans(p.B.transposed), int(m), int(n),
                  int(kc), p.alpha, ap, int(lda), bp, int(ldb), k0 == 0 ? p.beta : 1.0f, cp,
                  int(ldc));
    }
    if (p.has_epilogue()) (*p.epilogue)(i0, j0, m, n, cp, ldc);
    if (conv_c) encode_rows(at(p.C.data, i0, j0, p.C.ld, p.C.dtype), p.C.dtype, p.C.ld, cp, m, n);
  });
}

#if MIXTRAIN_HAVE_AVX2_KERNELS
// The packed kernels (gemm_tile.h) for every operand format: they decode while they pack, so
// there is no separate panel pass. A C that is not fp32 is accumulated in an fp32 tile, rounded
// once.
void packed_tiles(const Problem& p, bool parallel, GemmKernel kernel) {
  const bool conv_c = p.C.dtype != DType::fp32;
  const Tiling t = plan(p.M, p.N, p.K, kGemmTileM, kGemmTileN,
                        parallel ? runtime::num_threads() : 1, 6);
  auto* tile_fn = &detail::packed_gemm_tile;
#if MIXTRAIN_HAVE_AVX512_KERNELS
  if (kernel == GemmKernel::avx512_fp32) tile_fn = &detail::packed_gemm_tile_avx512;
  if (kernel == GemmKernel::avx512_bf16dot) tile_fn = &detail::packed_gemm_tile_bf16dot;
#endif
  for_each_tile(t, parallel, [&](i64 i0, i64 j0) {
    const i64 m = std::min(t.tm, p.M - i0), n = std::min(t.tn, p.N - j0);
    auto [cp, ldc] = fp32_tile(p, i0, j0, m, n);
    // Final rows go through the epilogue and into C's dtype block by block, while in cache.
    detail::TileRowsDone finish;
    if (conv_c || p.has_epilogue())
      finish = [&](i64 r, i64 rows) {
        float* rp = cp + r * ldc;
        if (p.has_epilogue()) (*p.epilogue)(i0 + r, j0, rows, n, rp, ldc);
        if (conv_c)
          encode_rows(at(p.C.data, i0 + r, j0, p.C.ld, p.C.dtype), p.C.dtype, p.C.ld, rp, rows, n);
      };
    tile_fn(i0, j0, m, n, p.K, p.alpha, p.A, p.B, p.beta, cp, ldc, finish);
  });
}
#endif

// K == 0: C = beta * C (beta == 0 writes zeros without reading C).
void scale_c(i64 M, i64 N, float beta, const GemmOutput& C) {
  std::vector<float> row(static_cast<std::size_t>(N));
  for (i64 i = 0; i < M; ++i) {
    unsigned char* dst = at(C.data, i, 0, C.ld, C.dtype);
    if (C.dtype == DType::fp64) {
      auto* d = reinterpret_cast<double*>(dst);
      for (i64 j = 0; j < N; ++j) d[j] = beta == 0.0f ? 0.0 : double(beta) * d[j];
      continue;
    }
    if (beta == 0.0f)
      std::fill(row.begin(), row.end(), 0.0f);
    else {
      numerics::decode(row.data(), dst, C.dtype, row.size());
      for (float& v : row) v *= beta;
    }
    numerics::encode(dst, C.dtype, row.data(), row.size());
  }
}

void validate(i64 M, i64 N, i64 K, const GemmOperand& A, const GemmOperand& B,
              const GemmOutput& C) {
  check(M >= 0 && N >= 0 && K >= 0, "gemm: negative size");
  const i64 lim = std::int64_t{1} << 31;
  check(M < lim && N < lim && K < lim && A.ld < lim && B.ld < lim && C.ld < lim,
        "gemm: size or leading dimension beyond the BLAS int range");
  const i64 a_cols = A.transposed ? M : K, b_cols = B.transposed ? K : N;
  check(A.ld >= std::max<i64>(1, a_cols), "gemm: A.ld " + std::to_string(A.ld) + " < " +
                                              std::to_string(a_cols));
  check(B.ld >= std::max<i64>(1, b_cols), "gemm: B.ld " + std::to_string(B.ld) + " < " +
                                              std::to_string(b_cols));
  check(C.ld >= std::max<i64>(1, N), "gemm: C.ld " + std::to_string(C.ld) + " < " +
                                         std::to_string(N));
}

void gemm_impl(i64 M, i64 N, i64 K, float alpha, const GemmOperand& A, const GemmOperand& B,
               float beta, const GemmOutput& C, bool parallel, const GemmEpilogue* epilogue = nullptr) {
  if (M == 0 || N == 0) return;
  const bool all64 = A.dtype == DType::fp64 && B.dtype == DType::fp64 && C.dtype == DType::fp64;
  check(!all64 || epilogue == nullptr || !*epilogue,
        "gemm: an epilogue needs an fp32 stage (not all-fp64 operands)");
  blas_single_threaded();
  const double scaled = double(alpha) * double(A.scale_inv) * double(B.scale_inv);
  if (K == 0) {
    scale_c(M, N, beta, C);
    if (epilogue != nullptr && *epilogue) {
      std::vector<float> c(static_cast<std::size_t>(M * N));
      decode_rows(c.data(), at(C.data, 0, 0, C.ld, C.dtype), C.dtype, M, N, C.ld);
      (*epilogue)(0, 0, M, N, c.data(), N);
      encode_rows(static_cast<unsigned char*>(C.data), C.dtype, C.ld, c.data(), M, N);
    }
    return;
  }
  const Problem p{M, N, K, static_cast<float>(scaled), A, B, beta, C, epilogue};
  if (all64) {
    dgemm_tiles(p, scaled, double(beta), parallel);
  } else if (const GemmKernel kernel = gemm_kernel_for(A.dtype, B.dtype); kernel != GemmKernel::blas) {
#if MIXTRAIN_HAVE_AVX2_KERNELS
    packed_tiles(p, parallel, kernel);
#endif
  } else if (A.dtype == DType::fp32 && B.dtype == DType::fp32 && C.dtype == DType::fp32) {
    sgemm_tiles(p, parallel);
  } else {
    panel_tiles(p, parallel);
  }
}

}  // namespace

namespace {

enum class GemmMode { automatic, exact, blas };

// MIXTRAIN_GEMM, read once: unset or "auto", "exact" or "blas"; anything else is an error.
GemmMode gemm_mode() {
  static const GemmMode mode = [] {
    const char* env = std::getenv("MIXTRAIN_GEMM");
    const std::string v = env == nullptr ? "" : env;
    if (v.empty() || v == "auto") return GemmMode::automatic;
    if (v == "exact") return GemmMode::exact;
    if (v == "blas") return GemmMode::blas;
    throw Error("MIXTRAIN_GEMM: unknown value '" + v + "' (expected auto, exact or blas)");
  }();
  return mode;
}

bool bf16dot_operand(DType t) { return t == DType::bf16 || t == DType::e4m3 || t == DType::e5m2; }

}  // namespace

GemmKernel gemm_kernel_for(DType a, DType b) {
  using runtime::IsaTier;
  const GemmMode mode = gemm_mode();
  if (mode == GemmMode::blas || !runtime::isa_at_least(IsaTier::avx2)) return GemmKernel::blas;
#if MIXTRAIN_HAVE_AVX512_KERNELS
  if (runtime::isa_at_least(IsaTier::avx512_bf16) && mode != GemmMode::exact &&
      bf16dot_operand(a) && bf16dot_operand(b))
    return GemmKernel::avx512_bf16dot;
  if (runtime::isa_at_least(IsaTier::avx512)) return GemmKernel::avx512_fp32;
#endif
  (void)a;
  (void)b;
  return GemmKernel::avx2_fp32;
}

std::string_view gemm_kernel_name(GemmKernel k) {
  switch (k) {
    case GemmKernel::blas: return "blas";
    case GemmKernel::avx2_fp32: return "avx2_fp32";
    case GemmKernel::avx512_fp32: return "avx512_fp32";
    case GemmKernel::avx512_bf16dot: return "avx512_bf16dot";
  }
  return "?";
}

std::size_t gemm_workspace_bytes() { return scratch_bytes(); }

bool set_blas_num_threads(int n) {
  if (openblas_set_num_threads == nullptr) return false;
  openblas_set_num_threads(std::max(1, n));
  return true;
}

GemmFlops gemm_flops() {
  auto get = [](int i) { return static_cast<double>(g_flops[i].load(std::memory_order_relaxed)); };
  return {get(0), get(1), get(2)};
}

void reset_gemm_flops() {
  for (auto& f : g_flops) f.store(0, std::memory_order_relaxed);
  for (auto& f : g_kernel_flops) f.store(0, std::memory_order_relaxed);
}

std::vector<std::pair<std::string_view, double>> gemm_flops_by_kernel() {
  std::vector<std::pair<std::string_view, double>> out;
  for (int k = 0; k < 4; ++k) {
    const auto f = g_kernel_flops[k].load(std::memory_order_relaxed);
    if (f != 0) out.emplace_back(gemm_kernel_name(static_cast<GemmKernel>(k)), static_cast<double>(f));
  }
  return out;
}

void gemm(i64 M, i64 N, i64 K, float alpha, const GemmOperand& A, const GemmOperand& B,
          float beta, const GemmOutput& C, const GemmEpilogue& epilogue) {
  validate(M, N, K, A, B, C);
  count_flops(1, M, N, K, A.dtype, B.dtype);
  gemm_impl(M, N, K, alpha, A, B, beta, C, true, &epilogue);
}

void gemm_batched(i64 batch, i64 M, i64 N, i64 K, float alpha, const GemmOperand& A,
                  i64 stride_a, const GemmOperand& B, i64 stride_b, float beta, const GemmOutput& C,
                  i64 stride_c) {
  check(batch >= 0, "gemm_batched: negative batch");
  validate(M, N, K, A, B, C);
  if (batch == 0) return;
  count_flops(batch, M, N, K, A.dtype, B.dtype);
  auto item = [&](i64 b, bool parallel) {
    GemmOperand a = A, bb = B;
    GemmOutput c = C;
    a.data = at(A.data, b, 0, stride_a, A.dtype);
    bb.data = at(B.data, b, 0, stride_b, B.dtype);
    c.data = at(C.data, b, 0, stride_c, C.dtype);
    gemm_impl(M, N, K, alpha, a, bb, beta, c, parallel);
  };
  const int threads = runtime::num_threads();
  const double flops = 2.0 * double(M) * double(N) * double(K);
  // Many items (attention's B*H heads) or small ones: one item per task, each single-threaded.
  // Few large items: one after the other, each spread over the pool.
  if (batch >= threads || flops < kParallelFlops) {
    runtime::parallel_for(static_cast<std::size_t>(batch), 1, [&](std::size_t b0, std::size_t b1) {
      for (std::size_t b = b0; b < b1; ++b) item(static_cast<i64>(b), false);
    });
  } else {
    for (i64 b = 0; b < batch; ++b) item(b, true);
  }
}

void gemm_bf16dot_emulated(i64 M, i64 N, i64 K, float alpha, const GemmOperand& A,
                           const GemmOperand& B, float beta, const GemmOutput& C) {
  validate(M, N, K, A, B, C);
  check(bf16dot_operand(A.dtype) && bf16dot_operand(B.dtype),
        "gemm_bf16dot_emulated: operands must be bf16, e4m3 or e5m2");
  // Each operand as bf16 codes (exact for fp8), op() applied: a[i][k], b[j][k] (both along k).
  auto load = [&](const GemmOperand& X, i64 rows, i64 cols, bool along_k_rows) {
    std::vector<float> v(static_cast<std::size_t>(rows * cols));
    for (i64 r = 0; r < rows; ++r)
      numerics::decode(v.data() + r * cols, at(X.data, r, 0, X.ld, X.dtype), X.dtype,
                       static_cast<std::size_t>(cols));
    // codes[i * K + k]
    const i64 outer = along_k_rows ? rows : cols;
    std::vector<std::uint16_t> codes(static_cast<std::size_t>(outer * K));
    for (i64 o = 0; o < outer; ++o)
      for (i64 k = 0; k < K; ++k) {
        const float f = along_k_rows ? v[o * cols + k] : v[k * cols + o];
        codes[o * K + k] = static_cast<std::uint16_t>(std::bit_cast<std::uint32_t>(f) >> 16);
      }
    return codes;
  };
  const std::vector<std::uint16_t> a = A.transposed ? load(A, K, M, false) : load(A, M, K, true);
  const std::vector<std::uint16_t> b = B.transposed ? load(B, N, K, true) : load(B, K, N, false);
  const auto pair = [K](const std::vector<std::uint16_t>& x, i64 row, i64 k) {
    const std::uint32_t lo = x[row * K + k], hi = k + 1 < K ? x[row * K + k + 1] : 0;
    return lo | (hi << 16);
  };
  const float scaled = static_cast<float>(double(alpha) * double(A.scale_inv) * double(B.scale_inv));
  std::vector<float> crow(static_cast<std::size_t>(N));
  for (i64 i = 0; i < M; ++i) {
    unsigned char* dst = at(C.data, i, 0, C.ld, C.dtype);
    if (beta != 0.0f) numerics::decode(crow.data(), dst, C.dtype, crow.size());
    for (i64 j = 0; j < N; ++j) {
      float& c = crow[static_cast<std::size_t>(j)];
      const i64 kb = detail::packed_k_block(K, detail::kBf16DotKBlock);
      for (i64 k0 = 0; k0 < K; k0 += kb) {
        const i64 kend = std::min(K, k0 + kb);
        float acc = 0.0f;
        for (i64 k = k0; k < kend; k += 2)
          acc = bf16_dot_step(acc, pair(a, i, k) & (k + 1 < kend ? 0xFFFFFFFFu : 0xFFFFu),
                              pair(b, j, k) & (k + 1 < kend ? 0xFFFFFFFFu : 0xFFFFu));
        float x = scaled * acc;
        if (k0 != 0)
          x = x + c;
        else if (beta != 0.0f)
          x = x + beta * c;
        c = x;
      }
    }
    numerics::encode(dst, C.dtype, crow.data(), crow.size());
  }
}

}  // namespace mixtrain::backend::cpu
