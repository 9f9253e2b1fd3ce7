// Mixed-precision policies: opt levels O0-O3 (apex names), the fp8 mode, and the per-layer
// precision map that overrides them. A Policy answers three questions: which dtype a module's
// GEMMs run in, which dtype a parameter is stored in, and whether fp32 masters exist.
//
//   O0  everything fp32 (the baseline).
//   O1  autocast: GEMMs in the low dtype, fp32 ops in fp32; weights stay fp32 (cast per step
//       through the cast cache).
//   O2  weights stored in the low dtype with fp32 master weights in the optimizer; BatchNorm and
//       LayerNorm parameters stay fp32; autocast as in O1; the loss is fp32.
//   O3  everything in the low dtype, no master weights (a speed baseline that shows why masters
//       matter), with optional stochastic rounding of the weight updates.
//   fp8 O2 with bf16, and Linear GEMMs in fp8 (E4M3 forward, E5M2 gradients in `hybrid`).
#pragma once

#include <string>

#include "amp/fp8_scaling.h"
#include "amp/precision_map.h"
#include "numerics/format.h"

namespace mixtrain::amp {

enum class OptLevel { O0, O1, O2, O3 };
std::string_view to_string(OptLevel l);

struct Policy {
  OptLevel level = OptLevel::O0;
  DType low = DType::fp32;          // fp16 or bf16 (fp32 for O0)
  bool fp8 = false;                 // Linear GEMMs in fp8
  Fp8Options fp8_options;
  PrecisionMap map;                 // per-layer overrides of the GEMM dtype
  DType master = DType::fp32;       // master weight dtype (fp32, or fp64 on request)
  bool stochastic_rounding = false; // O3: stochastic rounding of low-precision weight updates

  static Policy O0();
  static Policy O1(DType low);
  static Policy O2(DType low);
  static Policy O3(DType low, bool stochastic_rounding = false);
  static Policy FP8(Fp8Options options = {});

  bool autocast() const { return level != OptLevel::O0; }
  bool masters() const { return level == OptLevel::O2; }
  // Dtype of the GEMMs of module `module` (map first, then fp8 → e4m3 marker, then low).
  DType gemm_dtype(const std::string& module) const;
  // Storage dtype of parameter `param` of a module; norm parameters stay fp32 in O2.
  DType param_dtype(const std::string& param, bool is_norm) const;
  // "bf16 O2", "fp8 (delayed, hybrid)", ...
  std::string describe() const;
};

}  // namespace mixtrain::amp
