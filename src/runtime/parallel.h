// mixtrain's own thread pool.
//
// One pool per process, sized once (MIXTRAIN_THREADS or the hardware concurrency). Work is
// split into chunks whose boundaries depend only on the problem size, never on the thread
// count, so every reduction built on it is deterministic. BLAS is called from inside the pool
// single-threaded: two spinning pools on two cores cost 2-3x (see docs/ARCHITECTURE.md).
#pragma once

#include <cstddef>
#include <functional>

namespace mixtrain::runtime {

// Number of threads parallel_for uses (>= 1).
int num_threads();
// The largest pool size accepted: max(256, hardware concurrency).
int max_threads();
// Resizes the pool to n threads in [1, max_threads()]; n == 0 means the default size
// (MIXTRAIN_THREADS, else the hardware concurrency). Throws mixtrain::Error for another n (a
// negative or absurd count never starts threads). Not to be called concurrently with
// parallel_for. MIXTRAIN_THREADS must likewise be an integer in [1, max_threads()]: another
// value is an Error on the pool's first use.
void set_num_threads(int n);

// Runs fn(chunk) for chunk in [0, chunks), spread over the pool; returns when all are done.
// Calls from inside a running chunk execute inline (no nested parallelism). The first exception
// thrown by any chunk is rethrown here after all chunks have finished.
void parallel_for_chunks(std::size_t chunks, const std::function<void(std::size_t)>& fn);

// Splits [0, n) into ceil(n / grain) ranges of `grain` elements (the last may be shorter) and
// runs fn(begin, end) on each. Small problems (one chunk) run on the calling thread.
void parallel_for(std::size_t n, std::size_t grain,
                  const std::function<void(std::size_t, std::size_t)>& fn);

}  // namespace mixtrain::runtime
