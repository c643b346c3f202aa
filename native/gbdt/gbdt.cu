// CUDA backend of the GBDT trainer (cuda_impl::MakeTrainBackend) and GPU discovery.
//
// Device-resident per training run: row-major and column-major bins, labels, weights, scores,
// gradients, packed quantised gradients and the row order. Kernels:
//   gradients      one thread per row, the CPU's formulas in double (built with -fmad=false)
//   quantise       the CPU's stochastic rounding with the same counter-based draws
//   histogram      shared-memory privatised 32-bit atomics on the two halves of the packed sums
//                  (every subset sum fits: |sum g| <= n qg < 2^31, sum h <= n qh < 2^32), so the
//                  result is exact and equals the CPU's int64 histogram
//   partition      stable: per-tile left counts, one scan over tiles, scatter with block ranks
//   scores         leaf values added per position range; out-of-bag rows traverse the tree
// All work runs on one stream; buffers are allocated once per run (none per call).
#include <cuda_runtime.h>

#include <cub/block/block_scan.cuh>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "gbdt/device_backend.h"
#include "gbdt/exact_exp.h"
#include "kiln/gpu.h"
#include "kiln/status.h"

namespace kiln {
namespace gbdt {
namespace cuda_impl {
namespace {

constexpr int kSlots = 256;
constexpr int kHistThreads = 512;
// Features per histogram block (shared memory: 2 KiB per feature).
constexpr int kHistFeatures = 48;
// Rows per histogram block (up to the resident block count).
constexpr std::size_t kHistRowsPerBlock = 1024;
constexpr int kTileThreads = 256;
constexpr int kTileItems = 8;
constexpr int kTile = kTileThreads * kTileItems;
constexpr int kScanThreads = 1024;

void Check(cudaError_t e, const char* what) {
  if (e != cudaSuccess) {
    throw Error(kErrInternal, std::string("CUDA failure in ") + what + ": " + cudaGetErrorString(e));
  }
}
void CheckLaunch(const char* what) { Check(cudaGetLastError(), what); }

template <class T>
T* DeviceAlloc(std::size_t n, const char* what) {
  void* p = nullptr;
  Check(cudaMalloc(&p, std::max<std::size_t>(n, 1) * sizeof(T)), what);
  return static_cast<T*>(p);
}

// SplitMix64 at a counter (== rng::HashAt, native/common/rng.h).
__device__ __forceinline__ std::uint64_t HashAt(std::uint64_t key, std::uint64_t counter) {
  std::uint64_t z = key + (counter + 1) * 0x9E3779B97F4A7C15ULL;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

__global__ void GradientsKernel(std::size_t rows, int kk, int objective, double huber_delta,
                                const double* __restrict__ scores, const double* __restrict__ label,
                                const double* __restrict__ weight, double* __restrict__ grad,
                                double* __restrict__ hess) {
  const std::size_t r = static_cast<std::size_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (r >= rows) return;
  const double w = weight[r], y = label[r];
  const std::size_t k = static_cast<std::size_t>(kk);
  switch (static_cast<Objective>(objective)) {
    case Objective::kBinary: {
      const double pr = 1.0 / (1.0 + ExactExp(-scores[r]));
      grad[r] = w * (pr - y);
      hess[r] = fmax(w * pr * (1.0 - pr), 1e-16);
      break;
    }
    case Objective::kMulticlass: {
      const double mc_factor = static_cast<double>(kk) / (kk - 1);
      const double* s = scores + r * k;
      double mx = s[0];
      for (std::size_t c = 1; c < k; ++c) mx = fmax(mx, s[c]);
      double sum = 0;
      for (std::size_t c = 0; c < k; ++c) sum += ExactExp(s[c] - mx);
      for (std::size_t c = 0; c < k; ++c) {
        const double pr = ExactExp(s[c] - mx) / sum;
        grad[r * k + c] = w * (pr - (static_cast<double>(c) == y ? 1.0 : 0.0));
        hess[r * k + c] = fmax(w * mc_factor * pr * (1.0 - pr), 1e-16);
      }
      break;
    }
    case Objective::kRegression:
      grad[r] = w * (scores[r] - y);
      hess[r] = w;
      break;
    case Objective::kHuber: {
      const double d = scores[r] - y;
      grad[r] = w * (fabs(d) <= huber_delta ? d : (d > 0 ? huber_delta : -huber_delta));
      hess[r] = w;
      break;
    }
  }
}

// Non-negative doubles order like their bit patterns, so an integer max is the exact max.
__global__ void GradMaxKernel(std::size_t rows, int kk, int k, const double* __restrict__ grad,
                              const double* __restrict__ hess, unsigned long long* out) {
  double gm = 0, hm = 0;
  for (std::size_t r = static_cast<std::size_t>(blockIdx.x) * blockDim.x + threadIdx.x; r < rows;
       r += static_cast<std::size_t>(gridDim.x) * blockDim.x) {
    gm = fmax(gm, fabs(grad[r * kk + k]));
    hm = fmax(hm, hess[r * kk + k]);
  }
  for (int o = 16; o > 0; o >>= 1) {
    gm = fmax(gm, __shfl_down_sync(0xffffffffu, gm, o));
    hm = fmax(hm, __shfl_down_sync(0xffffffffu, hm, o));
  }
  if ((threadIdx.x & 31) == 0) {
    atomicMax(out, static_cast<unsigned long long>(__double_as_longlong(gm)));
    atomicMax(out + 1, static_cast<unsigned long long>(__double_as_longlong(hm)));
  }
}

// Rows whose |grad| / hess reach the thresholds (at most cap of each, in no particular order).
__global__ void CandidatesKernel(std::size_t rows, int kk, int k, const double* __restrict__ grad,
                                 const double* __restrict__ hess, double gthr, double hthr,
                                 unsigned* __restrict__ counts, std::uint32_t* __restrict__ g_rows,
                                 std::uint32_t* __restrict__ h_rows, int cap) {
  const std::size_t r = static_cast<std::size_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (r >= rows) return;
  if (fabs(grad[r * kk + k]) >= gthr) {
    const unsigned i = atomicAdd(counts, 1u);
    if (i < static_cast<unsigned>(cap)) g_rows[i] = static_cast<std::uint32_t>(r);
  }
  if (hess[r * kk + k] >= hthr) {
    const unsigned i = atomicAdd(counts + 1, 1u);
    if (i < static_cast<unsigned>(cap)) h_rows[i] = static_cast<std::uint32_t>(r);
  }
}

__global__ void GatherScoresKernel(std::size_t n, int kk, const std::uint32_t* __restrict__ rows,
                                   const double* __restrict__ scores, double* __restrict__ out) {
  const std::size_t i = static_cast<std::size_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= n) return;
  for (int c = 0; c < kk; ++c) out[i * kk + c] = scores[static_cast<std::size_t>(rows[i]) * kk + c];
}

__global__ void FillScoresKernel(std::size_t rows, int kk, const double* __restrict__ base, double* __restrict__ scores) {
  const std::size_t i = static_cast<std::size_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i < rows * kk) scores[i] = base[i % kk];
}

__global__ void FillKernel(std::size_t n, double v, double* __restrict__ out) {
  const std::size_t i = static_cast<std::size_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i < n) out[i] = v;
}

// Row-major bins from column-major ones (one thread per row; 4-byte stores when cols % 4 == 0).
__global__ void TransposeBinsKernel(std::size_t rows, int cols, const std::uint8_t* __restrict__ col,
                                    std::uint8_t* __restrict__ row) {
  const std::size_t r = static_cast<std::size_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (r >= rows) return;
  std::uint8_t* dst = row + r * cols;
  if ((cols & 3) == 0) {
    for (int f = 0; f < cols; f += 4) {
      const std::uint32_t w = static_cast<std::uint32_t>(col[static_cast<std::size_t>(f) * rows + r]) |
                              static_cast<std::uint32_t>(col[static_cast<std::size_t>(f + 1) * rows + r]) << 8 |
                              static_cast<std::uint32_t>(col[static_cast<std::size_t>(f + 2) * rows + r]) << 16 |
                              static_cast<std::uint32_t>(col[static_cast<std::size_t>(f + 3) * rows + r]) << 24;
      *reinterpret_cast<std::uint32_t*>(dst + f) = w;
    }
  } else {
    for (int f = 0; f < cols; ++f) dst[f] = col[static_cast<std::size_t>(f) * rows + r];
  }
}

// Column-major bins of a raw matrix: #{thresholds of f < x} (as double), 255 for NaN.
template <class T>
__global__ void ApplyBinsKernel(const T* __restrict__ x, std::size_t rows, int cols, bool row_major,
                                const double* __restrict__ thresholds, const int* __restrict__ offsets,
                                std::uint8_t* __restrict__ out) {
  const std::size_t r = static_cast<std::size_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  const int f = blockIdx.y;
  if (r >= rows) return;
  const double v = static_cast<double>(row_major ? x[r * cols + f] : x[static_cast<std::size_t>(f) * rows + r]);
  std::uint8_t bin = 255;
  if (!isnan(v)) {
    int lo = offsets[f], hi = offsets[f + 1];  // first threshold >= v
    const int base = lo;
    while (lo < hi) {
      const int mid = (lo + hi) >> 1;
      if (thresholds[mid] < v) lo = mid + 1;
      else hi = mid;
    }
    bin = static_cast<std::uint8_t>(lo - base);
  }
  out[static_cast<std::size_t>(f) * rows + r] = bin;
}

// The 256-entry goes-left table of a split, passed by value.
struct LeftTable {
  std::uint8_t v[kSlots];
};

__global__ void QuantizeKernel(std::size_t rows, int kk, int k, const double* __restrict__ grad,
                               const double* __restrict__ hess, std::uint64_t key, std::uint64_t base,
                               double g_scale, double h_scale, double qg, double qh,
                               std::int64_t* __restrict__ gh) {
  const std::size_t r = static_cast<std::size_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (r >= rows) return;
  const double g = grad[r * kk + k] / g_scale;
  const double h = hess[r * kk + k] / h_scale;
  const std::uint64_t draw = HashAt(key, base + r);
  double gq = floor(g + static_cast<double>(draw >> 32) * (1.0 / 4294967296.0));
  double hq = floor(h + static_cast<double>(draw & 0xffffffffu) * (1.0 / 4294967296.0));
  gq = fmin(fmax(gq, -qg), qg);
  hq = fmin(fmax(hq, 0.0), qh);
  gh[r] = static_cast<std::int64_t>(gq) * 4294967296LL + static_cast<std::int64_t>(hq);
}

__global__ void IotaKernel(std::size_t n, std::uint32_t* out) {
  const std::size_t i = static_cast<std::size_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i < n) out[i] = static_cast<std::uint32_t>(i);
}

__global__ void MarkBagKernel(std::size_t n, const std::uint32_t* __restrict__ bag,
                              std::uint8_t* __restrict__ in_bag) {
  const std::size_t i = static_cast<std::size_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i < n) in_bag[bag[i]] = 1;
}

