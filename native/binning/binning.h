// Internal run kernels shared by binning.cc (portable) and binning_avx2.cc (-mavx2 -mfma).
// This header must stay free of inline library code (only <cstddef>/<cstdint>): the AVX2 TU
// includes it, and an inline function instantiated there could be picked by the linker for
// portable callers and fault on CPUs without AVX2.
#pragma once

#include <cstddef>
#include <cstdint>

namespace kiln::cpu_impl {

// Entries of one feature's padded threshold table: real thresholds, then +Infinity.
inline constexpr int kTableSize = 255;

// Bins n contiguous values: out[i] = #{ j : table[j] < src[i] }, or 255 when src[i] is NaN.
// table: kTableSize ascending doubles (borrowed); first_step: largest power of two <= number of
// real thresholds, or 0 when there are none (the branchless search then makes no steps).
void BinRunScalarF32(const float* src, std::size_t n, const double* table, unsigned first_step,
                     std::uint8_t* out);
void BinRunScalarF64(const double* src, std::size_t n, const double* table, unsigned first_step,
                     std::uint8_t* out);

#if KILN_HAVE_AVX2_TU
// Same contract as the scalar runs; 4 double lanes with gathers. Call only if CpuSupportsAvx2().
void BinRunAvx2F32(const float* src, std::size_t n, const double* table, unsigned first_step,
                   std::uint8_t* out);
void BinRunAvx2F64(const double* src, std::size_t n, const double* table, unsigned first_step,
                   std::uint8_t* out);
#endif

}  // namespace kiln::cpu_impl
