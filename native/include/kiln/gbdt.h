// Histogram gradient-boosted decision trees: training on uint8 bins, prediction on raw values.
//
// Trees use the model-file layout (schemas/model-gbdt.schema.json): internal nodes 0..L-2 of a
// tree, a child c < 0 is leaf ~c. Determinism: gradient sums are exact integers (quantised
// gradients with stochastic rounding keyed by seed/tree/row), partitions are stable, and every
// floating-point reduction runs over fixed row blocks in block order, so the trained forest is
// bit-identical for any thread count.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "kiln/binning.h"

namespace kiln::gbdt {

// Decision-type bits of a node (LightGBM-compatible).
inline constexpr std::uint8_t kDecisionCategorical = 1;
inline constexpr std::uint8_t kDecisionDefaultLeft = 2;
// Missing types (decision-type bits 2-3).
inline constexpr int kMissingNone = 0;
inline constexpr int kMissingZero = 1;
inline constexpr int kMissingNan = 2;
// Words of a category bitset (codes 0..255).
inline constexpr int kCatWords = 8;
// Most categories a categorical feature may have (codes 0..254; 255 is the missing bin).
inline constexpr int kMaxCategories = 255;

enum class Objective { kBinary, kMulticlass, kRegression, kHuber };

// Where the row-heavy training steps run. The trained forest is the same on either.
enum class Device { kCpu, kCuda };

// A forest in the model-file layout, flattened over trees (all indices tree-local).
struct Forest {
  int num_features = 0;
  int trees_per_iteration = 1;
  bool decision_lt = false;                 // numeric nodes: x < t (XGBoost) instead of x <= t
  std::vector<double> base_score;           // trees_per_iteration margins
  std::vector<std::int32_t> node_offset;    // trees + 1 offsets into the per-node arrays
  std::vector<std::int32_t> leaf_offset;    // trees + 1 offsets into leaf_value
  std::vector<std::int32_t> cat_offset;     // trees + 1 offsets (in sets) into cat_bits
  std::vector<std::int32_t> split_feature;  // per node
  std::vector<double> threshold;            // per node: value, or cat set index (categorical)
  std::vector<std::uint8_t> decision_type;  // per node
  std::vector<std::int32_t> left_child;     // per node
  std::vector<std::int32_t> right_child;    // per node
  std::vector<double> leaf_value;           // per leaf
  std::vector<std::uint32_t> cat_bits;      // kCatWords words per categorical set
  // Training statistics (not used by prediction).
  std::vector<double> split_gain;           // per node
  std::vector<std::int64_t> internal_count; // per node
  std::vector<std::int64_t> leaf_count;     // per leaf

  std::size_t num_trees() const { return node_offset.empty() ? 0 : node_offset.size() - 1; }
};

// Throws InputError unless the forest is structurally sound: array sizes agree, every node is
// reached exactly once from the root, features and cat-set indices are in range.
void ValidateForest(const Forest& forest);

// A forest compiled for fast prediction. Immutable after construction; safe to share across
// threads. Prediction never allocates except PredictMargin's thread fan-out and its per-thread
// QuickScorer scratch (grown once per thread). With AVX2 (and KILN_SIMD != scalar) batch
// prediction scores trees of <= 64 leaves with numeric NaN-missing nodes by vectorised
// QuickScorer, 32 rows at a time; other trees, and KILN_SIMD=scalar, traverse. Both give the same
// leaf per row and tree, added in tree order, so margins are bit-identical either way.
class Predictor {
 public:
  // Throws InputError when ValidateForest fails.
  explicit Predictor(const Forest& forest);

  int num_features() const { return num_features_; }
  int num_outputs() const { return k_; }
  int num_trees() const { return static_cast<int>(tree_root_.size()); }

  // out[r * K + k] = margin of row r for class k using the first num_trees trees (a multiple of
  // K, <= num_trees()). Rows in fixed blocks, any layout/dtype; identical for any thread count.
  void PredictMargin(const MatrixView& m, int num_trees, int num_threads, double* out) const;

  // Margins of one row of num_features() doubles into out[0..K). Allocation-free.
  void PredictRowMargin(const double* row, int num_trees, double* out) const;

