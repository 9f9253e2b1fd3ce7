// GEMM with low-precision operands: C = alpha * op(A) * op(B) + beta * C.
//
// Operands may be stored in any DType. On CPUs with AVX2 and FMA, mixtrain's own packed kernel
// (gemm_tile.h) decodes fp16/bf16/e4m3/e5m2 codes exactly into its fp32 micro-panels while it
// packs them; elsewhere (or with MIXTRAIN_GEMM=blas) they are up-converted into fp32 panels in
// bounded workspace and multiplied by OpenBLAS sgemm. Either way products are exact and
// accumulation is fp32 (tensor-core semantics). fp8 operands carry a dequantisation multiplier:
// the real value is decode(code) * scale_inv. fp64 operands (all three fp64) go to dgemm, for
// gradient checks. The result is rounded once, to nearest even, into C's dtype (beta != 0 reads
// C in that dtype first).
//
// Implementation notes that are part of the contract:
//  - The scale_inv multipliers are applied to the fp32 accumulator, folded into alpha
//    (alpha * sa * sb, formed in fp64 and rounded once), as FP8 tensor-core GEMMs apply their
//    scales in the epilogue: the products stay exact whatever the scales are.
//  - An fp64 operand mixed with non-fp64 ones is rounded to fp32; an fp64 C with non-fp64
//    operands gets the fp32 accumulator widened exactly (and, with beta != 0, its old value is
//    read rounded to fp32).
//  - C must not overlap A or B. beta == 0 never reads C (NaN in C does not propagate).
//  - Threading: mixtrain's pool splits C into tiles and runs the kernel single-threaded on each
//    (OpenBLAS's own threads are set to 1 on first use). K is never split across threads; with
//    the packed kernel an element's summation order depends on K alone, so the result does not
//    depend on the thread count (on the OpenBLAS path that is up to OpenBLAS's kernels).
//  - Workspace: per-thread, reused, bounded by the tile sizes (at most
//    kGemmKBlock * (kGemmTileM + kGemmTileN) + kGemmTileM * kGemmTileN floats per thread), never
//    a copy of a whole operand.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>

#include "numerics/format.h"

namespace mixtrain::kernels::cpu {

struct GemmOperand {
  const void* data;
  DType dtype;
  std::int64_t ld;         // leading dimension (row-major): elements between consecutive rows
  bool transposed = false; // op(X) = X^T
  float scale_inv = 1.0f;  // value = decode(code) * scale_inv (fp8 per-tensor scaling)
};

struct GemmOutput {
  void* data;
  DType dtype;
  std::int64_t ld;
};

// Finished fp32 results handed to the caller before they are rounded into C's dtype: rows
// [row0, row0 + rows) and columns [col0, col0 + cols) of C, at c (row stride ldc), to be updated
// in place. Called once per block of final rows while they are still in cache (so a bias,
// activation or second output costs no extra pass over C), possibly concurrently for disjoint
// blocks. Not for all-fp64 products, which have no fp32 stage.
using GemmEpilogue = std::function<void(std::int64_t row0, std::int64_t col0, std::int64_t rows,
                                        std::int64_t cols, float* c, std::int64_t ldc)>;

// Row-major. op(A) is (M, K), op(B) is (K, N), C is (M, N).
void gemm(std::int64_t M, std::int64_t N, std::int64_t K, float alpha, const GemmOperand& A,
          const GemmOperand& B, float beta, const GemmOutput& C,
          const GemmEpilogue& epilogue = {});

// `batch` independent GEMMs whose operands start stride_* elements apart.
void gemm_batched(std::int64_t batch, std::int64_t M, std::int64_t N, std::int64_t K, float alpha,
                  const GemmOperand& A, std::int64_t stride_a, const GemmOperand& B,
                  std::int64_t stride_b, float beta, const GemmOutput& C, std::int64_t stride_c);

// GEMM work done since the last reset, 2*M*N*K per product, by operand precision: `fp8` when
// both operands are 8-bit (what an FP8 tensor core runs), `half` when the widest is 16-bit,
// `full` otherwise. Counted at the entry points (gemm, gemm_batched) on the calling thread with
// relaxed atomics, so it is always on; the precision autopilot reports the fp8 share of a step.
struct GemmFlops {
  double fp8 = 0, half = 0, full = 0;
  double total() const { return fp8 + half + full; }
};
GemmFlops gemm_flops();
void reset_gemm_flops();

// Tile and K-block sizes of the low-precision path (fp32 panels of at most kGemmTileM x
// kGemmKBlock for A and kGemmKBlock x kGemmTileN for B).
inline constexpr std::int64_t kGemmTileM = 512;
inline constexpr std::int64_t kGemmTileN = 1024;
inline constexpr std::int64_t kGemmKBlock = 256;

// Bytes of kernel workspace currently held by all threads: GEMM panels and tiles and the other
// kernels' per-thread scratch (workspace.h), for the memory ledger.
std::size_t gemm_workspace_bytes();

// Sets the BLAS library's own thread count (OpenBLAS only; returns false when the BLAS has no
// such control). gemm() needs 1 and sets it on first use; benchmarks that time BLAS called
// directly raise it and put it back.
bool set_blas_num_threads(int n);

// Reference twin: triple loop with exact decode and fp32 (fp64 for fp64) accumulation. Test
// oracle only.
void gemm_naive(std::int64_t M, std::int64_t N, std::int64_t K, float alpha, const GemmOperand& A,
                const GemmOperand& B, float beta, const GemmOutput& C);

}  // namespace mixtrain::kernels::cpu
