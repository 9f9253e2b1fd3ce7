// The CPU-feature probe (cpu_features.h).
#include "runtime/cpu_features.h"

#include <array>
#include <atomic>
#include <cstdlib>
#include <string>

#include "runtime/error.h"

namespace mixtrain::runtime {
namespace {

constexpr std::array<std::string_view, 5> kNames = {"generic", "avx2", "avx512", "avx512_bf16",
                                                    "amx_bf16"};

IsaTier probe() {
#if defined(__x86_64__) && defined(MIXTRAIN_HAVE_AVX2_KERNELS)
  __builtin_cpu_init();
  if (!(__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
        __builtin_cpu_supports("f16c")))
    return IsaTier::generic;
#if defined(MIXTRAIN_HAVE_AVX512_KERNELS)
  // __builtin_cpu_supports also checks that the OS saves the zmm state (XCR0).
  if (!(__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl")))
    return IsaTier::avx2;
  if (!__builtin_cpu_supports("avx512bf16")) return IsaTier::avx512;
  if (!__builtin_cpu_supports("amx-bf16")) return IsaTier::avx512_bf16;
  return IsaTier::amx_bf16;
#else
  return IsaTier::avx2;
#endif
#else
  return IsaTier::generic;
#endif
}

IsaTier min_tier(IsaTier a, IsaTier b) { return static_cast<int>(a) < static_cast<int>(b) ? a : b; }

IsaTier env_tier() {
  const IsaTier cpu = cpu_tier();
  const char* env = std::getenv("MIXTRAIN_ISA");
  if (env == nullptr || *env == '\0' || std::string_view(env) == "native") return cpu;
  return min_tier(cpu, parse_tier(env, "MIXTRAIN_ISA"));
}

constexpr int kUnset = -1;
std::atomic<int> g_tier{kUnset};  // min(env_tier(), cap)
std::atomic<int> g_cap{static_cast<int>(IsaTier::amx_bf16)};

}  // namespace

std::string_view tier_name(IsaTier t) { return kNames.at(static_cast<std::size_t>(t)); }

IsaTier parse_tier(std::string_view name, std::string_view what) {
  for (std::size_t i = 0; i < kNames.size(); ++i)
    if (name == kNames[i]) return static_cast<IsaTier>(i);
  throw Error(std::string(what) + ": unknown ISA tier '" + std::string(name) +
              "' (expected generic, avx2, avx512, avx512_bf16, amx_bf16 or native)");
}

IsaTier cpu_tier() {
  static const IsaTier t = probe();
  return t;
}

IsaTier isa_tier() {
  int t = g_tier.load(std::memory_order_relaxed);
  if (t == kUnset) {
    t = static_cast<int>(min_tier(env_tier(), static_cast<IsaTier>(g_cap.load())));
    g_tier.store(t, std::memory_order_relaxed);
  }
  return static_cast<IsaTier>(t);
}

void set_isa_cap(IsaTier cap) {
  g_cap.store(static_cast<int>(cap));
  g_tier.store(kUnset);
}

void reset_isa_cap() { set_isa_cap(IsaTier::amx_bf16); }

}  // namespace mixtrain::runtime
