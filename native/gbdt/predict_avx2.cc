// QuickScorer (Lucchese et al., SIGIR'15), vectorised over kQsLanes rows: AVX2 kernel (this TU
// alone is compiled with -mavx2 -mfma). Includes nothing but <immintrin.h> and the plain internal
// header (see predict_qs.h for why).
//
// Per feature, the nodes of all trees are sorted by threshold; a node is "false" for a row when
// the row goes right (x > thr), and a false node clears its left-subtree leaves from the tree's
// candidate word. The scan of a feature stops at the first threshold >= the largest lane value
// (no lane can be false from there on). Rows are compared as doubles: for float inputs the
// widening is exact and x <= thr64 is the same test as x <= thr32. NaN lanes compare false (go
// left) in the sorted scan; their default-right nodes are applied from a separate list.
#include <immintrin.h>

#include "gbdt/predict_qs.h"

namespace kiln::gbdt::qs_impl {

static_assert(kQsLanes == 16, "the kernel holds 16 lanes in four vectors");

void QsScoreAvx2(const QsView& v, const double* x, const double* maxv,
                 const std::uint32_t* nan_lanes, std::uint64_t* cand) {
  const __m256i ones = _mm256_set1_epi64x(-1);
  const std::size_t words = static_cast<std::size_t>(v.num_slots) * kQsLanes;
  for (std::size_t i = 0; i < words; i += 4) {
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(cand + i), ones);
  }
  for (int f = 0; f < v.num_features; ++f) {
    const double* xf = x + static_cast<std::size_t>(f) * kQsLanes;
    const __m256d x0 = _mm256_loadu_pd(xf);
    const __m256d x1 = _mm256_loadu_pd(xf + 4);
    const __m256d x2 = _mm256_loadu_pd(xf + 8);
    const __m256d x3 = _mm256_loadu_pd(xf + 12);
    const double mx = maxv[f];
    const std::size_t b = static_cast<std::size_t>(v.feat_begin[f]);
    const double* thr = v.thr + b;
    const std::uint64_t* mask = v.mask + b;
    const std::uint32_t* slot = v.slot + b;
    // The NaN sentinel ends every run (NaN < mx is false).
    for (std::size_t i = 0; thr[i] < mx; ++i) {
      const __m256d t = _mm256_broadcast_sd(thr + i);
      const __m256i m = _mm256_set1_epi64x(static_cast<long long>(mask[i]));
      __m256i* c = reinterpret_cast<__m256i*>(cand + slot[i]);
      const __m256i g0 = _mm256_and_si256(_mm256_castpd_si256(_mm256_cmp_pd(x0, t, _CMP_GT_OQ)), m);
      const __m256i g1 = _mm256_and_si256(_mm256_castpd_si256(_mm256_cmp_pd(x1, t, _CMP_GT_OQ)), m);
      const __m256i g2 = _mm256_and_si256(_mm256_castpd_si256(_mm256_cmp_pd(x2, t, _CMP_GT_OQ)), m);
      const __m256i g3 = _mm256_and_si256(_mm256_castpd_si256(_mm256_cmp_pd(x3, t, _CMP_GT_OQ)), m);
      _mm256_storeu_si256(c, _mm256_andnot_si256(g0, _mm256_loadu_si256(c)));
      _mm256_storeu_si256(c + 1, _mm256_andnot_si256(g1, _mm256_loadu_si256(c + 1)));
      _mm256_storeu_si256(c + 2, _mm256_andnot_si256(g2, _mm256_loadu_si256(c + 2)));
      _mm256_storeu_si256(c + 3, _mm256_andnot_si256(g3, _mm256_loadu_si256(c + 3)));
    }
    if (nan_lanes[f] != 0) {
      const __m256i n0 = _mm256_castpd_si256(_mm256_cmp_pd(x0, x0, _CMP_UNORD_Q));
      const __m256i n1 = _mm256_castpd_si256(_mm256_cmp_pd(x1, x1, _CMP_UNORD_Q));
      const __m256i n2 = _mm256_castpd_si256(_mm256_cmp_pd(x2, x2, _CMP_UNORD_Q));
      const __m256i n3 = _mm256_castpd_si256(_mm256_cmp_pd(x3, x3, _CMP_UNORD_Q));
      const std::size_t e0 = static_cast<std::size_t>(v.nan_begin[f]);
      const std::size_t e1 = static_cast<std::size_t>(v.nan_begin[f + 1]);
      for (std::size_t i = e0; i < e1; ++i) {
        const __m256i m = _mm256_set1_epi64x(static_cast<long long>(v.nan_mask[i]));
        __m256i* c = reinterpret_cast<__m256i*>(cand + v.nan_slot[i]);
        _mm256_storeu_si256(c, _mm256_andnot_si256(_mm256_and_si256(n0, m), _mm256_loadu_si256(c)));
        _mm256_storeu_si256(c + 1, _mm256_andnot_si256(_mm256_and_si256(n1, m), _mm256_loadu_si256(c + 1)));
        _mm256_storeu_si256(c + 2, _mm256_andnot_si256(_mm256_and_si256(n2, m), _mm256_loadu_si256(c + 2)));
        _mm256_storeu_si256(c + 3, _mm256_andnot_si256(_mm256_and_si256(n3, m), _mm256_loadu_si256(c + 3)));
      }
    }
  }
}

}  // namespace kiln::gbdt::qs_impl
