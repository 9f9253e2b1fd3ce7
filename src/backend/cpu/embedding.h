// Embedding lookup (gather) and its backward (scatter-add into the table gradient). Ids are
// int64 in [0, V) (mixtrain::Error otherwise). The backward splits the table's columns over the
// pool and walks the ids in order, so repeated ids add up deterministically.
#pragma once

#include <cstdint>

namespace mixtrain::backend::cpu {

// out (N, D) = table[ids] with table (V, D), ids (N).
template <typename T>
void embedding_forward(T* out, const T* table, const std::int64_t* ids, std::int64_t N,
                       std::int64_t V, std::int64_t D);

// dtable (V, D) = sum over i with ids[i] = v of dout[i] (overwritten: rows never looked up
// are 0). dout (N, D).
template <typename T>
void embedding_backward(T* dtable, const T* dout, const std::int64_t* ids, std::int64_t N,
                        std::int64_t V, std::int64_t D);

}  // namespace mixtrain::backend::cpu
