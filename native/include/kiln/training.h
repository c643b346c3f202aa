// Plumbing shared by the iterative trainers (linear, mlp): feature standardisation over a dense
// matrix, cancellation and progress hooks.
//
// Missing values: a non-finite feature value (NaN, +-Infinity) is missing. Statistics skip it and
// standardisation maps it to 0, i.e. the training mean (mean imputation in standardised space).
//
// Memory: MatrixView data is borrowed (caller keeps it alive and unmodified during a call); the
// cancel flag is borrowed for the whole training call.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <limits>
#include <vector>

#include "kiln/binning.h"

namespace kiln {

// Stable code of a training stopped through its cancel flag (mirrors bindings/errors.ts).
inline constexpr const char kErrCancelled[] = "E_CANCELLED";

// Largest number of classes a linear or MLP model accepts.
inline constexpr int kMaxClasses = 1024;

// One progress report: iteration is the 1-based L-BFGS iteration or MLP epoch.
struct TrainProgress {
  int iteration = 0;
  double train_loss = 0.0;
  double valid_loss = std::numeric_limits<double>::quiet_NaN();  // NaN without validation data
  double grad_norm = std::numeric_limits<double>::quiet_NaN();   // max-abs gradient (linear only)
};

// Hooks of a training call; both optional, both called on the training thread.
struct TrainControl {
  const std::int32_t* cancel_flag = nullptr;                  // nonzero = stop; written elsewhere
  std::function<void(const TrainProgress&)> on_progress;      // called once per iteration / epoch
};

// True when the cancel flag is set (a relaxed atomic read).
bool CancelRequested(const TrainControl& control);

// Throws Error(kErrCancelled) when the cancel flag is set.
void ThrowIfCancelled(const TrainControl& control);

// Per-feature mean and scale: the population standard deviation, or 1 for a (near-)constant
// feature (scikit-learn StandardScaler's rule). A feature with no finite value has mean 0.
struct Standardization {
  std::vector<double> mean;
  std::vector<double> scale;
};

// Throws InputError unless m has data, rows >= 1, cols >= 1, and rows * cols does not overflow.
void ValidateDenseMatrix(const MatrixView& m, const char* what);

// Mean and scale of every feature of m over finite values. Per-block partials (kRowBlockSize
// rows) are combined in block order: identical for any num_threads.
Standardization FitStandardization(const MatrixView& m, int num_threads);

// Throws InputError unless s has cols entries of finite means and finite positive scales.
void ValidateStandardization(const Standardization& s, std::size_t cols);

// 1 / scale[f] for every feature (the multiplier standardisation uses).
std::vector<double> InverseScales(const Standardization& s);

// Writes rows [row0, row0 + n) of m standardised, feature-major: tile[f * n + r] =
// (x - mean[f]) * inv_scale[f] (inv_scale from InverseScales); missing -> 0.
void StandardizedTile(const MatrixView& m, const Standardization& s, const double* inv_scale,
                      std::size_t row0, std::size_t n, double* tile);

// Writes rows [row0, row0 + n) of m standardised, row-major: out[r * cols + f]; missing -> 0.
// Identical results on the AVX2 and portable paths.
void StandardizedRows(const MatrixView& m, const Standardization& s, const double* inv_scale,
                      std::size_t row0, std::size_t n, double* out);

// Writes row `row` of m standardised into out[0 .. cols); missing -> 0.
void StandardizedRow(const MatrixView& m, const Standardization& s, const double* inv_scale,
                     std::size_t row, double* out);

}  // namespace kiln
