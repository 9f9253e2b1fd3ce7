// Reductions and their reverse, gradient accumulation, and the training step's checks: every sum
// runs in an order fixed by the shapes alone (deterministic whatever the thread count).
#pragma once

#include <cstddef>
#include <cstdint>

#include "backend/types.h"

namespace mixtrain::backend::cpu {

template <typename T>
void sum_to(T* dst, const T* src, const Shape& src_shape, const Shape& dst_shape);
template <typename T>
void broadcast_to(T* dst, const T* src, const Shape& src_shape, const Shape& dst_shape, T factor);
template <typename T>
void accumulate(T* acc, const T* x, std::int64_t n);
bool all_finite(const void* x, DType dtype, std::size_t n);
double sum_squares(const float* x, std::size_t n, double acc);

}  // namespace mixtrain::backend::cpu
