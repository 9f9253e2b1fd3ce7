// The fp32 softmax-family row kernels (softmax_rows.h) built for AVX-512 at 16 lanes: the same
// operations in the same order as the 4-lane portable build, so the same bits. The ISA comes
// from a target pragma after the baseline includes (see gemm_tile_avx512.cpp).
#include <immintrin.h>

#include <cstdint>

#include "backend/cpu/row_kernels.h"

#pragma GCC push_options
#pragma GCC target("avx2,fma,f16c,avx512f,avx512bw,avx512dq,avx512vl")

#include "backend/cpu/softmax_rows.h"

namespace mixtrain::backend::cpu::detail {
namespace {

// This unit's lane policy (softmax_rows.h): 16 lanes, row ends through masked loads and stores.
struct Avx512 {
  static constexpr int W = 16;
  typedef float F __attribute__((vector_size(64)));
  typedef std::int32_t I __attribute__((vector_size(64)));
  static __mmask16 first(rows::i64 n) { return static_cast<__mmask16>((1u << n) - 1); }
  static F load_part(const float* p, rows::i64 n, float fill) {
    return F(_mm512_mask_loadu_ps(_mm512_set1_ps(fill), first(n), p));
  }
  static void store_part(float* p, F v, rows::i64 n) { _mm512_mask_storeu_ps(p, first(n), __m512(v)); }
};

const RowKernels<float> kAvx512 = rows::table<Avx512, float>();

}  // namespace

const RowKernels<float>& row_kernels_avx512() { return kAvx512; }

}  // namespace mixtrain::backend::cpu::detail

#pragma GCC pop_options
