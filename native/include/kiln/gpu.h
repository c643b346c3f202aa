// GPU discovery and GPU batch prediction (CUDA builds; stubs elsewhere, see native/gbdt/cuda_stub.cc).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "kiln/binning.h"
#include "kiln/gbdt.h"

namespace kiln {

// One CUDA device as the runtime reports it.
struct GpuInfo {
  std::string name;
  std::uint64_t memory_bytes = 0;
  int major = 0, minor = 0;  // compute capability
};

// True when the addon was compiled with CUDA (KILN_CUDA=1).
bool CudaCompiled() noexcept;
// The usable CUDA devices; empty without CUDA, without a driver or without a GPU. Never throws.
std::vector<GpuInfo> ListGpus() noexcept;

namespace gbdt::cuda_impl {
// Margins of every row on GPU 0: out[r * K + k] as Predictor::PredictMargin computes them (same
// traversal, the same additions in tree order). Throws Error("E_NO_GPU") without CUDA or a GPU.
void PredictMargin(const Forest& forest, const MatrixView& m, int num_trees, double* out);
}  // namespace gbdt::cuda_impl

}  // namespace kiln
