// The oneDNN matmul peer of `mixtrain bench gemm`: the library PyTorch calls for CPU bf16 GEMMs
// (brg:avx512_core_bf16 on CPUs with avx512_bf16), timed in the same run as mixtrain's gemm().
// Built when CMake finds oneDNN (Debian libdnnl-dev); otherwise available() is false and the
// bench reports no peer.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

namespace mixtrain::app {

struct OnednnPeer {
  std::string dtype;            // "f32" or "bf16": the inputs' type (output f32, as ours)
  std::function<void()> run;    // one C = A * B, waited for
};

bool onednn_available();
// A prepared matmul C (m, n) f32 = A (m, k) * B (k, n), with A and B in bf16 or f32. Throws
// mixtrain::Error when oneDNN cannot build it.
OnednnPeer make_onednn_matmul(std::int64_t m, std::int64_t n, std::int64_t k, bool bf16);

}  // namespace mixtrain::app
