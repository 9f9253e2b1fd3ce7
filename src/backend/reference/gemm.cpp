// Reference GEMM: C = alpha * op(A) op(B) + beta * C by a triple loop (backend/cpu/gemm.h states
// the contract). Each operand is decoded exactly (fp64 operands mixed with others are rounded to
// fp32) and scaled by nothing: fp8 scale_inv multipliers are folded into alpha as
// alpha * sa * sb, formed in fp64 and rounded once, as the cpu backend does.
//
// Summation order, per element of C: acc = 0, then acc = fma(a[i, k], b[k, j], acc) for
// k = 0..K-1 (one rounding per product added) in fp32, or in fp64 when A, B and C are all fp64;
// then x = alpha' * acc, plus beta * c_old when beta != 0 (beta == 0 never reads C). The fp32
// results of all rows go through the epilogue in one call, then each is rounded once into C's
// dtype. The cpu kernels cut K into blocks of up to 256 (packed_k_block) and apply alpha per
// block, so for K <= 256 (one block) this matches their fp32 contract bit for bit; beyond that
// it differs by the summation order only.
#include <algorithm>
#include <atomic>
#include <cmath>
#include <string>

#include "backend/reference/scalar.h"
#include "runtime/error.h"

namespace mixtrain::backend::reference {
namespace {

// Flops by precision class (fp8, half, full), like the cpu counters; atomics because callers
// may run GEMMs from several threads even though this backend itself uses one.
std::atomic<std::uint64_t> g_flops[3];
std::atomic<std::uint64_t> g_counted{0};  // all flops but all-fp64 ones (gemm_flops_by_kernel)

void count_flops(i64 batch, i64 M, i64 N, i64 K, DType a, DType b) {
  const int wa = numerics::spec(a).bits(), wb = numerics::spec(b).bits();
  const int bucket = wa == 8 && wb == 8 ? 0 : std::max(wa, wb) <= 16 ? 1 : 2;
  const auto flops = static_cast<std::uint64_t>(2 * batch * M * N * K);
  g_flops[bucket].fetch_add(flops, std::memory_order_relaxed);
  if (a != DType::fp64 || b != DType::fp64) g_counted.fetch_add(flops, std::memory_order_relaxed);
}

void validate(i64 M, i64 N, i64 K, const GemmOperand& A, const GemmOperand& B, const GemmOutput& C) {
  check(M >= 0 && N >= 0 && K >= 0, "gemm: negative size");
  const i64 a_cols = A.transposed ? M : K, b_cols = B.transposed ? K : N;
  check(A.ld >= std::max<i64>(1, a_cols), "gemm: A.ld " + std::to_string(A.ld) + " < " + std::to_string(a_cols));
  check(B.ld >= std::max<i64>(1, b_cols), "gemm: B.ld " + std::to_string(B.ld) + " < " + std::to_string(b_cols));
  check(C.ld >= std::max<i64>(1, N), "gemm: C.ld " + std::to_string(C.ld) + " < " + std::to_string(N));
}

// op(X) as a dense rows x cols matrix of U: element (r, c) of op(X) is stored at (c, r) when X is
// transposed.
template <typename U>
std::vector<U> load_op(const GemmOperand& X, i64 rows, i64 cols) {
  std::vector<U> v(static_cast<std::size_t>(rows * cols));
  for (i64 r = 0; r < rows; ++r)
    for (i64 c = 0; c < cols; ++c) {
      const i64 at = X.transposed ? c * X.ld + r : r * X.ld + c;
      v[static_cast<std::size_t>(r * cols + c)] = load<U>(X.data, X.dtype, static_cast<std::size_t>(at));
    }
  return v;
}

// The product in U (fp32, or fp64 when everything is fp64): returns the M x N results before the
// rounding into C, with beta * C already added.
template <typename U>
std::vector<U> product(i64 M, i64 N, i64 K, U alpha, const GemmOperand& A, const GemmOperand& B, U beta,
                       const GemmOutput& C) {
  const std::vector<U> a = load_op<U>(A, M, K), b = load_op<U>(B, K, N);
  std::vector<U> out(static_cast<std::size_t>(M * N));
  std::vector<U> acc(static_cast<std::size_t>(N));
  for (i64 i = 0; i < M; ++i) {
    // Row i's N accumulators advance together over k (B read row by row, not down its columns);
    // each element still takes its products in k order.
    std::fill(acc.begin(), acc.end(), U(0));
    for (i64 k = 0; k < K; ++k) {
      const U aik = a[static_cast<std::size_t>(i * K + k)];
      const U* bk = b.data() + k * N;
      for (i64 j = 0; j < N; ++j) acc[static_cast<std::size_t>(j)] = std::fma(aik, bk[j], acc[static_cast<std::size_t>(j)]);
    }
    for (i64 j = 0; j < N; ++j) {
      U x = K > 0 ? alpha * acc[static_cast<std::size_t>(j)] : U(0);  // K == 0: C = beta * C alone
      if (beta != 0) {
        const U c = beta * load<U>(C.data, C.dtype, static_cast<std::size_t>(i * C.ld + j));
        x = K > 0 ? x + c : c;
      }
      out[static_cast<std::size_t>(i * N + j)] = x;
    }
  }
  return out;
}

void gemm_one(i64 M, i64 N, i64 K, float alpha, const GemmOperand& A, const GemmOperand& B, float beta,
              const GemmOutput& C, const GemmEpilogue* epilogue) {
  if (M == 0 || N == 0) return;
  const double scaled = double(alpha) * double(A.scale_inv) * double(B.scale_inv);
  if (A.dtype == DType::fp64 && B.dtype == DType::fp64 && C.dtype == DType::fp64) {
    check(epilogue == nullptr || !*epilogue, "gemm: an epilogue needs an fp32 stage (not all-fp64 operands)");
    const std::vector<double> r = product<double>(M, N, K, scaled, A, B, double(beta), C);
    for (i64 i = 0; i < M; ++i)
      for (i64 j = 0; j < N; ++j) store<double>(C.data, C.dtype, static_cast<std::size_t>(i * C.ld + j), r[i * N + j]);
    return;
  }
  std::vector<float> r = product<float>(M, N, K, static_cast<float>(scaled), A, B, beta, C);
  if (epilogue != nullptr && *epilogue) (*epilogue)(0, 0, M, N, r.data(), N);
  for (i64 i = 0; i < M; ++i)
    for (i64 j = 0; j < N; ++j) store<float>(C.data, C.dtype, static_cast<std::size_t>(i * C.ld + j), r[i * N + j]);
}

}  // namespace

void gemm(i64 M, i64 N, i64 K, float alpha, const GemmOperand& A, const GemmOperand& B, float beta,
          const GemmOutput& C, const GemmEpilogue& epilogue) {
  validate(M, N, K, A, B, C);
  count_flops(1, M, N, K, A.dtype, B.dtype);
  gemm_one(M, N, K, alpha, A, B, beta, C, &epilogue);
}

void gemm_batched(i64 batch, i64 M, i64 N, i64 K, float alpha, const GemmOperand& A, i64 stride_a,
                  const GemmOperand& B, i64 stride_b, float beta, const GemmOutput& C, i64 stride_c) {
  check(batch >= 0, "gemm_batched: negative batch");
  validate(M, N, K, A, B, C);
  count_flops(batch, M, N, K, A.dtype, B.dtype);
  for (i64 b = 0; b < batch; ++b) {
    GemmOperand a = A, bb = B;
    GemmOutput c = C;
    a.data = static_cast<const unsigned char*>(A.data) + static_cast<std::size_t>(b * stride_a) * size_of(A.dtype);
    bb.data = static_cast<const unsigned char*>(B.data) + static_cast<std::size_t>(b * stride_b) * size_of(B.dtype);
    c.data = static_cast<unsigned char*>(C.data) + static_cast<std::size_t>(b * stride_c) * size_of(C.dtype);
    gemm_one(M, N, K, alpha, a, bb, beta, c, nullptr);
  }
}

GemmFlops gemm_flops() {
  auto get = [](int i) { return static_cast<double>(g_flops[i].load(std::memory_order_relaxed)); };
  return {get(0), get(1), get(2)};
}

void reset_gemm_flops() {
  for (auto& f : g_flops) f.store(0, std::memory_order_relaxed);
  g_counted.store(0, std::memory_order_relaxed);
}

std::vector<std::pair<std::string_view, double>> gemm_flops_by_kernel() {
  const auto f = g_counted.load(std::memory_order_relaxed);
  if (f == 0) return {};
  return {{"reference", static_cast<double>(f)}};
}

}  // namespace mixtrain::backend::reference
