// world(): the single-process group, or MPI's when launched by mpirun (mpi_communicator.cpp).
#include "dist/communicator.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>

#include "dist/mpi_world.h"

namespace mixtrain::dist {
namespace {

// A group of one: every collective is a copy of this rank's own bytes.
class SingleProcess final : public Communicator {
 public:
  int rank() const override { return 0; }
  int size() const override { return 1; }
  std::string backend() const override { return "single"; }
  void allgather(const void* in, std::size_t bytes, void* out) override { copy(out, in, bytes); }
  void allgatherv(const void* in, const std::vector<std::size_t>& counts, void* out) override { copy(out, in, counts.at(0)); }
  void alltoallv(const void* send, const std::vector<std::size_t>& send_counts, const std::vector<std::size_t>& send_offsets,
                 void* recv, const std::vector<std::size_t>& recv_counts, const std::vector<std::size_t>& recv_offsets) override {
    check(send_counts.at(0) == recv_counts.at(0), "alltoallv: send and receive sizes differ");
    copy(static_cast<char*>(recv) + recv_offsets.at(0), static_cast<const char*>(send) + send_offsets.at(0), send_counts[0]);
  }
  void gatherv(const void* in, const std::vector<std::size_t>& counts, void* out, int) override { copy(out, in, counts.at(0)); }
  void broadcast(void*, std::size_t, int) override {}
  void allreduce_sum_f32(float*, std::size_t) override {}
  void allreduce_max_i64(std::int64_t*, std::size_t) override {}
  [[noreturn]] void abort(int code) override { std::exit(code); }

 private:
  static void copy(void* out, const void* in, std::size_t n) {
    if (n > 0 && out != in) std::memmove(out, in, n);
  }
};

// Launched by a process manager: Open MPI's mpirun, MPICH's Hydra, PMIx or Slurm's PMI.
bool launched_by_mpirun() {
  for (const char* v : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_RANK"})
    if (std::getenv(v) != nullptr) return true;
  return false;
}

std::unique_ptr<Communicator> g_world;
std::once_flag g_once;

}  // namespace

bool built_with_mpi() { return mpi_available(); }

Communicator& world() {
  std::call_once(g_once, [] {
    if (mpi_available() && launched_by_mpirun()) g_world = make_mpi_world();
    if (!g_world) g_world = std::make_unique<SingleProcess>();
  });
  return *g_world;
}

bool distributed() { return g_world && g_world->size() > 1; }

void abort_job_if_distributed(const std::string& line, int status) {
  if (!distributed()) return;
  std::fprintf(stderr, "mixtrain: rank %d of %d: %s\n", g_world->rank(), g_world->size(), line.c_str());
  std::fflush(stderr);
  g_world->abort(status == 0 ? 1 : status);
}

}  // namespace mixtrain::dist