  // Per-feature split count and total gain over the first num_trees trees.
  void Importance(int num_trees, std::vector<double>* split_count, std::vector<double>* gain) const;

 private:
  // Hot node layout (24 bytes): thresholds for both input types, feature with the default-left
  // flag in bit 31, children (node index, or ~global leaf index when < 0).
  struct Node {
    double thr64;         // x <= thr64 (lt thresholds are moved one ulp down)
    float thr32;          // largest float <= thr64 (exact x <= t for float inputs)
    std::int32_t feature_dl;
    std::int32_t child[2];
  };
  // Rarely used node data: 0 numeric/NaN-missing, 1 numeric/none, 2 numeric/zero, 3 categorical.
  struct NodeKind {
    std::uint8_t kind;
    std::uint8_t nan_missing;  // categorical: NaN goes the default way (else it is code 0)
    std::int32_t cat;          // categorical: index of the bitset in cat_bits_
  };
  template <class T>
  int LeafOf(int tree, const T* x, std::size_t stride) const;
  template <class T>
  void PredictBlock(const T* base, std::size_t row_stride, std::size_t feat_stride,
                    std::size_t rows, int num_trees, double* out) const;
  // Adds tree t's leaf value to out[r * K + t % K] for rows [0, rows) (traversal path).
  template <class T>
  void TraverseTree(int t, const T* base, std::size_t row_stride, std::size_t feat_stride,
                    std::size_t rows, double* out) const;
  // QuickScorer block (AVX2 kernel): same results as PredictBlock's traversal, bit for bit.
  template <class T>
  void PredictBlockQs(const T* base, std::size_t row_stride, std::size_t feat_stride,
                      std::size_t rows, int num_trees, double* out) const;
  void BuildQuickScorer(const Forest& f);
  void BuildRowPath(const Forest& f);