// The histogram's actual range ([begin, begin + count), or the smaller side of it split at
// *split_nl) and the blocks that work on it: one per kHistRowsPerBlock rows, at most the grid.
__device__ __forceinline__ unsigned HistRange(const unsigned long long* split_nl, std::size_t* begin, std::size_t* count) {
  if (split_nl) {
    const std::size_t nl = static_cast<std::size_t>(*split_nl);
    if (nl <= *count - nl) {
      *count = nl;
    } else {
      *begin += nl;
      *count -= nl;
    }
  }
  const std::size_t want = (*count + kHistRowsPerBlock - 1) / kHistRowsPerBlock;
  return static_cast<unsigned>(min(want, static_cast<std::size_t>(gridDim.x)));
}

// Partial histograms of features [f0, f0 + nf) over positions [begin, begin + count) (or the
// smaller side of that range split at *split_nl), one per block, into partials[block][slot] as
// packed g * 2^32 + h. Shared-memory privatised: k64 adds the packed value with one 64-bit atomic
// (the packed sum of any row set is exact), else the two halves with 32-bit atomics.
template <bool kWords, bool k64>
__global__ void __launch_bounds__(kHistThreads)
HistogramKernel(const std::uint8_t* __restrict__ bins, int cols, const std::uint32_t* __restrict__ idx,
                std::size_t begin, std::size_t count, const unsigned long long* __restrict__ split_nl,
                const std::int64_t* __restrict__ gh, int f0, int nf, std::int64_t* __restrict__ partials) {
  extern __shared__ unsigned long long smem64[];
  unsigned* smem = reinterpret_cast<unsigned*>(smem64);
  int* sg = reinterpret_cast<int*>(smem);
  unsigned* sh = smem + nf * kSlots;
  const unsigned used = HistRange(split_nl, &begin, &count);
  if (blockIdx.x >= used) return;
  for (int i = threadIdx.x; i < 2 * nf * kSlots; i += blockDim.x) smem[i] = 0;
  __syncthreads();
  const std::size_t step = static_cast<std::size_t>(used) * blockDim.x;
  for (std::size_t i = static_cast<std::size_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < count; i += step) {
    const std::uint32_t r = idx[begin + i];
    const std::int64_t p = gh[r];
    const int g = static_cast<int>(p >> 32);
    const unsigned h = static_cast<unsigned>(p);
    const std::uint8_t* row = bins + static_cast<std::size_t>(r) * cols + f0;
    auto add = [&](int at) {
      if (k64) {
        atomicAdd(smem64 + at, static_cast<unsigned long long>(p));
      } else {
        atomicAdd(sg + at, g);
        atomicAdd(sh + at, h);
      }
    };
    if (kWords) {
      const std::uint32_t* w = reinterpret_cast<const std::uint32_t*>(row);
      const int nw = nf >> 2;
      for (int j = 0; j < nw; ++j) {
        const std::uint32_t v = __ldg(w + j);
#pragma unroll
        for (int q = 0; q < 4; ++q) add((4 * j + q) * kSlots + static_cast<int>((v >> (8 * q)) & 0xffu));
      }
    } else {
      for (int f = 0; f < nf; ++f) add(f * kSlots + row[f]);
    }
  }
  __syncthreads();
  const std::size_t slots = static_cast<std::size_t>(cols) * kSlots;
  std::int64_t* out = partials + blockIdx.x * slots + static_cast<std::size_t>(f0) * kSlots;
  for (int i = threadIdx.x; i < nf * kSlots; i += blockDim.x) {
    out[i] = k64 ? static_cast<std::int64_t>(smem64[i])
                 : static_cast<std::int64_t>(sg[i]) * 4294967296LL + static_cast<std::int64_t>(sh[i]);
  }
}

