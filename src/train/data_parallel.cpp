// Gradient reduction in a fixed order, parameter gathers and checks across ranks (the argument
// for bit-identity is in data_parallel.h).
#include "train/data_parallel.h"

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstring>

#include "backend/kernels.h"
#include "numerics/convert.h"
#include "numerics/format.h"
#include "runtime/error.h"
#include "tensor/ledger.h"

namespace mixtrain::train {
namespace {

using Clock = std::chrono::steady_clock;

std::size_t elem_bytes(DType d) { return static_cast<std::size_t>(numerics::spec(d).bits() / 8); }

// FNV-1a: the same digest in every process of every build (std::hash promises neither).
std::uint64_t digest(const std::string& s) {
  std::uint64_t h = 1469598103934665603ULL;
  for (unsigned char c : s) h = (h ^ c) * 1099511628211ULL;
  return h;
}

}  // namespace

DataParallel::DataParallel(dist::Communicator& comm, std::vector<nn::Parameter> params, CommOptions options)
    : comm_(comm), params_(std::move(params)), options_(options) {
  check(options_.dtype == DType::fp32 || options_.dtype == DType::bf16, "--comm-dtype must be fp32 or bf16");
  for (const auto& p : params_) {
    offsets_.push_back(total_);
    total_ += p.tensor->numel();
  }
}

std::int64_t DataParallel::chunk_lo(int r) const {
  // Balanced contiguous chunks: floor(total * r / n), written so that total * r cannot overflow.
  const std::int64_t n = size();
  return total_ / n * r + total_ % n * r / n;
}

void DataParallel::reduce_gradients() {
  const auto t0 = Clock::now();
  flat_.assign(static_cast<std::size_t>(total_), 0.0f);
  for (std::size_t i = 0; i < params_.size(); ++i) {
    const Tensor g = params_[i].tensor->grad();
    if (!g.defined()) continue;  // no gradient reached it: zeros, as on every rank
    check(g.dtype() == DType::fp32, "data parallel: gradients must be fp32");
    std::memcpy(flat_.data() + offsets_[i], g.data_as<const float>(), static_cast<std::size_t>(g.numel()) * sizeof(float));
  }
  if (options_.fast) {
    comm_.allreduce_sum_f32(flat_.data(), flat_.size());
    // A ring all-reduce's traffic, for comparison with the ordered reduction's.
    bytes_sent_ += 2 * total_ * static_cast<std::int64_t>(sizeof(float)) * (size() - 1) / size();
  } else if (options_.dtype == DType::bf16) {
    reduce_flat_bf16();
  } else {
    reduce_flat_ordered();
  }
  for (std::size_t i = 0; i < params_.size(); ++i) {
    Tensor g = params_[i].tensor->grad();
    if (!g.defined()) continue;
    std::memcpy(g.data_as<float>(), flat_.data() + offsets_[i], static_cast<std::size_t>(g.numel()) * sizeof(float));
  }
  comm_s_ += std::chrono::duration<double>(Clock::now() - t0).count();
}

namespace {

// The byte counts and offsets of the reduce-scatter (alltoallv) and all-gather of the chunks,
// for elements of `elem` bytes.
struct ChunkPlan {
  std::vector<std::size_t> send_counts, send_offsets, recv_counts, recv_offsets;
};

}  // namespace

void DataParallel::reduce_flat_ordered() {
  const int n = size(), me = rank();
  const std::int64_t mine = chunk_hi(me) - chunk_lo(me);
  ChunkPlan p;
  for (int j = 0; j < n; ++j) {
    p.send_counts.push_back(static_cast<std::size_t>(chunk_hi(j) - chunk_lo(j)) * sizeof(float));
    p.send_offsets.push_back(static_cast<std::size_t>(chunk_lo(j)) * sizeof(float));
    p.recv_counts.push_back(static_cast<std::size_t>(mine) * sizeof(float));
    p.recv_offsets.push_back(static_cast<std::size_t>(j) * static_cast<std::size_t>(mine) * sizeof(float));
  }
  recv_.resize(static_cast<std::size_t>(mine) * static_cast<std::size_t>(n));
  comm_.alltoallv(flat_.data(), p.send_counts, p.send_offsets, recv_.data(), p.recv_counts, p.recv_offsets);
  // Rank order, one fp32 add per element per rank: the micro-batch order of --accumulate N.
  float* acc = recv_.data();
  for (int j = 1; j < n; ++j)
    backend::kernels().f32.accumulate(acc, recv_.data() + static_cast<std::size_t>(j) * static_cast<std::size_t>(mine), mine);
  comm_.allgatherv(acc, p.send_counts, flat_.data());
  bytes_sent_ += (total_ - mine + mine * (n - 1)) * static_cast<std::int64_t>(sizeof(float));
}

void DataParallel::reduce_flat_bf16() {
  const int n = size(), me = rank();
  const std::int64_t mine = chunk_hi(me) - chunk_lo(me);
  constexpr std::size_t kB = sizeof(std::uint16_t);
  ChunkPlan p;
  for (int j = 0; j < n; ++j) {
    p.send_counts.push_back(static_cast<std::size_t>(chunk_hi(j) - chunk_lo(j)) * kB);
    p.send_offsets.push_back(static_cast<std::size_t>(chunk_lo(j)) * kB);
    p.recv_counts.push_back(static_cast<std::size_t>(mine) * kB);
    p.recv_offsets.push_back(static_cast<std::size_t>(j) * static_cast<std::size_t>(mine) * kB);
  }
  flat16_.resize(static_cast<std::size_t>(total_));
  numerics::encode(flat16_.data(), DType::bf16, flat_.data(), flat_.size());
  recv16_.resize(static_cast<std::size_t>(mine) * static_cast<std::size_t>(n));
  comm_.alltoallv(flat16_.data(), p.send_counts, p.send_offsets, recv16_.data(), p.recv_counts, p.recv_offsets);
  // Decoded to fp32 (exact) and summed in fp32 in rank order.
  recv_.resize(recv16_.size());
  numerics::decode(recv_.data(), recv16_.data(), DType::bf16, recv16_.size());
  float* acc = recv_.data();
  for (int j = 1; j < n; ++j)
    backend::kernels().f32.accumulate(acc, recv_.data() + static_cast<std::size_t>(j) * static_cast<std::size_t>(mine), mine);
  std::vector<std::uint16_t> sum16(static_cast<std::size_t>(mine));
  numerics::encode(sum16.data(), DType::bf16, acc, sum16.size());
  comm_.allgatherv(sum16.data(), p.send_counts, flat16_.data());
  numerics::decode(flat_.data(), flat16_.data(), DType::bf16, flat16_.size());
  bytes_sent_ += (total_ - mine + mine * (n - 1)) * static_cast<std::int64_t>(kB);
}

void DataParallel::gather_parameters() {
  const auto t0 = Clock::now();
  const int n = size();
  // Rank r's bytes: its slice of each parameter, in parameter order, each in the parameter's dtype.
  auto slice = [&](int r, std::size_t i) {
    const std::int64_t len = params_[i].tensor->numel();
    return std::pair{std::clamp<std::int64_t>(chunk_lo(r) - offsets_[i], 0, len), std::clamp<std::int64_t>(chunk_hi(r) - offsets_[i], 0, len)};
  };
  std::vector<std::size_t> counts(static_cast<std::size_t>(n), 0);
  for (int r = 0; r < n; ++r)
    for (std::size_t i = 0; i < params_.size(); ++i) {
      const auto [lo, hi] = slice(r, i);
      counts[static_cast<std::size_t>(r)] += static_cast<std::size_t>(hi - lo) * elem_bytes(params_[i].tensor->dtype());
    }
  std::size_t all = 0;
  for (auto c : counts) all += c;
  std::vector<std::byte> send(counts[static_cast<std::size_t>(rank())]), recv(all);
  std::size_t at = 0;
  for (std::size_t i = 0; i < params_.size(); ++i) {
    const auto [lo, hi] = slice(rank(), i);
    const std::size_t e = elem_bytes(params_[i].tensor->dtype()), len = static_cast<std::size_t>(hi - lo) * e;
    if (len) std::memcpy(send.data() + at, static_cast<const std::byte*>(params_[i].tensor->data()) + static_cast<std::size_t>(lo) * e, len);
    at += len;
  }
  comm_.allgatherv(send.data(), counts, recv.data());
  at = 0;
  for (int r = 0; r < n; ++r)
    for (std::size_t i = 0; i < params_.size(); ++i) {
      const auto [lo, hi] = slice(r, i);
      const std::size_t e = elem_bytes(params_[i].tensor->dtype()), len = static_cast<std::size_t>(hi - lo) * e;
      if (len && r != rank()) std::memcpy(static_cast<std::byte*>(params_[i].tensor->data()) + static_cast<std::size_t>(lo) * e, recv.data() + at, len);
      at += len;
    }
  bytes_sent_ += static_cast<std::int64_t>(send.size()) * (n - 1);
  comm_s_ += std::chrono::duration<double>(Clock::now() - t0).count();
}

std::vector<std::pair<std::string, Tensor>> DataParallel::gather_state(optim::Optimizer& opt) {
  const int n = size();
  std::vector<std::pair<std::string, Tensor>> out;
  for (const optim::StateSlot& slot : opt.state_slots()) {
    std::int64_t numel = 1;
    for (auto d : slot.full_shape) numel *= d;
    // The slot's parameter starts where its full tensor's element 0 sits in the end-to-end layout.
    std::int64_t start = -1;
    for (std::size_t i = 0; i < params_.size(); ++i) {
      const std::string& p = params_[i].name;
      if (slot.name == "master." + p || slot.name == "optim.m." + p || slot.name == "optim.v." + p) start = offsets_[i];
    }
    check(start >= 0, "data parallel: optimizer state '" + slot.name + "' matches no parameter");
    const std::size_t e = elem_bytes(slot.dtype);
    std::vector<std::size_t> counts(static_cast<std::size_t>(n));
    for (int r = 0; r < n; ++r) {
      const std::int64_t lo = std::clamp<std::int64_t>(chunk_lo(r) - start, 0, numel);
      const std::int64_t hi = std::clamp<std::int64_t>(chunk_hi(r) - start, 0, numel);
      counts[static_cast<std::size_t>(r)] = static_cast<std::size_t>(hi - lo) * e;
    }
    check(!slot.tensor || slot.tensor->nbytes() == counts[static_cast<std::size_t>(rank())], "data parallel: optimizer shard of '" + slot.name + "' has the wrong size");
    Tensor whole;
    if (rank() == 0) {
      // A transient of the checkpoint write, not state the run keeps.
      tensor::LedgerScope scope(tensor::Category::workspace);
      whole = Tensor::empty(slot.full_shape, slot.dtype);
    }
    comm_.gatherv(slot.tensor ? slot.tensor->data() : nullptr, counts, rank() == 0 ? whole.data() : nullptr, 0);
    if (rank() == 0) out.emplace_back(slot.name, whole);
  }
  return out;
}

std::vector<double> DataParallel::gather(const std::vector<double>& mine) {
  std::vector<double> all(mine.size() * static_cast<std::size_t>(size()));
  comm_.allgather(mine.data(), mine.size() * sizeof(double), all.data());
  return all;
}

void DataParallel::check_same(const std::string& settings) {
  const std::uint64_t h = digest(settings);
  std::vector<std::uint64_t> all(static_cast<std::size_t>(size()));
  comm_.allgather(&h, sizeof h, all.data());
  for (int r = 1; r < size(); ++r)
    if (all[static_cast<std::size_t>(r)] != all[0])
      throw dist::CollectiveError("mpirun: rank " + std::to_string(r) + "'s training settings differ from rank 0's; launch every rank with the same flags");
}

}  // namespace mixtrain::train