  int num_features_ = 0;
  int k_ = 1;
  std::vector<double> base_;
  std::vector<Node> nodes_;
  std::vector<NodeKind> kinds_;
  std::vector<std::uint8_t> tree_fast_;    // 1: every node is numeric/NaN-missing
  std::vector<std::int32_t> tree_root_;   // offset of each tree's node 0 in nodes_
  std::vector<std::int32_t> tree_leaf0_;  // global index of each tree's leaf 0
  std::vector<std::uint8_t> tree_single_leaf_;
  std::vector<double> leaf_value_;
  std::vector<std::uint32_t> cat_bits_;
  // QuickScorer tables (trees of <= 64 leaves whose nodes are all numeric/NaN-missing with a
  // threshold below +Infinity). Leaves are numbered in order (left to right); a row's candidate
  // set per tree is a uint64 and the exit leaf is its lowest set bit. Per node: threshold, mask
  // of its left-subtree leaves, and the offset of its feature (index in qs_features_) in the
  // kernel's lane buffer (the NaN -> -Infinity copy for default-left nodes, NaN -> +Infinity for
  // default-right ones).
  bool qs_enabled_ = false;                 // AVX2 available and at least one QuickScorer tree
  std::vector<std::uint8_t> tree_qs_;       // per tree: 1 scored by QuickScorer
  int qs_prefix_ = 0;                       // trees 0..qs_prefix_-1 are all QuickScorer trees
  std::vector<std::int32_t> qs_tree_begin_; // trees + 1 offsets into the qs node arrays
  std::vector<std::int32_t> qs_features_;   // features QuickScorer trees split on (lane buffer order)
  std::vector<double> qs_thr_;
  std::vector<std::uint64_t> qs_mask_;
  std::vector<std::uint32_t> qs_xoff_;
  // Float32 copy: per tree the nodes in three groups (left subtree in leaves 0-31 / 32-63 / both).
  std::vector<std::int32_t> qs32_group_;    // 3 * trees + 1 offsets
  std::vector<float> qs32_thr_;
  std::vector<std::uint64_t> qs32_mask_;
  std::vector<std::uint32_t> qs32_xoff_;
  std::vector<std::int32_t> qs_leaf_off_;   // per tree: offset of its in-order leaves in qs_leaf_value_
  std::vector<double> qs_leaf_value_;
  // One-row path (PredictRowMargin): trees of numeric/NaN-missing nodes with thresholds below
  // +Infinity as compact nodes whose leaves loop onto themselves (thr holds the leaf value), so
  // kLanes trees step in lock-step for a fixed number of levels without checks. xoff indexes a
  // row copy with NaN as -Infinity (default-left nodes) or, past num_features, +Infinity.
  struct RowNode {
    double thr;
    std::uint32_t xoff;
    std::uint32_t child[2];  // byte offsets of the children from row_nodes_.data()
    std::uint32_t pad;
  };
  std::vector<RowNode> row_nodes_;
  std::vector<std::int64_t> row_tree_begin_;  // per tree: byte offset of its root, -1 if not eligible
  std::vector<std::int32_t> row_group_depth_; // per group of kLanes trees: levels, -1 if any tree
                                              // of the group is not eligible
  Forest source_;
};

// Turns margins into outputs in place: sigmoid (binary), softmax per row (multiclass).
void TransformMargins(Objective objective, int k, std::size_t rows, double* values);

struct TrainParams {
  Objective objective = Objective::kBinary;
  int num_class = 1;                      // K for multiclass, else 1
  double huber_delta = 1.0;
  int num_iterations = 100;
  double learning_rate = 0.1;
  int num_leaves = 31;
  int max_depth = -1;                     // <= 0: unlimited
  int min_data_in_leaf = 20;
  double min_sum_hessian_in_leaf = 1e-3;
  double lambda_l2 = 0.0;
  double min_gain_to_split = 0.0;
  double feature_fraction = 1.0;
  double bagging_fraction = 1.0;
  int bagging_freq = 0;
  std::vector<double> class_weight;       // per class (empty: all 1)
  double scale_pos_weight = 1.0;          // binary: weight of class 1 (times class_weight)
  std::vector<std::int8_t> monotone;      // per feature: -1, 0, +1 (empty: none)
  std::vector<std::int32_t> num_categories;  // per feature: 0 numeric, else categories (codes)
  double cat_smooth = 10.0;
  double cat_l2 = 10.0;
  int max_cat_threshold = 32;
  int min_data_per_group = 10;
  int early_stopping_rounds = 0;          // 0: off
  int metric = 0;                         // 0 default (logloss / mlogloss / l2), 1 auc (binary)
  std::uint64_t seed = 0;
  int num_threads = 0;
  Device device = Device::kCpu;           // kCuda: E_NO_GPU unless built with CUDA and a GPU is usable
  int max_bin = 255;
  std::uint64_t bin_sample_size = 200000;
};

// Per-iteration report; returning false from the callback does nothing special.
struct IterationInfo {
  int iteration = 0;          // 1-based
  double train_metric = 0;
  double valid_metric = 0;    // NaN without a validation set
  double rows_per_second = 0;
  int best_iteration = 0;
};

struct TrainInput {
  MatrixView x;                         // raw features (categorical columns hold codes)
  const double* label = nullptr;        // x.rows labels
  MatrixView valid_x;                   // rows == 0: no validation set
  const double* valid_label = nullptr;
};

struct TrainResult {
  Forest forest;
  BinMapper mapper;
  std::vector<double> train_metric;
  std::vector<double> valid_metric;
  int best_iteration = 0;
  bool early_stopped = false;
};

// Trains a forest. Throws InputError on bad input, Error("E_CANCELLED") when *cancel becomes
// nonzero (checked between trees). on_iteration runs on the training thread after each round.
TrainResult Train(const TrainInput& input, const TrainParams& params,
                  const std::function<void(const IterationInfo&)>& on_iteration,
                  const std::atomic<int>* cancel);

// Test hooks: the histogram of rows `rows` (all rows if empty) for packed gradients, and the
// best split of one feature histogram (see gbdt.cc for the exact contract).
std::vector<std::int64_t> DebugBuildHistogram(const std::uint8_t* bins_row_major, std::size_t rows,
                                              std::size_t cols, const std::int64_t* packed_gh,
                                              const std::vector<std::uint32_t>& row_index,
                                              int num_threads);

}  // namespace kiln::gbdt
