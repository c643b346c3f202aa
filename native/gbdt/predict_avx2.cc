// QuickScorer (Lucchese et al., SIGIR'15) vectorised over kQsLanes rows: AVX2 kernel (this TU
// alone is compiled with -mavx2 -mfma). Includes nothing but <immintrin.h> and the plain internal
// header (see predict_qs.h for why).
//
// A tree's 16 candidate words live in four registers while all its nodes are applied: a node is
// "false" for a row when the row goes right (x > thr) and then clears its left-subtree leaves.
// Nodes are independent, so there is no branch and no dependent load. Rows are compared as
// doubles: for float inputs the widening is exact and x <= thr64 is the same test as x <= thr32.
// NaN goes left on default-left nodes (read from the NaN -> -Infinity copy, never > thr) and right
// on default-right nodes (NaN -> +Infinity copy; trees with a +Infinity threshold are not QS).
#include <immintrin.h>

#include "gbdt/predict_qs.h"

namespace kiln::gbdt::qs_impl {

static_assert(kQsLanes == 32, "the kernels hold 32 lanes: 8 double or 4 float vectors");

// Compares are written thr < x so the x load folds into the compare (x is never NaN here: NaN
// lanes hold -/+Infinity, and QuickScorer thresholds are never NaN).
void QsScoreAvx2(const QsView& v, const double* x, int num_trees, std::uint64_t* cand) {
  constexpr int kV = kQsLanes / 4;
  for (int t = 0; t < num_trees; ++t) {
    __m256i c[kV];
    for (int q = 0; q < kV; ++q) c[q] = _mm256_set1_epi64x(-1);
    const std::size_t e = static_cast<std::size_t>(v.tree_begin[t + 1]);
    for (std::size_t i = static_cast<std::size_t>(v.tree_begin[t]); i < e; ++i) {
      const double* xf = x + v.xoff[i];
      const __m256d th = _mm256_broadcast_sd(v.thr + i);
      const __m256i m = _mm256_set1_epi64x(static_cast<long long>(v.mask[i]));
      for (int q = 0; q < kV; ++q) {
        const __m256i g = _mm256_castpd_si256(_mm256_cmp_pd(th, _mm256_loadu_pd(xf + 4 * q), _CMP_LT_OQ));
        c[q] = _mm256_andnot_si256(_mm256_and_si256(g, m), c[q]);
      }
    }
    __m256i* out = reinterpret_cast<__m256i*>(cand + static_cast<std::size_t>(t) * kQsLanes);
    for (int q = 0; q < kV; ++q) _mm256_storeu_si256(out + q, c[q]);
  }
}

namespace {

constexpr int kF32Vectors = kQsLanes / 8;

// Applies nodes [b, e) to the 32-bit candidate halves of the lanes (vectors of 8 rows).
template <bool kLo, bool kHi>
inline void ApplyF32(const QsView32& v, const float* x, std::size_t b, std::size_t e, __m256i* lo,
                     __m256i* hi) {
  for (std::size_t i = b; i < e; ++i) {
    const float* xf = x + v.xoff[i];
    const __m256 th = _mm256_broadcast_ss(v.thr + i);
    const std::uint64_t mask = v.mask[i];
    const __m256i ml = _mm256_set1_epi32(static_cast<int>(static_cast<std::uint32_t>(mask)));
    const __m256i mh = _mm256_set1_epi32(static_cast<int>(static_cast<std::uint32_t>(mask >> 32)));
    for (int q = 0; q < kF32Vectors; ++q) {
      const __m256i g = _mm256_castps_si256(_mm256_cmp_ps(th, _mm256_loadu_ps(xf + 8 * q), _CMP_LT_OQ));
      if (kLo) lo[q] = _mm256_andnot_si256(_mm256_and_si256(g, ml), lo[q]);
      if (kHi) hi[q] = _mm256_andnot_si256(_mm256_and_si256(g, mh), hi[q]);
    }
  }
}

// Interleaves 8 low and 8 high halves into 8 uint64 words (row order kept).
inline void Store8(__m256i lo, __m256i hi, std::uint64_t* out) {
  const __m256i a = _mm256_unpacklo_epi32(lo, hi);  // rows 0 1 | 4 5
  const __m256i b = _mm256_unpackhi_epi32(lo, hi);  // rows 2 3 | 6 7
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(out), _mm256_permute2x128_si256(a, b, 0x20));
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + 4), _mm256_permute2x128_si256(a, b, 0x31));
}

}  // namespace

void QsScoreAvx2F32(const QsView32& v, const float* x, int num_trees, std::uint64_t* cand) {
  for (int t = 0; t < num_trees; ++t) {
    __m256i lo[kF32Vectors], hi[kF32Vectors];
    for (int q = 0; q < kF32Vectors; ++q) lo[q] = hi[q] = _mm256_set1_epi32(-1);
    const std::int32_t* g = v.group + 3 * static_cast<std::size_t>(t);
    ApplyF32<true, false>(v, x, static_cast<std::size_t>(g[0]), static_cast<std::size_t>(g[1]), lo, hi);
    ApplyF32<false, true>(v, x, static_cast<std::size_t>(g[1]), static_cast<std::size_t>(g[2]), lo, hi);
    ApplyF32<true, true>(v, x, static_cast<std::size_t>(g[2]), static_cast<std::size_t>(g[3]), lo, hi);
    std::uint64_t* out = cand + static_cast<std::size_t>(t) * kQsLanes;
    for (int q = 0; q < kF32Vectors; ++q) Store8(lo[q], hi[q], out + 8 * q);
  }
}

}  // namespace kiln::gbdt::qs_impl
