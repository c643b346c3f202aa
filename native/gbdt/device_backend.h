// The row-heavy steps of GBDT training behind one interface, so that a device (CUDA) can run them
// while tree bookkeeping and the split search stay shared host code (native/gbdt/gbdt.cc).
//
// The CPU variant of every step is the trainer's own code in gbdt.cc (cpu_impl); the CUDA
// variant is cuda_impl::MakeTrainBackend (gbdt.cu). A build without CUDA links cuda_stub.cc,
// whose cuda_impl functions throw Error("E_NO_GPU"). The steps compute exactly what the CPU
// does: the same gradient formulas, the same counter-based rounding draws, integer histograms
// (exact in any summation order), stable partitions, the same per-row score additions, so the
// chosen splits and the trained forest are the CPU's, bit for bit.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "kiln/gbdt.h"

namespace kiln::gbdt {

// What a backend copies to the device at construction (host pointers are only read there).
struct DeviceTrainSetup {
  std::size_t rows = 0, cols = 0;
  int k = 1;                                // trees per iteration (classes for multiclass)
  Objective objective = Objective::kBinary;
  double huber_delta = 1.0;
  const std::uint8_t* bins_col = nullptr;   // cols x rows, column-major bins (255 = missing), or null:
  const MatrixView* raw = nullptr;          //   the raw matrix, binned on the device with mapper
  const BinMapper* mapper = nullptr;        //   (numeric features only: bin = #thresholds < value)
  const double* label = nullptr;            // rows
  const double* weight = nullptr;           // rows; null: every weight is 1
  const double* base_score = nullptr;       // k initial scores, the same for every row
};

// A leaf's range of the partitioned row order and the value added to its rows' scores.
struct LeafRange {
  std::uint64_t begin = 0, count = 0;
  double value = 0;
};

// A finished tree on bins: node n splits on feature[n]; left_of_bin[n * 256 + b] says whether bin
// b goes left; children < 0 are leaves ~c.
struct DeviceTree {
  int num_nodes = 0;
  const std::int32_t* feature = nullptr;
  const std::int32_t* left = nullptr;
  const std::int32_t* right = nullptr;
  const std::uint8_t* left_of_bin = nullptr;
  const double* leaf_value = nullptr;
  int num_leaves = 1;
};

// Device-resident training state: bins, labels, weights, scores (rows x K), gradients, packed
// quantised gradients and the row order of the current tree. Not thread-safe; one per training run.
class DeviceBackend {
 public:
  virtual ~DeviceBackend() = default;
  // grad/hess of all K classes from the current scores (the CPU's formulas, in double).
  virtual void ComputeGradients() = 0;
  // Largest |grad| and largest hess of class k over all rows, and (up to kMaxCandidates each) the
  // rows within a relative 1e-12 of them: with them the host can recompute the maxima with its
  // own libm where the device's exp may differ from it in the last bit.
  static constexpr int kMaxCandidates = 1024;
  virtual void GradientMax(int k, double* gmax, double* hmax, std::vector<std::uint32_t>* g_rows,
                           std::vector<std::uint32_t>* h_rows) = 0;
  // out[i * K + c] = scores[rows[i] * K + c], the scores of the last ComputeGradients call.
  virtual void GatherScores(const std::uint32_t* rows, std::size_t n, double* out) = 0;
  // Packs class k's quantised gradients: floor(g / g_scale + u_g), floor(h / h_scale + u_h) clamped
  // to [-qg, qg] and [0, qh], (u_g, u_h) the high/low 32 bits of rng::HashAt(key, base + row).
  virtual void Quantize(int k, std::uint64_t key, std::uint64_t base, double g_scale, double h_scale,
                        double qg, double qh) = 0;
  // The in-bag rows (ascending) until the next call; bagged trees start from them.
  virtual void SetBag(const std::uint32_t* bag, std::size_t n) = 0;
  // Starts a tree: the row order is the bag (bagged) or all rows.
  virtual void ResetRows(bool bagged) = 0;
  // hist[f * 256 + b] = packed sum over positions [begin, begin + count) (host array, cols * 256).
  virtual void BuildHistogram(std::size_t begin, std::size_t count, std::int64_t* hist) = 0;
  // Stable partition of positions [begin, begin + count) by left_of_bin[bin of feature], then the
  // histogram (as BuildHistogram) of the smaller side (the left one when nl <= count - nl) into
  // smaller_hist; returns nl, the number going left.
  virtual std::size_t PartitionAndHistogram(std::size_t begin, std::size_t count, int feature,
                                            const std::uint8_t* left_of_bin,
                                            std::int64_t* smaller_hist) = 0;
  // scores[row * K + k] += range.value for the rows at each range's positions (ranges disjoint).
  virtual void AddLeafValues(const LeafRange* ranges, int n, int k) = 0;
  // scores[row * K + k] += value of the row's leaf for every row outside the current bag.
  virtual void AddTreeOutOfBag(const DeviceTree& tree, int k) = 0;
  // out[j * K + c] = scores[j * stride * K + c] for j < picked.
  virtual void SampleScores(std::size_t stride, std::size_t picked, double* out) = 0;
};

namespace cuda_impl {
// A CUDA backend on device 0. Throws Error("E_NO_GPU") when CUDA is not compiled in or no GPU is
// usable, Error("E_INTERNAL") on a CUDA failure.
std::unique_ptr<DeviceBackend> MakeTrainBackend(const DeviceTrainSetup& setup);
}  // namespace cuda_impl

}  // namespace kiln::gbdt
