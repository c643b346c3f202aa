// Deterministic data parallelism: work is cut into fixed blocks whose boundaries never depend on
// the thread count; threads only decide who runs a block, never what a block contains.
#pragma once

#include <cstddef>
#include <functional>

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

}  // namespace kiln
