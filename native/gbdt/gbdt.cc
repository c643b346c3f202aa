// Histogram GBDT training: quantised gradients, packed integer histograms, leaf-wise growth with
// histogram subtraction, stable partitions, Newton leaf values from exact gradients.
#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <limits>
#include <memory>
#include <numeric>
#include <string>
#include <vector>

#include "kiln/gbdt.h"
#include "common/rng.h"
#include "gbdt/device_backend.h"
#include "kiln/status.h"
#include "kiln/thread_pool.h"

namespace kiln::gbdt {
namespace {

// Histogram slots per feature: value bins 0..254 and the missing bin 255.
constexpr std::size_t kSlots = 256;
// Histograms of leaves with fewer rows than this are built on one thread.
constexpr std::size_t kParallelHistRows = 2048;
// Partitions of leaves with fewer rows than this run on one thread.
constexpr std::size_t kParallelPartitionRows = 4096;
// Rows per partition / metric block (fixed: part of the determinism contract).
constexpr std::size_t kBlock = 16384;
// Rows the per-iteration train metric is computed on (an even stride when there are more).
constexpr std::size_t kTrainMetricRows = 200000;
// Rows ahead that indirect loads are prefetched.
constexpr std::size_t kPrefetchAhead = 24;
// Split searches over at least this many rows (both children) fan out over the team.
constexpr std::size_t kParallelSplitRows = 2048;
// Leaves holding at least rows / kDenseLeafDivisor rows build their histograms column-wise.
static const std::size_t kDenseLeafDivisor = [] { const char* e = std::getenv("KILN_DD"); return e ? std::strtoul(e, nullptr, 10) : 1ul; }();
// Threads of the host split search when a device runs the row-heavy steps.
constexpr int kDeviceSplitThreads = 16;
// One-vs-rest categorical splits up to this many categories, sorted-prefix sets above.
constexpr int kMaxCatToOneHot = 4;

// Counter-based RNG streams of the trainer (values are part of the determinism contract).
constexpr std::uint64_t kStreamGradQuant = 101;
constexpr std::uint64_t kStreamBagging = 102;
constexpr std::uint64_t kStreamFeatureFraction = 103;

constexpr double kTwo32 = 4294967296.0;

// Phase timers printed to stderr when KILN_GBDT_PROFILE is set (diagnostics only).
struct PhaseTimes {
  double t[8] = {};
  double hist_rows[3] = {};   // rows through: column-wise, row-wise parallel, row-wise single
  double hist_time[3] = {};
  static const char* Name(int i) {
    static const char* names[] = {"gradients", "quantize", "histogram", "split", "partition", "leaves", "metric", "bins"};
    return names[i];
  }
};
PhaseTimes g_phase;
bool ProfileEnabled() {
  static const bool on = std::getenv("KILN_GBDT_PROFILE") != nullptr;
  return on;
}
// KILN_GBDT_DEBUG: per-tree gradient maxima on stderr (CPU / device parity diagnostics).
bool DebugEnabled() {
  static const bool on = std::getenv("KILN_GBDT_DEBUG") != nullptr;
  return on;
}
// CPU seconds of the calling (training) thread: robust to other processes on a busy machine.
double ThreadCpuSeconds() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}
struct PhaseTimer {
  int phase;
  double start = ProfileEnabled() ? ThreadCpuSeconds() : 0;
  explicit PhaseTimer(int p) : phase(p) {}
  ~PhaseTimer() {
    if (ProfileEnabled()) g_phase.t[phase] += ThreadCpuSeconds() - start;
  }
};

// A packed (gradient, hessian) pair: g * 2^32 + h with 0 <= h < 2^32; sums stay packed.
inline std::int64_t Pack(std::int64_t g, std::int64_t h) { return g * 4294967296LL + h; }
inline std::int64_t HessOf(std::int64_t p) { return static_cast<std::int64_t>(static_cast<std::uint32_t>(p)); }
inline std::int64_t GradOf(std::int64_t p) { return (p - HessOf(p)) / 4294967296LL; }

struct SplitInfo {
  double gain = -std::numeric_limits<double>::infinity();  // improvement over not splitting
  int feature = -1;
  int bin = 0;                 // numeric: left iff bin <= this
  bool default_left = false;
  bool categorical = false;
  std::array<std::uint32_t, kCatWords> cat_left{};  // categorical: codes going left
  std::int64_t left_sum = 0, right_sum = 0;         // packed sums
  double left_output = 0, right_output = 0;         // unshrunk, clamped outputs
  bool valid() const { return feature >= 0; }
};

struct LeafState {
  std::size_t begin = 0, count = 0;  // range of idx
  std::int64_t sum = 0;              // packed sum of the leaf's rows
  int depth = 0;
  double lo = -std::numeric_limits<double>::infinity();
  double hi = std::numeric_limits<double>::infinity();
  int hist = -1;                     // histogram pool slot
  SplitInfo best;
};

// A tree under construction, thresholds in bins (tree-local, LightGBM layout).
struct BinTree {
  int num_leaves = 1;
  std::vector<int> feature, bin, left, right;
  std::vector<std::uint8_t> default_left, categorical;
  std::vector<std::array<std::uint32_t, kCatWords>> cat_left;
  std::vector<double> gain;
  std::vector<std::int64_t> internal_count;
  std::vector<int> leaf_parent;     // internal node whose child is the leaf (-1 root)
  std::vector<double> leaf_value;
  std::vector<std::int64_t> leaf_count;

  explicit BinTree(int max_leaves) {
    leaf_parent.reserve(static_cast<std::size_t>(max_leaves));
    leaf_parent.push_back(-1);
    leaf_value.push_back(0);
    leaf_count.push_back(0);
  }

  // Splits leaf into (leaf, new leaf = num_leaves); returns the new internal node.
  int Split(int leaf, const SplitInfo& s, std::int64_t count) {
    const int node = num_leaves - 1;
    const int parent = leaf_parent[static_cast<std::size_t>(leaf)];
    if (parent >= 0) {
      if (left[static_cast<std::size_t>(parent)] == ~leaf) left[static_cast<std::size_t>(parent)] = node;
      else right[static_cast<std::size_t>(parent)] = node;
    }
    feature.push_back(s.feature);
    bin.push_back(s.bin);
    left.push_back(~leaf);
    right.push_back(~num_leaves);
    default_left.push_back(s.default_left ? 1 : 0);
    categorical.push_back(s.categorical ? 1 : 0);
    cat_left.push_back(s.cat_left);
    gain.push_back(s.gain);
    internal_count.push_back(count);
    leaf_parent[static_cast<std::size_t>(leaf)] = node;
    leaf_parent.push_back(node);
    leaf_value.push_back(0);
    leaf_count.push_back(0);
    return node;
  }

  // True when a row with bin b of the node's feature goes left.
  bool GoesLeft(int node, std::uint8_t b) const {
    const std::size_t n = static_cast<std::size_t>(node);
    if (b == kMissingBin) return default_left[n] != 0;
    if (categorical[n]) return (cat_left[n][b >> 5] >> (b & 31)) & 1;
    return b <= bin[n];
  }

  int LeafOfRow(const std::uint8_t* row) const {
    if (num_leaves == 1) return 0;
    int n = 0;
    while (n >= 0) n = GoesLeft(n, row[feature[static_cast<std::size_t>(n)]]) ? left[static_cast<std::size_t>(n)] : right[static_cast<std::size_t>(n)];
    return ~n;
  }
};

// Builds hist[f * 256 + bin] += gh[r] over rows (idx or [r0, r0+n)), one thread.
void AccumulateHistogram(const std::uint8_t* bins, std::size_t cols, const std::int64_t* gh,
                         const std::uint32_t* idx, std::size_t r0, std::size_t n,
                         std::int64_t* hist) {
  if (idx) {
    for (std::size_t i = 0; i < n; ++i) {
      if (i + 16 < n) {
        __builtin_prefetch(bins + static_cast<std::size_t>(idx[i + 16]) * cols);
        __builtin_prefetch(bins + static_cast<std::size_t>(idx[i + 16]) * cols + cols - 1);
        __builtin_prefetch(gh + idx[i + 16]);
      }
      const std::size_t r = idx[i];
      const std::uint8_t* b = bins + r * cols;
      const std::int64_t v = gh[r];
      for (std::size_t f = 0; f < cols; ++f) hist[f * kSlots + b[f]] += v;
    }
  } else {
    for (std::size_t r = r0; r < r0 + n; ++r) {
      const std::uint8_t* b = bins + r * cols;
      const std::int64_t v = gh[r];
      for (std::size_t f = 0; f < cols; ++f) hist[f * kSlots + b[f]] += v;
    }
  }
}

class Trainer {
 public:
  Trainer(const TrainInput& in, const TrainParams& p,
          const std::function<void(const IterationInfo&)>& on_iteration,
          const std::atomic<int>* cancel)
      : in_(in), p_(p), on_iteration_(on_iteration), cancel_(cancel), team_(p.num_threads) {}

  TrainResult Run();

