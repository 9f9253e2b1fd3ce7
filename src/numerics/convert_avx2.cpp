// AVX2 + F16C kernels (this file alone is compiled with -mavx2 -mfma -mf16c). Each computes
// exactly the scalar definition of encode.h, eight lanes at a time, with integer operations:
//  - a generic encoder for any format up to 16 bits driven by the FormatSpec (variable shifts
//    round the 24-bit significand; blends apply overflow, inf and NaN rules);
//  - F16C for fp16 nearest / toward-zero, and the add-and-shift trick for bf16 nearest.
#include <immintrin.h>

#include <bit>

#include "numerics/convert_kernels.h"
#include "numerics/decode_tables.h"
#include "numerics/encode.h"
#include "numerics/rng.h"

namespace mixtrain::numerics::detail {
namespace {

inline __m256i set1(std::uint32_t v) { return _mm256_set1_epi32(static_cast<int>(v)); }

inline __m256i mix32_v(__m256i x) {
  x = _mm256_xor_si256(x, _mm256_srli_epi32(x, 16));
  x = _mm256_mullo_epi32(x, set1(0x7feb352dU));
  x = _mm256_xor_si256(x, _mm256_srli_epi32(x, 15));
  x = _mm256_mullo_epi32(x, set1(0x846ca68bU));
  x = _mm256_xor_si256(x, _mm256_srli_epi32(x, 16));
  return x;
}

// Unsigned a < b.
inline __m256i cmplt_epu32(__m256i a, __m256i b) {
  const __m256i bias = set1(0x80000000U);
  return _mm256_cmpgt_epi32(_mm256_xor_si256(b, bias), _mm256_xor_si256(a, bias));
}

inline std::uint32_t hmax_epi32(__m256i v) {
  __m128i m = _mm_max_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
  m = _mm_max_epi32(m, _mm_shuffle_epi32(m, 0x4E));
  m = _mm_max_epi32(m, _mm_shuffle_epi32(m, 0xB1));
  return static_cast<std::uint32_t>(_mm_cvtsi128_si32(m));
}

// Stores the low 16 bits of each lane (values < 2^16).
inline void store16(std::uint16_t* p, __m256i v) {
  const __m256i packed = _mm256_permute4x64_epi64(_mm256_packus_epi32(v, v), 0x08);
  _mm_storeu_si128(reinterpret_cast<__m128i*>(p), _mm256_castsi256_si128(packed));
}

// Stores the low 8 bits of each lane (values < 2^8).
inline void store8(std::uint8_t* p, __m256i v) {
  const __m256i w = _mm256_packus_epi16(_mm256_packus_epi32(v, v), v);
  const __m256i g = _mm256_permutevar8x32_epi32(w, _mm256_setr_epi32(0, 4, 0, 4, 0, 4, 0, 4));
  _mm_storel_epi64(reinterpret_cast<__m128i*>(p), _mm256_castsi256_si128(g));
}

template <Rounding R>
std::uint32_t encode_generic_v(void* dst, const float* src, std::size_t n, const EncodeArgs& a) {
  const FormatSpec& f = *a.format;
  const int m = f.mantissa_bits;
  const __m128i m_count = _mm_cvtsi32_si128(m);
  const __m256i emin = _mm256_set1_epi32(f.min_exponent());
  const __m256i shift0 = _mm256_set1_epi32(23 - m);
  const __m256i max_code = set1(static_cast<std::uint32_t>(f.max_code()));
  const std::uint32_t ovf = static_cast<std::uint32_t>(overflow_code(f, a.overflow));
  const __m256i ovf_finite = R == Rounding::toward_zero ? max_code : set1(ovf);
  const __m256i ovf_inf = set1(ovf);
  const __m256i nan_out = set1(static_cast<std::uint32_t>(f.nan_code()));
  const bool has_nan = f.has_nan();
  const __m128i sign_count = _mm_cvtsi32_si128(32 - f.bits());
  const __m256i abs_mask = set1(0x7FFFFFFFU);
  const __m256i exp_inf = set1(0x7F800000U);
  const __m256i one = _mm256_set1_epi32(1);
  const __m256i c31 = _mm256_set1_epi32(31);
  const __m256i c32 = _mm256_set1_epi32(32);
  const __m256 scale = _mm256_set1_ps(a.scale);
  const __m256i key = set1(stochastic_key(a.seed, a.index0));
  const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  const auto index_lo = static_cast<std::uint32_t>(a.index0);
  __m256i amax = _mm256_setzero_si256();
  auto* out8 = static_cast<std::uint8_t*>(dst);
  auto* out16 = static_cast<std::uint16_t*>(dst);
  std::size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    __m256 x = _mm256_loadu_ps(src + i);
    amax = _mm256_max_epi32(amax, _mm256_and_si256(_mm256_castps_si256(x), abs_mask));
    if (a.scaled) x = _mm256_mul_ps(x, scale);
    const __m256i xb = _mm256_castps_si256(x);
    const __m256i mag = _mm256_and_si256(xb, abs_mask);
    const __m256i efield = _mm256_srli_epi32(mag, 23);
    const __m256i is_normal_in = _mm256_cmpgt_epi32(efield, _mm256_setzero_si256());
    const __m256i sig = _mm256_or_si256(_mm256_and_si256(mag, set1(0x7FFFFFU)),
                                        _mm256_and_si256(is_normal_in, set1(0x800000U)));
    const __m256i e = _mm256_sub_epi32(_mm256_max_epi32(efield, one), _mm256_set1_epi32(127));
    const __m256i below = _mm256_max_epi32(_mm256_sub_epi32(emin, e), _mm256_setzero_si256());
    const __m256i shift = _mm256_add_epi32(shift0, below);
    const __m256i ebm1 = _mm256_max_epi32(_mm256_sub_epi32(e, emin), _mm256_setzero_si256());
    __m256i q;
    if constexpr (R == Rounding::nearest) {
      const __m256i s = _mm256_min_epi32(shift, c31);
      q = _mm256_srlv_epi32(sig, s);
      const __m256i rem = _mm256_sub_epi32(sig, _mm256_sllv_epi32(q, s));
      const __m256i half = _mm256_sllv_epi32(one, _mm256_sub_epi32(s, one));
      const __m256i odd = _mm256_cmpeq_epi32(_mm256_and_si256(q, one), one);
      const __m256i up = _mm256_or_si256(_mm256_cmpgt_epi32(rem, half),
                                         _mm256_and_si256(_mm256_cmpeq_epi32(rem, half), odd));
      q = _mm256_sub_epi32(q, up);  // up is -1 where rounding up
    } else if constexpr (R == Rounding::toward_zero) {
      q = _mm256_srlv_epi32(sig, _mm256_min_epi32(shift, c31));
    } else {
      q = _mm256_srlv_epi32(sig, shift);  // counts >= 32 give 0
      const __m256i rem = _mm256_sub_epi32(sig, _mm256_sllv_epi32(q, shift));
      // floor(frac * 2^32): rem << (32 - shift) when shift <= 32, else sig >> (shift - 32).
      const __m256i d_lo = _mm256_sllv_epi32(rem, _mm256_sub_epi32(c32, shift));
      const __m256i d_hi = _mm256_srlv_epi32(sig, _mm256_sub_epi32(shift, c32));
      const __m256i d32 = _mm256_blendv_epi8(d_lo, d_hi, _mm256_cmpgt_epi32(shift, c32));
      const __m256i idx = _mm256_add_epi32(
          set1(index_lo + static_cast<std::uint32_t>(i)), lane);
      const __m256i r = mix32_v(_mm256_add_epi32(mix32_v(_mm256_xor_si256(idx, key)), key));
      const __m256i carry = cmplt_epu32(_mm256_add_epi32(d32, r), d32);
      q = _mm256_sub_epi32(q, carry);
    }
    __m256i code = _mm256_add_epi32(_mm256_sll_epi32(ebm1, m_count), q);
    code = _mm256_blendv_epi8(code, ovf_finite, _mm256_cmpgt_epi32(code, max_code));
    code = _mm256_blendv_epi8(code, ovf_inf, _mm256_cmpeq_epi32(mag, exp_inf));
    code = _mm256_or_si256(code, _mm256_srl_epi32(_mm256_andnot_si256(abs_mask, xb), sign_count));
    const __m256i is_nan = _mm256_cmpgt_epi32(mag, exp_inf);
    const __m256i nan_val =
        has_nan ? _mm256_or_si256(nan_out, _mm256_srl_epi32(_mm256_andnot_si256(abs_mask, xb),
                                                             sign_count))
                : _mm256_setzero_si256();
    code = _mm256_blendv_epi8(code, nan_val, is_nan);
    if (f.bits() == 8)
      store8(out8 + i, code);
    else
      store16(out16 + i, code);
  }
  std::uint32_t result = hmax_epi32(amax);
  if (i < n) {
    EncodeArgs tail = a;
    tail.index0 = a.index0 + i;
    void* tail_dst = f.bits() == 8 ? static_cast<void*>(out8 + i) : static_cast<void*>(out16 + i);
    const std::uint32_t t = encode_f32_scalar(tail_dst, src + i, n - i, tail);
    result = t > result ? t : result;
  }
  return result;
}

// fp16 through F16C (nearest or toward-zero): saturation by clamping first, canonical NaN after.
template <int Imm>
std::uint32_t encode_fp16_f16c(void* dst, const float* src, std::size_t n, const EncodeArgs& a) {
  const bool saturate = a.overflow == Overflow::saturate;
  const __m256 hi = _mm256_set1_ps(65504.0f);
  const __m256 lo = _mm256_set1_ps(-65504.0f);
  const __m256 scale = _mm256_set1_ps(a.scale);
  const __m256i abs_mask = set1(0x7FFFFFFFU);
  __m256i amax = _mm256_setzero_si256();
  auto* out = static_cast<std::uint16_t*>(dst);
  std::size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    __m256 x = _mm256_loadu_ps(src + i);
    amax = _mm256_max_epi32(amax, _mm256_and_si256(_mm256_castps_si256(x), abs_mask));
    if (a.scaled) x = _mm256_mul_ps(x, scale);
    const __m256 xc = saturate ? _mm256_max_ps(_mm256_min_ps(x, hi), lo) : x;
    __m128i h = _mm256_cvtps_ph(xc, Imm);
    const __m256i xb = _mm256_castps_si256(x);
    const __m256i nan32 = _mm256_cmpgt_epi32(_mm256_and_si256(xb, abs_mask), set1(0x7F800000U));
    const __m128i nan16 = _mm_packs_epi32(_mm256_castsi256_si128(nan32),
                                          _mm256_extracti128_si256(nan32, 1));
    const __m256i canon32 = _mm256_or_si256(_mm256_srli_epi32(_mm256_andnot_si256(abs_mask, xb), 16),
                                            set1(0x7E00U));
    const __m128i canon16 = _mm_packus_epi32(_mm256_castsi256_si128(canon32),
                                             _mm256_extracti128_si256(canon32, 1));
    h = _mm_blendv_epi8(h, canon16, nan16);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(out + i), h);
  }
  std::uint32_t result = hmax_epi32(amax);
  if (i < n) {
    EncodeArgs tail = a;
    tail.index0 = a.index0 + i;
    const std::uint32_t t = encode_f32_scalar(out + i, src + i, n - i, tail);
    result = t > result ? t : result;
  }
  return result;
}