// As HistogramKernel with 32-bit halves, but a warp takes one row at a time and its lanes take the
// features (lane f: feature f0 + f, f0 + f + 32, ...): the atomics of one instruction hit different
// features, so rows crowding into the same bins (deep leaves, split features) do not serialise.
// Row ids and packed gradients are loaded 32 at a time and broadcast by shuffles.
__global__ void __launch_bounds__(kHistThreads)
HistogramLaneKernel(const std::uint8_t* __restrict__ bins, int cols, const std::uint32_t* __restrict__ idx,
                    std::size_t begin, std::size_t count, const unsigned long long* __restrict__ split_nl,
                    const std::int64_t* __restrict__ gh, int f0, int nf, std::int64_t* __restrict__ partials) {
  extern __shared__ unsigned long long smem64[];
  unsigned* smem = reinterpret_cast<unsigned*>(smem64);
  int* sg = reinterpret_cast<int*>(smem);
  unsigned* sh = smem + nf * kSlots;
  const unsigned used = HistRange(split_nl, &begin, &count);
  if (blockIdx.x >= used) return;
  for (int i = threadIdx.x; i < 2 * nf * kSlots; i += blockDim.x) smem[i] = 0;
  __syncthreads();
  const int lane = threadIdx.x & 31;
  const std::size_t warp = (static_cast<std::size_t>(blockIdx.x) * blockDim.x + threadIdx.x) >> 5;
  const std::size_t warps = (static_cast<std::size_t>(used) * blockDim.x) >> 5;
  // Chunks of 32 consecutive positions, dealt to warps round-robin.
  for (std::size_t c0 = warp * 32; c0 < count; c0 += warps * 32) {
    const std::size_t i = c0 + lane;
    std::uint32_t my_r = 0;
    std::int64_t my_p = 0;
    if (i < count) {
      my_r = idx[begin + i];
      my_p = gh[my_r];
    }
    const int n = static_cast<int>(min(static_cast<std::size_t>(32), count - c0));
    const int my_g = static_cast<int>(my_p >> 32);
    const unsigned my_h = static_cast<unsigned>(my_p);
    for (int j = 0; j < n; ++j) {
      const std::uint32_t r = __shfl_sync(0xffffffffu, my_r, j);
      const int g = __shfl_sync(0xffffffffu, my_g, j);
      const unsigned h = __shfl_sync(0xffffffffu, my_h, j);
      const std::uint8_t* row = bins + static_cast<std::size_t>(r) * cols + f0;
      for (int f = lane; f < nf; f += 32) {
        const int at = f * kSlots + __ldg(row + f);
        atomicAdd(sg + at, g);
        atomicAdd(sh + at, h);
      }
    }
  }
  __syncthreads();
  const std::size_t slots = static_cast<std::size_t>(cols) * kSlots;
  std::int64_t* out = partials + blockIdx.x * slots + static_cast<std::size_t>(f0) * kSlots;
  for (int i = threadIdx.x; i < nf * kSlots; i += blockDim.x) {
    out[i] = static_cast<std::int64_t>(sg[i]) * 4294967296LL + static_cast<std::int64_t>(sh[i]);
  }
}

// hist[slot] = sum over blocks of partials[block][slot] (integers: any order gives the same sum);
// hist may be host memory mapped into the device.
// blocks: the histogram kernel's grid; the blocks that worked are found as it found them.
__global__ void ReduceHistogramKernel(const std::int64_t* __restrict__ partials, unsigned blocks, std::size_t begin,
                                      std::size_t count, const unsigned long long* __restrict__ split_nl,
                                      std::size_t slots, std::int64_t* __restrict__ hist) {
  const std::size_t i = static_cast<std::size_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= slots) return;
  if (split_nl) {
    const std::size_t nl = static_cast<std::size_t>(*split_nl);
    count = nl <= count - nl ? nl : count - nl;
  }
  const unsigned used = static_cast<unsigned>(min((count + kHistRowsPerBlock - 1) / kHistRowsPerBlock, static_cast<std::size_t>(blocks)));
  // Four independent sums keep several loads in flight.
  std::int64_t v[4] = {0, 0, 0, 0};
  unsigned b = 0;
  for (; b + 4 <= used; b += 4) {
#pragma unroll
    for (int q = 0; q < 4; ++q) v[q] += partials[static_cast<std::size_t>(b + q) * slots + i];
  }
  for (; b < used; ++b) v[0] += partials[static_cast<std::size_t>(b) * slots + i];
  hist[i] = (v[0] + v[1]) + (v[2] + v[3]);
}

// Left counts of each tile of positions [begin, begin + count).
__global__ void __launch_bounds__(kTileThreads)
PartitionCountKernel(const std::uint8_t* __restrict__ col, const std::uint32_t* __restrict__ idx,
                     std::size_t begin, std::size_t count, const LeftTable left_of_bin,
                     std::uint32_t* __restrict__ tile_left) {
  __shared__ std::uint8_t lob[kSlots];
  lob[threadIdx.x] = left_of_bin.v[threadIdx.x];
  __syncthreads();
  const std::size_t t0 = static_cast<std::size_t>(blockIdx.x) * kTile;
  unsigned c = 0;
  for (int j = threadIdx.x; j < kTile; j += kTileThreads) {
    const std::size_t i = t0 + j;
    if (i < count) c += lob[col[idx[begin + i]]];
  }
  for (int o = 16; o > 0; o >>= 1) c += __shfl_down_sync(0xffffffffu, c, o);
  __shared__ unsigned warp_sum[kTileThreads / 32];
  if ((threadIdx.x & 31) == 0) warp_sum[threadIdx.x >> 5] = c;
  __syncthreads();
  if (threadIdx.x == 0) {
    unsigned s = 0;
    for (int w = 0; w < kTileThreads / 32; ++w) s += warp_sum[w];
    tile_left[blockIdx.x] = s;
  }
}

// Exclusive scan of the tile counts in place; total left count into *total.
__global__ void __launch_bounds__(kScanThreads)
ScanTilesKernel(std::uint32_t* tile_left, int tiles, unsigned long long* total, unsigned long long* total_host) {
  using Scan = cub::BlockScan<unsigned long long, kScanThreads>;
  __shared__ typename Scan::TempStorage temp;
  __shared__ unsigned long long carry;
  if (threadIdx.x == 0) carry = 0;
  __syncthreads();
  for (int t0 = 0; t0 < tiles; t0 += kScanThreads) {
    const int t = t0 + threadIdx.x;
    const unsigned long long v = t < tiles ? tile_left[t] : 0;
    unsigned long long ex, agg;
    Scan(temp).ExclusiveSum(v, ex, agg);
    if (t < tiles) tile_left[t] = static_cast<std::uint32_t>(carry + ex);
    __syncthreads();
    if (threadIdx.x == 0) carry += agg;
    __syncthreads();
  }
  if (threadIdx.x == 0) {
    *total = carry;
    *total_host = carry;
  }
}

