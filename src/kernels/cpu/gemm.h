// GEMM with low-precision operands: C = alpha * op(A) * op(B) + beta * C.
//
// Operands may be stored in any DType. fp16/bf16/e4m3/e5m2 operands are up-converted exactly into
// fp32 panels in bounded workspace (never a whole copy of the operand) and multiplied by OpenBLAS
// sgemm, so products are exact and accumulation is fp32 (tensor-core semantics). fp8 operands
// carry a dequantisation multiplier: the real value is decode(code) * scale_inv. fp64 operands
// (all three fp64) go to dgemm, for gradient checks. The result is rounded once, to nearest
// even, into C's dtype (beta != 0 reads C in that dtype first).
#pragma once

#include <cstdint>

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

// Row-major. op(A) is (M, K), op(B) is (K, N), C is (M, N).
void gemm(std::int64_t M, std::int64_t N, std::int64_t K, float alpha, const GemmOperand& A,
          const GemmOperand& B, float beta, const GemmOutput& C);

// `batch` independent GEMMs whose operands start stride_* elements apart.
void gemm_batched(std::int64_t batch, std::int64_t M, std::int64_t N, std::int64_t K, float alpha,
                  const GemmOperand& A, std::int64_t stride_a, const GemmOperand& B,
                  std::int64_t stride_b, float beta, const GemmOutput& C, std::int64_t stride_c);

// Reference twin: triple loop with exact decode and fp32 (fp64 for fp64) accumulation. Test
// oracle only.
void gemm_naive(std::int64_t M, std::int64_t N, std::int64_t K, float alpha, const GemmOperand& A,
                const GemmOperand& B, float beta, const GemmOutput& C);

}  // namespace mixtrain::kernels::cpu