// bf16 nearest: add 0x7FFF plus the lowest kept bit, keep the top half. Overflow lands on inf
// naturally (IEEE); saturation clamps the magnitude code afterwards.
std::uint32_t encode_bf16_nearest(void* dst, const float* src, std::size_t n, const EncodeArgs& a) {
  const bool saturate = a.overflow == Overflow::saturate;
  const __m256 scale = _mm256_set1_ps(a.scale);
  const __m256i abs_mask = set1(0x7FFFFFFFU);
  const __m256i exp_inf = set1(0x7F800000U);
  __m256i amax = _mm256_setzero_si256();
  auto* out = static_cast<std::uint16_t*>(dst);
  std::size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    __m256 x = _mm256_loadu_ps(src + i);
    amax = _mm256_max_epi32(amax, _mm256_and_si256(_mm256_castps_si256(x), abs_mask));
    if (a.scaled) x = _mm256_mul_ps(x, scale);
    const __m256i xb = _mm256_castps_si256(x);
    const __m256i mag = _mm256_and_si256(xb, abs_mask);
    const __m256i sign16 = _mm256_srli_epi32(_mm256_andnot_si256(abs_mask, xb), 16);
    const __m256i bias = _mm256_add_epi32(set1(0x7FFFU),
                                          _mm256_and_si256(_mm256_srli_epi32(mag, 16), set1(1)));
    __m256i code = _mm256_srli_epi32(_mm256_add_epi32(mag, bias), 16);
    if (saturate) code = _mm256_min_epi32(code, set1(0x7F7FU));
    code = _mm256_or_si256(code, sign16);
    code = _mm256_blendv_epi8(code, _mm256_or_si256(sign16, set1(0x7FC0U)),
                              _mm256_cmpgt_epi32(mag, exp_inf));
    store16(out + i, code);
  }
  std::uint32_t result = hmax_epi32(amax);
  if (i < n) {
    EncodeArgs tail = a;
    tail.index0 = a.index0 + i;
    const std::uint32_t t = encode_f32_scalar(out + i, src + i, n - i, tail);
    result = t > result ? t : result;
  }
  return result;
}


