// MPI_COMM_WORLD behind the Communicator interface. Only the main thread calls MPI (the thread
// pool never does), hence MPI_THREAD_FUNNELED. Every collective moves MPI_BYTE; sums in a fixed
// order are the caller's (train/data_parallel.cpp).
#include "dist/mpi_world.h"

#include <climits>
#include <cstdlib>

#ifdef MIXTRAIN_HAVE_MPI
#include <mpi.h>
#endif

namespace mixtrain::dist {

#ifndef MIXTRAIN_HAVE_MPI

bool mpi_available() { return false; }
std::unique_ptr<Communicator> make_mpi_world() { return nullptr; }

#else

namespace {

int to_int(std::size_t n, const char* what) {
  check(n <= static_cast<std::size_t>(INT_MAX),
        std::string("MPI ") + what + ": " + std::to_string(n) + " bytes in one message is more than MPI's int count allows");
  return static_cast<int>(n);
}

std::vector<int> ints(const std::vector<std::size_t>& v, const char* what) {
  std::vector<int> out;
  out.reserve(v.size());
  for (std::size_t x : v) out.push_back(to_int(x, what));
  return out;
}

// Offsets of counts laid back to back.
std::vector<int> displacements(const std::vector<int>& counts) {
  std::vector<int> d(counts.size(), 0);
  long long at = 0;
  for (std::size_t i = 0; i < counts.size(); ++i) {
    check(at <= INT_MAX, "MPI: more than 2 GiB gathered in one message");
    d[i] = static_cast<int>(at);
    at += counts[i];
  }
  return d;
}

void ok(int rc, const char* what) {
  // MPI's default error handler aborts the job before this is reached; kept for handlers that return.
  if (rc != MPI_SUCCESS) throw Failure(std::string("MPI ") + what + " failed (error " + std::to_string(rc) + ")");
}

class MpiWorld final : public Communicator {
 public:
  MpiWorld() {
    int provided = 0;
    ok(MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided), "init");
    std::atexit([] {
      int finalized = 0;
      MPI_Finalized(&finalized);
      if (!finalized) MPI_Finalize();
    });
    MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
    MPI_Comm_size(MPI_COMM_WORLD, &size_);
  }
  int rank() const override { return rank_; }
  int size() const override { return size_; }
  std::string backend() const override { return "mpi"; }

  void allgather(const void* in, std::size_t bytes, void* out) override {
    const int n = to_int(bytes, "allgather");
    ok(MPI_Allgather(in, n, MPI_BYTE, out, n, MPI_BYTE, MPI_COMM_WORLD), "allgather");
  }
  void allgatherv(const void* in, const std::vector<std::size_t>& counts, void* out) override {
    const std::vector<int> c = ints(counts, "allgatherv");
    const std::vector<int> d = displacements(c);
    ok(MPI_Allgatherv(in, c.at(static_cast<std::size_t>(rank_)), MPI_BYTE, out, c.data(), d.data(), MPI_BYTE, MPI_COMM_WORLD),
       "allgatherv");
  }
  void alltoallv(const void* send, const std::vector<std::size_t>& send_counts, const std::vector<std::size_t>& send_offsets,
                 void* recv, const std::vector<std::size_t>& recv_counts, const std::vector<std::size_t>& recv_offsets) override {
    const auto sc = ints(send_counts, "alltoallv"), so = ints(send_offsets, "alltoallv");
    const auto rc = ints(recv_counts, "alltoallv"), ro = ints(recv_offsets, "alltoallv");
    ok(MPI_Alltoallv(send, sc.data(), so.data(), MPI_BYTE, recv, rc.data(), ro.data(), MPI_BYTE, MPI_COMM_WORLD), "alltoallv");
  }
  void gatherv(const void* in, const std::vector<std::size_t>& counts, void* out, int root) override {
    const std::vector<int> c = ints(counts, "gatherv");
    const std::vector<int> d = displacements(c);
    ok(MPI_Gatherv(in, c.at(static_cast<std::size_t>(rank_)), MPI_BYTE, out, c.data(), d.data(), MPI_BYTE, root, MPI_COMM_WORLD),
       "gatherv");
  }
  void broadcast(void* buf, std::size_t bytes, int root) override {
    ok(MPI_Bcast(buf, to_int(bytes, "broadcast"), MPI_BYTE, root, MPI_COMM_WORLD), "broadcast");
  }
  void allreduce_sum_f32(float* buf, std::size_t n) override {
    ok(MPI_Allreduce(MPI_IN_PLACE, buf, to_int(n, "allreduce"), MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD), "allreduce");
  }
  void allreduce_max_i64(std::int64_t* buf, std::size_t n) override {
    ok(MPI_Allreduce(MPI_IN_PLACE, buf, to_int(n, "allreduce"), MPI_INT64_T, MPI_MAX, MPI_COMM_WORLD), "allreduce");
  }
  [[noreturn]] void abort(int code) override {
    MPI_Abort(MPI_COMM_WORLD, code);
    std::_Exit(code);  // MPI_Abort does not return; kept for the compiler's [[noreturn]]
  }

 private:
  int rank_ = 0, size_ = 1;
};

}  // namespace

bool mpi_available() { return true; }
std::unique_ptr<Communicator> make_mpi_world() { return std::make_unique<MpiWorld>(); }

#endif

}  // namespace mixtrain::dist
