// Feature standardisation, AVX2 run kernels (this TU alone is compiled with -mavx2 -mfma).
// Contraction into FMA is switched off so each lane repeats the scalar kernels' operations
// exactly (see common/training_kernels.h).
#if defined(__clang__)
#pragma clang fp contract(off)
#elif defined(__GNUC__)
#pragma GCC optimize("fp-contract=off")
#endif

#include <immintrin.h>

#include "common/training_kernels.h"

namespace kiln::cpu_impl {
namespace {

inline __m256d Load4(const float* p) { return _mm256_cvtps_pd(_mm_loadu_ps(p)); }
inline __m256d Load4(const double* p) { return _mm256_loadu_pd(p); }

// All-ones lanes where v is finite (v - v == 0), else zero.
inline __m256d FiniteMask(__m256d v) {
  return _mm256_cmp_pd(_mm256_sub_pd(v, v), _mm256_setzero_pd(), _CMP_EQ_OQ);
}

inline bool FiniteScalar(double v) { return v - v == 0.0; }

template <class T>
void StandardizeRows(const T* src, std::size_t rows, std::size_t cols, const double* mean,
                     const double* inv_scale, double* out) {
  const std::size_t cols4 = cols - cols % 4;
  for (std::size_t r = 0; r < rows; ++r) {
    const T* s = src + r * cols;
    double* o = out + r * cols;
    std::size_t f = 0;
    for (; f < cols4; f += 4) {
      const __m256d v = Load4(s + f);
      const __m256d z = _mm256_mul_pd(_mm256_sub_pd(v, _mm256_loadu_pd(mean + f)), _mm256_loadu_pd(inv_scale + f));
      _mm256_storeu_pd(o + f, _mm256_and_pd(z, FiniteMask(v)));
    }
    for (; f < cols; ++f) {
      const double v = static_cast<double>(s[f]);
      const double z = (v - mean[f]) * inv_scale[f];
      o[f] = FiniteScalar(v) ? z : 0.0;
    }
  }
}

template <class T>
void AccumulateRows(const T* src, std::size_t rows, std::size_t cols, const double* center,
                    double* sum, double* count) {
  const std::size_t cols4 = cols - cols % 4;
  const __m256d one = _mm256_set1_pd(1.0);
  for (std::size_t r = 0; r < rows; ++r) {
    const T* s = src + r * cols;
    std::size_t f = 0;
    for (; f < cols4; f += 4) {
      const __m256d v = Load4(s + f);
      const __m256d ok = FiniteMask(v);
      __m256d term = v;
      if (center != nullptr) {
        const __m256d d = _mm256_sub_pd(v, _mm256_loadu_pd(center + f));
        term = _mm256_mul_pd(d, d);
      }
      _mm256_storeu_pd(sum + f, _mm256_add_pd(_mm256_loadu_pd(sum + f), _mm256_and_pd(term, ok)));
      if (count != nullptr) {
        _mm256_storeu_pd(count + f, _mm256_add_pd(_mm256_loadu_pd(count + f), _mm256_and_pd(one, ok)));
      }
    }
    for (; f < cols; ++f) {
      const double v = static_cast<double>(s[f]);
      const bool ok = FiniteScalar(v);
      const double term = center != nullptr ? (v - center[f]) * (v - center[f]) : v;
      sum[f] += ok ? term : 0.0;
      if (count != nullptr) count[f] += ok ? 1.0 : 0.0;
    }
  }
}

}  // namespace

void StandardizeRowsAvx2F32(const float* src, std::size_t rows, std::size_t cols,
                            const double* mean, const double* inv_scale, double* out) {
  StandardizeRows(src, rows, cols, mean, inv_scale, out);
}

void StandardizeRowsAvx2F64(const double* src, std::size_t rows, std::size_t cols,
                            const double* mean, const double* inv_scale, double* out) {
  StandardizeRows(src, rows, cols, mean, inv_scale, out);
}

void AccumulateRowsAvx2F32(const float* src, std::size_t rows, std::size_t cols,
                           const double* center, double* sum, double* count) {
  AccumulateRows(src, rows, cols, center, sum, count);
}

void AccumulateRowsAvx2F64(const double* src, std::size_t rows, std::size_t cols,
                           const double* center, double* sum, double* count) {
  AccumulateRows(src, rows, cols, center, sum, count);
}

}  // namespace kiln::cpu_impl
