// Internal QuickScorer kernel interface shared by predict.cc (portable) and predict_avx2.cc
// (-mavx2 -mfma). Like binning/binning.h this header must stay free of inline library code (only
// <cstddef>/<cstdint>): an inline function instantiated in the AVX2 TU could be picked by the
// linker for portable callers and fault on CPUs without AVX2.
#pragma once

#include <cstddef>
#include <cstdint>

namespace kiln::gbdt::qs_impl {

// Rows scored together by one kernel call (lanes of the candidate words of each tree).
inline constexpr int kQsLanes = 16;

// Borrowed views of the Predictor's QuickScorer tables (see kiln/gbdt.h).
struct QsView {
  int num_features;
  int num_slots;                   // trees (candidate words: num_slots * kQsLanes)
  const std::int32_t* feat_begin;  // num_features + 1
  const double* thr;               // ascending per feature, NaN sentinel closes each run
  const std::uint64_t* mask;       // left-subtree leaves of the node
  const std::uint32_t* slot;       // tree * kQsLanes
  const std::int32_t* nan_begin;   // num_features + 1
  const std::uint64_t* nan_mask;
  const std::uint32_t* nan_slot;
};

#if KILN_HAVE_AVX2_TU
// x: num_features * kQsLanes doubles, feature-major (x[f * kQsLanes + lane]); maxv[f]: largest
// non-NaN value of feature f over the lanes (-Infinity if none); nan_lanes[f]: bit j set when lane
// j of feature f is NaN. Writes cand[slot + lane] = candidate leaves of that tree for that lane
// (the exit leaf is the lowest set bit). Call only if CpuSupportsAvx2().
void QsScoreAvx2(const QsView& v, const double* x, const double* maxv,
                 const std::uint32_t* nan_lanes, std::uint64_t* cand);
#endif

}  // namespace kiln::gbdt::qs_impl
