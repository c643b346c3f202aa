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

}  // namespace kiln
