// The cpu backend's kernel table: the threaded, vectorised kernels of this folder, each family at
// the ISA tier runtime/cpu_features.h chooses (capped by MIXTRAIN_ISA).
#pragma once

#include "backend/kernels.h"

namespace mixtrain::backend::cpu {
const Kernels& table();
}
