// Helpers shared by the numerics tests: bit casts and the sweep mode (exhaustive by default,
// MIXTRAIN_TEST_SWEEP=dense for slow builds such as the sanitizer preset).
#pragma once

#include <bit>
#include <cstdint>
#include <cstdlib>
#include <string>

namespace mixtrain::testing {

inline float f32(std::uint32_t bits) { return std::bit_cast<float>(bits); }
inline std::uint32_t bits(float x) { return std::bit_cast<std::uint32_t>(x); }

// True unless MIXTRAIN_TEST_SWEEP=dense asks for the reduced sweep.
inline bool exhaustive_sweep() {
  const char* s = std::getenv("MIXTRAIN_TEST_SWEEP");
  return !(s && std::string(s) == "dense");
}

}  // namespace mixtrain::testing
