// Per-op wall time of training steps, for `mixtrain bench --profile`: where a step goes once the
// GEMMs are near the machine's peak.
//
// While an OpProfiler is resumed on a thread, record() attributes the wall time since the previous
// mark to the op it records (the op's own work plus the module code that led to it), and the
// backward times each node's closure and the accumulation of its gradients under the node's op.
// Phases outside the graph (the optimizer, loss scaling) are timed by the caller with mark(). Times
// add up over every resumed interval. Paused (the state after construction) or absent, it costs
// one thread-local load per record() and per backward node.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

namespace mixtrain::autograd {

class OpProfiler {
 public:
  struct Row {
    std::string op;
    double forward_ms = 0, backward_ms = 0, other_ms = 0;
    std::int64_t forward_calls = 0, backward_calls = 0;
    double total_ms() const { return forward_ms + backward_ms + other_ms; }
  };

  OpProfiler() = default;
  ~OpProfiler();
  OpProfiler(const OpProfiler&) = delete;
  OpProfiler& operator=(const OpProfiler&) = delete;

  // The resumed profiler of this thread, or null.
  static OpProfiler* active();

  // Makes this the thread's profiler and starts an interval; pause() hands the thread back to
  // whichever profiler (or none) it had.
  void resume();
  void pause();

  // Starts a new interval: the time since the last mark is dropped (not attributed).
  void restart();
  // Attributes the time since the last mark to `phase` (a non-graph phase: "optimizer", ...) and
  // restarts.
  void mark(const std::string& phase);
  // Called by record() and the backward (internal).
  void forward_op(const char* op);
  void backward_op(const char* op, double ms);

  // Rows by total time, largest first; ms are sums over everything profiled.
  std::vector<Row> rows() const;

 private:
  using Clock = std::chrono::steady_clock;
  Row& row(const std::string& op);
  Clock::time_point last_ = Clock::now();
  std::unordered_map<std::string, Row> rows_;
  bool resumed_ = false;
  OpProfiler* saved_ = nullptr;
};

}  // namespace mixtrain::autograd
