// Quantile binning, AVX2 run kernels (this TU alone is compiled with -mavx2 -mfma).
// Branchless search over the +Infinity-padded table, 4 double lanes per vector, gathers for the
// table probes; four vectors per iteration so independent gathers overlap. Includes nothing but
// <immintrin.h> and the plain internal header (see binning/binning.h for why).
#include <immintrin.h>

#include "binning/binning.h"

namespace kiln::cpu_impl {
namespace {

// Bin indices of 4 doubles (int64 lanes; NaN lanes = 255).
inline __m256i Search4(__m256d v, const double* table, unsigned first_step) {
  __m256i pos = _mm256_setzero_si256();
  for (unsigned step = first_step; step != 0; step >>= 1) {
    const __m256i idx = _mm256_add_epi64(pos, _mm256_set1_epi64x(static_cast<long long>(step - 1)));
    const __m256d t = _mm256_i64gather_pd(table, idx, 8);
    const __m256d lt = _mm256_cmp_pd(t, v, _CMP_LT_OQ);
    pos = _mm256_add_epi64(
        pos, _mm256_and_si256(_mm256_castpd_si256(lt), _mm256_set1_epi64x(static_cast<long long>(step))));
  }
  const __m256d nan = _mm256_cmp_pd(v, v, _CMP_UNORD_Q);
  return _mm256_blendv_epi8(pos, _mm256_set1_epi64x(255), _mm256_castpd_si256(nan));
}

// K interleaved searches (4K values): the gathers of different vectors are independent.
template <int K>
inline void SearchK(const __m256d* v, const double* table, unsigned first_step, __m256i* pos) {
  __m256i q[K];
  for (int k = 0; k < K; ++k) q[k] = _mm256_setzero_si256();
  for (unsigned step = first_step; step != 0; step >>= 1) {
    const __m256i off = _mm256_set1_epi64x(static_cast<long long>(step - 1));
    const __m256i inc = _mm256_set1_epi64x(static_cast<long long>(step));
    __m256d t[K];
    for (int k = 0; k < K; ++k) t[k] = _mm256_i64gather_pd(table, _mm256_add_epi64(q[k], off), 8);
    for (int k = 0; k < K; ++k) {
      q[k] = _mm256_add_epi64(
          q[k], _mm256_and_si256(_mm256_castpd_si256(_mm256_cmp_pd(t[k], v[k], _CMP_LT_OQ)), inc));
    }
  }
  const __m256i missing = _mm256_set1_epi64x(255);
  for (int k = 0; k < K; ++k) {
    pos[k] = _mm256_blendv_epi8(q[k], missing,
                                _mm256_castpd_si256(_mm256_cmp_pd(v[k], v[k], _CMP_UNORD_Q)));
  }
}

// Writes the low byte of each int64 lane (values 0..255) to out[0..3].
inline void Store4(__m256i pos, std::uint8_t* out) {
  const __m256i shuf = _mm256_setr_epi8(0, 8, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
                                        0, 8, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1);
  const __m256i s = _mm256_shuffle_epi8(pos, shuf);
  const unsigned lo = static_cast<unsigned>(_mm256_extract_epi16(s, 0));
  const unsigned hi = static_cast<unsigned>(_mm256_extract_epi16(s, 8));
  const unsigned packed = lo | (hi << 16);
  __builtin_memcpy(out, &packed, 4);
}

inline __m256d Load4(const float* p) { return _mm256_cvtps_pd(_mm_loadu_ps(p)); }
inline __m256d Load4(const double* p) { return _mm256_loadu_pd(p); }

template <class T>
inline void Run(const T* src, std::size_t n, const double* table, unsigned first_step,
                std::uint8_t* out, std::size_t* done) {
  std::size_t i = 0;
  constexpr int kK = 4;
  for (; i + 4 * kK <= n; i += 4 * kK) {
    __m256d v[kK];
    __m256i p[kK];
    for (int k = 0; k < kK; ++k) v[k] = Load4(src + i + 4 * k);
    SearchK<kK>(v, table, first_step, p);
    for (int k = 0; k < kK; ++k) Store4(p[k], out + i + 4 * k);
  }
  for (; i + 4 <= n; i += 4) Store4(Search4(Load4(src + i), table, first_step), out + i);
  *done = i;
}

}  // namespace

void BinRunAvx2F32(const float* src, std::size_t n, const double* table, unsigned first_step,
                   std::uint8_t* out) {
  std::size_t done = 0;
  Run(src, n, table, first_step, out, &done);
  if (done < n) BinRunScalarF32(src + done, n - done, table, first_step, out + done);
}

void BinRunAvx2F64(const double* src, std::size_t n, const double* table, unsigned first_step,
                   std::uint8_t* out) {
  std::size_t done = 0;
  Run(src, n, table, first_step, out, &done);
  if (done < n) BinRunScalarF64(src + done, n - done, table, first_step, out + done);
}

}  // namespace kiln::cpu_impl
