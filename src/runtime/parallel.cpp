// The pool: workers sleep on a condition variable and claim chunks with an atomic counter.
#include "runtime/parallel.h"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdlib>
#include <exception>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "runtime/error.h"

namespace mixtrain::runtime {
namespace {

thread_local bool t_inside_pool = false;

class Pool {
 public:
  explicit Pool(int threads) { start(threads); }
  ~Pool() { stop(); }

  int threads() const { return static_cast<int>(workers_.size()) + 1; }

  void resize(int threads) {
    stop();
    start(threads);
  }

  void run(std::size_t chunks, const std::function<void(std::size_t)>& fn) {
    std::lock_guard<std::mutex> run_lock(run_mutex_);  // one job at a time
    {
      std::lock_guard<std::mutex> lock(mutex_);
      job_ = &fn;
      chunks_ = chunks;
      next_.store(0);
      pending_ = workers_.size();
      error_ = nullptr;
      ++generation_;
    }
    wake_.notify_all();
    work();
    std::unique_lock<std::mutex> lock(mutex_);
    done_.wait(lock, [&] { return pending_ == 0; });
    job_ = nullptr;
    if (error_) std::rethrow_exception(error_);
  }

 private:
  void start(int threads) {
    quit_ = false;
    for (int i = 1; i < threads; ++i) workers_.emplace_back([this] { loop(); });
  }
  void stop() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      quit_ = true;
    }
    wake_.notify_all();
    for (auto& w : workers_) w.join();
    workers_.clear();
  }

  void work() {
    const bool was_inside = t_inside_pool;
    t_inside_pool = true;
    for (;;) {
      const std::size_t c = next_.fetch_add(1);
      if (c >= chunks_) break;
      try {
        (*job_)(c);
      } catch (...) {
        std::lock_guard<std::mutex> lock(mutex_);
        if (!error_) error_ = std::current_exception();
      }
    }
    t_inside_pool = was_inside;
  }

  void loop() {
    std::uint64_t seen = 0;
    for (;;) {
      {
        std::unique_lock<std::mutex> lock(mutex_);
        wake_.wait(lock, [&] { return quit_ || generation_ != seen; });
        if (quit_) return;
        seen = generation_;
      }
      work();
      {
        std::lock_guard<std::mutex> lock(mutex_);
        if (--pending_ == 0) done_.notify_one();
      }
    }
  }

  std::vector<std::thread> workers_;
  std::mutex run_mutex_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::condition_variable done_;
  const std::function<void(std::size_t)>* job_ = nullptr;
  std::size_t chunks_ = 0;
  std::atomic<std::size_t> next_{0};
  std::size_t pending_ = 0;
  std::uint64_t generation_ = 0;
  bool quit_ = false;
  std::exception_ptr error_;
};

int hardware_threads() { return std::max(1, static_cast<int>(std::thread::hardware_concurrency())); }

std::string range_text() { return "[1, " + std::to_string(max_threads()) + "]"; }

// MIXTRAIN_THREADS (a decimal integer in [1, max_threads()]) or the hardware concurrency; unset
// or empty means the latter.
int default_threads() {
  const char* env = std::getenv("MIXTRAIN_THREADS");
  if (env == nullptr || *env == '\0') return hardware_threads();
  const std::string s = env;
  long long n = -1;
  if (s.size() <= 9 && s.find_first_not_of("0123456789") == std::string::npos) n = std::stoll(s);
  if (n < 1 || n > max_threads())
    throw Error("MIXTRAIN_THREADS must be an integer in " + range_text() + ", got '" + s + "'");
  return static_cast<int>(n);
}

Pool& pool() {
  static Pool p(default_threads());
  return p;
}

}  // namespace

int num_threads() { return pool().threads(); }

int max_threads() { return std::max(256, hardware_threads()); }

void set_num_threads(int n) {
  if (n < 0 || n > max_threads())
    throw Error("thread count must be an integer in " + range_text() + " (or 0: the default), got " + std::to_string(n));
  pool().resize(n > 0 ? n : default_threads());
}

void parallel_for_chunks(std::size_t chunks, const std::function<void(std::size_t)>& fn) {
  if (chunks == 0) return;
  if (chunks == 1 || t_inside_pool || pool().threads() == 1) {
    for (std::size_t c = 0; c < chunks; ++c) fn(c);
    return;
  }
  pool().run(chunks, fn);
}

void parallel_for(std::size_t n, std::size_t grain,
                  const std::function<void(std::size_t, std::size_t)>& fn) {
  if (n == 0) return;
  grain = std::max<std::size_t>(grain, 1);
  const std::size_t chunks = (n + grain - 1) / grain;
  parallel_for_chunks(chunks, [&](std::size_t c) {
    const std::size_t b = c * grain;
    fn(b, std::min(n, b + grain));
  });
}

}  // namespace mixtrain::runtime
