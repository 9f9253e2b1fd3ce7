// The reference backend's kernel table: plain scalar loops on one thread, no SIMD, each kernel
// short enough to check by eye, with its summation order stated beside it. It exists to check the
// fast backends (tests/test_backend_crosscheck.cpp) and to run any model when in doubt.
#pragma once

#include "backend/kernels.h"

namespace mixtrain::backend::reference {
const Kernels& table();
}
