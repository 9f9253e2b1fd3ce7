// AVX-512 conversion kernels (AVX-512 F/BW/DQ/VL by a target pragma): the AVX2 kernels' integer
// methods at 16 lanes for the conversions training runs every step (fp32 -> bf16, fp16 and fp8 to
// nearest; bf16, fp16, fp8 -> fp32). Every other case (stochastic and toward-zero rounding, the
// MX formats) is the AVX2 table's. Each computes exactly the scalar definition of encode.h; the
// exhaustive sweep (tests/test_numerics_reference.cpp) runs on whichever table is active.
//
// Not vcvtneps2bf16: it flushes fp32 subnormals to zero and rewrites NaN payloads
// (shared/design/x86-bf16-semantics.md), so it does not match the format table; the
// add-and-shift rounding below is exact for every input and costs a few integer ops per lane.
#include <immintrin.h>

#include "numerics/convert_kernels.h"
#include "numerics/decode_tables.h"
#include "numerics/encode.h"

// AVX-512 code is enabled by this pragma for the definitions below it, not by command-line
// flags: the headers above stay at the baseline ISA, so the inline functions and templates they
// define (std:: and our own) are never emitted with AVX-512 instructions into a COMDAT copy that
// the linker could pick for the whole program and run on a CPU without AVX-512.
#pragma GCC push_options
#pragma GCC target("avx2,fma,f16c,avx512f,avx512bw,avx512dq,avx512vl")

namespace mixtrain::numerics::detail {
namespace {

inline __m512i set1(std::uint32_t v) { return _mm512_set1_epi32(static_cast<int>(v)); }

std::uint32_t tail(void* dst, std::size_t elem_bytes, const float* src, std::size_t i, std::size_t n,
                   const EncodeArgs& a, std::uint32_t amax) {
  if (i >= n) return amax;
  EncodeArgs t = a;
  t.index0 = a.index0 + i;
  const std::uint32_t m = encode_f32_scalar(static_cast<unsigned char*>(dst) + i * elem_bytes, src + i, n - i, t);
  return m > amax ? m : amax;
}

// bf16 nearest: add 0x7FFF plus the lowest kept bit, keep the top half; overflow lands on inf
// (IEEE), saturation clamps the magnitude code; NaN becomes the quiet NaN of its sign.
std::uint32_t encode_bf16_nearest(void* dst, const float* src, std::size_t n, const EncodeArgs& a) {
  const bool saturate = a.overflow == Overflow::saturate;
  const __m512 scale = _mm512_set1_ps(a.scale);
  const __m512i abs_mask = set1(0x7FFFFFFFU), exp_inf = set1(0x7F800000U);
  __m512i amax = _mm512_setzero_si512();
  auto* out = static_cast<std::uint16_t*>(dst);
  std::size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    __m512 x = _mm512_loadu_ps(src + i);
    amax = _mm512_max_epi32(amax, _mm512_and_si512(_mm512_castps_si512(x), abs_mask));
    if (a.scaled) x = _mm512_mul_ps(x, scale);
    const __m512i xb = _mm512_castps_si512(x);
    const __m512i mag = _mm512_and_si512(xb, abs_mask);
    const __m512i sign16 = _mm512_srli_epi32(_mm512_andnot_si512(abs_mask, xb), 16);
    const __m512i bias = _mm512_add_epi32(set1(0x7FFFU), _mm512_and_si512(_mm512_srli_epi32(mag, 16), set1(1)));
    __m512i code = _mm512_srli_epi32(_mm512_add_epi32(mag, bias), 16);
    if (saturate) code = _mm512_min_epi32(code, set1(0x7F7FU));
    code = _mm512_or_si512(code, sign16);
    code = _mm512_mask_mov_epi32(code, _mm512_cmpgt_epi32_mask(mag, exp_inf), _mm512_or_si512(sign16, set1(0x7FC0U)));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + i), _mm512_cvtepi32_epi16(code));
  }
  return tail(dst, 2, src, i, n, a, static_cast<std::uint32_t>(_mm512_reduce_max_epi32(amax)));
}

