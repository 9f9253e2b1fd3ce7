// Per-thread scratch buffers for kernels whose workspace depends on the thread that runs a
// chunk (im2col columns, ...): they grow to the largest request and are reused, so hot paths do
// not allocate after the first call. The total is reported for the memory ledger.
#pragma once

#include <cstddef>

namespace mixtrain::backend::cpu {

// Scratch slots; a kernel uses distinct slots for buffers that are live at the same time.
enum class Scratch : int { col, col2, gemm_a, gemm_b, gemm_c, gemm_rows, act_a, act_b, count };

// n elements of T for the calling thread, valid until its next request for the same slot.
// Contents are unspecified.
template <typename T>
T* thread_scratch(Scratch slot, std::size_t n);

// Bytes held by the scratch buffers of all threads.
std::size_t scratch_bytes();

}  // namespace mixtrain::backend::cpu
