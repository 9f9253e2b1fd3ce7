// The autocast op lists: one table, op name -> category. Documented against PyTorch's CPU/CUDA
// autocast lists in docs/AMP.md.
//  - lower:   GEMM-based ops run in the policy's low-precision dtype (fp16/bf16; fp8 for Linear
//             in fp8 mode, handled by nn::Linear with its scaling state).
//  - fp32:    range- or accuracy-sensitive ops run in fp32 (inputs are cast up).
//  - promote: ops with several floating inputs run in the widest input dtype.
//  - none:    everything else runs in its input dtype.
#pragma once

#include <string_view>

namespace mixtrain::amp {

enum class OpCategory { lower, fp32, promote, none };

OpCategory op_category(std::string_view op);

struct OpTableEntry {
  std::string_view op;
  OpCategory category;
};
// The whole table (for documentation and tests).
const OpTableEntry* op_table(std::size_t* count);

}  // namespace mixtrain::amp
