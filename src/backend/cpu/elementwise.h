// Elementwise kernels in the compute dtype (T = float or double): binary ops with broadcasting,
// unary functions and their derivatives, pointwise losses, and the mixed-dtype fp32 binary op.
// Exact family: each element is a fixed sequence of correctly rounded operations (libm's for
// tanh, exp, log), so results are identical on every thread count and match the reference.
#pragma once

#include <cstdint>

#include "backend/types.h"

namespace mixtrain::backend::cpu {

template <typename T>
void binary(BinaryOp op, T* o, const T* a, const Shape& as, const T* b, const Shape& bs, const Shape& os);
template <typename T>
void unary_forward(UnaryOp op, T* y, const T* x, std::int64_t n);
template <typename T>
void unary_backward(UnaryOp op, T* dx, const T* dy, const T* x, const T* y, std::int64_t n);
template <typename T>
T point_loss_forward(PointLoss kind, const T* p, const T* t, std::int64_t n);
template <typename T>
void point_loss_backward(PointLoss kind, T* dp, T* dt, const T* p, const T* t, std::int64_t n, T dloss);
void binary_f32(BinaryOp op, void* r, DType r_type, const void* a, DType a_type, const void* b, DType b_type,
                std::int64_t n);

}  // namespace mixtrain::backend::cpu