// 8-bit formats, round to nearest even, 32 values per iteration. Normal results round with the
// integer add-and-shift trick and rebias; subnormal results come from one float addition of a
// magic constant whose ulp is the target's subnormal spacing (the FPU rounds to nearest even),
// so the result is exact without variable shifts. Overflow and NaN are fixed by blends.
std::uint32_t encode_fp8_nearest(void* dst, const float* src, std::size_t n, const EncodeArgs& a) {
  const FormatSpec& f = *a.format;
  const int m = f.mantissa_bits;
  const int emin = f.min_exponent();
  const __m128i shift = _mm_cvtsi32_si128(23 - m);
  const __m256i round_bias = set1((1U << (22 - m)) - 1U);
  const __m256i rebias = set1(static_cast<std::uint32_t>(127 - f.bias) << m);
  const __m256i min_normal = set1(static_cast<std::uint32_t>(emin + 127) << 23);
  const __m256 magic = _mm256_castsi256_ps(set1(static_cast<std::uint32_t>(emin - m + 23 + 127) << 23));
  const __m256i max_code = set1(static_cast<std::uint32_t>(f.max_code()));
  const __m256i ovf = set1(static_cast<std::uint32_t>(overflow_code(f, a.overflow)));
  const __m256i nan_code = set1(static_cast<std::uint32_t>(f.has_nan() ? f.nan_code() : 0));
  const __m256i abs_mask = set1(0x7FFFFFFFU);
  const __m256i exp_inf = set1(0x7F800000U);
  const __m256i one = set1(1);
  const __m256 scale = _mm256_set1_ps(a.scale);
  const bool has_nan = f.has_nan();
  __m256i amax = _mm256_setzero_si256();
  auto encode8 = [&](const float* p) {
    __m256 x = _mm256_loadu_ps(p);
    amax = _mm256_max_epi32(amax, _mm256_and_si256(_mm256_castps_si256(x), abs_mask));
    if (a.scaled) x = _mm256_mul_ps(x, scale);
    const __m256i xb = _mm256_castps_si256(x);
    const __m256i mag = _mm256_and_si256(xb, abs_mask);
    const __m256i odd = _mm256_and_si256(_mm256_srl_epi32(mag, shift), one);
    const __m256i normal = _mm256_sub_epi32(
        _mm256_srl_epi32(_mm256_add_epi32(mag, _mm256_add_epi32(round_bias, odd)), shift), rebias);
    const __m256 sub_f = _mm256_add_ps(_mm256_castsi256_ps(mag), magic);
    const __m256i sub = _mm256_sub_epi32(_mm256_castps_si256(sub_f), _mm256_castps_si256(magic));
    __m256i code = _mm256_blendv_epi8(normal, sub, _mm256_cmpgt_epi32(min_normal, mag));
    code = _mm256_blendv_epi8(code, ovf, _mm256_cmpgt_epi32(code, max_code));
    const __m256i sign = _mm256_srli_epi32(_mm256_andnot_si256(abs_mask, xb), 24);
    code = _mm256_or_si256(code, sign);
    const __m256i nan_val = has_nan ? _mm256_or_si256(nan_code, sign) : _mm256_setzero_si256();
    return _mm256_blendv_epi8(code, nan_val, _mm256_cmpgt_epi32(mag, exp_inf));
  };
  auto* out = static_cast<std::uint8_t*>(dst);
  const __m256i order = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
  std::size_t i = 0;
  for (; i + 32 <= n; i += 32) {
    const __m256i c0 = encode8(src + i), c1 = encode8(src + i + 8);
    const __m256i c2 = encode8(src + i + 16), c3 = encode8(src + i + 24);
    const __m256i bytes = _mm256_packus_epi16(_mm256_packus_epi32(c0, c1), _mm256_packus_epi32(c2, c3));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + i), _mm256_permutevar8x32_epi32(bytes, order));
  }
  std::uint32_t result = hmax_epi32(amax);
  if (i < n) {
    EncodeArgs tail = a;
    tail.index0 = a.index0 + i;
    const std::uint32_t t = encode_f32_scalar(out + i, src + i, n - i, tail);
    result = t > result ? t : result;
  }
  return result;
}