 private:
  void ValidateInput();
  void PrepareBins();
  void InitScores();
  void ComputeGradients(int iteration);
  void Quantize(int tree_index, int k);
  void SampleBag(int iteration);
  void SampleFeatures(int tree_index);
  BinTree GrowTree();
  void BuildHistogram(const LeafState& leaf, std::int64_t* hist);
  bool Splittable(const LeafState& leaf) const;
  void FindFeatureSplit(const LeafState& leaf, const std::int64_t* hist, std::size_t f, SplitInfo* out) const;
  void FindBestSplits(LeafState* const* leaves, const std::int64_t* const* hists, int count);
  void FindNumericSplit(int f, const LeafState& leaf, const std::int64_t* hist, double parent_gain,
                        SplitInfo* best) const;
  void FindCategoricalSplit(int f, const LeafState& leaf, const std::int64_t* hist,
                            double parent_gain, SplitInfo* best) const;
  std::size_t Partition(const LeafState& leaf, const BinTree& tree, int node, std::int64_t* smaller_hist);
  void GradHessOfRow(const double* s, double y, double w, std::size_t c, double* g, double* h) const;
  void FinishTree(BinTree* tree, int k);
  void AppendTree(const BinTree& tree);
  double Metric(const std::vector<double>& scores, const double* label, std::size_t rows,
                bool sample) const;
  double MetricRows(const double* scores, const double* label, std::size_t picked,
                    std::size_t stride) const;
  double TrainMetric();
  void StartDevice();
  bool DeviceBinning() const {
    if (p_.device == Device::kCpu) return false;
    for (std::int32_t nc : p_.num_categories) if (nc > 0) return false;
    return true;
  }
  double Output(double g, double h, double lo, double hi, double extra_l2) const;
  bool CheckCancel() const { return cancel_ && cancel_->load(std::memory_order_relaxed) != 0; }

  const TrainInput& in_;
  const TrainParams& p_;
  const std::function<void(const IterationInfo&)>& on_iteration_;
  const std::atomic<int>* cancel_;
  ThreadTeam team_;

