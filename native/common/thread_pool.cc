// ParallelFor: a per-call team of std::threads pulling fixed block indices from an atomic
// counter. Blocks are defined by the caller, so results never depend on the thread count.
#include "kiln/thread_pool.h"

#include <algorithm>
#include <atomic>
#include <exception>
#include <limits>
#include <mutex>
#include <thread>
#include <vector>

namespace kiln {

int HardwareConcurrency() {
  const unsigned n = std::thread::hardware_concurrency();
  return n == 0 ? 1 : static_cast<int>(std::min<unsigned>(n, kMaxThreads));
}

int ResolveNumThreads(int requested) {
  if (requested <= 0) return HardwareConcurrency();
  return std::min(requested, kMaxThreads);
}

void ParallelFor(std::size_t num_blocks, int num_threads,
                 const std::function<void(std::size_t block)>& fn) {
  if (num_blocks == 0) return;
  const std::size_t team = std::min<std::size_t>(
      static_cast<std::size_t>(ResolveNumThreads(num_threads)), num_blocks);

  std::atomic<std::size_t> next{0};
  std::atomic<bool> failed{false};
  std::mutex error_mutex;
  std::exception_ptr error;
  std::size_t error_block = std::numeric_limits<std::size_t>::max();

  auto worker = [&]() {
    for (;;) {
      if (failed.load(std::memory_order_relaxed)) return;
      const std::size_t b = next.fetch_add(1, std::memory_order_relaxed);
      if (b >= num_blocks) return;
      try {
        fn(b);
      } catch (...) {
        std::lock_guard<std::mutex> lock(error_mutex);
        if (b < error_block) {
          error_block = b;
          error = std::current_exception();
        }
        failed.store(true, std::memory_order_relaxed);
      }
    }
  };

  std::vector<std::thread> threads;
  threads.reserve(team - 1);
  try {
    for (std::size_t i = 1; i < team; ++i) threads.emplace_back(worker);
  } catch (...) {
    // Could not start every thread: the ones started plus the caller still cover all blocks.
  }
  worker();
  for (auto& t : threads) t.join();
  if (error) std::rethrow_exception(error);
}

ThreadTeam::ThreadTeam(int num_threads) {
  const int n = ResolveNumThreads(num_threads);
  try {
    for (int i = 1; i < n; ++i) workers_.emplace_back([this] { WorkerLoop(); });
  } catch (...) {
    // Fewer workers than asked: Run still covers every block with the ones that started.
  }
}

ThreadTeam::~ThreadTeam() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_.store(true);
  }
  start_cv_.notify_all();
  for (auto& t : workers_) t.join();
}

namespace {
// Polls before a team thread blocks on its condition variable (~tens of microseconds).
constexpr int kSpinPolls = 4000;
inline void CpuRelax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#else
  std::this_thread::yield();
#endif
}
}  // namespace

void ThreadTeam::Drain() {
  for (;;) {
    if (failed_.load(std::memory_order_relaxed)) return;
    const std::size_t b = next_.fetch_add(1, std::memory_order_relaxed);
    if (b >= num_blocks_) return;
    try {
      (*job_)(b);
    } catch (...) {
      std::lock_guard<std::mutex> lock(mutex_);
      if (!error_ || b < error_block_) {
        error_block_ = b;
        error_ = std::current_exception();
      }
      failed_.store(true, std::memory_order_relaxed);
    }
  }
}

void ThreadTeam::WorkerLoop() {
  std::uint64_t seen = 0;
  for (;;) {
    for (int i = 0; i < kSpinPolls && generation_.load(std::memory_order_acquire) == seen && !stop_.load(std::memory_order_relaxed); ++i) CpuRelax();
    if (generation_.load(std::memory_order_acquire) == seen) {
      std::unique_lock<std::mutex> lock(mutex_);
      start_cv_.wait(lock, [&] { return stop_.load() || generation_.load() != seen; });
    }
    if (stop_.load()) return;
    seen = generation_.load(std::memory_order_acquire);
    Drain();
    if (pending_.fetch_sub(1, std::memory_order_acq_rel) == 1) {
      std::lock_guard<std::mutex> lock(mutex_);
      done_cv_.notify_one();
    }
  }
}

void ThreadTeam::Run(std::size_t num_blocks, const std::function<void(std::size_t)>& fn) {
  if (num_blocks == 0) return;
  job_ = &fn;
  num_blocks_ = num_blocks;
  next_.store(0, std::memory_order_relaxed);
  failed_.store(false, std::memory_order_relaxed);
  error_ = nullptr;
  const bool fan_out = num_blocks > 1 && !workers_.empty();
  if (fan_out) {
    pending_.store(workers_.size(), std::memory_order_relaxed);
    {
      std::lock_guard<std::mutex> lock(mutex_);
      generation_.fetch_add(1, std::memory_order_release);
    }
    start_cv_.notify_all();
  }
  Drain();
  if (fan_out) {
    for (int i = 0; i < kSpinPolls && pending_.load(std::memory_order_acquire) != 0; ++i) CpuRelax();
    if (pending_.load(std::memory_order_acquire) != 0) {
      std::unique_lock<std::mutex> lock(mutex_);
      done_cv_.wait(lock, [&] { return pending_.load() == 0; });
    }
  }
  job_ = nullptr;
  std::lock_guard<std::mutex> lock(mutex_);
  if (error_) std::rethrow_exception(error_);
}

}  // namespace kiln
