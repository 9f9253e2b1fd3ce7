// Force-included into src/runtime/cpu_features.cpp in the fuzz build only (fuzz/CMakeLists.txt).
// clang (14 and 16) rejects GCC's __builtin_cpu_supports feature names "f16c" and "amx-bf16", so
// the library does not compile with clang as is. The fuzz targets exercise file readers, not ISA
// dispatch: every probe answers "unsupported" and the fuzz build runs the generic kernels.
#pragma once

#define __builtin_cpu_supports(feature) 0