  std::size_t rows_ = 0, cols_ = 0, valid_rows_ = 0;
  int k_ = 1;
  TrainResult result_;
  std::vector<std::uint8_t> bins_;        // row-major rows x cols (histograms)
  std::vector<std::uint8_t> bins_col_;    // column-major cols x rows (partitions)
  std::vector<std::uint8_t> valid_bins_;  // row-major
  std::vector<int> num_bins_;             // value bins (numeric) or categories per feature
  std::vector<double> weight_;            // per row
  std::vector<double> scores_;            // rows x K
  std::vector<double> valid_scores_;      // valid_rows x K
  std::vector<double> grad_, hess_;       // rows x K
  std::vector<double> block_gmax_, block_hmax_;  // per row block x K: max |grad|, max hess
  std::vector<std::int64_t> gh_;          // packed quantised (g, h) of the current tree
  double g_scale_ = 1, h_scale_ = 1;
  std::vector<std::uint32_t> bag_;        // in-bag rows, ascending
  std::vector<std::uint8_t> in_bag_;
  bool bagging_ = false;
  std::vector<std::uint32_t> idx_;        // partitioned row indices of the current tree
  std::vector<std::uint32_t> scratch_;
  std::vector<std::uint8_t> feature_used_;
  std::vector<std::int64_t> pool_;        // histogram pool, num_leaves slots
  std::vector<std::int64_t> thread_hist_; // per-thread partial histograms
  std::vector<std::int64_t> ordered_gh_;  // packed gradients in the leaf's row order
  std::vector<SplitInfo> per_feature_;    // split search scratch, 2 leaves x cols
  std::vector<int> free_slots_;
  int tree_index_ = 0;
  // Set when the row-heavy steps run on a device (p_.device != kCpu); the host then keeps no
  // training scores, gradients or row order of its own.
  std::unique_ptr<DeviceBackend> dev_;
  // Device runs: a smaller team for the host split search (fewer threads to wake per split).
  std::unique_ptr<ThreadTeam> split_team_;
  std::vector<double> sample_scores_, sample_labels_;
  std::vector<std::uint32_t> cand_g_, cand_h_;
  std::vector<double> cand_scores_;
};

void Trainer::ValidateInput() {
  ValidateMatrix(in_.x);
  rows_ = in_.x.rows;
  cols_ = in_.x.cols;
  if (!in_.label) throw InputError("labels are required");
  if (p_.num_iterations < 0) throw InputError("num_iterations must be >= 0");
  if (p_.num_leaves < 2 || p_.num_leaves > 131072) throw InputError("num_leaves must be in [2, 131072]");
  if (!(p_.learning_rate > 0) || !std::isfinite(p_.learning_rate)) throw InputError("learning_rate must be > 0");
  if (p_.min_data_in_leaf < 1) throw InputError("min_data_in_leaf must be >= 1");
  if (!(p_.lambda_l2 >= 0) || !(p_.min_sum_hessian_in_leaf >= 0) || !(p_.min_gain_to_split >= 0)) {
    throw InputError("lambda_l2, min_sum_hessian_in_leaf and min_gain_to_split must be >= 0");
  }
  if (!(p_.feature_fraction > 0 && p_.feature_fraction <= 1)) throw InputError("feature_fraction must be in (0, 1]");
  if (!(p_.bagging_fraction > 0 && p_.bagging_fraction <= 1)) throw InputError("bagging_fraction must be in (0, 1]");
  if (!p_.monotone.empty() && p_.monotone.size() != cols_) throw InputError("monotone must have one entry per feature");
  if (!p_.num_categories.empty() && p_.num_categories.size() != cols_) throw InputError("num_categories must have one entry per feature");
  k_ = p_.objective == Objective::kMulticlass ? p_.num_class : 1;
  if (p_.objective == Objective::kMulticlass && (p_.num_class < 2 || p_.num_class > 1024)) {
    throw InputError("multiclass needs num_class in [2, 1024]");
  }
  if (!p_.class_weight.empty()) {
    const std::size_t want = p_.objective == Objective::kMulticlass ? static_cast<std::size_t>(k_) : 2;
    if (p_.class_weight.size() != want) throw InputError("class_weight must have one weight per class");
    for (double w : p_.class_weight) if (!(w > 0) || !std::isfinite(w)) throw InputError("class weights must be finite and > 0");
  }
  if (!(p_.scale_pos_weight > 0) || !std::isfinite(p_.scale_pos_weight)) throw InputError("scale_pos_weight must be > 0");
  if (!(p_.huber_delta > 0)) throw InputError("huber_delta must be > 0");
  auto check_labels_at = [&](const double* y, std::size_t i, const char* what) {
    const double v = y[i];
    if (!std::isfinite(v)) throw InputError(std::string(what) + " " + std::to_string(i) + " is not a finite number");
    if (p_.objective == Objective::kBinary && v != 0 && v != 1) {
      throw InputError(std::string(what) + " " + std::to_string(i) + " is " + std::to_string(v) + "; binary labels must be 0 or 1");
    }
    if (p_.objective == Objective::kMulticlass && (v < 0 || v >= k_ || std::floor(v) != v)) {
      throw InputError(std::string(what) + " " + std::to_string(i) + " is " + std::to_string(v) + "; multiclass labels must be integers in 0.." + std::to_string(k_ - 1));
    }
  };
  auto check_labels = [&](const double* y, std::size_t n, const char* what) {
    for (std::size_t i = 0; i < n; ++i) check_labels_at(y, i, what);
  };
  // Blocks checked in parallel; the first failing block is re-checked in order, so the error
  // names the first bad row, as a sequential check would.
  auto check_all = [&](const double* y, std::size_t n, const char* what) {
    const std::size_t blocks = NumBlocks(n, kBlock);
    std::vector<std::uint8_t> bad(blocks, 0);
    team_.Run(blocks, [&](std::size_t b) {
      const std::size_t r0 = b * kBlock, r1 = std::min(n, r0 + kBlock);
      try {
        check_labels(y + r0, r1 - r0, what);
      } catch (const Error&) {
        bad[b] = 1;
      }
    });
    for (std::size_t b = 0; b < blocks; ++b) {
      if (!bad[b]) continue;
      for (std::size_t r = b * kBlock; r < std::min(n, (b + 1) * kBlock); ++r) check_labels_at(y, r, what);
    }
  };
  check_all(in_.label, rows_, "label");
  if (in_.valid_x.rows > 0) {
    ValidateMatrix(in_.valid_x);
    if (in_.valid_x.cols != cols_) throw InputError("the validation set has a different number of columns");
    if (!in_.valid_label) throw InputError("validation labels are required");
    valid_rows_ = in_.valid_x.rows;
    check_all(in_.valid_label, valid_rows_, "validation label");
  }
  if (p_.objective == Objective::kBinary || p_.objective == Objective::kMulticlass) {
    const std::size_t nk = static_cast<std::size_t>(std::max(k_, 2));
    const std::size_t blocks = NumBlocks(rows_, kBlock);
    std::vector<std::size_t> block_counts(blocks * nk, 0), counts(nk, 0);
    team_.Run(blocks, [&](std::size_t b) {
      for (std::size_t i = b * kBlock; i < std::min(rows_, (b + 1) * kBlock); ++i) block_counts[b * nk + static_cast<std::size_t>(in_.label[i])]++;
    });
    for (std::size_t b = 0; b < blocks; ++b)
      for (std::size_t c = 0; c < nk; ++c) counts[c] += block_counts[b * nk + c];
    const auto present = std::count_if(counts.begin(), counts.end(), [](std::size_t c) { return c > 0; });
    if (present < 2) throw InputError("the labels hold a single class; a classifier needs at least two");
  }
  for (std::size_t f = 0; f < cols_; ++f) {
    const int nc = p_.num_categories.empty() ? 0 : p_.num_categories[f];
    if (nc < 0 || nc > kMaxCategories) throw InputError("a categorical feature may have at most 255 categories");
    if (nc > 0 && !p_.monotone.empty() && p_.monotone[f] != 0) throw InputError("a categorical feature cannot have a monotone constraint");
  }
}

// Bins both sets with the train mapper (categorical columns: code = bin) into row-major bytes.
void Trainer::PrepareBins() {
  FitBinsParams fp;
  fp.max_bin = p_.max_bin;
  fp.sample_size = p_.bin_sample_size;
  fp.seed = p_.seed;
  fp.num_threads = p_.num_threads;
  result_.mapper = FitBins(in_.x, fp);
  BinMapper& mapper = result_.mapper;
  // Categorical features keep no thresholds: their codes are their bins.
  bool any_cat = false;
  for (std::size_t f = 0; f < cols_; ++f) any_cat |= !p_.num_categories.empty() && p_.num_categories[f] > 0;
  if (any_cat) {
    BinMapper m;
    m.offsets.push_back(0);
    for (std::size_t f = 0; f < cols_; ++f) {
      if (p_.num_categories[f] > 0) {
        m.num_bins.push_back(1);
      } else {
        m.num_bins.push_back(mapper.num_bins[f]);
        m.thresholds.insert(m.thresholds.end(), mapper.thresholds.begin() + mapper.offsets[f],
                            mapper.thresholds.begin() + mapper.offsets[f + 1]);
      }
      m.offsets.push_back(static_cast<std::int32_t>(m.thresholds.size()));
    }
    mapper = std::move(m);
  }
  num_bins_.assign(cols_, 0);
  for (std::size_t f = 0; f < cols_; ++f) {
    num_bins_[f] = (!p_.num_categories.empty() && p_.num_categories[f] > 0) ? p_.num_categories[f] : mapper.num_bins[f];
  }
  auto bin_set = [&](const MatrixView& m, std::vector<std::uint8_t>* out, std::vector<std::uint8_t>* col_out) {
    std::vector<std::uint8_t> colmajor(m.rows * m.cols);
    ApplyBinsParams ap;
    ap.num_threads = p_.num_threads;
    ApplyBins(m, mapper, ap, colmajor.data());
    if (out) out->assign(m.rows * m.cols, 0);
    const std::size_t blocks = NumBlocks(m.rows, kBlock);
    std::vector<std::string> errors(blocks);
    team_.Run(blocks, [&](std::size_t b) {
      const std::size_t r0 = b * kBlock, r1 = std::min(m.rows, r0 + kBlock);
      if (out) {
        // Transpose in tiles of rows so the row-major destination tile stays in L1.
        constexpr std::size_t kTile = 64;
        for (std::size_t t0 = r0; t0 < r1; t0 += kTile) {
          const std::size_t t1 = std::min(r1, t0 + kTile);
          for (std::size_t f = 0; f < m.cols; ++f) {
            const std::uint8_t* src = colmajor.data() + f * m.rows;
            std::uint8_t* dst = out->data() + f;
            for (std::size_t r = t0; r < t1; ++r) dst[r * m.cols] = src[r];
          }
        }
      }
      for (std::size_t f = 0; f < m.cols; ++f) {
        const int nc = p_.num_categories.empty() ? 0 : p_.num_categories[f];
        std::uint8_t* src = colmajor.data() + f * m.rows;
        std::uint8_t* dst = out ? out->data() + f : nullptr;
        if (nc == 0) {
          continue;
        } else {
          for (std::size_t r = r0; r < r1; ++r) {
            const std::size_t at = m.layout == Layout::kRow ? r * m.cols + f : f * m.rows + r;
            const double v = m.dtype == DType::kFloat32 ? static_cast<const float*>(m.data)[at]
                                                        : static_cast<const double*>(m.data)[at];
            if (std::isnan(v)) {
              if (dst) dst[r * m.cols] = kMissingBin;
              src[r] = kMissingBin;
            } else if (v < 0 || v >= nc || std::floor(v) != v) {
              throw InputError("categorical feature " + std::to_string(f) + " has value " + std::to_string(v) +
                               " at row " + std::to_string(r) + "; codes must be integers in 0.." + std::to_string(nc - 1));
            } else {
              if (dst) dst[r * m.cols] = static_cast<std::uint8_t>(v);
              src[r] = static_cast<std::uint8_t>(v);
            }
          }
        }
      }
    });
    if (col_out) *col_out = std::move(colmajor);
  };
  // A device builds its own row-major copy from the column-major bins.
  // A device without categorical features bins the training rows itself (DeviceBinning()).
  if (!DeviceBinning()) bin_set(in_.x, p_.device == Device::kCpu ? &bins_ : nullptr, &bins_col_);
  if (valid_rows_ > 0) bin_set(in_.valid_x, &valid_bins_, nullptr);
}

void Trainer::InitScores() {
  weight_.resize(rows_);
  const bool classes = p_.objective == Objective::kBinary || p_.objective == Objective::kMulticlass;
  team_.Run(NumBlocks(rows_, kBlock), [&](std::size_t b) {
    const std::size_t r0 = b * kBlock, r1 = std::min(rows_, r0 + kBlock);
    for (std::size_t i = r0; i < r1; ++i) {
      double w = 1.0;
      if (classes) {
        const std::size_t c = static_cast<std::size_t>(in_.label[i]);
        w = p_.class_weight.empty() ? 1.0 : p_.class_weight[c];
        if (p_.objective == Objective::kBinary && c == 1) w *= p_.scale_pos_weight;
      }
      weight_[i] = w;
    }
  });
  std::vector<double> base(static_cast<std::size_t>(k_), 0.0);
  if (p_.objective == Objective::kBinary) {
    double pos = 0, tot = 0;
    for (std::size_t i = 0; i < rows_; ++i) {
      pos += weight_[i] * in_.label[i];
      tot += weight_[i];
    }
    const double pbar = std::min(std::max(pos / tot, 1e-15), 1 - 1e-15);
    base[0] = std::log(pbar / (1 - pbar));
  } else if (p_.objective == Objective::kMulticlass) {
    std::vector<double> wsum(static_cast<std::size_t>(k_), 0.0);
    double tot = 0;
    for (std::size_t i = 0; i < rows_; ++i) {
      wsum[static_cast<std::size_t>(in_.label[i])] += weight_[i];
      tot += weight_[i];
    }
    double mean_log = 0;
    for (int c = 0; c < k_; ++c) {
      base[static_cast<std::size_t>(c)] = std::log(std::max(wsum[static_cast<std::size_t>(c)] / tot, 1e-15));
      mean_log += base[static_cast<std::size_t>(c)] / k_;
    }
    for (double& b : base) b -= mean_log;
  } else {
    double sum = 0;
    for (std::size_t i = 0; i < rows_; ++i) sum += in_.label[i];
    base[0] = sum / static_cast<double>(rows_);
  }
  result_.forest.base_score = base;
  if (p_.device == Device::kCpu) {  // a device fills its own scores from base_score
    scores_.resize(rows_ * static_cast<std::size_t>(k_));
    for (std::size_t i = 0; i < rows_; ++i)
      for (int c = 0; c < k_; ++c) scores_[i * static_cast<std::size_t>(k_) + static_cast<std::size_t>(c)] = base[static_cast<std::size_t>(c)];
  }
  valid_scores_.resize(valid_rows_ * static_cast<std::size_t>(k_));
  for (std::size_t i = 0; i < valid_rows_; ++i)
    for (int c = 0; c < k_; ++c) valid_scores_[i * static_cast<std::size_t>(k_) + static_cast<std::size_t>(c)] = base[static_cast<std::size_t>(c)];
}

void Trainer::ComputeGradients(int /*iteration*/) {
  PhaseTimer timer(0);
  if (dev_) {
    dev_->ComputeGradients();
    return;
  }
  grad_.resize(rows_ * static_cast<std::size_t>(k_));
  hess_.resize(rows_ * static_cast<std::size_t>(k_));
  const std::size_t blocks = NumBlocks(rows_, kBlock);
  const std::size_t k = static_cast<std::size_t>(k_);
  const double mc_factor = k_ > 1 ? static_cast<double>(k_) / (k_ - 1) : 1.0;
  block_gmax_.assign(blocks * k, 0.0);
  block_hmax_.assign(blocks * k, 0.0);
  team_.Run(blocks, [&](std::size_t b) {
    const std::size_t r0 = b * kBlock, r1 = std::min(rows_, r0 + kBlock);
    // Maxima in locals (class 0 / the single output), folded into the block's slots at the end.
    double gm0 = 0, hm0 = 0;
    double* gm = block_gmax_.data() + b * k;
    double* hm = block_hmax_.data() + b * k;
    for (std::size_t r = r0; r < r1; ++r) {
      const double w = weight_[r], y = in_.label[r];
      switch (p_.objective) {
        case Objective::kBinary: {
          const double pr = 1.0 / (1.0 + std::exp(-scores_[r]));
          grad_[r] = w * (pr - y);
          hess_[r] = std::max(w * pr * (1.0 - pr), 1e-16);
          gm0 = std::max(gm0, std::fabs(grad_[r]));
          hm0 = std::max(hm0, hess_[r]);
          break;
        }
        case Objective::kMulticlass: {
          const double* s = scores_.data() + r * k;
          double mx = s[0];
          for (std::size_t c = 1; c < k; ++c) mx = std::max(mx, s[c]);
          double sum = 0;
          for (std::size_t c = 0; c < k; ++c) sum += std::exp(s[c] - mx);
          for (std::size_t c = 0; c < k; ++c) {
            const double pr = std::exp(s[c] - mx) / sum;
            grad_[r * k + c] = w * (pr - (static_cast<double>(c) == y ? 1.0 : 0.0));
            hess_[r * k + c] = std::max(w * mc_factor * pr * (1.0 - pr), 1e-16);
            gm[c] = std::max(gm[c], std::fabs(grad_[r * k + c]));
            hm[c] = std::max(hm[c], hess_[r * k + c]);
          }
          break;
        }
        case Objective::kRegression:
          grad_[r] = w * (scores_[r] - y);
          hess_[r] = w;
          gm0 = std::max(gm0, std::fabs(grad_[r]));
          hm0 = std::max(hm0, hess_[r]);
          break;
        case Objective::kHuber: {
          const double d = scores_[r] - y;
          grad_[r] = w * (std::fabs(d) <= p_.huber_delta ? d : (d > 0 ? p_.huber_delta : -p_.huber_delta));
          hess_[r] = w;
          gm0 = std::max(gm0, std::fabs(grad_[r]));
          hm0 = std::max(hm0, hess_[r]);
          break;
        }
      }
    }
    if (k == 1) {
      gm[0] = gm0;
      hm[0] = hm0;
    }
  });
}

// Gradient and hessian of class c of one row with scores s[0..K): ComputeGradients' formulas,
// operation for operation (so the same doubles).
void Trainer::GradHessOfRow(const double* s, double y, double w, std::size_t c, double* g, double* h) const {
  const std::size_t k = static_cast<std::size_t>(k_);
  switch (p_.objective) {
    case Objective::kBinary: {
      const double pr = 1.0 / (1.0 + std::exp(-s[0]));
      *g = w * (pr - y);
      *h = std::max(w * pr * (1.0 - pr), 1e-16);
      break;
    }
    case Objective::kMulticlass: {
      const double mc_factor = k_ > 1 ? static_cast<double>(k_) / (k_ - 1) : 1.0;
      double mx = s[0];
      for (std::size_t j = 1; j < k; ++j) mx = std::max(mx, s[j]);
      double sum = 0;
      for (std::size_t j = 0; j < k; ++j) sum += std::exp(s[j] - mx);
      const double pr = std::exp(s[c] - mx) / sum;
      *g = w * (pr - (static_cast<double>(c) == y ? 1.0 : 0.0));
      *h = std::max(w * mc_factor * pr * (1.0 - pr), 1e-16);
      break;
    }
    case Objective::kRegression:
      *g = w * (s[0] - y);
      *h = w;
      break;
    case Objective::kHuber: {
      const double d = s[0] - y;
      *g = w * (std::fabs(d) <= p_.huber_delta ? d : (d > 0 ? p_.huber_delta : -p_.huber_delta));
      *h = w;
      break;
    }
  }
}

// Stochastic rounding of class k's gradients to integers whose sums over any row set fit the
// packed layout exactly; the draws are keyed by (seed, tree, row), never by thread.
void Trainer::Quantize(int tree_index, int k) {
  PhaseTimer timer(1);
  const std::size_t kk = static_cast<std::size_t>(k_);
  double gmax = 0, hmax = 0;
  if (dev_) {
    dev_->GradientMax(k, &gmax, &hmax, &cand_g_, &cand_h_);
    if (DebugEnabled()) std::fprintf(stderr, "kiln gbdt device maxima %.17g %.17g\n", gmax, hmax);
    if (p_.objective == Objective::kBinary || p_.objective == Objective::kMulticlass) {
      // exp-based gradients: recompute the candidate maxima with this libm, as the CPU path does.
      for (int pass = 0; pass < 2; ++pass) {
        const std::vector<std::uint32_t>& rows = pass == 0 ? cand_g_ : cand_h_;
        cand_scores_.resize(rows.size() * kk);
        dev_->GatherScores(rows.data(), rows.size(), cand_scores_.data());
        double m = 0;
        for (std::size_t i = 0; i < rows.size(); ++i) {
          double g = 0, h = 0;
          GradHessOfRow(cand_scores_.data() + i * kk, in_.label[rows[i]], weight_[rows[i]], static_cast<std::size_t>(k), &g, &h);
          m = pass == 0 ? std::max(m, std::fabs(g)) : std::max(m, h);
        }
        (pass == 0 ? gmax : hmax) = m;
      }
    }
  } else {
    // Block maxima come from ComputeGradients (the maximum does not depend on the block order).
    for (std::size_t b = 0; b * kk < block_gmax_.size(); ++b) {
      gmax = std::max(gmax, block_gmax_[b * kk + static_cast<std::size_t>(k)]);
      hmax = std::max(hmax, block_hmax_[b * kk + static_cast<std::size_t>(k)]);
    }
  }
  const double n = static_cast<double>(std::max<std::size_t>(rows_, 1));
  const double qg = std::max(1.0, std::min(16777216.0, std::floor(2147483647.0 / n)));
  const double qh = std::max(1.0, std::min(16777216.0, std::floor((kTwo32 - 1) / n)));
  if (DebugEnabled()) {
    std::fprintf(stderr, "kiln gbdt tree %d class %d: gmax %.17g hmax %.17g (candidates %zu, %zu)\n", tree_index, k, gmax, hmax,
                 cand_g_.size(), cand_h_.size());
  }
  g_scale_ = gmax > 0 ? gmax / qg : 1.0;
  h_scale_ = hmax > 0 ? hmax / qh : 1.0;
  const std::uint64_t key = rng::StreamKey(p_.seed, kStreamGradQuant);
  const std::uint64_t base = static_cast<std::uint64_t>(tree_index) * static_cast<std::uint64_t>(rows_);
  if (dev_) {
    dev_->Quantize(k, key, base, g_scale_, h_scale_, qg, qh);
    return;
  }
  gh_.resize(rows_);
  const std::size_t blocks = NumBlocks(rows_, kBlock);
  team_.Run(blocks, [&](std::size_t b) {
    const std::size_t r0 = b * kBlock, r1 = std::min(rows_, r0 + kBlock);
    for (std::size_t r = r0; r < r1; ++r) {
      const double g = grad_[r * kk + static_cast<std::size_t>(k)] / g_scale_;
      const double h = hess_[r * kk + static_cast<std::size_t>(k)] / h_scale_;
      // One 64-bit draw gives both rounding offsets (32 random bits each).
      const std::uint64_t draw = rng::HashAt(key, base + r);
      double gq = std::floor(g + static_cast<double>(draw >> 32) * (1.0 / 4294967296.0));
      double hq = std::floor(h + static_cast<double>(draw & 0xffffffffu) * (1.0 / 4294967296.0));
      gq = std::min(std::max(gq, -qg), qg);
      hq = std::min(std::max(hq, 0.0), qh);
      gh_[r] = Pack(static_cast<std::int64_t>(gq), static_cast<std::int64_t>(hq));
    }
  });
}

void Trainer::SampleBag(int iteration) {
  if (!bagging_) return;
  if (iteration % p_.bagging_freq != 0 && !bag_.empty()) return;
  const std::uint64_t key = rng::StreamKey(p_.seed, kStreamBagging);
  const std::uint64_t base = static_cast<std::uint64_t>(iteration) * static_cast<std::uint64_t>(rows_);
  bag_.clear();
  in_bag_.assign(rows_, 0);
  for (std::size_t r = 0; r < rows_; ++r) {
    if (rng::ToUnitDouble(rng::HashAt(key, base + r)) < p_.bagging_fraction) {
      bag_.push_back(static_cast<std::uint32_t>(r));
      in_bag_[r] = 1;
    }
  }
  if (bag_.empty()) {
    bag_.push_back(0);
    in_bag_[0] = 1;
  }
  if (dev_) dev_->SetBag(bag_.data(), bag_.size());
}

void Trainer::SampleFeatures(int tree_index) {
  feature_used_.assign(cols_, 1);
  if (p_.feature_fraction >= 1.0) return;
  const std::size_t want = std::max<std::size_t>(1, static_cast<std::size_t>(std::lround(p_.feature_fraction * static_cast<double>(cols_))));
  const std::uint64_t key = rng::StreamKey(p_.seed, kStreamFeatureFraction);
  std::vector<std::pair<std::uint64_t, std::size_t>> order(cols_);
  for (std::size_t f = 0; f < cols_; ++f) order[f] = {rng::HashAt(key, static_cast<std::uint64_t>(tree_index) * cols_ + f), f};
  std::sort(order.begin(), order.end());
  feature_used_.assign(cols_, 0);
  for (std::size_t i = 0; i < want; ++i) feature_used_[order[i].second] = 1;
}

void Trainer::BuildHistogram(const LeafState& leaf, std::int64_t* hist) {
  PhaseTimer timer(2);
  if (dev_) {
    dev_->BuildHistogram(leaf.begin, leaf.count, hist);
    return;
  }
  const std::size_t slots = cols_ * kSlots;
  const std::uint32_t* idx = idx_.data() + leaf.begin;
  const bool contiguous = !bagging_ && leaf.begin == 0 && leaf.count == rows_;
  const int threads = team_.size();
  // Dense leaves: one feature at a time over the column-major bins (a 2 KiB histogram that stays
  // in L1, reads moving forward), features spread over threads; sparse leaves: row-wise.
  const double hist_start = ProfileEnabled() ? ThreadCpuSeconds() : 0;
  const int hist_kind = leaf.count * kDenseLeafDivisor >= rows_ ? 0 : (leaf.count < kParallelHistRows || threads == 1) ? 2 : 1;
  struct HistNote {
    int kind; std::size_t rows; double start;
    ~HistNote() {
      if (!ProfileEnabled()) return;
      g_phase.hist_rows[kind] += static_cast<double>(rows);
      g_phase.hist_time[kind] += ThreadCpuSeconds() - start;
    }
  } note{hist_kind, leaf.count, hist_start};
  if (leaf.count * kDenseLeafDivisor >= rows_) {
    ordered_gh_.resize(std::max(ordered_gh_.size(), leaf.count));
    if (!contiguous) {
      const std::size_t blocks = NumBlocks(leaf.count, kBlock);
      team_.Run(blocks, [&](std::size_t b) {
        const std::size_t i0 = b * kBlock, i1 = std::min(leaf.count, i0 + kBlock);
        for (std::size_t i = i0; i < i1; ++i) {
          if (i + kPrefetchAhead < i1) __builtin_prefetch(gh_.data() + idx[i + kPrefetchAhead]);
          ordered_gh_[i] = gh_[idx[i]];
        }
      });
    }
    const std::int64_t* ogh = contiguous ? gh_.data() : ordered_gh_.data();
    team_.Run(cols_, [&](std::size_t f) {
      // Four interleaved sub-histograms: neighbouring rows in the same bin do not wait on each
      // other's read-modify-write.
      std::int64_t sub[4][kSlots];
      std::memset(sub, 0, sizeof(sub));
      const std::uint8_t* col = bins_col_.data() + f * rows_;
      const std::size_t n = leaf.count, n4 = n & ~static_cast<std::size_t>(3);
      if (contiguous) {
        for (std::size_t i = 0; i < n4; i += 4) {
          sub[0][col[i]] += ogh[i];
          sub[1][col[i + 1]] += ogh[i + 1];
          sub[2][col[i + 2]] += ogh[i + 2];
          sub[3][col[i + 3]] += ogh[i + 3];
        }
        for (std::size_t i = n4; i < n; ++i) sub[0][col[i]] += ogh[i];
      } else {
        for (std::size_t i = 0; i < n4; i += 4) {
          if (i + kPrefetchAhead < n) __builtin_prefetch(col + idx[i + kPrefetchAhead]);
          sub[0][col[idx[i]]] += ogh[i];
          sub[1][col[idx[i + 1]]] += ogh[i + 1];
          sub[2][col[idx[i + 2]]] += ogh[i + 2];
          sub[3][col[idx[i + 3]]] += ogh[i + 3];
        }
        for (std::size_t i = n4; i < n; ++i) sub[0][col[idx[i]]] += ogh[i];
      }
      std::int64_t* h = hist + f * kSlots;
      for (std::size_t b = 0; b < kSlots; ++b) h[b] = sub[0][b] + sub[1][b] + sub[2][b] + sub[3][b];
    });
    return;
  }
  if (leaf.count < kParallelHistRows || threads == 1) {
    std::fill(hist, hist + slots, 0);
    AccumulateHistogram(bins_.data(), cols_, gh_.data(), contiguous ? nullptr : idx, 0, leaf.count, hist);
    return;
  }
  const std::size_t parts = static_cast<std::size_t>(threads);
  thread_hist_.resize(parts * slots);
  const std::size_t chunk = (leaf.count + parts - 1) / parts;
  team_.Run(parts, [&](std::size_t t) {
    std::int64_t* h = thread_hist_.data() + t * slots;
    std::fill(h, h + slots, 0);
    const std::size_t i0 = std::min(leaf.count, t * chunk), i1 = std::min(leaf.count, i0 + chunk);
    AccumulateHistogram(bins_.data(), cols_, gh_.data(), contiguous ? nullptr : idx + i0,
                        contiguous ? i0 : 0, i1 - i0, h);
  });
  // Integer sums: the order of the per-thread parts does not change the result.
  team_.Run(cols_, [&](std::size_t f) {
    std::int64_t* dst = hist + f * kSlots;
    for (std::size_t s = 0; s < kSlots; ++s) {
      std::int64_t v = 0;
      for (std::size_t t = 0; t < parts; ++t) v += thread_hist_[t * slots + f * kSlots + s];
      dst[s] = v;
    }
  });
}

double Trainer::Output(double g, double h, double lo, double hi, double extra_l2) const {
  const double denom = h + p_.lambda_l2 + extra_l2;
  double w = denom > 0 ? -g / denom : 0.0;
  return std::min(std::max(w, lo), hi);
}

// Gain of a side with sums (g, h) and output w: -(2 g w + (h + l2) w^2) (= g^2/(h+l2) at optimum).
inline double SideGain(double g, double h, double l2, double w) { return -(2.0 * g * w + (h + l2) * w * w); }

void Trainer::FindNumericSplit(int f, const LeafState& leaf, const std::int64_t* hist,
                               double parent_gain, SplitInfo* best) const {
  const int nb = num_bins_[static_cast<std::size_t>(f)];
  if (nb < 2) return;
  const std::int64_t* h = hist + static_cast<std::size_t>(f) * kSlots;
  const std::int64_t total = leaf.sum;
  const std::int64_t missing = h[kMissingBin];
  const double htot = static_cast<double>(HessOf(total));
  if (htot <= 0) return;
  const double count_per_h = static_cast<double>(leaf.count) / htot;
  const int mono = p_.monotone.empty() ? 0 : p_.monotone[static_cast<std::size_t>(f)];
  const double l2 = p_.lambda_l2;
  const double G = static_cast<double>(GradOf(total)) * g_scale_;
  const double H = static_cast<double>(HessOf(total)) * h_scale_;
  const bool has_missing = HessOf(missing) != 0 || GradOf(missing) != 0;
  const bool bounded = mono != 0 || std::isfinite(leaf.lo) || std::isfinite(leaf.hi);
  const double min_count = static_cast<double>(p_.min_data_in_leaf);
  for (int pass = 0; pass < (has_missing ? 2 : 1); ++pass) {
    const bool missing_left = pass == 1;
    std::int64_t acc = missing_left ? missing : 0;
    for (int b = 0; b + 1 < nb; ++b) {
      // An empty bin moves no rows: its threshold gives the previous split again.
      if (h[b] == 0) continue;
      acc += h[b];
      const std::int64_t right = total - acc;
      const double hl_q = static_cast<double>(HessOf(acc)), hr_q = static_cast<double>(HessOf(right));
      if (hr_q * count_per_h < min_count) break;
      if (hl_q * count_per_h < min_count) continue;
      const double gl = static_cast<double>(GradOf(acc)) * g_scale_, hl = hl_q * h_scale_;
      const double gr = G - gl, hr = H - hl;
      if (hl < p_.min_sum_hessian_in_leaf || hr < p_.min_sum_hessian_in_leaf) continue;
      double gain;
      double wl = 0, wr = 0;
      if (!bounded) {
        gain = gl * gl / (hl + l2) + gr * gr / (hr + l2) - parent_gain;
      } else {
        wl = Output(gl, hl, leaf.lo, leaf.hi, 0);
        wr = Output(gr, hr, leaf.lo, leaf.hi, 0);
        if ((mono > 0 && wl > wr) || (mono < 0 && wl < wr)) continue;
        gain = SideGain(gl, hl, l2, wl) + SideGain(gr, hr, l2, wr) - parent_gain;
      }
      if (gain > best->gain) {
        best->gain = gain;
        best->feature = f;
        best->bin = b;
        best->categorical = false;
        best->default_left = has_missing ? missing_left : hl >= hr;
        best->left_sum = acc;
        best->right_sum = right;
        best->left_output = bounded ? wl : Output(gl, hl, leaf.lo, leaf.hi, 0);
        best->right_output = bounded ? wr : Output(gr, hr, leaf.lo, leaf.hi, 0);
      }
    }
  }
}

void Trainer::FindCategoricalSplit(int f, const LeafState& leaf, const std::int64_t* hist,
                                   double parent_gain, SplitInfo* best) const {
  const int nc = num_bins_[static_cast<std::size_t>(f)];
  const std::int64_t* h = hist + static_cast<std::size_t>(f) * kSlots;
  const std::int64_t total = leaf.sum;
  const std::int64_t missing = h[kMissingBin];
  const double htot = static_cast<double>(HessOf(total));
  if (htot <= 0) return;
  const double count_per_h = static_cast<double>(leaf.count) / htot;
  const double l2 = p_.lambda_l2 + p_.cat_l2;
  const double G = static_cast<double>(GradOf(total)) * g_scale_;
  const double H = static_cast<double>(HessOf(total)) * h_scale_;
  std::vector<int> cats;
  for (int c = 0; c < nc; ++c) {
    if (HessOf(h[c]) > 0 && static_cast<double>(HessOf(h[c])) * count_per_h >= p_.min_data_per_group) cats.push_back(c);
  }
  if (cats.size() < 2 && !(cats.size() == 1 && HessOf(total - h[cats.empty() ? 0 : cats[0]]) > 0)) return;
  std::vector<std::vector<int>> candidates;
  if (nc <= kMaxCatToOneHot) {
    for (int c : cats) candidates.push_back({c});
  } else {
    auto ratio = [&](int c) {
      return static_cast<double>(GradOf(h[c])) * g_scale_ / (static_cast<double>(HessOf(h[c])) * h_scale_ + p_.cat_smooth);
    };
    std::stable_sort(cats.begin(), cats.end(), [&](int a, int b) { return ratio(a) < ratio(b); });
    const std::size_t max_set = std::min<std::size_t>(static_cast<std::size_t>(p_.max_cat_threshold), (cats.size() + 1) / 2);
    for (int dir = 0; dir < 2; ++dir) {
      std::vector<int> set;
      for (std::size_t i = 0; i < max_set; ++i) {
        set.push_back(dir == 0 ? cats[i] : cats[cats.size() - 1 - i]);
        candidates.push_back(set);
      }
    }
  }
  const bool has_missing = HessOf(missing) != 0 || GradOf(missing) != 0;
  for (const auto& set : candidates) {
    std::int64_t in_set = 0;
    for (int c : set) in_set += h[c];
    for (int pass = 0; pass < (has_missing ? 2 : 1); ++pass) {
      const bool missing_left = pass == 1;
      const std::int64_t acc = in_set + (missing_left ? missing : 0);
      const std::int64_t right = total - acc;
      const double hl_q = static_cast<double>(HessOf(acc)), hr_q = static_cast<double>(HessOf(right));
      if (hl_q * count_per_h < p_.min_data_in_leaf || hr_q * count_per_h < p_.min_data_in_leaf) continue;
      const double gl = static_cast<double>(GradOf(acc)) * g_scale_, hl = hl_q * h_scale_;
      const double gr = G - gl, hr = H - hl;
      if (hl < p_.min_sum_hessian_in_leaf || hr < p_.min_sum_hessian_in_leaf) continue;
      const double wl = Output(gl, hl, leaf.lo, leaf.hi, p_.cat_l2), wr = Output(gr, hr, leaf.lo, leaf.hi, p_.cat_l2);
      const double gain = SideGain(gl, hl, l2, wl) + SideGain(gr, hr, l2, wr) - parent_gain;
      if (gain > best->gain) {
        best->gain = gain;
        best->feature = f;
        best->bin = 0;
        best->categorical = true;
        best->default_left = has_missing ? missing_left : false;
        best->cat_left.fill(0);
        for (int c : set) best->cat_left[static_cast<std::size_t>(c) >> 5] |= 1u << (c & 31);
        best->left_sum = acc;
        best->right_sum = right;
        best->left_output = Output(gl, hl, leaf.lo, leaf.hi, 0);
        best->right_output = Output(gr, hr, leaf.lo, leaf.hi, 0);
      }
    }
  }
}

// Pre-checks of a leaf before any feature is scanned; false: the leaf cannot be split.
bool Trainer::Splittable(const LeafState& leaf) const {
  if (p_.max_depth > 0 && leaf.depth >= p_.max_depth) return false;
  if (leaf.count < 2 * static_cast<std::size_t>(p_.min_data_in_leaf)) return false;
  return static_cast<double>(HessOf(leaf.sum)) * h_scale_ >= 2 * p_.min_sum_hessian_in_leaf;
}

void Trainer::FindFeatureSplit(const LeafState& leaf, const std::int64_t* hist, std::size_t f,
                               SplitInfo* out) const {
  if (!feature_used_[f]) return;
  const double G = static_cast<double>(GradOf(leaf.sum)) * g_scale_;
  const double H = static_cast<double>(HessOf(leaf.sum)) * h_scale_;
  if (!p_.num_categories.empty() && p_.num_categories[f] > 0) {
    const double cat_parent_gain = SideGain(G, H, p_.lambda_l2 + p_.cat_l2, Output(G, H, leaf.lo, leaf.hi, p_.cat_l2));
    FindCategoricalSplit(static_cast<int>(f), leaf, hist, cat_parent_gain, out);
  } else {
    const double parent_gain = SideGain(G, H, p_.lambda_l2, Output(G, H, leaf.lo, leaf.hi, 0));
    FindNumericSplit(static_cast<int>(f), leaf, hist, parent_gain, out);
  }
}

// Best splits of up to two leaves at once (their features spread over the team). Each feature's
// best is found independently, then the first strictly best feature wins, so the result does not
// depend on which thread looked at which feature.
void Trainer::FindBestSplits(LeafState* const* leaves, const std::int64_t* const* hists, int count) {
  PhaseTimer timer(3);
  bool ok[2] = {false, false};
  std::size_t rows = 0;
  for (int j = 0; j < count; ++j) {
    leaves[j]->best = SplitInfo();
    ok[j] = Splittable(*leaves[j]);
    if (ok[j]) rows += leaves[j]->count;
  }
  per_feature_.assign(2 * cols_, SplitInfo());
  auto one = [&](std::size_t block) {
    const std::size_t j = block / cols_, f = block % cols_;
    if (ok[j]) FindFeatureSplit(*leaves[j], hists[j], f, &per_feature_[block]);
  };
  const std::size_t blocks = static_cast<std::size_t>(count) * cols_;
  if (rows >= kParallelSplitRows) {
    (split_team_ ? *split_team_ : team_).Run(blocks, one);
  } else {
    for (std::size_t b = 0; b < blocks; ++b) one(b);
  }
  for (int j = 0; j < count; ++j) {
    SplitInfo& best = leaves[j]->best;
    for (std::size_t f = 0; f < cols_; ++f) {
      const SplitInfo& s = per_feature_[static_cast<std::size_t>(j) * cols_ + f];
      if (s.valid() && s.gain > best.gain) best = s;
    }
    if (!(best.gain > p_.min_gain_to_split) || !(best.gain > 0)) best.feature = -1;
  }
}

// Stable partition of the leaf's rows by the node's split; returns the left count. Reads the
// column-major bins (rows ascending within a leaf, so the reads move forward through memory).
std::size_t Trainer::Partition(const LeafState& leaf, const BinTree& tree, int node, std::int64_t* smaller_hist) {
  PhaseTimer timer(4);
  const std::size_t n = leaf.count;
  const std::size_t f = static_cast<std::size_t>(tree.feature[static_cast<std::size_t>(node)]);
  const std::size_t stride = 1;
  std::array<std::uint8_t, 256> left_of_bin;
  for (int b = 0; b < 256; ++b) left_of_bin[static_cast<std::size_t>(b)] = tree.GoesLeft(node, static_cast<std::uint8_t>(b)) ? 1 : 0;
  if (dev_) return dev_->PartitionAndHistogram(leaf.begin, n, static_cast<int>(f), left_of_bin.data(), smaller_hist);
  std::uint32_t* idx = idx_.data() + leaf.begin;
  const std::uint8_t* col = bins_col_.data() + f * rows_;
  if (n < kParallelPartitionRows || team_.size() == 1) {
    std::size_t nl = 0, nr = 0;
    for (std::size_t i = 0; i < n; ++i) {
      if (i + kPrefetchAhead < n) __builtin_prefetch(col + static_cast<std::size_t>(idx[i + kPrefetchAhead]) * stride);
      const std::uint32_t r = idx[i];
      const bool left = left_of_bin[col[static_cast<std::size_t>(r) * stride]];
      idx[nl] = r;
      scratch_[nr] = r;
      nl += left;
      nr += !left;
    }
    std::memcpy(idx + nl, scratch_.data(), nr * sizeof(std::uint32_t));
    return nl;
  }
  // Each block splits its rows into scratch (left rows forward from the block's start, right rows
  // backward from its end), then copies both runs to their final places in order.
  const std::size_t blocks = NumBlocks(n, kBlock);
  std::vector<std::size_t> left_counts(blocks);
  std::uint32_t* tmp = scratch_.data() + leaf.begin;
  team_.Run(blocks, [&](std::size_t b) {
    const std::size_t i0 = b * kBlock, i1 = std::min(n, i0 + kBlock);
    std::uint32_t* lp = tmp + i0;
    std::uint32_t* rp = tmp + i1;
    for (std::size_t i = i0; i < i1; ++i) {
      if (i + kPrefetchAhead < i1) __builtin_prefetch(col + static_cast<std::size_t>(idx[i + kPrefetchAhead]) * stride);
      const std::uint32_t r = idx[i];
      const bool left = left_of_bin[col[static_cast<std::size_t>(r) * stride]];
      *lp = r;
      rp[-1] = r;
      lp += left;
      rp -= !left;
    }
    left_counts[b] = static_cast<std::size_t>(lp - (tmp + i0));
  });
  std::vector<std::size_t> left_at(blocks), right_at(blocks);
  std::size_t total_left = 0;
  for (std::size_t b = 0; b < blocks; ++b) {
    left_at[b] = total_left;
    total_left += left_counts[b];
  }
  std::size_t right_pos = total_left;
  for (std::size_t b = 0; b < blocks; ++b) {
    right_at[b] = right_pos;
    right_pos += std::min(n, (b + 1) * kBlock) - b * kBlock - left_counts[b];
  }
  team_.Run(blocks, [&](std::size_t b) {
    const std::size_t i0 = b * kBlock, i1 = std::min(n, i0 + kBlock);
    const std::size_t nl = left_counts[b], nr = i1 - i0 - nl;
    std::memcpy(idx + left_at[b], tmp + i0, nl * sizeof(std::uint32_t));
    std::uint32_t* dst = idx + right_at[b];
    const std::uint32_t* src = tmp + i1;
    for (std::size_t j = 0; j < nr; ++j) dst[j] = src[-1 - static_cast<std::ptrdiff_t>(j)];
  });
  return total_left;
}

BinTree Trainer::GrowTree() {
  const int max_leaves = p_.num_leaves;
  BinTree tree(max_leaves);
  const std::size_t slots = cols_ * kSlots;
  pool_.resize(static_cast<std::size_t>(max_leaves) * slots);
  free_slots_.clear();
  for (int s = max_leaves - 1; s >= 0; --s) free_slots_.push_back(s);
  std::size_t root_count;
  if (dev_) {
    dev_->ResetRows(bagging_);
    root_count = bagging_ ? bag_.size() : rows_;
  } else {
    if (bagging_) idx_ = bag_;
    else {
      idx_.resize(rows_);
      std::iota(idx_.begin(), idx_.end(), 0u);
    }
    scratch_.resize(idx_.size());
    root_count = idx_.size();
  }
  std::vector<LeafState> leaves(1);
  LeafState& root = leaves[0];
  root.begin = 0;
  root.count = root_count;
  root.hist = free_slots_.back();
  free_slots_.pop_back();
  BuildHistogram(root, pool_.data() + static_cast<std::size_t>(root.hist) * slots);
  std::int64_t sum = 0;
  for (std::size_t s = 0; s < kSlots; ++s) sum += pool_[static_cast<std::size_t>(root.hist) * slots + s];
  root.sum = sum;
  {
    LeafState* one[1] = {&root};
    const std::int64_t* h[1] = {pool_.data() + static_cast<std::size_t>(root.hist) * slots};
    FindBestSplits(one, h, 1);
  }
  while (tree.num_leaves < max_leaves) {
    int pick = -1;
    for (int l = 0; l < tree.num_leaves; ++l) {
      const SplitInfo& s = leaves[static_cast<std::size_t>(l)].best;
      if (s.valid() && (pick < 0 || s.gain > leaves[static_cast<std::size_t>(pick)].best.gain)) pick = l;
    }
    if (pick < 0) break;
    LeafState parent = leaves[static_cast<std::size_t>(pick)];
    const SplitInfo split = parent.best;
    const int node = tree.Split(pick, split, static_cast<std::int64_t>(parent.count));
    // Device: the smaller child's histogram comes with the partition (into the slot it will get).
    const std::size_t nl = Partition(parent, tree, node, pool_.data() + static_cast<std::size_t>(free_slots_.back()) * slots);
    const int right_leaf = tree.num_leaves;
    tree.num_leaves++;
    LeafState left_state, right_state;
    left_state.begin = parent.begin;
    left_state.count = nl;
    right_state.begin = parent.begin + nl;
    right_state.count = parent.count - nl;
    left_state.sum = split.left_sum;
    right_state.sum = split.right_sum;
    left_state.depth = right_state.depth = parent.depth + 1;
    left_state.lo = right_state.lo = parent.lo;
    left_state.hi = right_state.hi = parent.hi;
    const int mono = p_.monotone.empty() ? 0 : p_.monotone[static_cast<std::size_t>(split.feature)];
    if (mono != 0) {
      const double mid = (split.left_output + split.right_output) / 2;
      if (mono > 0) {
        left_state.hi = std::min(left_state.hi, mid);
        right_state.lo = std::max(right_state.lo, mid);
      } else {
        left_state.lo = std::max(left_state.lo, mid);
        right_state.hi = std::min(right_state.hi, mid);
      }
    }
    // The smaller child gets a fresh histogram; the larger one is parent minus smaller.
    const bool left_smaller = left_state.count <= right_state.count;
    LeafState& small = left_smaller ? left_state : right_state;
    LeafState& large = left_smaller ? right_state : left_state;
    small.hist = free_slots_.back();
    free_slots_.pop_back();
    large.hist = parent.hist;
    std::int64_t* hs = pool_.data() + static_cast<std::size_t>(small.hist) * slots;
    std::int64_t* hl = pool_.data() + static_cast<std::size_t>(large.hist) * slots;
    if (!dev_) BuildHistogram(small, hs);
    for (std::size_t s = 0; s < slots; ++s) hl[s] -= hs[s];
    {
      LeafState* two[2] = {&left_state, &right_state};
      const std::int64_t* h[2] = {pool_.data() + static_cast<std::size_t>(left_state.hist) * slots,
                                  pool_.data() + static_cast<std::size_t>(right_state.hist) * slots};
      FindBestSplits(two, h, 2);
    }
    leaves[static_cast<std::size_t>(pick)] = left_state;
    leaves.push_back(right_state);
    (void)right_leaf;
  }
  PhaseTimer leaves_timer(5);
  // Newton outputs from the leaves' exact integer sums of the quantised gradients (the same sums
  // the splits were chosen on); leaves are disjoint, so score updates run in parallel.
  const std::size_t kk = static_cast<std::size_t>(k_);
  const std::size_t k = static_cast<std::size_t>(tree_index_ % k_);
  if (dev_) {
    std::vector<LeafRange> ranges(static_cast<std::size_t>(tree.num_leaves));
    for (std::size_t l = 0; l < ranges.size(); ++l) {
      const LeafState& leaf = leaves[l];
      const double g = static_cast<double>(GradOf(leaf.sum)) * g_scale_;
      const double h = static_cast<double>(HessOf(leaf.sum)) * h_scale_;
      const double w = leaf.count == 0 ? 0.0 : Output(g, h, leaf.lo, leaf.hi, 0);
      tree.leaf_value[l] = w * p_.learning_rate;
      tree.leaf_count[l] = static_cast<std::int64_t>(leaf.count);
      ranges[l] = LeafRange{leaf.begin, leaf.count, tree.leaf_value[l]};
    }
    dev_->AddLeafValues(ranges.data(), tree.num_leaves, static_cast<int>(k));
    if (bagging_ && tree.num_leaves > 1) {
      const std::size_t nodes = static_cast<std::size_t>(tree.num_leaves - 1);
      std::vector<std::int32_t> feat(nodes), lc(nodes), rc(nodes);
      std::vector<std::uint8_t> lob(nodes * 256);
      for (std::size_t n = 0; n < nodes; ++n) {
        feat[n] = tree.feature[n];
        lc[n] = tree.left[n];
        rc[n] = tree.right[n];
        for (int b = 0; b < 256; ++b) lob[n * 256 + static_cast<std::size_t>(b)] = tree.GoesLeft(static_cast<int>(n), static_cast<std::uint8_t>(b)) ? 1 : 0;
      }
      DeviceTree dt;
      dt.num_nodes = static_cast<int>(nodes);
      dt.feature = feat.data();
      dt.left = lc.data();
      dt.right = rc.data();
      dt.left_of_bin = lob.data();
      dt.leaf_value = tree.leaf_value.data();
      dt.num_leaves = tree.num_leaves;
      dev_->AddTreeOutOfBag(dt, static_cast<int>(k));
    } else if (bagging_) {
      DeviceTree dt;
      dt.leaf_value = tree.leaf_value.data();
      dev_->AddTreeOutOfBag(dt, static_cast<int>(k));
    }
  } else {
    team_.Run(static_cast<std::size_t>(tree.num_leaves), [&](std::size_t l) {
      const LeafState& leaf = leaves[l];
      const double g = static_cast<double>(GradOf(leaf.sum)) * g_scale_;
      const double h = static_cast<double>(HessOf(leaf.sum)) * h_scale_;
      const double w = leaf.count == 0 ? 0.0 : Output(g, h, leaf.lo, leaf.hi, 0);
      const double v = w * p_.learning_rate;
      tree.leaf_value[l] = v;
      tree.leaf_count[l] = static_cast<std::int64_t>(leaf.count);
      const std::size_t end = leaf.begin + leaf.count;
      for (std::size_t i = leaf.begin; i < end; ++i) {
        if (i + kPrefetchAhead < end) __builtin_prefetch(scores_.data() + static_cast<std::size_t>(idx_[i + kPrefetchAhead]) * kk + k);
        scores_[static_cast<std::size_t>(idx_[i]) * kk + k] += v;
      }
    });
  }
  if (bagging_ && !dev_) {
    const std::size_t blocks = NumBlocks(rows_, kBlock);
    team_.Run(blocks, [&](std::size_t b) {
      const std::size_t r0 = b * kBlock, r1 = std::min(rows_, r0 + kBlock);
      for (std::size_t r = r0; r < r1; ++r) {
        if (in_bag_[r]) continue;
        scores_[r * kk + k] += tree.leaf_value[static_cast<std::size_t>(tree.LeafOfRow(bins_.data() + r * cols_))];
      }
    });
  }
  if (valid_rows_ > 0) {
    const std::size_t blocks = NumBlocks(valid_rows_, kBlock);
    team_.Run(blocks, [&](std::size_t b) {
      const std::size_t r0 = b * kBlock, r1 = std::min(valid_rows_, r0 + kBlock);
      for (std::size_t r = r0; r < r1; ++r) {
        valid_scores_[r * kk + k] += tree.leaf_value[static_cast<std::size_t>(tree.LeafOfRow(valid_bins_.data() + r * cols_))];
      }
    });
  }
  return tree;
}

// Appends a finished tree to the forest, turning bin thresholds into raw-value thresholds.
void Trainer::AppendTree(const BinTree& tree) {
  Forest& fo = result_.forest;
  const BinMapper& m = result_.mapper;
  std::int32_t cat_sets = 0;
  for (int n = 0; n + 1 < tree.num_leaves; ++n) {
    const std::size_t i = static_cast<std::size_t>(n);
    const int f = tree.feature[i];
    fo.split_feature.push_back(f);
    std::uint8_t d = static_cast<std::uint8_t>(kMissingNan << 2);
    if (tree.default_left[i]) d |= kDecisionDefaultLeft;
    if (tree.categorical[i]) {
      d |= kDecisionCategorical;
      fo.threshold.push_back(cat_sets++);
      fo.cat_bits.insert(fo.cat_bits.end(), tree.cat_left[i].begin(), tree.cat_left[i].end());
    } else {
      fo.threshold.push_back(m.thresholds[static_cast<std::size_t>(m.offsets[static_cast<std::size_t>(f)] + tree.bin[i])]);
    }
    fo.decision_type.push_back(d);
    fo.left_child.push_back(tree.left[i]);
    fo.right_child.push_back(tree.right[i]);
    fo.split_gain.push_back(tree.gain[i]);
    fo.internal_count.push_back(tree.internal_count[i]);
  }
  fo.leaf_value.insert(fo.leaf_value.end(), tree.leaf_value.begin(), tree.leaf_value.end());
  fo.leaf_count.insert(fo.leaf_count.end(), tree.leaf_count.begin(), tree.leaf_count.end());
  fo.node_offset.push_back(static_cast<std::int32_t>(fo.split_feature.size()));
  fo.leaf_offset.push_back(static_cast<std::int32_t>(fo.leaf_value.size()));
  fo.cat_offset.push_back(fo.cat_offset.back() + cat_sets);
}

// Binary AUC of scores vs labels (ties share rank), 0.5 when one class is absent.
double Auc(const std::vector<double>& scores, const double* label, std::size_t n) {
  std::vector<std::uint32_t> order(n);
  std::iota(order.begin(), order.end(), 0u);
  std::sort(order.begin(), order.end(), [&](std::uint32_t a, std::uint32_t b) {
    return scores[a] < scores[b] || (scores[a] == scores[b] && a < b);
  });
  double pos = 0, neg = 0, rank_sum = 0;
  std::size_t i = 0;
  while (i < n) {
    std::size_t j = i;
    while (j < n && scores[order[j]] == scores[order[i]]) ++j;
    const double avg_rank = (static_cast<double>(i) + static_cast<double>(j - 1)) / 2.0 + 1.0;
    for (std::size_t t = i; t < j; ++t) {
      if (label[order[t]] == 1) {
        pos += 1;
        rank_sum += avg_rank;
      } else {
        neg += 1;
      }
    }
    i = j;
  }
  if (pos == 0 || neg == 0) return 0.5;
  return (rank_sum - pos * (pos + 1) / 2) / (pos * neg);
}

double Trainer::Metric(const std::vector<double>& scores, const double* label, std::size_t rows,
                       bool sample) const {
  if (rows == 0) return std::numeric_limits<double>::quiet_NaN();
  if (p_.objective == Objective::kBinary && p_.metric == 1 && !sample) return Auc(scores, label, rows);
  const std::size_t stride = sample && rows > kTrainMetricRows ? (rows + kTrainMetricRows - 1) / kTrainMetricRows : 1;
  const std::size_t picked = (rows + stride - 1) / stride;
  return MetricRows(scores.data(), label, picked, stride);
}

// Mean loss over rows j * stride, j < picked (fixed blocks of j, summed in block order).
double Trainer::MetricRows(const double* scores, const double* label, std::size_t picked,
                           std::size_t stride) const {
  const std::size_t blocks = NumBlocks(picked, kBlock);
  std::vector<double> partial(blocks, 0.0);
  const std::size_t kk = static_cast<std::size_t>(k_);
  auto block_fn = [&](std::size_t b) {
    const std::size_t j0 = b * kBlock, j1 = std::min(picked, j0 + kBlock);
    double acc = 0;
    for (std::size_t j = j0; j < j1; ++j) {
      const std::size_t r = j * stride;
      const double y = label[r];
      switch (p_.objective) {
        case Objective::kBinary: {
          const double s = scores[r];
          // log(1 + exp(-|s|)) formulation of the log-loss, stable for any margin.
          const double z = y == 1 ? -s : s;
          acc += z > 0 ? z + std::log1p(std::exp(-z)) : std::log1p(std::exp(z));
          break;
        }
        case Objective::kMulticlass: {
          const double* s = scores + r * kk;
          double mx = s[0];
          for (std::size_t c = 1; c < kk; ++c) mx = std::max(mx, s[c]);
          double sum = 0;
          for (std::size_t c = 0; c < kk; ++c) sum += std::exp(s[c] - mx);
          acc += -(s[static_cast<std::size_t>(y)] - mx - std::log(sum));
          break;
        }
        default: {
          const double d = scores[r] - y;
          acc += d * d;
        }
      }
    }
    partial[b] = acc;
  };
  const_cast<ThreadTeam&>(team_).Run(blocks, block_fn);
  double total = 0;
  for (double v : partial) total += v;
  return total / static_cast<double>(picked);
}

// The per-iteration train metric: on the host scores, or on the same sampled rows gathered from
// the device (the same values summed in the same blocks, so the same result).
double Trainer::TrainMetric() {
  if (!dev_) return Metric(scores_, in_.label, rows_, true);
  if (rows_ == 0) return std::numeric_limits<double>::quiet_NaN();
  const std::size_t stride = rows_ > kTrainMetricRows ? (rows_ + kTrainMetricRows - 1) / kTrainMetricRows : 1;
  const std::size_t picked = (rows_ + stride - 1) / stride;
  if (sample_labels_.size() != picked) {
    sample_labels_.resize(picked);
    for (std::size_t j = 0; j < picked; ++j) sample_labels_[j] = in_.label[j * stride];
  }
  sample_scores_.resize(picked * static_cast<std::size_t>(k_));
  dev_->SampleScores(stride, picked, sample_scores_.data());
  return MetricRows(sample_scores_.data(), sample_labels_.data(), picked, 1);
}

// Moves the training rows to the device backend (after binning and initial scores).
void Trainer::StartDevice() {
  if (p_.device == Device::kCpu) return;
  DeviceTrainSetup setup;
  setup.rows = rows_;
  setup.cols = cols_;
  setup.k = k_;
  setup.objective = p_.objective;
  setup.huber_delta = p_.huber_delta;
  if (DeviceBinning()) {
    setup.raw = &in_.x;
    setup.mapper = &result_.mapper;
  } else {
    setup.bins_col = bins_col_.data();
  }
  setup.label = in_.label;
  const bool unit_weights = std::all_of(weight_.begin(), weight_.end(), [](double w) { return w == 1.0; });
  setup.weight = unit_weights ? nullptr : weight_.data();
  setup.base_score = result_.forest.base_score.data();
  dev_ = cuda_impl::MakeTrainBackend(setup);
  const char* st = std::getenv("KILN_GBDT_SPLIT_THREADS");
  const int split_threads = std::min(team_.size(), st ? std::max(1, std::atoi(st)) : kDeviceSplitThreads);
  if (split_threads < team_.size()) split_team_ = std::make_unique<ThreadTeam>(split_threads);
  // The device holds the training copies now; the host keeps what validation and bagging need.
  std::vector<std::uint8_t>().swap(bins_col_);
  std::vector<double>().swap(scores_);
}

TrainResult Trainer::Run() {
  const auto wall0 = std::chrono::steady_clock::now();
  auto wall = [&wall0]() { return std::chrono::duration<double>(std::chrono::steady_clock::now() - wall0).count(); };
  ValidateInput();
  const double w_validate = wall();
  bagging_ = p_.bagging_freq > 0 && p_.bagging_fraction < 1.0;
  {
    PhaseTimer timer(7);
    PrepareBins();
  }
  const double w_bins = wall();
  InitScores();
  const double w_init = wall();
  StartDevice();
  const double w_device = wall();
  Forest& fo = result_.forest;
  fo.num_features = static_cast<int>(cols_);
  fo.trees_per_iteration = k_;
  fo.decision_lt = false;
  fo.node_offset = {0};
  fo.leaf_offset = {0};
  fo.cat_offset = {0};
  const bool auc = p_.objective == Objective::kBinary && p_.metric == 1;
  double best_metric = auc ? -std::numeric_limits<double>::infinity() : std::numeric_limits<double>::infinity();
  int best_iter = 0;
  const auto start = std::chrono::steady_clock::now();
  int iteration = 0;
  for (; iteration < p_.num_iterations; ++iteration) {
    if (CheckCancel()) throw Error("E_CANCELLED", "training was cancelled");
    SampleBag(iteration);
    ComputeGradients(iteration);
    for (int k = 0; k < k_; ++k) {
      tree_index_ = iteration * k_ + k;
      Quantize(tree_index_, k);
      SampleFeatures(tree_index_);
      const BinTree tree = GrowTree();
      AppendTree(tree);
      if (CheckCancel()) throw Error("E_CANCELLED", "training was cancelled");
    }
    IterationInfo info;
    info.iteration = iteration + 1;
    PhaseTimer metric_timer(6);
    info.train_metric = TrainMetric();
    info.valid_metric = Metric(valid_scores_, in_.valid_label, valid_rows_, false);
    result_.train_metric.push_back(info.train_metric);
    if (valid_rows_ > 0) {
      result_.valid_metric.push_back(info.valid_metric);
      const bool better = auc ? info.valid_metric > best_metric : info.valid_metric < best_metric;
      if (better) {
        best_metric = info.valid_metric;
        best_iter = iteration + 1;
      }
    } else {
      best_iter = iteration + 1;
    }
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    info.rows_per_second = secs > 0 ? static_cast<double>(rows_) * (iteration + 1) / secs : 0;
    info.best_iteration = best_iter;
    if (on_iteration_) on_iteration_(info);
    if (valid_rows_ > 0 && p_.early_stopping_rounds > 0 && iteration + 1 - best_iter >= p_.early_stopping_rounds) {
      result_.early_stopped = true;
      ++iteration;
      break;
    }
  }
  result_.best_iteration = valid_rows_ > 0 ? best_iter : iteration;
  const double w_boost = wall();
  dev_.reset();
  if (ProfileEnabled()) {
    std::fprintf(stderr, "kiln gbdt wall: validate %.3f s, bins %.3f s, init %.3f s, device start %.3f s, boosting %.3f s, device release %.3f s\n",
                 w_validate, w_bins - w_validate, w_init - w_bins, w_device - w_init, w_boost - w_device, wall() - w_boost);
    for (int i = 0; i < 8; ++i) std::fprintf(stderr, "kiln gbdt %-10s %.3f s\n", PhaseTimes::Name(i), g_phase.t[i]);
    for (int i = 0; i < 3; ++i) std::fprintf(stderr, "kiln gbdt histogram kind %d: %.0f rows %.3f s\n", i, g_phase.hist_rows[i], g_phase.hist_time[i]);
    g_phase = PhaseTimes();
  }
  return std::move(result_);
}

}  // namespace

TrainResult Train(const TrainInput& input, const TrainParams& params,
                  const std::function<void(const IterationInfo&)>& on_iteration,
                  const std::atomic<int>* cancel) {
  Trainer trainer(input, params, on_iteration, cancel);
  return trainer.Run();
}

std::vector<std::int64_t> DebugBuildHistogram(const std::uint8_t* bins_row_major, std::size_t rows,
                                              std::size_t cols, const std::int64_t* packed_gh,
                                              const std::vector<std::uint32_t>& row_index,
                                              int /*num_threads*/) {
  std::vector<std::int64_t> hist(cols * kSlots, 0);
  if (row_index.empty()) {
    AccumulateHistogram(bins_row_major, cols, packed_gh, nullptr, 0, rows, hist.data());
  } else {
    for (std::uint32_t r : row_index) {
      if (r >= rows) throw InputError("row index out of range");
    }
    AccumulateHistogram(bins_row_major, cols, packed_gh, row_index.data(), 0, row_index.size(), hist.data());
  }
  return hist;
}

}  // namespace kiln::gbdt
