// The portable softmax-family row kernels (softmax_rows.h at 4 fp32 lanes, fp64 plain loops) and
// the choice between them and the AVX-512 build.
#include "backend/cpu/row_kernels.h"

#include "backend/cpu/softmax_rows.h"
#include "runtime/cpu_features.h"

namespace mixtrain::backend::cpu::detail {
namespace {

struct Portable : rows::PlainLanes<4> {};  // this unit's lane policy (softmax_rows.h)

constexpr RowKernels<float> kPortableF32 = rows::table<Portable, float>();
constexpr RowKernels<double> kPortableF64 = rows::table<Portable, double>();

}  // namespace

#if MIXTRAIN_HAVE_AVX512_KERNELS
const RowKernels<float>& row_kernels_avx512();  // softmax_rows_avx512.cpp
#endif

template <>
const RowKernels<float>& row_kernels<float>() {
#if MIXTRAIN_HAVE_AVX512_KERNELS
  if (runtime::isa_at_least(runtime::IsaTier::avx512)) return row_kernels_avx512();
#endif
  return kPortableF32;
}

template <>
const RowKernels<double>& row_kernels<double>() {
  return kPortableF64;
}

}  // namespace mixtrain::backend::cpu::detail
