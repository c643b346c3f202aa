// Forest validation and raw-value prediction (blocks of rows x all trees, one thread per block).
#include <algorithm>
#include <cmath>
#include <cstring>
#include <functional>
#include <limits>
#include <string>
#include <tuple>
#include <vector>

#include "gbdt/predict_qs.h"
#include "kiln/gbdt.h"
#include "kiln/simd.h"
#include "kiln/status.h"
#include "kiln/thread_pool.h"

namespace kiln::gbdt {
namespace {

// Rows per prediction block (fixed: part of the determinism contract).
constexpr std::size_t kPredictBlock = 64;
// LightGBM's zero band for missing type "zero" (LightGBM declares it as the float 1e-35f).
constexpr double kZeroThreshold = static_cast<double>(1e-35f);

[[noreturn]] void Bad(std::size_t tree, const std::string& what) {
  throw InputError("model tree " + std::to_string(tree) + ": " + what);
}

// Largest float not above v (so float x <= v exactly when x <= result).
float FloatAtOrBelow(double v) {
  if (std::isnan(v)) return std::numeric_limits<float>::quiet_NaN();
  float f = static_cast<float>(v);
  if (static_cast<double>(f) > v) f = std::nextafter(f, -std::numeric_limits<float>::infinity());
  return f;
}

}  // namespace

void ValidateForest(const Forest& f) {
  if (f.num_features < 1) throw InputError("model has no features");
  if (f.trees_per_iteration < 1) throw InputError("model trees_per_iteration must be >= 1");
  if (static_cast<int>(f.base_score.size()) != f.trees_per_iteration) {
    throw InputError("model base_score must have one value per tree class");
  }
  const std::size_t trees = f.num_trees();
  if (f.node_offset.size() != trees + 1 || f.leaf_offset.size() != trees + 1 ||
      f.cat_offset.size() != trees + 1) {
    throw InputError("model offsets must have trees + 1 entries");
  }
  if (trees % static_cast<std::size_t>(f.trees_per_iteration) != 0) {
    throw InputError("model tree count is not a multiple of trees per iteration");
  }
  const std::size_t nodes = f.split_feature.size();
  if (f.threshold.size() != nodes || f.decision_type.size() != nodes ||
      f.left_child.size() != nodes || f.right_child.size() != nodes) {
    throw InputError("model node arrays differ in length");
  }
  if (f.cat_bits.size() % kCatWords != 0) throw InputError("model cat_bits length is not whole sets");
  if (f.node_offset[0] != 0 || f.leaf_offset[0] != 0 || f.cat_offset[0] != 0 ||
      static_cast<std::size_t>(f.node_offset[trees]) != nodes ||
      static_cast<std::size_t>(f.leaf_offset[trees]) != f.leaf_value.size() ||
      static_cast<std::size_t>(f.cat_offset[trees]) * kCatWords != f.cat_bits.size()) {
    throw InputError("model offsets do not cover the arrays");
  }
  std::vector<std::uint8_t> seen;
  for (std::size_t t = 0; t < trees; ++t) {
    const std::int32_t n0 = f.node_offset[t], n1 = f.node_offset[t + 1];
    const std::int32_t l0 = f.leaf_offset[t], l1 = f.leaf_offset[t + 1];
    const std::int32_t c0 = f.cat_offset[t], c1 = f.cat_offset[t + 1];
    if (n1 < n0 || l1 < l0 || c1 < c0) Bad(t, "offsets decrease");
    const std::int32_t num_nodes = n1 - n0, num_leaves = l1 - l0;
    if (num_leaves != num_nodes + 1) Bad(t, "a tree must have one more leaf than internal nodes");
    for (std::int32_t l = l0; l < l1; ++l) {
      if (!std::isfinite(f.leaf_value[l])) Bad(t, "leaf value is not finite");
    }
    seen.assign(static_cast<std::size_t>(num_nodes + num_leaves), 0);
    for (std::int32_t i = 0; i < num_nodes; ++i) {
      const std::size_t n = static_cast<std::size_t>(n0 + i);
      if (f.split_feature[n] < 0 || f.split_feature[n] >= f.num_features) {
        Bad(t, "node " + std::to_string(i) + " splits on feature " +
                   std::to_string(f.split_feature[n]) + " of " + std::to_string(f.num_features));
      }
      const std::uint8_t d = f.decision_type[n];
      if (d > 15 || ((d >> 2) & 3) == 3) Bad(t, "node " + std::to_string(i) + " has a bad decision type");
      if (d & kDecisionCategorical) {
        const double c = f.threshold[n];
        if (!(c >= 0) || c >= static_cast<double>(c1 - c0) || std::floor(c) != c) {
          Bad(t, "node " + std::to_string(i) + " refers to a missing category set");
        }
      } else if (std::isnan(f.threshold[n])) {
        Bad(t, "node " + std::to_string(i) + " has a NaN threshold");
      }
      for (const std::int32_t child : {f.left_child[n], f.right_child[n]}) {
        std::int64_t slot;
        if (child >= 0) {
          if (child >= num_nodes || child == 0) Bad(t, "child index out of range");
          slot = child;
        } else {
          const std::int64_t leaf = ~static_cast<std::int64_t>(child);
          if (leaf >= num_leaves) Bad(t, "leaf index out of range");
          slot = num_nodes + leaf;
        }
        if (seen[static_cast<std::size_t>(slot)]++) Bad(t, "a node or leaf is reached twice");
      }
    }
    // Every node but the root and every leaf must be reached exactly once.
    if (num_nodes > 0) {
      for (std::size_t slot = 1; slot < seen.size(); ++slot) {
        if (seen[slot] != 1) Bad(t, "a node or leaf is unreachable");
      }
    }
    // Nodes reached once each could still form a cycle detached from the root: walk from it.
    if (num_nodes > 0) {
      std::vector<std::int32_t> stack{0};
      std::int32_t visited = 0;
      while (!stack.empty()) {
        const std::int32_t i = stack.back();
        stack.pop_back();
        if (++visited > num_nodes) Bad(t, "the tree has a cycle");
        const std::size_t n = static_cast<std::size_t>(n0 + i);
        if (f.left_child[n] >= 0) stack.push_back(f.left_child[n]);
        if (f.right_child[n] >= 0) stack.push_back(f.right_child[n]);
      }
      if (visited != num_nodes) Bad(t, "a node is unreachable from the root");
    }
  }
}

Predictor::Predictor(const Forest& f) {
  ValidateForest(f);
  num_features_ = f.num_features;
  k_ = f.trees_per_iteration;
  base_ = f.base_score;
  leaf_value_ = f.leaf_value;
  cat_bits_ = f.cat_bits;
  const std::size_t trees = f.num_trees();
  tree_root_.resize(trees);
  tree_leaf0_.resize(trees);
  tree_single_leaf_.resize(trees);
  tree_fast_.assign(trees, 1);
  nodes_.resize(f.split_feature.size());
  kinds_.resize(f.split_feature.size());
  for (std::size_t t = 0; t < trees; ++t) {
    const std::int32_t n0 = f.node_offset[t], n1 = f.node_offset[t + 1];
    const std::int32_t l0 = f.leaf_offset[t];
    tree_root_[t] = n0;
    tree_leaf0_[t] = l0;
    tree_single_leaf_[t] = n1 == n0 ? 1 : 0;
    for (std::int32_t n = n0; n < n1; ++n) {
      const std::size_t i = static_cast<std::size_t>(n);
      Node& nd = nodes_[i];
      NodeKind& kd = kinds_[i];
      const std::uint8_t d = f.decision_type[i];
      auto child = [&](std::int32_t c) { return c >= 0 ? c : ~(l0 + ~c); };
      nd.child[0] = child(f.left_child[i]);
      nd.child[1] = child(f.right_child[i]);
      const bool default_left = (d & kDecisionDefaultLeft) != 0;
      nd.feature_dl = static_cast<std::int32_t>(static_cast<std::uint32_t>(f.split_feature[i]) | (default_left ? 0x80000000u : 0u));
      const int missing = (d >> 2) & 3;
      if (d & kDecisionCategorical) {
        kd.kind = 3;
        kd.nan_missing = missing == kMissingNan ? 1 : 0;
        kd.cat = f.cat_offset[t] + static_cast<std::int32_t>(f.threshold[i]);
        nd.thr64 = 0;
        nd.thr32 = 0;
      } else {
        kd.kind = missing == kMissingNan ? 0 : (missing == kMissingNone ? 1 : 2);
        kd.nan_missing = missing == kMissingNan ? 1 : 0;
        kd.cat = -1;
        double thr = f.threshold[i];
        // x < t is x <= (t one ulp down); nothing is below -Infinity: a NaN threshold sends
        // every non-missing value right (QuickScorer skips such trees).
        if (f.decision_lt) {
          thr = thr == -std::numeric_limits<double>::infinity()
                    ? std::numeric_limits<double>::quiet_NaN()
                    : std::nextafter(thr, -std::numeric_limits<double>::infinity());
        }
        nd.thr64 = thr;
        nd.thr32 = FloatAtOrBelow(thr);
      }
      if (kd.kind != 0) tree_fast_[t] = 0;
    }
  }
  BuildQuickScorer(f);
  BuildRowPath(f);
  source_ = f;
}

void Predictor::BuildQuickScorer(const Forest& f) {
  using qs_impl::kQsLanes;
  const std::size_t trees = f.num_trees();
  const std::uint32_t lanes = static_cast<std::uint32_t>(kQsLanes);
  tree_qs_.assign(trees, 0);
  qs_leaf_off_.assign(trees, -1);
  qs_tree_begin_.assign(trees + 1, 0);
  qs_leaf_value_.clear();
  qs_thr_.clear();
  qs_mask_.clear();
  qs_xoff_.clear();
  bool any = false;
  for (std::size_t t = 0; t < trees; ++t) {
    const std::int32_t n0 = f.node_offset[t], n1 = f.node_offset[t + 1];
    const std::int32_t l0 = f.leaf_offset[t], l1 = f.leaf_offset[t + 1];
    qs_tree_begin_[t] = static_cast<std::int32_t>(qs_thr_.size());
    bool ok = tree_fast_[t] && l1 - l0 <= 64;
    for (std::int32_t n = n0; ok && n < n1; ++n) {
      ok = nodes_[static_cast<std::size_t>(n)].thr64 < std::numeric_limits<double>::infinity();
    }
    if (!ok) continue;
    any = true;
    tree_qs_[t] = 1;
    qs_leaf_off_[t] = static_cast<std::int32_t>(qs_leaf_value_.size());
    if (tree_single_leaf_[t]) {
      qs_leaf_value_.push_back(f.leaf_value[static_cast<std::size_t>(l0)]);
      continue;
    }
    // In-order leaf numbering; each node records the leaves of its left subtree (depth <= 63).
    int next = 0;
    std::function<std::uint64_t(std::int32_t)> walk = [&](std::int32_t c) -> std::uint64_t {
      if (c < 0) {
        qs_leaf_value_.push_back(f.leaf_value[static_cast<std::size_t>(l0 + ~c)]);
        return std::uint64_t{1} << (next++);
      }
      const std::size_t i = static_cast<std::size_t>(n0 + c);
      const std::uint64_t left = walk(f.left_child[i]);
      const std::uint64_t right = walk(f.right_child[i]);
      const Node& nd = nodes_[i];
      const std::uint32_t feat = static_cast<std::uint32_t>(nd.feature_dl & 0x7fffffff);
      qs_thr_.push_back(nd.thr64);
      qs_mask_.push_back(left);
      qs_xoff_.push_back(feat | (nd.feature_dl < 0 ? 0u : 0x80000000u));  // remapped below
      return left | right;
    };
    walk(0);
  }
  qs_tree_begin_[trees] = static_cast<std::int32_t>(qs_thr_.size());
  // Only the features QuickScorer trees split on are transposed into the lane buffer.
  std::vector<std::int32_t> compact(static_cast<std::size_t>(num_features_), -1);
  qs_features_.clear();
  for (const std::uint32_t x : qs_xoff_) {
    const std::size_t feat = x & 0x7fffffffu;
    if (compact[feat] < 0) compact[feat] = 0;
  }
  for (std::size_t feat = 0; feat < compact.size(); ++feat) {
    if (compact[feat] >= 0) {
      compact[feat] = static_cast<std::int32_t>(qs_features_.size());
      qs_features_.push_back(static_cast<std::int32_t>(feat));
    }
  }
  const std::uint32_t nan_right = static_cast<std::uint32_t>(qs_features_.size()) * lanes;
  for (std::uint32_t& x : qs_xoff_) {
    const std::uint32_t c = static_cast<std::uint32_t>(compact[x & 0x7fffffffu]);
    x = c * lanes + ((x & 0x80000000u) != 0 ? nan_right : 0u);
  }
  // Lane scratch is 2 * features * kQsLanes values per thread: very wide models traverse.
  if (qs_features_.size() > 8192) any = false;
  qs_prefix_ = 0;
  while (static_cast<std::size_t>(qs_prefix_) < trees && tree_qs_[static_cast<std::size_t>(qs_prefix_)]) ++qs_prefix_;
  // Float32 tables: the same nodes regrouped by the candidate half their mask touches.
  qs32_group_.assign(3 * trees + 1, 0);
  qs32_thr_.clear();
  qs32_mask_.clear();
  qs32_xoff_.clear();
  for (std::size_t t = 0; t < trees; ++t) {
    const std::size_t b = static_cast<std::size_t>(qs_tree_begin_[t]);
    const std::size_t e = static_cast<std::size_t>(qs_tree_begin_[t + 1]);
    for (int grp = 0; grp < 3; ++grp) {
      qs32_group_[3 * t + static_cast<std::size_t>(grp)] = static_cast<std::int32_t>(qs32_thr_.size());
      for (std::size_t i = b; i < e; ++i) {
        const std::uint64_t m = qs_mask_[i];
        const int g = (m >> 32) == 0 ? 0 : (m & 0xffffffffu) == 0 ? 1 : 2;
        if (g != grp) continue;
        qs32_thr_.push_back(FloatAtOrBelow(qs_thr_[i]));
        qs32_mask_.push_back(m);
        qs32_xoff_.push_back(qs_xoff_[i]);
      }
    }
  }
  qs32_group_[3 * trees] = static_cast<std::int32_t>(qs32_thr_.size());
#if KILN_HAVE_AVX2_TU
  qs_enabled_ = any && DetectedSimdLevel() == SimdLevel::kAvx2;
#else
  (void)any;
  qs_enabled_ = false;
#endif
}

// Rows traversed together through one tree (independent chains hide load latency); the one-row
// path steps this many trees together.
constexpr int kLanes = 8;
// Largest feature count of the one-row fast path (its NaN-substituted row copy is on the stack).
constexpr int kRowPathMaxFeatures = 512;

void Predictor::BuildRowPath(const Forest& f) {
  const std::size_t trees = f.num_trees();
  const std::uint32_t nf = static_cast<std::uint32_t>(num_features_);
  row_nodes_.clear();
  row_tree_begin_.assign(trees, -1);
  std::vector<std::int32_t> depth(trees, 0);
  for (std::size_t t = 0; t < trees; ++t) {
    const std::int32_t n0 = f.node_offset[t], n1 = f.node_offset[t + 1];
    const std::int32_t l0 = f.leaf_offset[t], l1 = f.leaf_offset[t + 1];
    const std::int32_t num_nodes = n1 - n0;
    bool ok = tree_fast_[t];
    for (std::int32_t n = n0; ok && n < n1; ++n) {
      ok = nodes_[static_cast<std::size_t>(n)].thr64 < std::numeric_limits<double>::infinity();
    }
    const std::size_t b = row_nodes_.size();
    const std::size_t end = b + static_cast<std::size_t>(num_nodes + (l1 - l0));
    if (!ok || end * sizeof(RowNode) > 0xffffffffu) continue;
    row_tree_begin_[t] = static_cast<std::int64_t>(b * sizeof(RowNode));
    row_nodes_.resize(end);
    auto offset = [&](std::int32_t c) {
      const std::size_t i = b + static_cast<std::size_t>(c >= 0 ? c : num_nodes + ~c);
      return static_cast<std::uint32_t>(i * sizeof(RowNode));
    };
    for (std::int32_t i = 0; i < num_nodes; ++i) {
      const Node& nd = nodes_[static_cast<std::size_t>(n0 + i)];
      RowNode& rn = row_nodes_[b + static_cast<std::size_t>(i)];
      const std::uint32_t feat = static_cast<std::uint32_t>(nd.feature_dl & 0x7fffffff);
      rn.thr = nd.thr64;
      rn.xoff = feat + (nd.feature_dl < 0 ? 0u : nf);
      rn.child[0] = offset(f.left_child[static_cast<std::size_t>(n0 + i)]);
      rn.child[1] = offset(f.right_child[static_cast<std::size_t>(n0 + i)]);
      rn.pad = 0;
    }
    for (std::int32_t l = 0; l < l1 - l0; ++l) {
      RowNode& rn = row_nodes_[b + static_cast<std::size_t>(num_nodes + l)];
      rn.thr = f.leaf_value[static_cast<std::size_t>(l0 + l)];
      rn.xoff = 0;
      rn.child[0] = rn.child[1] = offset(~l);
      rn.pad = 0;
    }
    // Deepest leaf (edges from the root).
    if (num_nodes > 0) {
      std::vector<std::pair<std::int32_t, std::int32_t>> stack{{0, 0}};
      while (!stack.empty()) {
        const auto [i, d] = stack.back();
        stack.pop_back();
        depth[t] = std::max(depth[t], d + 1);
        for (const std::int32_t c : {f.left_child[static_cast<std::size_t>(n0 + i)], f.right_child[static_cast<std::size_t>(n0 + i)]}) {
          if (c >= 0) stack.emplace_back(c, d + 1);
        }
      }
    }
  }
  const std::size_t groups = (trees + kLanes - 1) / kLanes;
  row_group_depth_.assign(groups, 0);
  for (std::size_t g = 0; g < groups; ++g) {
    for (std::size_t t = g * kLanes; t < std::min(trees, (g + 1) * kLanes); ++t) {
      if (row_tree_begin_[t] < 0) {
        row_group_depth_[g] = -1;
        break;
      }
      row_group_depth_[g] = std::max(row_group_depth_[g], depth[t]);
    }
  }
}

template <class T>
inline int Predictor::LeafOf(int tree, const T* x, std::size_t stride) const {
  if (tree_single_leaf_[static_cast<std::size_t>(tree)]) return tree_leaf0_[static_cast<std::size_t>(tree)];
  const std::size_t root = static_cast<std::size_t>(tree_root_[static_cast<std::size_t>(tree)]);
  const Node* base = nodes_.data() + root;
  const NodeKind* kinds = kinds_.data() + root;
  std::int32_t n = 0;
  while (n >= 0) {
    const Node& nd = base[n];
    const NodeKind& kd = kinds[n];
    const bool default_left = nd.feature_dl < 0;
    const T v = x[static_cast<std::size_t>(nd.feature_dl & 0x7fffffff) * stride];
    double d = static_cast<double>(v);
    bool left;
    if (kd.kind == 3) {
      if (std::isnan(d)) {
        if (kd.nan_missing) {
          n = nd.child[default_left ? 0 : 1];
          continue;
        }
        d = 0;
      }
      if (d < 0 || d >= 256) {
        left = false;
      } else {
        const std::uint32_t code = static_cast<std::uint32_t>(d);
        const std::uint32_t* bits = cat_bits_.data() + static_cast<std::size_t>(kd.cat) * kCatWords;
        left = (bits[code >> 5] >> (code & 31)) & 1;
      }
    } else {
      bool missing = false;
      if (kd.kind == 0) missing = std::isnan(d);
      else if (kd.kind == 1 && std::isnan(d)) d = 0;
      else if (kd.kind == 2) missing = std::isnan(d) || (d >= -kZeroThreshold && d <= kZeroThreshold);
      if (missing) {
        left = default_left;
      } else if constexpr (sizeof(T) == 4) {
        left = static_cast<float>(d) <= nd.thr32;
      } else {
        left = d <= nd.thr64;
      }
    }
    n = nd.child[left ? 0 : 1];
  }
  return ~n;
}

template <class T>
void Predictor::TraverseTree(int t, const T* base, std::size_t row_stride, std::size_t feat_stride,
                             std::size_t rows, double* out) const {
  const std::size_t k = static_cast<std::size_t>(k_);
  const std::size_t cls = static_cast<std::size_t>(t) % k;
  const std::size_t ts = static_cast<std::size_t>(t);
  if (tree_single_leaf_[ts]) {
    const double v = leaf_value_[static_cast<std::size_t>(tree_leaf0_[ts])];
    for (std::size_t r = 0; r < rows; ++r) out[r * k + cls] += v;
    return;
  }
  std::size_t r = 0;
  if (tree_fast_[ts]) {
    const Node* nodes = nodes_.data() + tree_root_[ts];
    for (; r + kLanes <= rows; r += kLanes) {
      std::int32_t n[kLanes] = {};
      for (;;) {
        bool active = false;
        for (int j = 0; j < kLanes; ++j) {
          const std::int32_t cur = n[j];
          const Node& nd = nodes[cur < 0 ? 0 : cur];
          const T x = base[(r + static_cast<std::size_t>(j)) * row_stride +
                           static_cast<std::size_t>(nd.feature_dl & 0x7fffffff) * feat_stride];
          bool le;
          if constexpr (sizeof(T) == 4) le = x <= nd.thr32;
          else le = x <= nd.thr64;
          const bool go_left = le | ((x != x) & (nd.feature_dl < 0));
          const std::int32_t next = nd.child[go_left ? 0 : 1];
          n[j] = cur < 0 ? cur : next;
          active |= n[j] >= 0;
        }
        if (!active) break;
      }
      for (int j = 0; j < kLanes; ++j) out[(r + static_cast<std::size_t>(j)) * k + cls] += leaf_value_[static_cast<std::size_t>(~n[j])];
    }
  }
  for (; r < rows; ++r) {
    const int leaf = LeafOf<T>(t, base + r * row_stride, feat_stride);
    out[r * k + cls] += leaf_value_[static_cast<std::size_t>(leaf)];
  }
}

template <class T>
void Predictor::PredictBlock(const T* base, std::size_t row_stride, std::size_t feat_stride,
                             std::size_t rows, int num_trees, double* out) const {
  const std::size_t k = static_cast<std::size_t>(k_);
  for (std::size_t r = 0; r < rows; ++r) {
    for (std::size_t c = 0; c < k; ++c) out[r * k + c] = base_[c];
  }
  for (int t = 0; t < num_trees; ++t) TraverseTree(t, base, row_stride, feat_stride, rows, out);
}

// QuickScorer over groups of kQsLanes rows (a short last group repeats its first row in the unused
// lanes). Every row gets exactly the traversal's leaves, added in tree order, so the margins are
// bit-identical to PredictBlock's.
template <class T>
void Predictor::PredictBlockQs(const T* base, std::size_t row_stride, std::size_t feat_stride,
                               std::size_t rows, int num_trees, double* out) const {
#if KILN_HAVE_AVX2_TU
  using qs_impl::kQsLanes;
  constexpr std::size_t G = static_cast<std::size_t>(kQsLanes);
  const std::size_t k = static_cast<std::size_t>(k_);
  const std::size_t nf = qs_features_.size();
  const std::int32_t* feats = qs_features_.data();
  const std::size_t trees = tree_root_.size();
  // Per-thread scratch, grown once (prediction stays allocation-free in steady state).
  // Lanes are doubles for float64 inputs, floats for float32 inputs (exact either way).
  thread_local std::vector<T> xbuf;
  thread_local std::vector<std::uint64_t> cand;
  if (xbuf.size() < 2 * nf * G) xbuf.resize(2 * nf * G);
  if (cand.size() < trees * G) cand.resize(trees * G);
  constexpr T kInf = std::numeric_limits<T>::infinity();
  for (std::size_t r = 0; r < rows; ++r) {
    for (std::size_t c = 0; c < k; ++c) out[r * k + c] = base_[c];
  }
  T* xl = xbuf.data();
  T* xr = xl + nf * G;
  for (std::size_t g0 = 0; g0 < rows; g0 += G) {
    const std::size_t n = std::min(G, rows - g0);
    for (std::size_t j = 0; j < G; ++j) {
      const T* row = base + (g0 + (j < n ? j : 0)) * row_stride;
      for (std::size_t f = 0; f < nf; ++f) {
        const T v = row[static_cast<std::size_t>(feats[f]) * feat_stride];
        const bool nan = v != v;
        xl[f * G + j] = nan ? -kInf : v;
        xr[f * G + j] = nan ? kInf : v;
      }
    }
    if constexpr (sizeof(T) == 4) {
      const qs_impl::QsView32 view{qs32_group_.data(), qs32_thr_.data(), qs32_mask_.data(), qs32_xoff_.data()};
      qs_impl::QsScoreAvx2F32(view, xbuf.data(), num_trees, cand.data());
    } else {
      const qs_impl::QsView view{qs_tree_begin_.data(), qs_thr_.data(), qs_mask_.data(), qs_xoff_.data()};
      qs_impl::QsScoreAvx2(view, xbuf.data(), num_trees, cand.data());
    }
    double* o = out + g0 * k;
    if (num_trees <= qs_prefix_) {
      // Every tree is QuickScorer: per row (eight at a time: independent add chains) and class,
      // leaves added in tree order with the running sums in registers.
      constexpr std::size_t kR = 8;
      const int kc = k_;
      std::size_t j = 0;
      for (; j + kR <= n; j += kR) {
        for (int c = 0; c < kc; ++c) {
          double sum[kR];
          for (std::size_t q = 0; q < kR; ++q) sum[q] = o[(j + q) * k + static_cast<std::size_t>(c)];
          for (int t = c; t < num_trees; t += kc) {
            const std::uint64_t* cw = cand.data() + static_cast<std::size_t>(t) * G + j;
            const double* lv = qs_leaf_value_.data() + qs_leaf_off_[static_cast<std::size_t>(t)];
            for (std::size_t q = 0; q < kR; ++q) sum[q] += lv[__builtin_ctzll(cw[q])];
          }
          for (std::size_t q = 0; q < kR; ++q) o[(j + q) * k + static_cast<std::size_t>(c)] = sum[q];
        }
      }
      for (; j < n; ++j) {
        for (int c = 0; c < kc; ++c) {
          double s = o[j * k + static_cast<std::size_t>(c)];
          for (int t = c; t < num_trees; t += kc) {
            const double* lv = qs_leaf_value_.data() + qs_leaf_off_[static_cast<std::size_t>(t)];
            s += lv[__builtin_ctzll(cand[static_cast<std::size_t>(t) * G + j])];
          }
          o[j * k + static_cast<std::size_t>(c)] = s;
        }
      }
      continue;
    }
    for (int t = 0; t < num_trees; ++t) {
      const std::size_t ts = static_cast<std::size_t>(t);
      if (!tree_qs_[ts]) {
        TraverseTree(t, base + g0 * row_stride, row_stride, feat_stride, n, o);
        continue;
      }
      const std::size_t cls = ts % k;
      const double* lv = qs_leaf_value_.data() + qs_leaf_off_[ts];
      const std::uint64_t* c = cand.data() + ts * G;
      for (std::size_t j = 0; j < n; ++j) o[j * k + cls] += lv[__builtin_ctzll(c[j])];
    }
  }
#else
  PredictBlock(base, row_stride, feat_stride, rows, num_trees, out);
#endif
}

void Predictor::PredictMargin(const MatrixView& m, int num_trees, int num_threads,
                              double* out) const {
  ValidateMatrix(m);
  if (m.cols != static_cast<std::size_t>(num_features_)) {
    throw InputError("the model has " + std::to_string(num_features_) + " features but the data has " +
                     std::to_string(m.cols) + " columns");
  }
  if (num_trees < 0 || num_trees > this->num_trees() || num_trees % k_ != 0) {
    throw InputError("num_trees must be a multiple of " + std::to_string(k_) + " in [0, " +
                     std::to_string(this->num_trees()) + "]");
  }
  const bool row_major = m.layout == Layout::kRow;
  const std::size_t row_stride = row_major ? m.cols : 1;
  const std::size_t feat_stride = row_major ? 1 : m.rows;
  const std::size_t blocks = NumBlocks(m.rows, kPredictBlock);
  const int threads = m.rows < 4096 ? 1 : ResolveNumThreads(num_threads);
  ParallelFor(blocks, threads, [&](std::size_t b) {
    const std::size_t r0 = b * kPredictBlock;
    const std::size_t n = std::min(kPredictBlock, m.rows - r0);
    double* dst = out + r0 * static_cast<std::size_t>(k_);
    if (m.dtype == DType::kFloat32) {
      const float* src = static_cast<const float*>(m.data) + r0 * row_stride;
      if (qs_enabled_) PredictBlockQs(src, row_stride, feat_stride, n, num_trees, dst);
      else PredictBlock(src, row_stride, feat_stride, n, num_trees, dst);
    } else {
      const double* src = static_cast<const double*>(m.data) + r0 * row_stride;
      if (qs_enabled_) PredictBlockQs(src, row_stride, feat_stride, n, num_trees, dst);
      else PredictBlock(src, row_stride, feat_stride, n, num_trees, dst);
    }
  });
}

// One row: kLanes trees traversed together (independent load chains), leaves added in tree order.
void Predictor::PredictRowMargin(const double* row, int num_trees, double* out) const {
  static const Node kDone{0.0, 0.0f, 0, {-1, -1}};
  for (int c = 0; c < k_; ++c) out[c] = base_[static_cast<std::size_t>(c)];
  const bool fast_row = num_features_ <= kRowPathMaxFeatures;
  double row2[2 * kRowPathMaxFeatures];
  if (fast_row) {
    constexpr double kInf = std::numeric_limits<double>::infinity();
    for (int i = 0; i < num_features_; ++i) {
      const double v = row[i];
      row2[i] = v != v ? -kInf : v;
      row2[i + num_features_] = v != v ? kInf : v;
    }
  }
  const int total = this->num_trees();
  for (int t0 = 0; t0 < num_trees; t0 += kLanes) {
    const int cnt = std::min(kLanes, num_trees - t0);
    const int levels = row_group_depth_[static_cast<std::size_t>(t0 / kLanes)];
    if (fast_row && levels >= 0) {
      // Every tree of the group (up to the forest's end) is eligible: fixed-depth lock-step.
      // Lanes past the forest's end sit on its first tree's root and are never added.
      const char* nb = reinterpret_cast<const char*>(row_nodes_.data());
      std::uint32_t n[kLanes];
      for (int j = 0; j < kLanes; ++j) {
        n[j] = static_cast<std::uint32_t>(row_tree_begin_[static_cast<std::size_t>(t0 + j < total ? t0 + j : t0)]);
      }
      for (int d = 0; d < levels; ++d) {
        for (int j = 0; j < kLanes; ++j) {
          const RowNode& nd = *reinterpret_cast<const RowNode*>(nb + n[j]);
          n[j] = nd.child[row2[nd.xoff] <= nd.thr ? 0 : 1];
        }
      }
      for (int j = 0; j < cnt; ++j) out[(t0 + j) % k_] += reinterpret_cast<const RowNode*>(nb + n[j])->thr;
      continue;
    }
    const Node* root[kLanes];
    std::int32_t n[kLanes];
    for (int j = 0; j < kLanes; ++j) {
      const std::size_t ts = static_cast<std::size_t>(t0 + j);
      if (j < cnt && tree_fast_[ts] && !tree_single_leaf_[ts]) {
        root[j] = nodes_.data() + tree_root_[ts];
        n[j] = 0;
      } else {
        root[j] = &kDone;
        n[j] = j < cnt ? ~LeafOf<double>(t0 + j, row, 1) : -1;
      }
    }
    for (;;) {
      bool active = false;
      for (int j = 0; j < kLanes; ++j) {
        const std::int32_t cur = n[j];
        const Node& nd = root[j][cur < 0 ? 0 : cur];
        const double x = row[static_cast<std::size_t>(nd.feature_dl & 0x7fffffff)];
        const bool go_left = (x <= nd.thr64) | ((x != x) & (nd.feature_dl < 0));
        const std::int32_t next = nd.child[go_left ? 0 : 1];
        n[j] = cur < 0 ? cur : next;
        active |= n[j] >= 0;
      }
      if (!active) break;
    }
    for (int j = 0; j < cnt; ++j) out[(t0 + j) % k_] += leaf_value_[static_cast<std::size_t>(~n[j])];
  }
}

void Predictor::Importance(int num_trees, std::vector<double>* split_count,
                           std::vector<double>* gain) const {
  split_count->assign(static_cast<std::size_t>(num_features_), 0.0);
  gain->assign(static_cast<std::size_t>(num_features_), 0.0);
  const int trees = std::min(num_trees, this->num_trees());
  for (int t = 0; t < trees; ++t) {
    const std::int32_t n0 = source_.node_offset[static_cast<std::size_t>(t)];
    const std::int32_t n1 = source_.node_offset[static_cast<std::size_t>(t) + 1];
    for (std::int32_t n = n0; n < n1; ++n) {
      const std::size_t f = static_cast<std::size_t>(source_.split_feature[static_cast<std::size_t>(n)]);
      (*split_count)[f] += 1;
      if (static_cast<std::size_t>(n) < source_.split_gain.size()) (*gain)[f] += source_.split_gain[static_cast<std::size_t>(n)];
    }
  }
}

void TransformMargins(Objective objective, int k, std::size_t rows, double* values) {
  if (objective == Objective::kBinary) {
    for (std::size_t i = 0; i < rows; ++i) values[i] = 1.0 / (1.0 + std::exp(-values[i]));
  } else if (objective == Objective::kMulticlass) {
    for (std::size_t r = 0; r < rows; ++r) {
      double* v = values + r * static_cast<std::size_t>(k);
      double mx = v[0];
      for (int c = 1; c < k; ++c) mx = std::max(mx, v[c]);
      double sum = 0;
      for (int c = 0; c < k; ++c) {
        v[c] = std::exp(v[c] - mx);
        sum += v[c];
      }
      for (int c = 0; c < k; ++c) v[c] /= sum;
    }
  }
}

}  // namespace kiln::gbdt