// Stable scatter: left rows to [0, nl), right rows to [nl, count) of out (relative to begin).
__global__ void __launch_bounds__(kTileThreads)
PartitionScatterKernel(const std::uint8_t* __restrict__ col, const std::uint32_t* __restrict__ idx,
                       std::size_t begin, std::size_t count, const LeftTable left_of_bin,
                       const std::uint32_t* __restrict__ tile_left, const unsigned long long* __restrict__ total,
                       std::uint32_t* __restrict__ out) {
  using Scan = cub::BlockScan<unsigned, kTileThreads>;
  __shared__ typename Scan::TempStorage temp;
  __shared__ std::uint8_t lob[kSlots];
  lob[threadIdx.x] = left_of_bin.v[threadIdx.x];
  __syncthreads();
  const std::size_t t0 = static_cast<std::size_t>(blockIdx.x) * kTile;
  std::uint32_t rows[kTileItems];
  unsigned flags = 0, local = 0;
#pragma unroll
  for (int q = 0; q < kTileItems; ++q) {
    const std::size_t i = t0 + static_cast<std::size_t>(threadIdx.x) * kTileItems + q;
    rows[q] = 0;
    if (i < count) {
      rows[q] = idx[begin + i];
      const unsigned l = lob[col[rows[q]]];
      flags |= l << q;
      local += l;
    }
  }
  unsigned before;
  Scan(temp).ExclusiveSum(local, before);
  const std::size_t nl = static_cast<std::size_t>(*total);
  std::size_t lefts = static_cast<std::size_t>(tile_left[blockIdx.x]) + before;
#pragma unroll
  for (int q = 0; q < kTileItems; ++q) {
    const std::size_t i = t0 + static_cast<std::size_t>(threadIdx.x) * kTileItems + q;
    if (i >= count) break;
    if ((flags >> q) & 1u) {
      out[begin + lefts] = rows[q];
      ++lefts;
    } else {
      out[begin + nl + (i - lefts)] = rows[q];
    }
  }
}

// scores[idx[i] * K + k] += value of the range holding position i (ranges sorted, non-empty).
__global__ void AddLeafValuesKernel(std::size_t total, const std::uint32_t* __restrict__ idx,
                                    const unsigned long long* __restrict__ begins,
                                    const double* __restrict__ values, int n, int kk, int k,
                                    double* __restrict__ scores) {
  const std::size_t i = static_cast<std::size_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= total) return;
  int lo = 0, hi = n - 1;
  while (lo < hi) {
    const int mid = (lo + hi + 1) >> 1;
    if (begins[mid] <= i) lo = mid;
    else hi = mid - 1;
  }
  scores[static_cast<std::size_t>(idx[i]) * kk + k] += values[lo];
}

__global__ void OutOfBagKernel(std::size_t rows, int cols, const std::uint8_t* __restrict__ bins,
                               const std::uint8_t* __restrict__ in_bag, int num_nodes,
                               const int* __restrict__ feature, const int* __restrict__ left,
                               const int* __restrict__ right, const std::uint8_t* __restrict__ left_of_bin,
                               const double* __restrict__ leaf_value, int kk, int k,
                               double* __restrict__ scores) {
  const std::size_t r = static_cast<std::size_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (r >= rows || in_bag[r]) return;
  int leaf = 0;
  if (num_nodes > 0) {
    int n = 0;
    const std::uint8_t* row = bins + r * cols;
    while (n >= 0) n = left_of_bin[n * kSlots + row[feature[n]]] ? left[n] : right[n];
    leaf = ~n;
  }
  scores[r * kk + k] += leaf_value[leaf];
}

__global__ void SampleScoresKernel(std::size_t picked, std::size_t stride, int kk,
                                   const double* __restrict__ scores, double* __restrict__ out) {
  const std::size_t j = static_cast<std::size_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (j >= picked) return;
  for (int c = 0; c < kk; ++c) out[j * kk + c] = scores[j * stride * kk + c];
}

unsigned Blocks(std::size_t n, int threads) {
  return static_cast<unsigned>((n + static_cast<std::size_t>(threads) - 1) / static_cast<std::size_t>(threads));
}

// Wall-clock seconds and calls per backend step (printed at the end when KILN_GBDT_PROFILE is set).
struct StepTimes {
  static constexpr int kSteps = 9;
  double secs[kSteps] = {};
  long calls[kSteps] = {};
  static const char* Name(int i) {
    static const char* names[] = {"setup", "gradients", "grad max", "quantize", "root hist",
                                  "split+hist", "leaf values", "out-of-bag", "metric rows"};
    return names[i];
  }
};

class StepTimer {
 public:
  StepTimer(StepTimes* t, int step) : t_(t), step_(step), start_(std::chrono::steady_clock::now()) {}
  ~StepTimer() {
    t_->secs[step_] += std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
    t_->calls[step_]++;
  }

 private:
  StepTimes* t_;
  int step_;
  std::chrono::steady_clock::time_point start_;
};

