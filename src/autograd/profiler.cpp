// OpProfiler (profiler.h).
#include "autograd/profiler.h"

#include <algorithm>

namespace mixtrain::autograd {
namespace {
thread_local OpProfiler* t_profiler = nullptr;
double ms_between(std::chrono::steady_clock::time_point a, std::chrono::steady_clock::time_point b) {
  return std::chrono::duration<double, std::milli>(b - a).count();
}
}  // namespace

OpProfiler::~OpProfiler() { pause(); }

void OpProfiler::resume() {
  if (resumed_) return;
  saved_ = t_profiler;
  t_profiler = this;
  resumed_ = true;
  restart();
}

void OpProfiler::pause() {
  if (!resumed_) return;
  t_profiler = saved_;
  resumed_ = false;
}

OpProfiler* OpProfiler::active() { return t_profiler; }

void OpProfiler::restart() { last_ = Clock::now(); }

OpProfiler::Row& OpProfiler::row(const std::string& op) {
  Row& r = rows_[op];
  r.op = op;
  return r;
}

void OpProfiler::mark(const std::string& phase) {
  const auto now = Clock::now();
  row(phase).other_ms += ms_between(last_, now);
  last_ = now;
}

void OpProfiler::forward_op(const char* op) {
  const auto now = Clock::now();
  Row& r = row(op);
  r.forward_ms += ms_between(last_, now);
  ++r.forward_calls;
  last_ = now;
}

void OpProfiler::backward_op(const char* op, double ms) {
  Row& r = row(op);
  r.backward_ms += ms;
  ++r.backward_calls;
}

std::vector<OpProfiler::Row> OpProfiler::rows() const {
  std::vector<Row> out;
  for (const auto& [k, r] : rows_) out.push_back(r);
  std::sort(out.begin(), out.end(), [](const Row& a, const Row& b) { return a.total_ms() > b.total_ms(); });
  return out;
}

}  // namespace mixtrain::autograd
