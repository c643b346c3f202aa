// Deterministic data parallelism: work is cut into fixed blocks whose boundaries never depend on
// the thread count; threads only decide who runs a block, never what a block contains.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <cstddef>
#include <exception>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace kiln {

// Rows per block for row-parallel kernels (fixed; part of the determinism contract).
inline constexpr std::size_t kRowBlockSize = 16384;

// Upper bound on threads a kernel will start (requests above are clamped).
inline constexpr int kMaxThreads = 256;

// Number of blocks of block_size covering n items (0 when n == 0).
inline std::size_t NumBlocks(std::size_t n, std::size_t block_size) {
  return (n + block_size - 1) / block_size;
}

// Threads to use for a request: 0 -> hardware concurrency (>= 1); clamped to [1, kMaxThreads].
int ResolveNumThreads(int requested);

// Hardware concurrency as reported by the OS, at least 1.
int HardwareConcurrency();

// Runs fn(block) once for every block in [0, num_blocks) on min(num_threads, num_blocks) threads
// (the calling thread is one of them) and returns when all are done. If blocks throw, the
// remaining blocks are skipped and the exception of the lowest failing block index seen is
// rethrown on the caller. fn must only write memory owned by its block.
void ParallelFor(std::size_t num_blocks, int num_threads,
                 const std::function<void(std::size_t block)>& fn);

// A persistent team of threads for kernels that fan out many small jobs (GBDT training): Run()
// has ParallelFor's contract without starting threads per call. Workers and the caller spin
// briefly before sleeping, so back-to-back small jobs do not pay a wake-up each. Not reentrant.
class ThreadTeam {
 public:
  // Starts num_threads - 1 workers (num_threads resolved as in ResolveNumThreads).
  explicit ThreadTeam(int num_threads);
  ~ThreadTeam();
  ThreadTeam(const ThreadTeam&) = delete;
  ThreadTeam& operator=(const ThreadTeam&) = delete;

  // Threads taking part in Run (workers + caller).
  int size() const { return static_cast<int>(workers_.size()) + 1; }

  // Runs fn(block) for every block in [0, num_blocks) on the team and the caller; rethrows the
  // exception of the lowest failing block seen.
  void Run(std::size_t num_blocks, const std::function<void(std::size_t block)>& fn);

 private:
  void WorkerLoop();
  void Drain();

  std::vector<std::thread> workers_;
  std::mutex mutex_;
  std::condition_variable start_cv_;
  std::condition_variable done_cv_;
  std::atomic<std::uint64_t> generation_{0};
  std::atomic<std::size_t> pending_{0};
  std::atomic<bool> stop_{false};
  const std::function<void(std::size_t)>* job_ = nullptr;
  std::size_t num_blocks_ = 0;
  std::atomic<std::size_t> next_{0};
  std::atomic<bool> failed_{false};
  std::exception_ptr error_;
  std::size_t error_block_ = 0;
};

}  // namespace kiln
