// The lane-generic fp32 math of the CPU kernels: templates only, over GCC vector types of any
// width (4 lanes in the portable kernels, 8 in the AVX2 units, 16 in the AVX-512 ones). This
// header defines no non-template inline function, so an ISA unit may include it inside its
// `#pragma GCC target` region: what it instantiates there is for its own vector widths alone
// (the 16-lane instantiations exist only in AVX-512 units), and nothing a baseline unit also
// uses is compiled for the wider ISA (scripts/check-isa-units.sh). For the same reason the code
// calls builtins, not library templates (std::bit_cast would be instantiated outside the
// region, for the baseline vector ABI).
#pragma once

#include <cstdint>

namespace mixtrain::backend::cpu::vec {

// Sum of n values with 8 partial sums in a fixed order (so results do not depend on the ISA).
// `Isa` is left at its default by the portable kernels; an ISA unit passes a tag type from its
// own unnamed namespace, which gives its instantiations internal linkage (never merged with the
// portable ones by the linker).
template <typename T, typename Isa = void>
inline T sum(const T* x, std::int64_t n) {
  T acc[8] = {};
  std::int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (int l = 0; l < 8; ++l) acc[l] += x[i + l];
  for (; i < n; ++i) acc[0] += x[i];
  return ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
}

// exp for fp32 lanes: n = round(x / ln2), r = x - n ln2 (two-part ln2), degree-6 polynomial
// (Cephes expf), scaled by 2^n through the exponent bits. Within 2 ulp of std::exp on
// [-87.3, 88]; below that 0, above exp(88); NaN stays NaN. Generic over the vector width (V
// fp32 lanes, I the int32 vector of the same width): every width runs the same IEEE operations
// per lane, so the AVX2 translation units' 8-lane forms give the bits of these 4-lane ones.
template <typename V, typename I>
inline V exp_n(V x) {
  const V lo = V{} - 87.3f, hi = V{} + 88.0f;
  V xc = x < lo ? lo : x;
  xc = xc > hi ? hi : xc;
  const float magic = 12582912.0f;  // 1.5 * 2^23: adding it rounds to an integer
  const V fn = (xc * 1.44269504088896341f + magic) - magic;
  const V r = (xc - fn * 0.693359375f) - fn * -2.12194440e-4f;
  V p = V{} + 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  const V y = p * r * r + r + 1.0f;
  const I bits = (__builtin_convertvector(fn, I) + 127) << 23;
  V res = y * __builtin_bit_cast(V, bits);
  res = x < lo ? V{} : res;
  return x != x ? x : res;
}

}  // namespace mixtrain::backend::cpu::vec
