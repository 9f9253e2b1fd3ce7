// The one CPU-feature probe: which instruction-set tier every kernel family runs at.
//
// Tiers are ordered; each includes the ones below it:
//   generic      portable C++ (bit-identical to every SIMD path that promises exact results)
//   avx2         AVX2 + FMA + F16C (Haswell, Zen 1..5)
//   avx512       AVX-512 F/BW/DQ/VL (Skylake-X, Zen 4/5): full-width fp32 kernels
//   avx512_bf16  plus AVX512_BF16: vdpbf16ps GEMMs for bf16/fp8 operands (Cooper Lake, Zen 4/5)
//   amx_bf16     plus AMX-BF16 tiles (Sapphire Rapids); detected and reported, but no kernel
//                uses it yet, so it runs the avx512_bf16 kernels
//
// The environment variable MIXTRAIN_ISA caps the tier for all kernels (it can lower it, never
// raise it past what the CPU has); an unknown value is an error naming the variable.
#pragma once

#include <string_view>

namespace mixtrain::runtime {

enum class IsaTier : int { generic = 0, avx2 = 1, avx512 = 2, avx512_bf16 = 3, amx_bf16 = 4 };

std::string_view tier_name(IsaTier t);
// Parses a tier name; throws mixtrain::Error naming `what` for anything else.
IsaTier parse_tier(std::string_view name, std::string_view what);

// The best tier this CPU (and this build) supports, ignoring MIXTRAIN_ISA.
IsaTier cpu_tier();

// The tier kernels run at: min(cpu_tier(), MIXTRAIN_ISA, the test cap). Cheap (one relaxed
// atomic load after the first call), so kernels ask on every call rather than caching.
IsaTier isa_tier();
inline bool isa_at_least(IsaTier t) { return static_cast<int>(isa_tier()) >= static_cast<int>(t); }

// Tests and benchmarks: lowers the tier for the whole process until reset (not thread-safe
// against kernels running concurrently; set it between calls).
void set_isa_cap(IsaTier cap);
void reset_isa_cap();

}  // namespace mixtrain::runtime
