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
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "gbdt/device_backend.h"
#include "kiln/gpu.h"
#include "kiln/status.h"

namespace kiln {
namespace gbdt {
namespace cuda_impl {
namespace {

constexpr int kSlots = 256;
constexpr int kHistThreads = 256;
// Features per histogram block (shared memory: 2 KiB per feature).
constexpr int kHistFeatures = 48;
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
      const double pr = 1.0 / (1.0 + exp(-scores[r]));
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
      for (std::size_t c = 0; c < k; ++c) sum += exp(s[c] - mx);
      for (std::size_t c = 0; c < k; ++c) {
        const double pr = exp(s[c] - mx) / sum;
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

// Histogram of features [f0, f0 + nf) over positions [begin, begin + count): block-private
// shared histograms of the two 32-bit halves, then added into the global halves.
template <bool kWords>
__global__ void __launch_bounds__(kHistThreads)
HistogramKernel(const std::uint8_t* __restrict__ bins, int cols, const std::uint32_t* __restrict__ idx,
                std::size_t begin, std::size_t count, const std::int64_t* __restrict__ gh, int f0,
                int nf, int* __restrict__ hist_g, unsigned* __restrict__ hist_h) {
  extern __shared__ unsigned smem[];
  int* sg = reinterpret_cast<int*>(smem);
  unsigned* sh = smem + nf * kSlots;
  for (int i = threadIdx.x; i < 2 * nf * kSlots; i += blockDim.x) smem[i] = 0;
  __syncthreads();
  const std::size_t step = static_cast<std::size_t>(gridDim.x) * blockDim.x;
  for (std::size_t i = static_cast<std::size_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < count; i += step) {
    const std::uint32_t r = idx[begin + i];
    const std::int64_t p = gh[r];
    const int g = static_cast<int>(p >> 32);
    const unsigned h = static_cast<unsigned>(p);
    const std::uint8_t* row = bins + static_cast<std::size_t>(r) * cols + f0;
    if (kWords) {
      const std::uint32_t* w = reinterpret_cast<const std::uint32_t*>(row);
      const int nw = nf >> 2;
      for (int j = 0; j < nw; ++j) {
        const std::uint32_t v = __ldg(w + j);
#pragma unroll
        for (int q = 0; q < 4; ++q) {
          const int at = (4 * j + q) * kSlots + static_cast<int>((v >> (8 * q)) & 0xffu);
          atomicAdd(sg + at, g);
          atomicAdd(sh + at, h);
        }
      }
    } else {
      for (int f = 0; f < nf; ++f) {
        const int at = f * kSlots + row[f];
        atomicAdd(sg + at, g);
        atomicAdd(sh + at, h);
      }
    }
  }
  __syncthreads();
  for (int i = threadIdx.x; i < nf * kSlots; i += blockDim.x) {
    const int vg = sg[i];
    const unsigned vh = sh[i];
    if (vg != 0) atomicAdd(hist_g + f0 * kSlots + i, vg);
    if (vh != 0) atomicAdd(hist_h + f0 * kSlots + i, vh);
  }
}

// Left counts of each tile of positions [begin, begin + count).
__global__ void __launch_bounds__(kTileThreads)
PartitionCountKernel(const std::uint8_t* __restrict__ col, const std::uint32_t* __restrict__ idx,
                     std::size_t begin, std::size_t count, const std::uint8_t* __restrict__ left_of_bin,
                     std::uint32_t* __restrict__ tile_left) {
  __shared__ std::uint8_t lob[kSlots];
  lob[threadIdx.x] = left_of_bin[threadIdx.x];
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
ScanTilesKernel(std::uint32_t* tile_left, int tiles, unsigned long long* total) {
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
  if (threadIdx.x == 0) *total = carry;
}

// Stable scatter: left rows to [0, nl), right rows to [nl, count) of out (relative to begin).
__global__ void __launch_bounds__(kTileThreads)
PartitionScatterKernel(const std::uint8_t* __restrict__ col, const std::uint32_t* __restrict__ idx,
                       std::size_t begin, std::size_t count, const std::uint8_t* __restrict__ left_of_bin,
                       const std::uint32_t* __restrict__ tile_left, const unsigned long long* __restrict__ total,
                       std::uint32_t* __restrict__ out) {
  using Scan = cub::BlockScan<unsigned, kTileThreads>;
  __shared__ typename Scan::TempStorage temp;
  __shared__ std::uint8_t lob[kSlots];
  lob[threadIdx.x] = left_of_bin[threadIdx.x];
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

class CudaBackend final : public DeviceBackend {
 public:
  explicit CudaBackend(const DeviceTrainSetup& s) : s_(s) {
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
      hist_g_ = DeviceAlloc<int>(cols * kSlots * 2, "histogram");
      hist_h_ = reinterpret_cast<unsigned*>(hist_g_ + cols * kSlots);
      small_ = DeviceAlloc<unsigned long long>(4, "scalars");
      lob_ = DeviceAlloc<std::uint8_t>(kSlots, "split table");
      Check(cudaMallocHost(&h_hist_, cols * kSlots * 2 * sizeof(int)), "cudaMallocHost");
      Check(cudaMallocHost(&h_small_, 4 * sizeof(unsigned long long)), "cudaMallocHost");
      Check(cudaMallocHost(&h_lob_, kSlots), "cudaMallocHost");
      auto up = [&](void* dst, const void* src, std::size_t bytes) {
        Check(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyHostToDevice, stream_), "upload");
      };
      up(bins_row_, s.bins_row, rows * cols);
      up(bins_col_, s.bins_col, rows * cols);
      up(label_, s.label, rows * sizeof(double));
      up(weight_, s.weight, rows * sizeof(double));
      up(scores_, s.init_scores, rows * kk * sizeof(double));
      Check(cudaStreamSynchronize(stream_), "upload");
      const int max_nf = static_cast<int>(std::min<std::size_t>(cols, kHistFeatures));
      const int smem = 2 * max_nf * kSlots * static_cast<int>(sizeof(unsigned));
      Check(cudaFuncSetAttribute(HistogramKernel<true>, cudaFuncAttributeMaxDynamicSharedMemorySize, smem), "cudaFuncSetAttribute");
      Check(cudaFuncSetAttribute(HistogramKernel<false>, cudaFuncAttributeMaxDynamicSharedMemorySize, smem), "cudaFuncSetAttribute");
      int per_sm = 0;
      Check(cudaOccupancyMaxActiveBlocksPerMultiprocessor(&per_sm, HistogramKernel<true>, kHistThreads, smem), "occupancy");
      hist_blocks_ = std::max(1, per_sm) * sms_;
    } catch (...) {
      Release();
      throw;
    }
  }
  ~CudaBackend() override { Release(); }

  void ComputeGradients() override {
    GradientsKernel<<<Blocks(s_.rows, 256), 256, 0, stream_>>>(s_.rows, s_.k, static_cast<int>(s_.objective),
                                                                s_.huber_delta, scores_, label_, weight_, grad_, hess_);
    CheckLaunch("gradients");
  }

  void GradientMax(int k, double* gmax, double* hmax) override {
    Check(cudaMemsetAsync(small_, 0, 2 * sizeof(unsigned long long), stream_), "memset");
    const unsigned blocks = std::min<unsigned>(Blocks(s_.rows, 256), static_cast<unsigned>(sms_ * 8));
    GradMaxKernel<<<std::max(1u, blocks), 256, 0, stream_>>>(s_.rows, s_.k, k, grad_, hess_, small_);
    CheckLaunch("gradient max");
    Check(cudaMemcpyAsync(h_small_, small_, 2 * sizeof(unsigned long long), cudaMemcpyDeviceToHost, stream_), "download");
    Check(cudaStreamSynchronize(stream_), "gradient max");
    std::memcpy(gmax, &h_small_[0], sizeof(double));
    std::memcpy(hmax, &h_small_[1], sizeof(double));
  }

  void Quantize(int k, std::uint64_t key, std::uint64_t base, double g_scale, double h_scale, double qg,
                double qh) override {
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
    const std::size_t slots = s_.cols * kSlots;
    Check(cudaMemsetAsync(hist_g_, 0, 2 * slots * sizeof(int), stream_), "memset");
    if (count > 0) {
      const int cols = static_cast<int>(s_.cols);
      const unsigned want = static_cast<unsigned>((count + 16 * kHistThreads - 1) / (16 * kHistThreads));
      const int groups = (cols + kHistFeatures - 1) / kHistFeatures;
      const unsigned blocks = std::max(1u, std::min(want, static_cast<unsigned>(std::max(1, hist_blocks_ / groups))));
      for (int f0 = 0; f0 < cols; f0 += kHistFeatures) {
        const int nf = std::min(kHistFeatures, cols - f0);
        const std::size_t smem = 2 * static_cast<std::size_t>(nf) * kSlots * sizeof(unsigned);
        const bool words = (cols % 4 == 0) && (nf % 4 == 0) && (f0 % 4 == 0);
        if (words) {
          HistogramKernel<true><<<blocks, kHistThreads, smem, stream_>>>(bins_row_, cols, idx_, begin, count, gh_, f0, nf,
                                                                         hist_g_, hist_h_);
        } else {
          HistogramKernel<false><<<blocks, kHistThreads, smem, stream_>>>(bins_row_, cols, idx_, begin, count, gh_, f0, nf,
                                                                          hist_g_, hist_h_);
        }
        CheckLaunch("histogram");
      }
    }
    Check(cudaMemcpyAsync(h_hist_, hist_g_, 2 * slots * sizeof(int), cudaMemcpyDeviceToHost, stream_), "download");
    Check(cudaStreamSynchronize(stream_), "histogram");
    const int* g = h_hist_;
    const unsigned* h = reinterpret_cast<const unsigned*>(h_hist_ + slots);
    for (std::size_t i = 0; i < slots; ++i) {
      hist[i] = static_cast<std::int64_t>(g[i]) * 4294967296LL + static_cast<std::int64_t>(h[i]);
    }
  }

  std::size_t Partition(std::size_t begin, std::size_t count, int feature, const std::uint8_t* left_of_bin) override {
    if (count == 0) return 0;
    std::memcpy(h_lob_, left_of_bin, kSlots);
    Check(cudaMemcpyAsync(lob_, h_lob_, kSlots, cudaMemcpyHostToDevice, stream_), "split table");
    const std::uint8_t* col = bins_col_ + static_cast<std::size_t>(feature) * s_.rows;
    const unsigned tiles = Blocks(count, kTile);
    PartitionCountKernel<<<tiles, kTileThreads, 0, stream_>>>(col, idx_, begin, count, lob_, tiles_);
    CheckLaunch("partition count");
    ScanTilesKernel<<<1, kScanThreads, 0, stream_>>>(tiles_, static_cast<int>(tiles), small_ + 2);
    CheckLaunch("partition scan");
    PartitionScatterKernel<<<tiles, kTileThreads, 0, stream_>>>(col, idx_, begin, count, lob_, tiles_, small_ + 2, scratch_);
    CheckLaunch("partition scatter");
    Check(cudaMemcpyAsync(idx_ + begin, scratch_ + begin, count * sizeof(std::uint32_t), cudaMemcpyDeviceToDevice, stream_),
          "partition copy");
    Check(cudaMemcpyAsync(h_small_ + 2, small_ + 2, sizeof(unsigned long long), cudaMemcpyDeviceToHost, stream_), "download");
    Check(cudaStreamSynchronize(stream_), "partition");
    return static_cast<std::size_t>(h_small_[2]);
  }

  void AddLeafValues(const LeafRange* ranges, int n, int k) override {
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
                    static_cast<void*>(tiles_), static_cast<void*>(hist_g_), static_cast<void*>(small_),
                    static_cast<void*>(lob_), static_cast<void*>(d_staging_), static_cast<void*>(sample_)}) {
      if (p) cudaFree(p);
    }
    if (h_hist_) cudaFreeHost(h_hist_);
    if (h_small_) cudaFreeHost(h_small_);
    if (h_lob_) cudaFreeHost(h_lob_);
    if (h_staging_) cudaFreeHost(h_staging_);
    if (stream_) cudaStreamDestroy(stream_);
    bins_row_ = bins_col_ = lob_ = in_bag_ = d_staging_ = nullptr;
    label_ = weight_ = scores_ = grad_ = hess_ = sample_ = nullptr;
    gh_ = nullptr;
    idx_ = scratch_ = bag_ = tiles_ = nullptr;
    hist_g_ = nullptr;
    small_ = nullptr;
    h_hist_ = nullptr;
    h_small_ = nullptr;
    h_lob_ = nullptr;
    h_staging_ = nullptr;
    stream_ = nullptr;
  }

  DeviceTrainSetup s_;
  int sms_ = 1;
  int hist_blocks_ = 1;
  cudaStream_t stream_ = nullptr;
  std::uint8_t *bins_row_ = nullptr, *bins_col_ = nullptr, *in_bag_ = nullptr, *lob_ = nullptr;
  double *label_ = nullptr, *weight_ = nullptr, *scores_ = nullptr, *grad_ = nullptr, *hess_ = nullptr;
  std::int64_t* gh_ = nullptr;
  std::uint32_t *idx_ = nullptr, *scratch_ = nullptr, *bag_ = nullptr, *tiles_ = nullptr;
  std::size_t bag_size_ = 0;
  int* hist_g_ = nullptr;
  unsigned* hist_h_ = nullptr;
  unsigned long long* small_ = nullptr;
  int* h_hist_ = nullptr;
  unsigned long long* h_small_ = nullptr;
  std::uint8_t* h_lob_ = nullptr;
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
