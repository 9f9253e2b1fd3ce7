// GEMM with low-precision operands: C = alpha * op(A) * op(B) + beta * C.
//
// Operands may be stored in any DType. Which kernel runs is chosen per call from the ISA tier
// (runtime/cpu_features.h, capped by MIXTRAIN_ISA) and the operand formats (gemm_kernel_for):
//   avx512_bf16dot  both operands bf16, e4m3 or e5m2, on an avx512_bf16 CPU: vdpbf16ps on K-pairs
//                   (fp8 codes widen to bf16 exactly while packing); the bf16dot contract below.
//   avx512_fp32     the avx512 tier's packed fp32 FMA kernel, every other operand mix.
//   avx2_fp32       the same contract and bits on AVX2 + FMA CPUs.
//   blas            no AVX2 (or MIXTRAIN_GEMM=blas): operands up-converted into fp32 panels in
//                   bounded workspace and multiplied by OpenBLAS sgemm.
// MIXTRAIN_GEMM=exact keeps every operand mix on the exact fp32 contract (no bf16dot), for users
// who need the widening kernel's bits; MIXTRAIN_GEMM=blas forces OpenBLAS. fp64 operands (all
// three fp64) go to dgemm, for gradient checks. fp8 operands carry a dequantisation multiplier:
// the real value is decode(code) * scale_inv. The result is rounded once, to nearest even, into
// C's dtype (beta != 0 reads C in that dtype first).
//
// The two accumulation contracts (docs/AMP.md, "GEMM numerics per tier"):
//  - exact (avx2_fp32, avx512_fp32; the OpenBLAS path up to its own summation order): every
//    operand decodes exactly into fp32, products are exact, and each C element is accumulated
//    with one fp32 FMA per k, in k order, within K-blocks (ceil(K / 256) blocks of near-equal
//    even length, the last taking the rest: detail::packed_k_block); per block
//    C = alpha * acc + (first block ? beta * C : C), each operation rounded to nearest even.
//    avx2_fp32 and avx512_fp32 give identical bits.
//  - bf16dot (avx512_bf16dot): the same per-block update, over K-blocks twice as deep
//    (ceil(K / 512) near-equal even blocks), and within a block the K-pairs (2p, 2p+1) are taken
//    in order, each one vdpbf16ps step:
//    acc = (acc + a[2p+1] * b[2p+1]) + a[2p] * b[2p] with exact products and two rounded adds; bf16
//    subnormal inputs are read as zero and fp32 subnormal products and sums are flushed to zero
//    (measured: shared/design/x86-bf16-semantics.md). An odd K-block pads its last pair with zeros.
//    gemm_bf16dot_emulated implements this portably and the hardware kernel matches it bit for
//    bit. Against the exact fp64 product the error bound is the same gamma_K * sum |a||b| as the
//    exact contract's (one rounding per product added), plus the flushed magnitudes below 2^-126.
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
//    the packed kernels an element's summation order depends on K alone, so the result does not
//    depend on the thread count on any tier (on the OpenBLAS path that is up to OpenBLAS).
//  - Workspace: per-thread, reused, bounded by the tile sizes (at most
//    kGemmKBlock * (kGemmTileM + kGemmTileN) + kGemmTileM * kGemmTileN floats per thread), never
//    a copy of a whole operand.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string_view>
#include <utility>
#include <vector>

#include "numerics/format.h"
#include "backend/types.h"

namespace mixtrain::backend::cpu {


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
GemmFlops gemm_flops();
void reset_gemm_flops();
// The same work since the last reset by the kernel that ran it (gemm_kernel_name, flops), only
// kernels that ran; all-fp64 products are not counted.
std::vector<std::pair<std::string_view, double>> gemm_flops_by_kernel();

// The kernel gemm() runs for operands of these formats at the current ISA tier and MIXTRAIN_GEMM
// (an all-fp64 product is always dgemm and is not described here).
enum class GemmKernel { blas, avx2_fp32, avx512_fp32, avx512_bf16dot };
GemmKernel gemm_kernel_for(DType a, DType b);
std::string_view gemm_kernel_name(GemmKernel k);

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

// The bf16dot contract (above) in portable C++: per element, the same K-blocks, K-pairs stepped by
// bf16_dot_step (bf16_dot.h), the per-block update, one rounding into C's dtype. A and B must be
// bf16, e4m3 or e5m2. Test oracle for the avx512_bf16dot kernel, which it matches bit for bit.
void gemm_bf16dot_emulated(std::int64_t M, std::int64_t N, std::int64_t K, float alpha,
                           const GemmOperand& A, const GemmOperand& B, float beta,
                           const GemmOutput& C);

}  // namespace mixtrain::backend::cpu
