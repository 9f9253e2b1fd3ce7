// Buffer conversion front end: ISA dispatch, the fp32/fp64 targets and fp64 sources (scalar
// definition), and the split into fixed-size chunks over the thread pool. Chunk boundaries depend
// only on n, so amax and stochastic results do not depend on the thread count.
#include "numerics/convert.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "numerics/convert_kernels.h"
#include "numerics/encode.h"
#include "numerics/rng.h"
#include "runtime/cpu_features.h"
#include "runtime/error.h"
#include "runtime/parallel.h"

namespace mixtrain::numerics {

#if !MIXTRAIN_HAVE_AVX512_KERNELS
const detail::ConvertKernels* detail::avx512_kernels() { return nullptr; }
#endif

namespace {

constexpr std::size_t kGrain = std::size_t{1} << 16;  // elements per chunk

// The table for the current ISA tier (runtime/cpu_features.h); asked per call so that a tier cap
// set by a test or MIXTRAIN_ISA applies to every kernel alike.
const detail::ConvertKernels& kernels() {
  if (runtime::isa_at_least(runtime::IsaTier::avx512))
    if (const detail::ConvertKernels* k = detail::avx512_kernels()) return *k;
  if (runtime::isa_at_least(runtime::IsaTier::avx2))
    if (const detail::ConvertKernels* k = detail::avx2_kernels()) return *k;
  return detail::generic_kernels();
}

void store_code(void* dst, std::size_t i, std::uint64_t code, int bytes) {
  auto* p = static_cast<unsigned char*>(dst);
  switch (bytes) {
    case 1: p[i] = static_cast<unsigned char>(code); break;
    case 2: { const auto v = static_cast<std::uint16_t>(code); std::memcpy(p + 2 * i, &v, 2); break; }
    case 4: { const auto v = static_cast<std::uint32_t>(code); std::memcpy(p + 4 * i, &v, 4); break; }
    default: std::memcpy(p + 8 * i, &code, 8); break;
  }
}

void* offset(void* p, std::size_t elems, std::size_t elem_bytes) {
  return static_cast<unsigned char*>(p) + elems * elem_bytes;
}
const void* offset(const void* p, std::size_t elems, std::size_t elem_bytes) {
  return static_cast<const unsigned char*>(p) + elems * elem_bytes;
}

// Calls fn(b, e) over [begin, end) split where index_offset + i crosses a multiple of 2^32, so
// each piece has one stochastic key.
template <typename Fn>
void for_each_key_piece(std::size_t begin, std::size_t end, std::uint64_t index_offset, Fn&& fn) {
  while (begin < end) {
    const std::uint64_t idx = index_offset + begin;
    const std::uint64_t to_boundary = (std::uint64_t{1} << 32) - (idx & 0xFFFFFFFFULL);
    const std::size_t e = static_cast<std::size_t>(std::min<std::uint64_t>(end, begin + to_boundary));
    fn(begin, e);
    begin = e;
  }
}

// Scalar definition over any source precision, for targets and sources the kernels do not take.
template <typename Src>
std::uint64_t amax_bits(Src x);
template <>
std::uint64_t amax_bits(float x) { return std::bit_cast<std::uint32_t>(x) & 0x7FFFFFFFU; }
template <>
std::uint64_t amax_bits(double x) {
  return std::bit_cast<std::uint64_t>(x) & 0x7FFFFFFFFFFFFFFFULL;
}

template <typename Src>
std::uint64_t encode_scalar_range(void* dst, const FormatSpec& f, const Src* src, std::size_t b,
                                  std::size_t e, Rounding r, Overflow o, Src scale, bool scaled,
                                  const ConvertOptions& opt) {
  std::uint64_t amax = 0;
  const std::uint32_t key = stochastic_key(opt.seed, opt.index_offset + b);
  for (std::size_t i = b; i < e; ++i) {
    amax = std::max(amax, amax_bits(src[i]));
    const Src y = scaled ? src[i] * scale : src[i];
    const std::uint32_t rnd =
        r == Rounding::stochastic
            ? stochastic_bits_keyed(key, static_cast<std::uint32_t>(opt.index_offset + i))
            : 0;
    store_code(dst, i, encode(y, f, r, o, rnd), f.bytes());
  }
  return amax;
}

template <typename Src>
Src amax_from_bits(std::uint64_t bits);
template <>
float amax_from_bits(std::uint64_t bits) { return std::bit_cast<float>(static_cast<std::uint32_t>(bits)); }
template <>
double amax_from_bits(std::uint64_t bits) { return std::bit_cast<double>(bits); }

template <typename Src>
Src encode_impl(void* dst, DType to, const Src* src, std::size_t n, const ConvertOptions& opt) {
  const FormatSpec& f = spec(to);
  const Overflow o = opt.overflow.value_or(f.default_overflow);
  const Src scale = static_cast<Src>(opt.scale);
  if (!(scale > 0) || !std::isfinite(scale))
    throw Error("convert: scale " + std::to_string(opt.scale) + " is not a finite positive " +
                std::string(std::is_same_v<Src, float> ? "fp32" : "fp64") + " number");
  const bool scaled = opt.scale != 1.0;
  const bool use_kernel = std::is_same_v<Src, float> && f.bits() <= 16;
  const std::size_t chunks = (n + kGrain - 1) / kGrain;
  std::vector<std::uint64_t> amax(chunks, 0);
  runtime::parallel_for(n, kGrain, [&](std::size_t begin, std::size_t end) {
    std::uint64_t m = 0;
    for_each_key_piece(begin, end, opt.index_offset, [&](std::size_t b, std::size_t e) {
      if constexpr (std::is_same_v<Src, float>) {
        if (use_kernel) {
          const detail::EncodeArgs args{&f, opt.rounding, o, scale, scaled, opt.seed,
                                        opt.index_offset + b};
          m = std::max<std::uint64_t>(
              m, kernels().encode_f32(offset(dst, b, f.bytes()), src + b, e - b, args));
          return;
        }
      }
      m = std::max(m, encode_scalar_range(dst, f, src, b, e, opt.rounding, o, scale, scaled, opt));
    });
    amax[begin / kGrain] = m;
  });
  std::uint64_t m = 0;
  for (auto v : amax) m = std::max(m, v);
  return amax_from_bits<Src>(m);
}

}  // namespace

float encode(void* dst, DType to, const float* src, std::size_t n, const ConvertOptions& opt) {
  return encode_impl<float>(dst, to, src, n, opt);
}

double encode(void* dst, DType to, const double* src, std::size_t n, const ConvertOptions& opt) {
  return encode_impl<double>(dst, to, src, n, opt);
}

void decode(float* dst, const void* src, DType from, std::size_t n) {
  const FormatSpec& f = spec(from);
  runtime::parallel_for(n, kGrain, [&](std::size_t b, std::size_t e) {
    if (from == DType::fp32) {
      std::memcpy(dst + b, offset(src, b, 4), (e - b) * 4);
    } else if (from == DType::fp64) {
      const auto* s = static_cast<const double*>(src);
      for (std::size_t i = b; i < e; ++i) dst[i] = static_cast<float>(s[i]);
    } else {
      kernels().decode_f32(dst + b, offset(src, b, f.bytes()), e - b, f);
    }
  });
}

void decode(double* dst, const void* src, DType from, std::size_t n) {
  const FormatSpec& f = spec(from);
  runtime::parallel_for(n, kGrain, [&](std::size_t b, std::size_t e) {
    if (from == DType::fp64) {
      std::memcpy(dst + b, offset(src, b, 8), (e - b) * 8);
      return;
    }
    float tmp[1024];
    for (std::size_t i = b; i < e; i += 1024) {
      const std::size_t k = std::min<std::size_t>(1024, e - i);
      if (from == DType::fp32)
        std::memcpy(tmp, offset(src, i, 4), k * 4);
      else
        kernels().decode_f32(tmp, offset(src, i, f.bytes()), k, f);
      for (std::size_t j = 0; j < k; ++j) dst[i + j] = tmp[j];
    }
  });
}

double convert(void* dst, DType to, const void* src, DType from, std::size_t n,
               const ConvertOptions& opt) {
  if (from == DType::fp64) return encode(dst, to, static_cast<const double*>(src), n, opt);
  if (from == DType::fp32) return encode(dst, to, static_cast<const float*>(src), n, opt);
  // Decode a chunk at a time into fp32 (exact), then encode it with the right counters.
  const FormatSpec& fin = spec(from);
  const FormatSpec& fout = spec(to);
  const std::size_t chunks = (n + kGrain - 1) / kGrain;
  std::vector<float> amax(chunks, 0.0f);
  runtime::parallel_for(n, kGrain, [&](std::size_t b, std::size_t e) {
    // Blocks on the stack: a heap buffer of a whole chunk (256 KiB) was mapped, zeroed and
    // unmapped by malloc on every call, which cost more than the conversion. Each element's
    // stochastic counter is its index, so the blocking does not change any result.
    constexpr std::size_t kBlock = 2048;
    float tmp[kBlock];
    float m = 0.0f;
    for (std::size_t i = b; i < e; i += kBlock) {
      const std::size_t k = std::min(kBlock, e - i);
      kernels().decode_f32(tmp, offset(src, i, fin.bytes()), k, fin);
      ConvertOptions o = opt;
      o.index_offset = opt.index_offset + i;
      const float a = encode(offset(dst, i, fout.bytes()), to, tmp, k, o);
      m = (std::isnan(a) || a > m) && !std::isnan(m) ? a : m;
    }
    amax[b / kGrain] = m;
  });
  float m = 0.0f;
  for (float v : amax) m = (std::isnan(v) || v > m) ? v : m;
  return m;
}

std::string_view active_isa() { return kernels().name; }

}  // namespace mixtrain::numerics
