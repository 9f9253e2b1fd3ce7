// Internal: the softmax-family row kernels (softmax_rows.h) of the CPU's tier, as one table per
// dtype: fp32 at 16 lanes on AVX-512 (softmax_rows_avx512.cpp), else at 4 (same bits); fp64
// portable. Each entry runs rows [r0, r1) of its family; callers spread row blocks over the pool.
#pragma once

#include <cstdint>

namespace mixtrain::backend::cpu::detail {

template <typename T>
struct RowKernels {
  using i64 = std::int64_t;
  void (*softmax_forward)(T* y, const T* x, i64 r0, i64 r1, i64 C);
  void (*softmax_backward)(T* dx, const T* dy, const T* y, i64 r0, i64 r1, i64 C);
  void (*log_softmax_forward)(T* y, const T* x, i64 r0, i64 r1, i64 C);
  void (*log_softmax_backward)(T* dx, const T* dy, const T* y, i64 r0, i64 r1, i64 C);
  void (*cross_entropy_lse)(T* lse, const T* logits, i64 r0, i64 r1, i64 C);
  void (*cross_entropy_backward)(T* dlogits, const T* logits, const T* lse, const std::int64_t* labels, T g,
                                 i64 r0, i64 r1, i64 C);
  void (*attention_softmax)(T* att, i64 r0, i64 r1, i64 Tn, T scale);
  void (*attention_dscores)(T* datt, const T* att, i64 r0, i64 r1, i64 Tn, T scale);
};

// The table for the active ISA tier (runtime::isa_tier(), MIXTRAIN_ISA honoured).
template <typename T>
const RowKernels<T>& row_kernels();

}  // namespace mixtrain::backend::cpu::detail
