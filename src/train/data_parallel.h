// Data parallelism across the ranks of dist::world() (docs/DISTRIBUTED.md): what a rank does
// besides its share of the forward and backward. Internal to src/train.
//
// Determinism: one process with --accumulate N sums its micro-batch gradients into .grad in
// micro-batch order, ((g0 + g1) + g2) + ..., each an fp32 add per element (autograd/engine.cpp).
// Here rank r computes micro-batch r alone and reduce_gradients() forms exactly that sum: the
// parameters, laid end to end, are cut into N chunks; rank j receives every rank's chunk j
// (alltoallv) and adds them in rank order with the same fp32 accumulate kernel, then every rank
// receives every summed chunk (allgatherv). No sum is left to MPI, so the result does not depend
// on the library, the transport or the number of machines, and every rank holds the same bits:
// the loss scaler's found-inf check and the clipping norm, computed from those gradients, agree
// on every rank without a further reduction.
//
// ZeRO-1 (--shard-optimizer): rank r's optimizer owns chunk r (optim::Optimizer::shard); after
// the step gather_parameters() hands every rank the others' updated elements.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "dist/communicator.h"
#include "nn/module.h"
#include "optim/optimizer.h"

namespace mixtrain::train {

// How gradients cross ranks. The default (ordered, fp32) is the bit-identical one above.
//  fast: MPI_Allreduce's own sum, whose order the library chooses (it may depend on the rank
//        count, message size and transport): still the same on every rank, but not promised to
//        equal one process's --accumulate N, nor a run on another MPI.
//  bf16 communication (DeepSpeed's communication_data_type): each rank's gradient chunk is sent
//        rounded to bf16 (nearest even), the owner decodes and sums in fp32 in rank order, and
//        the sum is rounded to bf16 for the all-gather; every rank, the owner included, takes
//        the bf16 value. Half the bytes; deterministic, not equal to fp32 communication.
struct CommOptions {
  bool fast = false;
  DType dtype = DType::fp32;  // fp32 | bf16
};

class DataParallel {
 public:
  DataParallel(dist::Communicator& comm, std::vector<nn::Parameter> params, CommOptions options = {});

  int rank() const { return comm_.rank(); }
  int size() const { return comm_.size(); }
  dist::Communicator& comm() { return comm_; }
  // Rank r's chunk of the parameters laid end to end: elements [chunk_lo(r), chunk_hi(r)).
  std::int64_t chunk_lo(int r) const;
  std::int64_t chunk_hi(int r) const { return chunk_lo(r + 1); }

  // Every rank's .grad becomes the rank-order sum of all ranks' (see above).
  void reduce_gradients();
  // ZeRO-1: every rank receives the parameter elements the other ranks' optimizers updated.
  void gather_parameters();
  // ZeRO-1: the optimizer's state as whole tensors on rank 0 (empty on the others), for the
  // checkpoint; collective.
  std::vector<std::pair<std::string, Tensor>> gather_state(optim::Optimizer& opt);
  // Every rank's values, rank 0's first (each rank gives the same count).
  std::vector<double> gather(const std::vector<double>& mine);
  // Throws dist::CollectiveError on every rank when the ranks' settings (a digest of what they
  // would train) differ.
  void check_same(const std::string& settings);

  // Communication so far: seconds spent in collectives and bytes this rank sent.
  double comm_seconds() const { return comm_s_; }
  std::int64_t bytes_sent() const { return bytes_sent_; }

 private:
  void reduce_flat_ordered();
  void reduce_flat_bf16();

  dist::Communicator& comm_;
  std::vector<nn::Parameter> params_;
  CommOptions options_;
  std::vector<std::uint16_t> flat16_, recv16_;
  std::vector<std::int64_t> offsets_;  // each parameter's first element in the end-to-end layout
  std::int64_t total_ = 0;
  std::vector<float> flat_, recv_;
  double comm_s_ = 0;
  std::int64_t bytes_sent_ = 0;
};

}  // namespace mixtrain::train
