// Quantile binning of a dense float matrix into uint8 bins (the input of histogram GBDT).
//
// Bin rule: for feature f with thresholds t[0] < t[1] < ... < t[k-1] (k = num_bins[f] - 1),
//   bin(v) = #{ j : t[j] < v }   (so t[b-1] < v <= t[b]),   bin(NaN) = kMissingBin (255).
// Value bins are therefore 0..254; +-Infinity are ordinary values.
//
// Memory: MatrixView and the output pointer are borrowed (caller owns, keeps alive and unmodified
// for the duration of the call); BinMapper owns its vectors.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "kiln/simd.h"

namespace kiln {

// Bin code of a missing (NaN) value.
inline constexpr std::uint8_t kMissingBin = 255;
// Largest allowed max_bin (number of value bins per feature).
inline constexpr int kMaxValueBins = 255;
// Smallest allowed max_bin.
inline constexpr int kMinValueBins = 2;

enum class DType { kFloat32, kFloat64 };
// kColumn: values[f * rows + r] (feature-major); kRow: values[r * cols + f].
enum class Layout { kColumn, kRow };

// Borrowed view of a rows x cols matrix; data holds rows * cols elements of dtype.
struct MatrixView {
  const void* data = nullptr;
  DType dtype = DType::kFloat64;
  std::size_t rows = 0;
  std::size_t cols = 0;
  Layout layout = Layout::kColumn;
};

struct FitBinsParams {
  int max_bin = 255;                  // value bins per feature, in [2, 255]
  std::uint64_t sample_size = 200000;  // rows <= sample_size: all rows; else ~sample_size sampled rows
  std::uint64_t seed = 0;             // drives the row sample (counter-based, thread-independent)
  int num_threads = 0;                // 0 -> hardware concurrency
};

// Per-feature thresholds, concatenated: feature f owns thresholds[offsets[f] .. offsets[f+1]).
struct BinMapper {
  std::vector<std::int32_t> num_bins;  // cols entries, value bins per feature (>= 1)
  std::vector<double> thresholds;      // strictly increasing within a feature, never NaN
  std::vector<std::int32_t> offsets;   // cols + 1 entries, offsets[0] == 0
};

struct ApplyBinsParams {
  int num_threads = 0;                        // 0 -> hardware concurrency
  SimdLevel simd = SimdLevel::kAvx2;          // requested level; lowered to what the CPU supports
};

// Throws InputError unless m has data, rows >= 1, cols >= 1 and rows * cols does not overflow.
void ValidateMatrix(const MatrixView& m);

// Throws InputError unless mapper is consistent and describes exactly `cols` features.
void ValidateBinMapper(const BinMapper& mapper, std::size_t cols);

// Learns per-feature thresholds from (a deterministic sample of) m. Same input + params -> same
// mapper for any num_threads and either layout. Throws InputError on invalid arguments.
BinMapper FitBins(const MatrixView& m, const FitBinsParams& params);

// Writes bins of m to out[f * rows + r] (column-major, rows * cols bytes, caller-owned).
// Output is identical for any num_threads and SIMD level. Throws InputError on invalid arguments.
void ApplyBins(const MatrixView& m, const BinMapper& mapper, const ApplyBinsParams& params,
               std::uint8_t* out);

// The SIMD level ApplyBins will really use for `requested` on this CPU / environment.
SimdLevel EffectiveSimdLevel(SimdLevel requested);

}  // namespace kiln