std::uint32_t encode_f32_avx2(void* dst, const float* src, std::size_t n, const EncodeArgs& a) {
  const DType t = a.format->dtype;
  if (t == DType::fp16 && a.rounding == Rounding::nearest)
    return encode_fp16_f16c<_MM_FROUND_TO_NEAREST_INT>(dst, src, n, a);
  if (t == DType::fp16 && a.rounding == Rounding::toward_zero)
    return encode_fp16_f16c<_MM_FROUND_TO_ZERO>(dst, src, n, a);
  if (t == DType::bf16 && a.rounding == Rounding::nearest) return encode_bf16_nearest(dst, src, n, a);
  if (a.format->bits() == 8 && a.rounding == Rounding::nearest)
    return encode_fp8_nearest(dst, src, n, a);
  switch (a.rounding) {
    case Rounding::nearest: return encode_generic_v<Rounding::nearest>(dst, src, n, a);
    case Rounding::toward_zero: return encode_generic_v<Rounding::toward_zero>(dst, src, n, a);
    case Rounding::stochastic: return encode_generic_v<Rounding::stochastic>(dst, src, n, a);
  }
  return 0;
}

void decode_f32_avx2(float* dst, const void* src, std::size_t n, const FormatSpec& f) {
  std::size_t i = 0;
  if (f.dtype == DType::e5m2) {
    // e5m2 is the top byte of an fp16 with the same bias: shift and let F16C decode.
    const auto* in = static_cast<const std::uint8_t*>(src);
    for (; i + 8 <= n; i += 8) {
      const __m128i w = _mm_cvtepu8_epi16(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(in + i)));
      _mm256_storeu_ps(dst + i, _mm256_cvtph_ps(_mm_slli_epi16(w, 8)));
    }
    decode_f32_scalar(dst + i, in + i, n - i, f);
    return;
  }
  if (f.dtype == DType::e4m3) {
    // The magnitude placed in fp16 position is exact (subnormals included) at a bias of 15
    // instead of 7; one multiply by 2^8 rebiases. S.1111.111 is NaN.
    const auto* in = static_cast<const std::uint8_t*>(src);
    const __m256 rebias = _mm256_set1_ps(256.0f);
    const __m256i nan_mag = _mm256_set1_epi32(0x7F);
    const __m256i qnan = _mm256_set1_epi32(0x7FC00000);
    for (; i + 8 <= n; i += 8) {
      const __m128i b = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(in + i));
      const __m128i mag16 = _mm_slli_epi16(_mm_and_si128(_mm_cvtepu8_epi16(b), _mm_set1_epi16(0x7F)), 7);
      const __m256 v = _mm256_mul_ps(_mm256_cvtph_ps(mag16), rebias);
      const __m256i c = _mm256_cvtepu8_epi32(b);
      const __m256i sign = _mm256_slli_epi32(_mm256_srli_epi32(c, 7), 31);
      const __m256i is_nan = _mm256_cmpeq_epi32(_mm256_and_si256(c, nan_mag), nan_mag);
      const __m256i bits = _mm256_blendv_epi8(_mm256_castps_si256(v), qnan, is_nan);
      _mm256_storeu_ps(dst + i, _mm256_castsi256_ps(_mm256_or_si256(bits, sign)));
    }
    decode_f32_scalar(dst + i, in + i, n - i, f);
    return;
  }
  if (f.bits() == 8) {
    const float* table = decode_table8(f.dtype);
    const auto* in = static_cast<const std::uint8_t*>(src);
    for (; i + 8 <= n; i += 8) {
      const __m256i idx = _mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(in + i)));
      _mm256_storeu_ps(dst + i, _mm256_i32gather_ps(table, idx, 4));
    }
    decode_f32_scalar(dst + i, in + i, n - i, f);
    return;
  }
  const auto* in = static_cast<const std::uint16_t*>(src);
  if (f.dtype == DType::fp16) {
    for (; i + 8 <= n; i += 8)
      _mm256_storeu_ps(dst + i, _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(in + i))));
  } else if (f.dtype == DType::bf16) {
    for (; i + 8 <= n; i += 8) {
      const __m256i w = _mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(in + i)));
      _mm256_storeu_ps(dst + i, _mm256_castsi256_ps(_mm256_slli_epi32(w, 16)));
    }
  }
  decode_f32_scalar(dst + i, in + i, n - i, f);
}

}  // namespace

const ConvertKernels* avx2_kernels() {
  static const ConvertKernels k{"avx2", &encode_f32_avx2, &decode_f32_avx2};
  return &k;
}

}  // namespace mixtrain::numerics::detail