class CudaBackend final : public DeviceBackend {
 public:
  explicit CudaBackend(const DeviceTrainSetup& s) : s_(s) {
    StepTimer timer(&times_, 0);
    int count = 0;
    const cudaError_t e = cudaGetDeviceCount(&count);
    if (e != cudaSuccess || count == 0) {
      cudaGetLastError();
      throw Error(kErrNoGpu, std::string("device 'cuda': no usable CUDA GPU (") +
                                 (e != cudaSuccess ? cudaGetErrorString(e) : "no device found") +
                                 "); use device 'cpu' or 'auto'");
    }
    Check(cudaSetDevice(0), "cudaSetDevice");
    cudaDeviceProp prop;
    Check(cudaGetDeviceProperties(&prop, 0), "cudaGetDeviceProperties");
    sms_ = prop.multiProcessorCount;
    Check(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking), "cudaStreamCreate");
    const std::size_t rows = s.rows, cols = s.cols, kk = static_cast<std::size_t>(s.k);
    try {
      bins_row_ = DeviceAlloc<std::uint8_t>(rows * cols, "bins");
      bins_col_ = DeviceAlloc<std::uint8_t>(rows * cols, "bins");
      label_ = DeviceAlloc<double>(rows, "labels");
      weight_ = DeviceAlloc<double>(rows, "weights");
      scores_ = DeviceAlloc<double>(rows * kk, "scores");
      grad_ = DeviceAlloc<double>(rows * kk, "gradients");
      hess_ = DeviceAlloc<double>(rows * kk, "hessians");
      gh_ = DeviceAlloc<std::int64_t>(rows, "packed gradients");
      idx_ = DeviceAlloc<std::uint32_t>(rows, "row order");
      scratch_ = DeviceAlloc<std::uint32_t>(rows, "row order");
      bag_ = DeviceAlloc<std::uint32_t>(rows, "bag");
      in_bag_ = DeviceAlloc<std::uint8_t>(rows, "bag");
      tiles_ = DeviceAlloc<std::uint32_t>(rows / kTile + 1, "partition tiles");
      hist_ = DeviceAlloc<std::int64_t>(cols * kSlots + 1, "histogram");  // + the split's left count
      small_ = DeviceAlloc<unsigned long long>(4, "scalars");
      cand_ = DeviceAlloc<std::uint32_t>(2 * kMaxCandidates + 2, "candidates");
      base_ = DeviceAlloc<double>(kk, "base score");
      // Mapped: the reduction kernel writes the histogram straight into host memory (no copy call).
      Check(cudaHostAlloc(&h_hist_, (cols * kSlots + 1) * sizeof(std::int64_t), cudaHostAllocMapped), "cudaHostAlloc");
      Check(cudaHostGetDevicePointer(reinterpret_cast<void**>(&d_hist_mapped_), h_hist_, 0), "cudaHostGetDevicePointer");
      for (cudaEvent_t* e : {&ev_[0], &ev_[1], &ev_[2], &ev_[3]}) Check(cudaEventCreate(e), "cudaEventCreate");
      Check(cudaMallocHost(&h_small_, 4 * sizeof(unsigned long long)), "cudaMallocHost");
      Check(cudaMallocHost(&h_cand_, (2 * kMaxCandidates + 2) * sizeof(std::uint32_t)), "cudaMallocHost");
      auto up = [&](void* dst, const void* src, std::size_t bytes) {
        Check(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyHostToDevice, stream_), "upload");
      };
      if (s.bins_col) {
        up(bins_col_, s.bins_col, rows * cols);
      } else {
        BinOnDevice(*s.raw, *s.mapper);
      }
      up(label_, s.label, rows * sizeof(double));
      up(base_, s.base_score, kk * sizeof(double));
      if (s.weight) {
        up(weight_, s.weight, rows * sizeof(double));
      } else {
        FillKernel<<<Blocks(rows, 256), 256, 0, stream_>>>(rows, 1.0, weight_);
        CheckLaunch("weights");
      }
      FillScoresKernel<<<Blocks(rows * kk, 256), 256, 0, stream_>>>(rows, s.k, base_, scores_);
      CheckLaunch("scores");
      TransposeBinsKernel<<<Blocks(rows, 256), 256, 0, stream_>>>(rows, static_cast<int>(cols), bins_col_, bins_row_);
      CheckLaunch("transpose");
      Check(cudaStreamSynchronize(stream_), "upload");
      const int max_nf = static_cast<int>(std::min<std::size_t>(cols, kHistFeatures));
      const int smem = 2 * max_nf * kSlots * static_cast<int>(sizeof(unsigned));
      Check(cudaFuncSetAttribute(HistogramKernel<true, true>, cudaFuncAttributeMaxDynamicSharedMemorySize, smem), "attribute");
      Check(cudaFuncSetAttribute(HistogramKernel<false, true>, cudaFuncAttributeMaxDynamicSharedMemorySize, smem), "attribute");
      Check(cudaFuncSetAttribute(HistogramKernel<true, false>, cudaFuncAttributeMaxDynamicSharedMemorySize, smem), "attribute");
      Check(cudaFuncSetAttribute(HistogramKernel<false, false>, cudaFuncAttributeMaxDynamicSharedMemorySize, smem), "attribute");
      Check(cudaFuncSetAttribute(HistogramLaneKernel, cudaFuncAttributeMaxDynamicSharedMemorySize, smem), "attribute");
      int per_sm = 0;
      Check(cudaOccupancyMaxActiveBlocksPerMultiprocessor(&per_sm, HistogramKernel<true, true>, kHistThreads, smem), "occupancy");
      hist_blocks_ = std::max(1, per_sm) * sms_;
      partials_ = DeviceAlloc<std::int64_t>(static_cast<std::size_t>(hist_blocks_) * cols * kSlots, "histogram partials");
    } catch (...) {
      Release();
      throw;
    }
  }
  ~CudaBackend() override {
    if (profile_) {
      for (int i = 0; i < StepTimes::kSteps; ++i) {
        std::fprintf(stderr, "kiln gbdt cuda %-12s %.3f s wall, %ld calls\n", StepTimes::Name(i), times_.secs[i], times_.calls[i]);
      }
      std::fprintf(stderr, "kiln gbdt cuda split+hist on the GPU: partition %.3f s, histogram %.3f s, download %.3f s\n",
                   gpu_ms_[0] / 1000, gpu_ms_[1] / 1000, gpu_ms_[2] / 1000);
    }
    Release();
  }

  void ComputeGradients() override {
    StepTimer timer(&times_, 1);
    GradientsKernel<<<Blocks(s_.rows, 256), 256, 0, stream_>>>(s_.rows, s_.k, static_cast<int>(s_.objective),
                                                                s_.huber_delta, scores_, label_, weight_, grad_, hess_);
    CheckLaunch("gradients");
    if (s_.k > 1) {  // later classes' trees change scores before their maxima are recomputed
      const std::size_t n = s_.rows * static_cast<std::size_t>(s_.k);
      if (!scores_snap_) scores_snap_ = DeviceAlloc<double>(n, "score snapshot");
      Check(cudaMemcpyAsync(scores_snap_, scores_, n * sizeof(double), cudaMemcpyDeviceToDevice, stream_), "snapshot");
    }
  }

  void GradientMax(int k, double* gmax, double* hmax, std::vector<std::uint32_t>* g_rows,
                   std::vector<std::uint32_t>* h_rows) override {
    StepTimer timer(&times_, 2);
    Check(cudaMemsetAsync(small_, 0, 2 * sizeof(unsigned long long), stream_), "memset");
    const unsigned blocks = std::min<unsigned>(Blocks(s_.rows, 256), static_cast<unsigned>(sms_ * 8));
    GradMaxKernel<<<std::max(1u, blocks), 256, 0, stream_>>>(s_.rows, s_.k, k, grad_, hess_, small_);
    CheckLaunch("gradient max");
    Check(cudaMemcpyAsync(h_small_, small_, 2 * sizeof(unsigned long long), cudaMemcpyDeviceToHost, stream_), "download");
    Check(cudaStreamSynchronize(stream_), "gradient max");
    std::memcpy(gmax, &h_small_[0], sizeof(double));
    std::memcpy(hmax, &h_small_[1], sizeof(double));
    g_rows->clear();
    h_rows->clear();
    if (s_.objective != Objective::kBinary && s_.objective != Objective::kMulticlass) return;
    Check(cudaMemsetAsync(cand_, 0, 2 * sizeof(std::uint32_t), stream_), "memset");
    CandidatesKernel<<<Blocks(s_.rows, 256), 256, 0, stream_>>>(s_.rows, s_.k, k, grad_, hess_, *gmax * (1 - 1e-12),
                                                                 *hmax * (1 - 1e-12), cand_, cand_ + 2,
                                                                 cand_ + 2 + kMaxCandidates, kMaxCandidates);
    CheckLaunch("candidates");
    Check(cudaMemcpyAsync(h_cand_, cand_, (2 * kMaxCandidates + 2) * sizeof(std::uint32_t), cudaMemcpyDeviceToHost, stream_),
          "download");
    Check(cudaStreamSynchronize(stream_), "candidates");
    const std::uint32_t ng = std::min<std::uint32_t>(h_cand_[0], kMaxCandidates);
    const std::uint32_t nh = std::min<std::uint32_t>(h_cand_[1], kMaxCandidates);
    g_rows->assign(h_cand_ + 2, h_cand_ + 2 + ng);
    h_rows->assign(h_cand_ + 2 + kMaxCandidates, h_cand_ + 2 + kMaxCandidates + nh);
  }

  void GatherScores(const std::uint32_t* rows, std::size_t n, double* out) override {
    if (n == 0) return;
    const std::size_t bytes = n * sizeof(std::uint32_t) + 8 + n * static_cast<std::size_t>(s_.k) * sizeof(double);
    EnsureStaging(bytes);
    std::memcpy(h_staging_, rows, n * sizeof(std::uint32_t));
    Check(cudaMemcpyAsync(d_staging_, h_staging_, n * sizeof(std::uint32_t), cudaMemcpyHostToDevice, stream_), "upload");
    double* d_out = reinterpret_cast<double*>(d_staging_ + ((n * sizeof(std::uint32_t) + 7) / 8) * 8);
    GatherScoresKernel<<<Blocks(n, 256), 256, 0, stream_>>>(n, s_.k, reinterpret_cast<const std::uint32_t*>(d_staging_),
                                                            s_.k > 1 ? scores_snap_ : scores_, d_out);
    CheckLaunch("gather scores");
    Check(cudaMemcpyAsync(out, d_out, n * s_.k * sizeof(double), cudaMemcpyDeviceToHost, stream_), "download");
    Check(cudaStreamSynchronize(stream_), "gather scores");
  }

  void Quantize(int k, std::uint64_t key, std::uint64_t base, double g_scale, double h_scale, double qg,
                double qh) override {
    StepTimer timer(&times_, 3);
    QuantizeKernel<<<Blocks(s_.rows, 256), 256, 0, stream_>>>(s_.rows, s_.k, k, grad_, hess_, key, base, g_scale,
                                                               h_scale, qg, qh, gh_);
    CheckLaunch("quantize");
  }

  void SetBag(const std::uint32_t* bag, std::size_t n) override {
    bag_size_ = n;
    Check(cudaMemcpyAsync(bag_, bag, n * sizeof(std::uint32_t), cudaMemcpyHostToDevice, stream_), "bag upload");
    Check(cudaMemsetAsync(in_bag_, 0, s_.rows, stream_), "memset");
    MarkBagKernel<<<Blocks(n, 256), 256, 0, stream_>>>(n, bag_, in_bag_);
    CheckLaunch("bag");
    Check(cudaStreamSynchronize(stream_), "bag upload");
  }

  void ResetRows(bool bagged) override {
    if (bagged) {
      Check(cudaMemcpyAsync(idx_, bag_, bag_size_ * sizeof(std::uint32_t), cudaMemcpyDeviceToDevice, stream_), "row order");
    } else {
      IotaKernel<<<Blocks(s_.rows, 256), 256, 0, stream_>>>(s_.rows, idx_);
      CheckLaunch("row order");
    }
  }

  void BuildHistogram(std::size_t begin, std::size_t count, std::int64_t* hist) override {
    StepTimer timer(&times_, 4);
    LaunchHistogram(begin, count, count, nullptr);
    DownloadHistogram(hist);
  }

  std::size_t PartitionAndHistogram(std::size_t begin, std::size_t count, int feature, const std::uint8_t* left_of_bin,
                                    std::int64_t* smaller_hist) override {
    StepTimer timer(&times_, 5);
    LeftTable lob;
    std::memcpy(lob.v, left_of_bin, kSlots);
    const std::uint8_t* col = bins_col_ + static_cast<std::size_t>(feature) * s_.rows;
    const std::size_t slots = s_.cols * kSlots;
    unsigned long long* nl = reinterpret_cast<unsigned long long*>(hist_ + slots);
    if (profile_) Check(cudaEventRecord(ev_[0], stream_), "event");
    if (count > 0) {
      const unsigned tiles = Blocks(count, kTile);
      PartitionCountKernel<<<tiles, kTileThreads, 0, stream_>>>(col, idx_, begin, count, lob, tiles_);
      CheckLaunch("partition count");
      ScanTilesKernel<<<1, kScanThreads, 0, stream_>>>(tiles_, static_cast<int>(tiles), nl,
                                                       reinterpret_cast<unsigned long long*>(d_hist_mapped_ + slots));
      CheckLaunch("partition scan");
      PartitionScatterKernel<<<tiles, kTileThreads, 0, stream_>>>(col, idx_, begin, count, lob, tiles_, nl, scratch_);
      CheckLaunch("partition scatter");
      Check(cudaMemcpyAsync(idx_ + begin, scratch_ + begin, count * sizeof(std::uint32_t), cudaMemcpyDeviceToDevice, stream_),
            "partition copy");
    } else {
      Check(cudaMemsetAsync(nl, 0, sizeof(unsigned long long), stream_), "memset");
      h_hist_[slots] = 0;
    }
    if (profile_) Check(cudaEventRecord(ev_[1], stream_), "event");
    LaunchHistogram(begin, count, count / 2, nl);
    if (profile_) Check(cudaEventRecord(ev_[2], stream_), "event");
    DownloadHistogram(smaller_hist, true);
    if (profile_) {
      float ms[3];
      Check(cudaEventRecord(ev_[3], stream_), "event");
      Check(cudaEventSynchronize(ev_[3]), "event");
      for (int i = 0; i < 3; ++i) Check(cudaEventElapsedTime(&ms[i], ev_[i], ev_[i + 1]), "event");
      for (int i = 0; i < 3; ++i) gpu_ms_[i] += ms[i];
    }
    std::uint64_t left;
    std::memcpy(&left, h_hist_ + slots, sizeof(left));
    return static_cast<std::size_t>(left);
  }

  void AddLeafValues(const LeafRange* ranges, int n, int k) override {
    StepTimer timer(&times_, 6);
    std::vector<LeafRange> sorted;
    for (int i = 0; i < n; ++i) {
      if (ranges[i].count > 0) sorted.push_back(ranges[i]);
    }
    if (sorted.empty()) return;
    std::sort(sorted.begin(), sorted.end(), [](const LeafRange& a, const LeafRange& b) { return a.begin < b.begin; });
    const std::size_t m = sorted.size();
    std::size_t total = 0;
    for (const LeafRange& r : sorted) total = std::max<std::size_t>(total, r.begin + r.count);
    EnsureStaging(m * (sizeof(unsigned long long) + sizeof(double)));
    auto* hb = reinterpret_cast<unsigned long long*>(h_staging_);
    auto* hv = reinterpret_cast<double*>(h_staging_ + m * sizeof(unsigned long long));
    for (std::size_t i = 0; i < m; ++i) {
      hb[i] = sorted[i].begin;
      hv[i] = sorted[i].value;
    }
    Check(cudaMemcpyAsync(d_staging_, h_staging_, m * (sizeof(unsigned long long) + sizeof(double)),
                          cudaMemcpyHostToDevice, stream_), "leaf values");
    auto* db = reinterpret_cast<const unsigned long long*>(d_staging_);
    auto* dv = reinterpret_cast<const double*>(d_staging_ + m * sizeof(unsigned long long));
    AddLeafValuesKernel<<<Blocks(total, 256), 256, 0, stream_>>>(total, idx_, db, dv, static_cast<int>(m), s_.k, k, scores_);
    CheckLaunch("leaf values");
    Check(cudaStreamSynchronize(stream_), "leaf values");
  }

  void AddTreeOutOfBag(const DeviceTree& t, int k) override {
    StepTimer timer(&times_, 7);
    const std::size_t nodes = static_cast<std::size_t>(t.num_nodes);
    const std::size_t leaves = nodes + 1;
    const std::size_t bytes = leaves * sizeof(double) + nodes * 3 * sizeof(int) + nodes * kSlots;
    EnsureStaging(bytes);
    std::uint8_t* p = h_staging_;
    std::memcpy(p, t.leaf_value, leaves * sizeof(double));
    std::size_t off = leaves * sizeof(double);
    if (nodes > 0) {
      std::memcpy(p + off, t.feature, nodes * sizeof(int));
      std::memcpy(p + off + nodes * sizeof(int), t.left, nodes * sizeof(int));
      std::memcpy(p + off + 2 * nodes * sizeof(int), t.right, nodes * sizeof(int));
      std::memcpy(p + off + 3 * nodes * sizeof(int), t.left_of_bin, nodes * kSlots);
    }
    Check(cudaMemcpyAsync(d_staging_, h_staging_, bytes, cudaMemcpyHostToDevice, stream_), "tree upload");
    const std::uint8_t* d = d_staging_;
    const int* feat = reinterpret_cast<const int*>(d + off);
    OutOfBagKernel<<<Blocks(s_.rows, 256), 256, 0, stream_>>>(
        s_.rows, static_cast<int>(s_.cols), bins_row_, in_bag_, t.num_nodes, feat, feat + nodes, feat + 2 * nodes,
        d + off + 3 * nodes * sizeof(int), reinterpret_cast<const double*>(d), s_.k, k, scores_);
    CheckLaunch("out-of-bag scores");
    Check(cudaStreamSynchronize(stream_), "out-of-bag scores");
  }

  void SampleScores(std::size_t stride, std::size_t picked, double* out) override {
    StepTimer timer(&times_, 8);
    const std::size_t n = picked * static_cast<std::size_t>(s_.k);
    if (sample_cap_ < n) {
      if (sample_) cudaFree(sample_);
      sample_ = nullptr;
      sample_ = DeviceAlloc<double>(n, "sampled scores");
      sample_cap_ = n;
    }
    SampleScoresKernel<<<Blocks(picked, 256), 256, 0, stream_>>>(picked, stride, s_.k, scores_, sample_);
    CheckLaunch("sample scores");
    Check(cudaMemcpyAsync(out, sample_, n * sizeof(double), cudaMemcpyDeviceToHost, stream_), "download");
    Check(cudaStreamSynchronize(stream_), "sample scores");
  }

 private:
  // Histogram of positions [begin, begin + count) (split_nl null) or of the smaller side of that
  // range split at *split_nl (rows <= max_rows) into the device halves.
  void LaunchHistogram(std::size_t begin, std::size_t count, std::size_t max_rows, const unsigned long long* split_nl) {
    const std::size_t slots = s_.cols * kSlots;
    if (max_rows == 0) {
      std::memset(h_hist_, 0, slots * sizeof(std::int64_t));  // the stream is idle between calls
      return;
    }
    const int cols = static_cast<int>(s_.cols);
    const std::size_t want = (max_rows + kHistRowsPerBlock - 1) / kHistRowsPerBlock;
    const int blocks = static_cast<int>(std::max<std::size_t>(1, std::min<std::size_t>(want, static_cast<std::size_t>(hist_blocks_))));
    for (int f0 = 0; f0 < cols; f0 += kHistFeatures) {
      const int nf = std::min(kHistFeatures, cols - f0);
      const std::size_t smem = 2 * static_cast<std::size_t>(nf) * kSlots * sizeof(unsigned);
      const bool words = (cols % 4 == 0) && (nf % 4 == 0) && (f0 % 4 == 0);
      auto launch = [&](auto kernel) {
        kernel<<<blocks, kHistThreads, smem, stream_>>>(bins_row_, cols, idx_, begin, count, split_nl, gh_, f0, nf, partials_);
      };
      switch (hist_kind_) {
        case 2:  // thread per row, packed 64-bit atomics
          if (words) launch(HistogramKernel<true, true>);
          else launch(HistogramKernel<false, true>);
          break;
        case 3:  // lane per feature
          launch(HistogramLaneKernel);
          break;
        default:  // thread per row, 32-bit halves
          if (words) launch(HistogramKernel<true, false>);
          else launch(HistogramKernel<false, false>);
      }
      CheckLaunch("histogram");
    }
    ReduceHistogramKernel<<<Blocks(slots, 128), 128, 0, stream_>>>(partials_, static_cast<unsigned>(blocks), begin, count,
                                                                    split_nl, slots, d_hist_mapped_);
    CheckLaunch("histogram reduce");
  }

  // Waits for the packed histogram (written by the device into mapped host memory, with the
  // split's left count after it) and copies it into hist.
  void DownloadHistogram(std::int64_t* hist, bool = false) {
    const std::size_t slots = s_.cols * kSlots;
    Check(cudaStreamSynchronize(stream_), "histogram");
    std::memcpy(hist, h_hist_, slots * sizeof(std::int64_t));
  }

  void EnsureStaging(std::size_t bytes) {
    if (staging_cap_ >= bytes) return;
    if (h_staging_) cudaFreeHost(h_staging_);
    if (d_staging_) cudaFree(d_staging_);
    h_staging_ = nullptr;
    d_staging_ = nullptr;
    const std::size_t cap = std::max<std::size_t>(bytes, 1 << 16);
    Check(cudaMallocHost(&h_staging_, cap), "cudaMallocHost");
    d_staging_ = DeviceAlloc<std::uint8_t>(cap, "staging");
    staging_cap_ = cap;
  }

  void Release() noexcept {
    if (stream_) cudaStreamSynchronize(stream_);
    for (void* p : {static_cast<void*>(bins_row_), static_cast<void*>(bins_col_), static_cast<void*>(label_),
                    static_cast<void*>(weight_), static_cast<void*>(scores_), static_cast<void*>(grad_),
                    static_cast<void*>(hess_), static_cast<void*>(gh_), static_cast<void*>(idx_),
                    static_cast<void*>(scratch_), static_cast<void*>(bag_), static_cast<void*>(in_bag_),
                    static_cast<void*>(tiles_), static_cast<void*>(hist_), static_cast<void*>(small_),
                    static_cast<void*>(partials_), static_cast<void*>(scores_snap_),
                    static_cast<void*>(cand_), static_cast<void*>(base_), static_cast<void*>(d_staging_),
                    static_cast<void*>(sample_)}) {
      if (p) cudaFree(p);
    }
    if (h_hist_) cudaFreeHost(h_hist_);
    if (h_small_) cudaFreeHost(h_small_);
    if (h_cand_) cudaFreeHost(h_cand_);
    if (h_staging_) cudaFreeHost(h_staging_);
    for (cudaEvent_t& e : ev_) {
      if (e) cudaEventDestroy(e);
      e = nullptr;
    }
    if (stream_) cudaStreamDestroy(stream_);
    bins_row_ = bins_col_ = in_bag_ = d_staging_ = nullptr;
    label_ = weight_ = scores_ = grad_ = hess_ = sample_ = base_ = nullptr;
    gh_ = nullptr;
    idx_ = scratch_ = bag_ = tiles_ = cand_ = nullptr;
    hist_ = partials_ = nullptr;
    scores_snap_ = nullptr;
    small_ = nullptr;
    h_hist_ = d_hist_mapped_ = nullptr;
    h_small_ = nullptr;
    h_cand_ = nullptr;
    h_staging_ = nullptr;
    stream_ = nullptr;
  }

  // Host-to-device copy of a large pageable buffer: chunks copied by host threads into two pinned
  // buffers, each sent by DMA while the other fills.
  void UploadLarge(void* dst, const void* src, std::size_t bytes) {
    constexpr std::size_t kChunk = 32u << 20;
    if (bytes < 4 * kChunk) {
      Check(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyHostToDevice, stream_), "upload");
      return;
    }
    std::uint8_t* pinned[2] = {nullptr, nullptr};
    cudaEvent_t sent[2] = {nullptr, nullptr};
    auto cleanup = [&]() {
      for (int i = 0; i < 2; ++i) {
        if (sent[i]) cudaEventSynchronize(sent[i]), cudaEventDestroy(sent[i]);
        if (pinned[i]) cudaFreeHost(pinned[i]);
      }
    };
    try {
      for (int i = 0; i < 2; ++i) {
        Check(cudaMallocHost(&pinned[i], kChunk), "cudaMallocHost");
        Check(cudaEventCreateWithFlags(&sent[i], cudaEventDisableTiming), "cudaEventCreate");
      }
      const unsigned threads = std::max(1u, std::min(8u, std::thread::hardware_concurrency()));
      const std::size_t chunks = (bytes + kChunk - 1) / kChunk;
      for (std::size_t c = 0; c < chunks; ++c) {
        const int b = static_cast<int>(c & 1);
        const std::size_t off = c * kChunk, n = std::min(kChunk, bytes - off);
        Check(cudaEventSynchronize(sent[b]), "upload");  // this buffer's previous DMA is done
        std::vector<std::thread> copiers;
        const std::size_t part = (n + threads - 1) / threads;
        for (unsigned t = 0; t < threads; ++t) {
          const std::size_t p0 = std::min(n, t * part), p1 = std::min(n, p0 + part);
          if (p1 > p0) copiers.emplace_back([&, p0, p1] { std::memcpy(pinned[b] + p0, static_cast<const std::uint8_t*>(src) + off + p0, p1 - p0); });
        }
        for (std::thread& t : copiers) t.join();
        Check(cudaMemcpyAsync(static_cast<std::uint8_t*>(dst) + off, pinned[b], n, cudaMemcpyHostToDevice, stream_), "upload");
        Check(cudaEventRecord(sent[b], stream_), "upload");
      }
    } catch (...) {
      cleanup();
      throw;
    }
    cleanup();
  }

  // Bins the raw training matrix on the device into bins_col_ (numeric features).
  void BinOnDevice(const MatrixView& m, const BinMapper& mapper) {
    const std::size_t esize = m.dtype == DType::kFloat32 ? 4 : 8;
    void* x = nullptr;
    double* thr = nullptr;
    int* off = nullptr;
    try {
      Check(cudaMalloc(&x, std::max<std::size_t>(m.rows * m.cols, 1) * esize), "raw matrix");
      thr = DeviceAlloc<double>(mapper.thresholds.size(), "bin thresholds");
      off = DeviceAlloc<int>(mapper.offsets.size(), "bin offsets");
      UploadLarge(x, m.data, m.rows * m.cols * esize);
      Check(cudaMemcpyAsync(thr, mapper.thresholds.data(), mapper.thresholds.size() * sizeof(double), cudaMemcpyHostToDevice,
                            stream_), "upload");
      Check(cudaMemcpyAsync(off, mapper.offsets.data(), mapper.offsets.size() * sizeof(int), cudaMemcpyHostToDevice, stream_),
            "upload");
      const dim3 grid(Blocks(m.rows, 256), static_cast<unsigned>(m.cols));
      const bool row_major = m.layout == Layout::kRow;
      if (esize == 4) {
        ApplyBinsKernel<float><<<grid, 256, 0, stream_>>>(static_cast<const float*>(x), m.rows, static_cast<int>(m.cols),
                                                          row_major, thr, off, bins_col_);
      } else {
        ApplyBinsKernel<double><<<grid, 256, 0, stream_>>>(static_cast<const double*>(x), m.rows, static_cast<int>(m.cols),
                                                           row_major, thr, off, bins_col_);
      }
      CheckLaunch("bins");
      Check(cudaStreamSynchronize(stream_), "bins");
    } catch (...) {
      cudaFree(x);
      cudaFree(thr);
      cudaFree(off);
      throw;
    }
    cudaFree(x);
    cudaFree(thr);
    cudaFree(off);
  }

  DeviceTrainSetup s_;
  StepTimes times_;
  const bool profile_ = std::getenv("KILN_GBDT_PROFILE") != nullptr;
  cudaEvent_t ev_[4] = {nullptr, nullptr, nullptr, nullptr};
  double gpu_ms_[3] = {};
  int sms_ = 1;
  int hist_blocks_ = 1;
  cudaStream_t stream_ = nullptr;
  std::uint8_t *bins_row_ = nullptr, *bins_col_ = nullptr, *in_bag_ = nullptr;
  double *label_ = nullptr, *weight_ = nullptr, *scores_ = nullptr, *grad_ = nullptr, *hess_ = nullptr, *base_ = nullptr;
  std::int64_t* gh_ = nullptr;
  std::uint32_t *idx_ = nullptr, *scratch_ = nullptr, *bag_ = nullptr, *tiles_ = nullptr, *cand_ = nullptr;
  std::size_t bag_size_ = 0;
  std::int64_t* hist_ = nullptr;      // cols * 256 packed sums, then the last split's left count
  std::int64_t* partials_ = nullptr;  // hist_blocks_ x cols * 256
  double* scores_snap_ = nullptr;     // multiclass: the scores the iteration's gradients came from
  // Histogram kernel (KILN_CUDA_HIST, for measurements): default thread per row with 32-bit halves,
  // 2 thread per row with packed 64-bit atomics, 3 lane per feature.
  const int hist_kind_ = std::getenv("KILN_CUDA_HIST") ? std::atoi(std::getenv("KILN_CUDA_HIST")) : 0;
  unsigned long long* small_ = nullptr;
  std::int64_t* h_hist_ = nullptr;         // mapped pinned host memory: cols * 256 + 1
  std::int64_t* d_hist_mapped_ = nullptr;  // the device's address of h_hist_
  unsigned long long* h_small_ = nullptr;
  std::uint32_t* h_cand_ = nullptr;
  std::uint8_t* h_staging_ = nullptr;
  std::uint8_t* d_staging_ = nullptr;
  std::size_t staging_cap_ = 0;
  double* sample_ = nullptr;
  std::size_t sample_cap_ = 0;
};

}  // namespace

std::unique_ptr<DeviceBackend> MakeTrainBackend(const DeviceTrainSetup& setup) {
  return std::make_unique<CudaBackend>(setup);
}

}  // namespace cuda_impl
}  // namespace gbdt

bool CudaCompiled() noexcept { return true; }

std::vector<GpuInfo> ListGpus() noexcept {
  std::vector<GpuInfo> out;
  try {
    int count = 0;
    if (cudaGetDeviceCount(&count) != cudaSuccess) {
      cudaGetLastError();
      return out;
    }
    for (int d = 0; d < count; ++d) {
      cudaDeviceProp prop;
      if (cudaGetDeviceProperties(&prop, d) != cudaSuccess) continue;
      GpuInfo g;
      g.name = prop.name;
      g.memory_bytes = prop.totalGlobalMem;
      g.major = prop.major;
      g.minor = prop.minor;
      out.push_back(g);
    }
  } catch (...) {
    out.clear();
  }
  return out;
}

}  // namespace kiln
