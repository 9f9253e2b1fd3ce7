// The process group a data-parallel run trains in (docs/DISTRIBUTED.md). One interface, two
// implementations: MPI (built when CMake finds an MPI and MIXTRAIN_MPI is on, used when the
// process was launched by mpirun) and the single process. Only raw bytes cross it; what the bytes
// mean, and in which order they are summed, is the caller's (train/data_parallel.h): every
// collective here moves data, none reduces it, so no result depends on the library's own
// reduction order.
//
// Collectives must be called by every rank in the same order. Sizes are bytes; MPI counts are
// int, so one call moves at most 2 GiB per rank (checked, one clear error).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "runtime/error.h"

namespace mixtrain::dist {

// Bad settings that every rank detected alike (a batch that does not divide, flags that differ
// across ranks): every rank throws it, rank 0 prints it and all exit 2 without aborting the job.
class CollectiveError : public Error {
 public:
  using Error::Error;
};

class Communicator {
 public:
  virtual ~Communicator() = default;
  virtual int rank() const = 0;
  virtual int size() const = 0;
  virtual std::string backend() const = 0;  // "mpi" or "single"

  // out (size() * bytes) gets every rank's `bytes` bytes of `in`, rank r's at r * bytes.
  virtual void allgather(const void* in, std::size_t bytes, void* out) = 0;
  // Variable sizes: rank r contributes counts[r] bytes; out holds them back to back in rank order.
  virtual void allgatherv(const void* in, const std::vector<std::size_t>& counts, void* out) = 0;
  // Rank r sends send_counts[j] bytes starting at send_offsets[j] of `send` to rank j, and
  // receives recv_counts[j] bytes from rank j at recv_offsets[j] of `recv`.
  virtual void alltoallv(const void* send, const std::vector<std::size_t>& send_counts,
                         const std::vector<std::size_t>& send_offsets, void* recv,
                         const std::vector<std::size_t>& recv_counts, const std::vector<std::size_t>& recv_offsets) = 0;
  // Rank `root` gets every rank's counts[r] bytes back to back in rank order (others: out unused).
  virtual void gatherv(const void* in, const std::vector<std::size_t>& counts, void* out, int root) = 0;
  virtual void broadcast(void* buf, std::size_t bytes, int root) = 0;
  // An element-wise sum handed to the library (its order unspecified): only for `--allreduce
  // fast` and for integers, whose sum does not depend on the order.
  virtual void allreduce_sum_f32(float* buf, std::size_t n) = 0;
  virtual void allreduce_max_i64(std::int64_t* buf, std::size_t n) = 0;
  // Ends every rank of the job with `code` (mpirun reports it); does not return.
  [[noreturn]] virtual void abort(int code) = 0;
};

// The process group of this process: MPI's world when this build has MPI and the process was
// started by mpirun (Open MPI's, MPICH's or Slurm's launch variables), else a group of one.
// Initialises MPI on first use (finalised at exit).
Communicator& world();
// True once world() has started MPI with more than one rank.
bool distributed();
// Whether this build can talk MPI at all (MIXTRAIN_MPI).
bool built_with_mpi();

// The error contract under mpirun: prints "mixtrain: rank R of N: <line>" and ends the whole job
// with `status` when this process is one of several ranks (a rank that fails alone must not
// leave the others waiting in a collective); returns normally otherwise.
void abort_job_if_distributed(const std::string& line, int status);

}  // namespace mixtrain::dist
