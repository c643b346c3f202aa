// Internal run kernels of feature standardisation, shared by training.cc (portable) and
// training_avx2.cc (-mavx2 -mfma). Like binning/binning.h this header holds no inline library
// code: an inline function instantiated in the AVX2 TU could be picked by the linker for
// portable callers and fault on CPUs without AVX2.
//
// Every AVX2 kernel returns bit-identical results to its scalar twin: lanes run across features,
// each feature sees the same IEEE operations in the same row order, and nothing is contracted
// into FMA.
#pragma once

#include <cstddef>

namespace kiln::cpu_impl {

// out[r * cols + f] = (src[r * cols + f] - mean[f]) * inv_scale[f], or +0.0 where the value is
// not finite, for rows r in [0, rows) of a row-major source.
void StandardizeRowsScalarF32(const float* src, std::size_t rows, std::size_t cols,
                              const double* mean, const double* inv_scale, double* out);
void StandardizeRowsScalarF64(const double* src, std::size_t rows, std::size_t cols,
                              const double* mean, const double* inv_scale, double* out);

// For rows r in order and every feature f with a finite value v = src[r * cols + f]:
// sum[f] += (center == nullptr ? v : (v - center[f]) * (v - center[f])), and count[f] += 1 when
// count is non-null. Non-finite values add +0.0.
void AccumulateRowsScalarF32(const float* src, std::size_t rows, std::size_t cols,
                             const double* center, double* sum, double* count);
void AccumulateRowsScalarF64(const double* src, std::size_t rows, std::size_t cols,
                             const double* center, double* sum, double* count);

#if KILN_HAVE_AVX2_TU
// Same contracts, 4 features per vector. Call only if CpuSupportsAvx2().
void StandardizeRowsAvx2F32(const float* src, std::size_t rows, std::size_t cols,
                            const double* mean, const double* inv_scale, double* out);
void StandardizeRowsAvx2F64(const double* src, std::size_t rows, std::size_t cols,
                            const double* mean, const double* inv_scale, double* out);
void AccumulateRowsAvx2F32(const float* src, std::size_t rows, std::size_t cols,
                           const double* center, double* sum, double* count);
void AccumulateRowsAvx2F64(const double* src, std::size_t rows, std::size_t cols,
                           const double* center, double* sum, double* count);
#endif

}  // namespace kiln::cpu_impl