// 8-bit formats to nearest: the AVX2 kernel's method (integer rounding for normal results, one
// float addition of a magic constant for subnormal ones, blends for overflow and NaN).
std::uint32_t encode_fp8_nearest(void* dst, const float* src, std::size_t n, const EncodeArgs& a) {
  const FormatSpec& f = *a.format;
  const int m = f.mantissa_bits;
  const int emin = f.min_exponent();
  const __m128i shift = _mm_cvtsi32_si128(23 - m);
  const __m512i round_bias = set1((1U << (22 - m)) - 1U);
  const __m512i rebias = set1(static_cast<std::uint32_t>(127 - f.bias) << m);
  const __m512i min_normal = set1(static_cast<std::uint32_t>(emin + 127) << 23);
  const __m512 magic = _mm512_castsi512_ps(set1(static_cast<std::uint32_t>(emin - m + 23 + 127) << 23));
  const __m512i max_code = set1(static_cast<std::uint32_t>(f.max_code()));
  const __m512i ovf = set1(static_cast<std::uint32_t>(overflow_code(f, a.overflow)));
  const __m512i nan_code = set1(static_cast<std::uint32_t>(f.has_nan() ? f.nan_code() : 0));
  const __m512i abs_mask = set1(0x7FFFFFFFU), exp_inf = set1(0x7F800000U), one = set1(1);
  const __m512 scale = _mm512_set1_ps(a.scale);
  const bool has_nan = f.has_nan();
  __m512i amax = _mm512_setzero_si512();
  auto* out = static_cast<std::uint8_t*>(dst);
  std::size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    __m512 x = _mm512_loadu_ps(src + i);
    amax = _mm512_max_epi32(amax, _mm512_and_si512(_mm512_castps_si512(x), abs_mask));
    if (a.scaled) x = _mm512_mul_ps(x, scale);
    const __m512i xb = _mm512_castps_si512(x);
    const __m512i mag = _mm512_and_si512(xb, abs_mask);
    const __m512i odd = _mm512_and_si512(_mm512_srl_epi32(mag, shift), one);
    const __m512i normal = _mm512_sub_epi32(
        _mm512_srl_epi32(_mm512_add_epi32(mag, _mm512_add_epi32(round_bias, odd)), shift), rebias);
    const __m512 sub_f = _mm512_add_ps(_mm512_castsi512_ps(mag), magic);
    const __m512i sub = _mm512_sub_epi32(_mm512_castps_si512(sub_f), _mm512_castps_si512(magic));
    __m512i code = _mm512_mask_mov_epi32(normal, _mm512_cmpgt_epi32_mask(min_normal, mag), sub);
    code = _mm512_mask_mov_epi32(code, _mm512_cmpgt_epi32_mask(code, max_code), ovf);
    const __m512i sign = _mm512_srli_epi32(_mm512_andnot_si512(abs_mask, xb), 24);
    code = _mm512_or_si512(code, sign);
    const __m512i nan_val = has_nan ? _mm512_or_si512(nan_code, sign) : _mm512_setzero_si512();
    code = _mm512_mask_mov_epi32(code, _mm512_cmpgt_epi32_mask(mag, exp_inf), nan_val);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(out + i), _mm512_cvtepi32_epi8(code));
  }
  return tail(dst, 1, src, i, n, a, static_cast<std::uint32_t>(_mm512_reduce_max_epi32(amax)));
}

std::uint32_t encode_f32_avx512(void* dst, const float* src, std::size_t n, const EncodeArgs& a) {
  if (a.rounding == Rounding::nearest && a.format->dtype == DType::bf16) return encode_bf16_nearest(dst, src, n, a);
  if (a.rounding == Rounding::nearest && (a.format->dtype == DType::e4m3 || a.format->dtype == DType::e5m2))
    return encode_fp8_nearest(dst, src, n, a);
  return avx2_kernels()->encode_f32(dst, src, n, a);
}

void decode_f32_avx512(float* dst, const void* src, std::size_t n, const FormatSpec& f) {
  std::size_t i = 0;
  if (f.dtype == DType::bf16 || f.dtype == DType::fp16) {
    const auto* in = static_cast<const std::uint16_t*>(src);
    for (; i + 16 <= n; i += 16) {
      const __m256i h = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(in + i));
      _mm512_storeu_ps(dst + i, f.dtype == DType::fp16
                                    ? _mm512_cvtph_ps(h)
                                    : _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16)));
    }
    decode_f32_scalar(dst + i, in + i, n - i, f);
    return;
  }
  if (f.dtype == DType::e4m3) {
    // As the AVX2 kernel: the magnitude in fp16 position at bias 15, one multiply by 2^8 to
    // rebias (exact, subnormals included); S.1111.111 is the quiet NaN of its sign.
    const auto* in = static_cast<const std::uint8_t*>(src);
    for (; i + 16 <= n; i += 16) {
      const __m128i b = _mm_loadu_si128(reinterpret_cast<const __m128i*>(in + i));
      const __m256i mag16 = _mm256_slli_epi16(_mm256_and_si256(_mm256_cvtepu8_epi16(b), _mm256_set1_epi16(0x7F)), 7);
      const __m512 v = _mm512_mul_ps(_mm512_cvtph_ps(mag16), _mm512_set1_ps(256.0f));
      const __m512i c = _mm512_cvtepu8_epi32(b);
      const __m512i sign = _mm512_slli_epi32(_mm512_srli_epi32(c, 7), 31);
      const __mmask16 nan = _mm512_cmpeq_epi32_mask(_mm512_and_si512(c, set1(0x7F)), set1(0x7F));
      const __m512i bits = _mm512_mask_mov_epi32(_mm512_castps_si512(v), nan, set1(0x7FC00000U));
      _mm512_storeu_ps(dst + i, _mm512_castsi512_ps(_mm512_or_si512(bits, sign)));
    }
    decode_f32_scalar(dst + i, in + i, n - i, f);
    return;
  }
  avx2_kernels()->decode_f32(dst, src, n, f);
}

}  // namespace

const ConvertKernels* avx512_kernels() {
  static const ConvertKernels k{"avx512", &encode_f32_avx512, &decode_f32_avx512};
  return &k;
}

}  // namespace mixtrain::numerics::detail

#pragma GCC pop_options
