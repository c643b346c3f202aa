// GPU batch prediction (cuda_impl::PredictMargin): one thread per row walks every tree with the
// node semantics of Predictor::LeafOf (predict.cc) and adds leaf values in tree order, so the
// margins equal the CPU's bit for bit. The forest is compiled on the host into flat node arrays.
#include <cuda_runtime.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "kiln/gpu.h"
#include "kiln/status.h"

namespace kiln::gbdt::cuda_impl {
namespace {

constexpr double kZeroThreshold = static_cast<double>(1e-35f);

void Check(cudaError_t e, const char* what) {
  if (e != cudaSuccess) throw Error(kErrInternal, std::string("CUDA failure in ") + what + ": " + cudaGetErrorString(e));
}

// 24-byte node as Predictor::Node; kind: 0 numeric/NaN-missing, 1 numeric/none, 2 numeric/zero,
// 3 categorical (cat = set index, nan_missing in bit 8 of kind_bits).
struct GpuNode {
  double thr64;
  float thr32;
  std::int32_t feature_dl;
  std::int32_t child[2];
};
struct GpuKind {
  std::int32_t kind_bits;  // kind | nan_missing << 8
  std::int32_t cat;
};

float FloatAtOrBelow(double v) {
  if (std::isnan(v)) return std::numeric_limits<float>::quiet_NaN();
  float f = static_cast<float>(v);
  if (static_cast<double>(f) > v) f = std::nextafter(f, -std::numeric_limits<float>::infinity());
  return f;
}

template <class T>
__global__ void PredictKernel(const T* __restrict__ x, std::size_t rows, std::size_t row_stride,
                              std::size_t feat_stride, int num_trees, int kk,
                              const double* __restrict__ base, const std::int32_t* __restrict__ tree_root,
                              const std::int32_t* __restrict__ tree_leaf0, const GpuNode* __restrict__ nodes,
                              const GpuKind* __restrict__ kinds, const double* __restrict__ leaf_value,
                              const std::uint32_t* __restrict__ cat_bits, double* __restrict__ out) {
  const std::size_t r = static_cast<std::size_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (r >= rows) return;
  const T* row = x + r * row_stride;
  double* o = out + r * kk;
  for (int c = 0; c < kk; ++c) o[c] = base[c];
  for (int t = 0; t < num_trees; ++t) {
    const int root = tree_root[t];
    int leaf;
    if (root < 0) {
      leaf = tree_leaf0[t];
    } else {
      const GpuNode* tn = nodes + root;
      const GpuKind* tk = kinds + root;
      std::int32_t n = 0;
      while (n >= 0) {
        const GpuNode nd = tn[n];
        const int kind = tk[n].kind_bits & 0xff;
        const bool default_left = nd.feature_dl < 0;
        const T v = row[static_cast<std::size_t>(nd.feature_dl & 0x7fffffff) * feat_stride];
        double d = static_cast<double>(v);
        bool left;
        if (kind == 3) {
          if (isnan(d)) {
            if (tk[n].kind_bits >> 8) {
              n = nd.child[default_left ? 0 : 1];
              continue;
            }
            d = 0;
          }
          if (d < 0 || d >= 256) {
            left = false;
          } else {
            const std::uint32_t code = static_cast<std::uint32_t>(d);
            const std::uint32_t* bits = cat_bits + static_cast<std::size_t>(tk[n].cat) * kCatWords;
            left = (bits[code >> 5] >> (code & 31)) & 1;
          }
        } else {
          bool missing = false;
          if (kind == 0) missing = isnan(d);
          else if (kind == 1 && isnan(d)) d = 0;
          else if (kind == 2) missing = isnan(d) || (d >= -kZeroThreshold && d <= kZeroThreshold);
          if (missing) left = default_left;
          else if (sizeof(T) == 4) left = static_cast<float>(d) <= nd.thr32;
          else left = d <= nd.thr64;
        }
        n = nd.child[left ? 0 : 1];
      }
      leaf = ~n;
    }
    o[t % kk] += leaf_value[leaf];
  }
}

template <class T>
T* Upload(const std::vector<T>& v, const char* what, std::vector<void*>* owned) {
  void* p = nullptr;
  Check(cudaMalloc(&p, std::max<std::size_t>(v.size(), 1) * sizeof(T)), what);
  owned->push_back(p);
  if (!v.empty()) Check(cudaMemcpy(p, v.data(), v.size() * sizeof(T), cudaMemcpyHostToDevice), what);
  return static_cast<T*>(p);
}

}  // namespace

void PredictMargin(const Forest& f, const MatrixView& m, int num_trees, double* out) {
  ValidateForest(f);
  ValidateMatrix(m);
  const int k = f.trees_per_iteration;
  if (m.cols != static_cast<std::size_t>(f.num_features)) throw InputError("the model and the data differ in features");
  if (num_trees < 0 || static_cast<std::size_t>(num_trees) > f.num_trees() || num_trees % k != 0) {
    throw InputError("num_trees must be a multiple of the trees per iteration, at most the model's trees");
  }
  int count = 0;
  if (cudaGetDeviceCount(&count) != cudaSuccess || count == 0) {
    cudaGetLastError();
    throw Error(kErrNoGpu, "no usable CUDA GPU for prediction");
  }
  const std::size_t trees = f.num_trees();
  std::vector<std::int32_t> root(trees), leaf0(trees);
  std::vector<GpuNode> nodes(f.split_feature.size());
  std::vector<GpuKind> kinds(f.split_feature.size());
  for (std::size_t t = 0; t < trees; ++t) {
    const std::int32_t n0 = f.node_offset[t], n1 = f.node_offset[t + 1], l0 = f.leaf_offset[t];
    root[t] = n1 == n0 ? -1 : n0;
    leaf0[t] = l0;
    for (std::int32_t n = n0; n < n1; ++n) {
      const std::size_t i = static_cast<std::size_t>(n);
      const std::uint8_t d = f.decision_type[i];
      auto child = [&](std::int32_t c) { return c >= 0 ? c : ~(l0 + ~c); };
      GpuNode& nd = nodes[i];
      nd.child[0] = child(f.left_child[i]);
      nd.child[1] = child(f.right_child[i]);
      const bool dl = (d & kDecisionDefaultLeft) != 0;
      nd.feature_dl = static_cast<std::int32_t>(static_cast<std::uint32_t>(f.split_feature[i]) | (dl ? 0x80000000u : 0u));
      const int missing = (d >> 2) & 3;
      const int nan_missing = missing == kMissingNan ? 1 : 0;
      if (d & kDecisionCategorical) {
        kinds[i] = GpuKind{3 | (nan_missing << 8), f.cat_offset[t] + static_cast<std::int32_t>(f.threshold[i])};
        nd.thr64 = 0;
        nd.thr32 = 0;
      } else {
        const int kind = missing == kMissingNan ? 0 : (missing == kMissingNone ? 1 : 2);
        kinds[i] = GpuKind{kind | (nan_missing << 8), -1};
        double thr = f.threshold[i];
        if (f.decision_lt) thr = std::nextafter(thr, -std::numeric_limits<double>::infinity());
        nd.thr64 = thr;
        nd.thr32 = FloatAtOrBelow(thr);
      }
    }
  }
  std::vector<void*> owned;
  try {
    const double* d_base = Upload(f.base_score, "model upload", &owned);
    const std::int32_t* d_root = Upload(root, "model upload", &owned);
    const std::int32_t* d_leaf0 = Upload(leaf0, "model upload", &owned);
    const GpuNode* d_nodes = Upload(nodes, "model upload", &owned);
    const GpuKind* d_kinds = Upload(kinds, "model upload", &owned);
    const double* d_leaf = Upload(f.leaf_value, "model upload", &owned);
    const std::uint32_t* d_cat = Upload(f.cat_bits, "model upload", &owned);
    const std::size_t esize = m.dtype == DType::kFloat32 ? 4 : 8;
    void* d_x = nullptr;
    Check(cudaMalloc(&d_x, std::max<std::size_t>(m.rows * m.cols, 1) * esize), "input upload");
    owned.push_back(d_x);
    Check(cudaMemcpy(d_x, m.data, m.rows * m.cols * esize, cudaMemcpyHostToDevice), "input upload");
    double* d_out = nullptr;
    Check(cudaMalloc(&d_out, std::max<std::size_t>(m.rows * k, 1) * sizeof(double)), "output");
    owned.push_back(d_out);
    const bool row_major = m.layout == Layout::kRow;
    const std::size_t row_stride = row_major ? m.cols : 1, feat_stride = row_major ? 1 : m.rows;
    const unsigned blocks = static_cast<unsigned>((m.rows + 127) / 128);
    if (m.rows > 0) {
      if (esize == 4) {
        PredictKernel<float><<<blocks, 128>>>(static_cast<const float*>(d_x), m.rows, row_stride, feat_stride, num_trees, k,
                                              d_base, d_root, d_leaf0, d_nodes, d_kinds, d_leaf, d_cat, d_out);
      } else {
        PredictKernel<double><<<blocks, 128>>>(static_cast<const double*>(d_x), m.rows, row_stride, feat_stride, num_trees, k,
                                               d_base, d_root, d_leaf0, d_nodes, d_kinds, d_leaf, d_cat, d_out);
      }
      Check(cudaGetLastError(), "predict");
    }
    Check(cudaMemcpy(out, d_out, m.rows * k * sizeof(double), cudaMemcpyDeviceToHost), "output download");
  } catch (...) {
    for (void* p : owned) cudaFree(p);
    throw;
  }
  for (void* p : owned) cudaFree(p);
}

}  // namespace kiln::gbdt::cuda_impl
