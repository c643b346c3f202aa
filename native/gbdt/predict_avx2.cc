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

}  // namespace kiln::gbdt::qs_impl
