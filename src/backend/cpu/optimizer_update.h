// The fused optimizer step of one parameter (backend/types.h: ParamUpdate), on the pool in
// chunks; AdamW's element loop runs at 16 lanes on the avx512 tier with the same bits.
#pragma once

#include "backend/types.h"

namespace mixtrain::backend::cpu {
void optimizer_update(const OptimizerHyper& hyper, const ParamUpdate& p);
}
