// Internal QuickScorer kernel interface shared by predict.cc (portable) and predict_avx2.cc
// (-mavx2 -mfma). Like binning/binning.h this header must stay free of inline library code (only
// <cstddef>/<cstdint>): an inline function instantiated in the AVX2 TU could be picked by the
// linker for portable callers and fault on CPUs without AVX2.
#pragma once

#include <cstddef>
#include <cstdint>

namespace kiln::gbdt::qs_impl {

// Rows scored together by one kernel call (lanes of the candidate words of each tree).
inline constexpr int kQsLanes = 32;

// Borrowed views of the Predictor's QuickScorer tables (see kiln/gbdt.h).
struct QsView {
  const std::int32_t* tree_begin;  // trees + 1 offsets into the node arrays (empty: not QS)
  const double* thr;               // node threshold (x > thr: the row goes right)
  const std::uint64_t* mask;       // node's left-subtree leaves (in-order numbering)
  const std::uint32_t* xoff;       // offset of the node's feature lanes in x (NaN-side buffer)
};

// Float32 tables: per tree three node groups (offsets group[3t] .. group[3t+3]): nodes whose
// left-subtree leaves are all below leaf 32, all at or above 32, and both. The candidate words are
// held as two 32-bit halves so a float compare mask (8 lanes) applies directly, and a node of the
// first two groups touches one half only.
struct QsView32 {
  const std::int32_t* group;       // 3 * trees + 1 offsets into the node arrays
  const float* thr;                // thr32: float x > thr32 exactly when x > thr64
  const std::uint64_t* mask;
  const std::uint32_t* xoff;
};

#if KILN_HAVE_AVX2_TU
// x: 2 * num_features * kQsLanes doubles: x[f * kQsLanes + lane] with NaN replaced by -Infinity
// (default-left nodes read it), then the same with NaN replaced by +Infinity (default-right
// nodes). Writes cand[t * kQsLanes + lane], t < num_trees, = candidate leaves of tree t for the
// lane (exit leaf: lowest set bit). Call only if CpuSupportsAvx2().
void QsScoreAvx2(const QsView& v, const double* x, int num_trees, std::uint64_t* cand);
// Same contract for float32 inputs: x holds floats (NaN -> -/+Infinity copies as above).
void QsScoreAvx2F32(const QsView32& v, const float* x, int num_trees, std::uint64_t* cand);
#endif

}  // namespace kiln::gbdt::qs_impl
