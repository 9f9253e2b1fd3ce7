// The packed GEMM tiles: mixtrain's own BLIS-style GEMM for one C tile, one per ISA tier
// (gemm_tile_avx2.cpp, gemm_tile_avx512.cpp), used by gemm() in place of OpenBLAS when the CPU has
// AVX2 and FMA.
//
// Why our own kernel: with OpenBLAS, a 16-bit or fp8 operand is first decoded into an fp32 panel,
// which sgemm then copies again into its packed layout, and C is re-read and re-written once per
// K-block, plus a separate beta pass. Here the operand is decoded straight into the packed
// micro-panels (one pass over the low-precision data), the micro-kernel keeps C in registers for
// a whole K-block, and the epilogue applies alpha and beta in the same store.
//
// Numerics of the fp32 kernels (the exact contract of gemm.h): products are exact (every supported format decodes
// exactly into fp32), accumulation is fp32 FMA in k order within a K-block (packed_k_block), and
// C = alpha * acc + (first block ? beta * C : C) per block, each step rounded once. The summation
// order of one C element depends only on K, never on where tile or micro-tile edges fall, so the
// result does not depend on the thread count. The bf16 dot-product kernel has gemm.h's bf16dot
// contract instead.
#pragma once

#include <cstdint>

#include "backend/cpu/gemm.h"

namespace mixtrain::backend::cpu::detail {

inline constexpr std::int64_t kPackedKBlock = 256;  // KC: one packed B micro-panel is 16 KiB

// The K-block length for a product of depth K: K is cut into ceil(K / 256) blocks of near-equal
// length (rounded up to even, so that a bf16 K-pair never straddles two blocks), the last one
// taking the rest. Balanced blocks avoid a short last block (K = 784 would leave 16), which costs
// a whole pass over C for little work. Depends on K alone: part of every packed kernel's
// summation order (gemm.h).
inline std::int64_t packed_k_block(std::int64_t K, std::int64_t max_block = kPackedKBlock) {
  const std::int64_t blocks = (K + max_block - 1) / max_block;
  const std::int64_t len = blocks == 0 ? 0 : (K + blocks - 1) / blocks;
  return len + (len & 1);
}
inline constexpr std::int64_t kPackedMBlock = 96;
inline constexpr std::int64_t kBf16DotKBlock = 512;  // the bf16dot kernel's blocks (K-pairs)   // MC: one packed A block is 96 KiB (L2)

// The tile of rows [i0, i0 + m) and columns [j0, j0 + n) of C = alpha * op(A) op(B) + beta * C,
// where c points at the tile's first element (fp32, row stride ldc). beta == 0 never reads C.
// finish, when set, is called with (first row, rows) relative to the tile for each block of rows
// as soon as they are final.
using TileRowsDone = std::function<void(std::int64_t row, std::int64_t rows)>;
void packed_gemm_tile(std::int64_t i0, std::int64_t j0, std::int64_t m, std::int64_t n,
                      std::int64_t K, float alpha, const GemmOperand& A, const GemmOperand& B,
                      float beta, float* c, std::int64_t ldc, const TileRowsDone& finish = {});

// The same tile on the AVX-512 tiers (gemm_tile_avx512.cpp), MR x NR = 6 x 64:
//  - packed_gemm_tile_avx512: the fp32 FMA kernel, any operand formats; the AVX2 kernel's
//    K-block, order and epilogue, so the same bits.
//  - packed_gemm_tile_bf16dot: vdpbf16ps on K-pairs; A and B must each be bf16, e4m3 or e5m2.
//    Its arithmetic is gemm_bf16dot_emulated's (gemm.h), bit for bit.
void packed_gemm_tile_avx512(std::int64_t i0, std::int64_t j0, std::int64_t m, std::int64_t n,
                             std::int64_t K, float alpha, const GemmOperand& A,
                             const GemmOperand& B, float beta, float* c, std::int64_t ldc,
                             const TileRowsDone& finish = {});
void packed_gemm_tile_bf16dot(std::int64_t i0, std::int64_t j0, std::int64_t m, std::int64_t n,
                              std::int64_t K, float alpha, const GemmOperand& A,
                              const GemmOperand& B, float beta, float* c, std::int64_t ldc,
                              const TileRowsDone& finish = {});

}  // namespace mixtrain::backend::cpu::detail
