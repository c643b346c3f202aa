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

static_assert(kQsLanes == 16, "the kernel holds 16 lanes in four vectors");

void QsScoreAvx2(const QsView& v, const double* x, int num_trees, std::uint64_t* cand) {
  for (int t = 0; t < num_trees; ++t) {
    __m256i c0 = _mm256_set1_epi64x(-1), c1 = c0, c2 = c0, c3 = c0;
    const std::size_t e = static_cast<std::size_t>(v.tree_begin[t + 1]);
    for (std::size_t i = static_cast<std::size_t>(v.tree_begin[t]); i < e; ++i) {
      const double* xf = x + v.xoff[i];
      const __m256d th = _mm256_broadcast_sd(v.thr + i);
      const __m256i m = _mm256_set1_epi64x(static_cast<long long>(v.mask[i]));
      const __m256i g0 = _mm256_castpd_si256(_mm256_cmp_pd(_mm256_loadu_pd(xf), th, _CMP_GT_OQ));
      const __m256i g1 = _mm256_castpd_si256(_mm256_cmp_pd(_mm256_loadu_pd(xf + 4), th, _CMP_GT_OQ));
      const __m256i g2 = _mm256_castpd_si256(_mm256_cmp_pd(_mm256_loadu_pd(xf + 8), th, _CMP_GT_OQ));
      const __m256i g3 = _mm256_castpd_si256(_mm256_cmp_pd(_mm256_loadu_pd(xf + 12), th, _CMP_GT_OQ));
      c0 = _mm256_andnot_si256(_mm256_and_si256(g0, m), c0);
      c1 = _mm256_andnot_si256(_mm256_and_si256(g1, m), c1);
      c2 = _mm256_andnot_si256(_mm256_and_si256(g2, m), c2);
      c3 = _mm256_andnot_si256(_mm256_and_si256(g3, m), c3);
    }
    __m256i* out = reinterpret_cast<__m256i*>(cand + static_cast<std::size_t>(t) * kQsLanes);
    _mm256_storeu_si256(out, c0);
    _mm256_storeu_si256(out + 1, c1);
    _mm256_storeu_si256(out + 2, c2);
    _mm256_storeu_si256(out + 3, c3);
  }
}

namespace {

// Applies nodes [b, e) to the 32-bit candidate halves of 16 lanes (two vectors of 8 rows).
template <bool kLo, bool kHi>
inline void ApplyF32(const QsView32& v, const float* x, std::size_t b, std::size_t e, __m256i& lo0,
                     __m256i& lo1, __m256i& hi0, __m256i& hi1) {
  for (std::size_t i = b; i < e; ++i) {
    const float* xf = x + v.xoff[i];
    const __m256 th = _mm256_broadcast_ss(v.thr + i);
    const __m256i g0 = _mm256_castps_si256(_mm256_cmp_ps(_mm256_loadu_ps(xf), th, _CMP_GT_OQ));
    const __m256i g1 = _mm256_castps_si256(_mm256_cmp_ps(_mm256_loadu_ps(xf + 8), th, _CMP_GT_OQ));
    const std::uint64_t mask = v.mask[i];
    if (kLo) {
      const __m256i m = _mm256_set1_epi32(static_cast<int>(static_cast<std::uint32_t>(mask)));
      lo0 = _mm256_andnot_si256(_mm256_and_si256(g0, m), lo0);
      lo1 = _mm256_andnot_si256(_mm256_and_si256(g1, m), lo1);
    }
    if (kHi) {
      const __m256i m = _mm256_set1_epi32(static_cast<int>(static_cast<std::uint32_t>(mask >> 32)));
      hi0 = _mm256_andnot_si256(_mm256_and_si256(g0, m), hi0);
      hi1 = _mm256_andnot_si256(_mm256_and_si256(g1, m), hi1);
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
    __m256i lo0 = _mm256_set1_epi32(-1), lo1 = lo0, hi0 = lo0, hi1 = lo0;
    const std::int32_t* g = v.group + 3 * static_cast<std::size_t>(t);
    ApplyF32<true, false>(v, x, static_cast<std::size_t>(g[0]), static_cast<std::size_t>(g[1]), lo0, lo1, hi0, hi1);
    ApplyF32<false, true>(v, x, static_cast<std::size_t>(g[1]), static_cast<std::size_t>(g[2]), lo0, lo1, hi0, hi1);
    ApplyF32<true, true>(v, x, static_cast<std::size_t>(g[2]), static_cast<std::size_t>(g[3]), lo0, lo1, hi0, hi1);
    std::uint64_t* out = cand + static_cast<std::size_t>(t) * kQsLanes;
    Store8(lo0, hi0, out);
    Store8(lo1, hi1, out + 8);
  }
}

}  // namespace kiln::gbdt::qs_impl
