// Row-wise softmax, log_softmax and cross-entropy with integer labels (fused with log_softmax),
// forward and backward. Numerically stable (the row max is subtracted first), one parallel pass
// per row block, accumulation in T (fp32 for float, fp64 for double). The reference backend
// (backend/reference) has the plain two-pass loops with std::exp: the test oracle.
#pragma once

#include <cstdint>

namespace mixtrain::backend::cpu {

// y = softmax(x) along rows. x, y (N, C) contiguous; y may alias x.
template <typename T>
void softmax_forward(T* y, const T* x, std::int64_t N, std::int64_t C);
// dx = y * (dy - sum_c(dy * y)). dx, dy, y (N, C); dx may alias dy.
template <typename T>
void softmax_backward(T* dx, const T* dy, const T* y, std::int64_t N, std::int64_t C);

// y = x - max - log(sum exp(x - max)) along rows. x, y (N, C); y may alias x.
template <typename T>
void log_softmax_forward(T* y, const T* x, std::int64_t N, std::int64_t C);
// dx = dy - exp(y) * sum_c(dy), y the forward output. dx may alias dy.
template <typename T>
void log_softmax_backward(T* dx, const T* dy, const T* y, std::int64_t N, std::int64_t C);

// Mean cross-entropy over N rows of logits (N, C) with labels (N) in [0, C) (throws
// mixtrain::Error otherwise). Saves lse (N) = log(sum exp(logits row)) for the backward.
// Returns mean_i(lse_i - logits[i, label_i]); the mean is summed in fp64 in row order.
template <typename T>
T cross_entropy_forward(T* lse, const T* logits, const std::int64_t* labels, std::int64_t N,
                        std::int64_t C);
// dlogits = dloss / N * (softmax(logits) - onehot(label)). dlogits (N, C) may alias logits.
template <typename T>
void cross_entropy_backward(T* dlogits, const T* logits, const T* lse,
                            const std::int64_t* labels, T dloss, std::int64_t N, std::int64_t C);

}  // namespace mixtrain::backend::cpu
