// Standardisation over dense matrices and the cancel / progress hooks of iterative trainers.
#include "kiln/training.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>

#include "common/training_kernels.h"
#include "kiln/simd.h"
#include "kiln/status.h"
#include "kiln/thread_pool.h"

namespace kiln {
namespace {

// True for finite x (x - x is 0 only then).
inline bool Finite(double x) { return x - x == 0.0; }

}  // namespace

namespace cpu_impl {
namespace {

template <class T>
void StandardizeRowsScalar(const T* src, std::size_t rows, std::size_t cols, const double* mean,
                           const double* inv_scale, double* out) {
  for (std::size_t r = 0; r < rows; ++r) {
    const T* s = src + r * cols;
    double* o = out + r * cols;
    for (std::size_t f = 0; f < cols; ++f) {
      const double v = static_cast<double>(s[f]);
      const double z = (v - mean[f]) * inv_scale[f];
      o[f] = Finite(v) ? z : 0.0;
    }
  }
}

template <class T>
void AccumulateRowsScalar(const T* src, std::size_t rows, std::size_t cols, const double* center,
                          double* sum, double* count) {
  for (std::size_t r = 0; r < rows; ++r) {
    const T* s = src + r * cols;
    for (std::size_t f = 0; f < cols; ++f) {
      const double v = static_cast<double>(s[f]);
      const bool ok = Finite(v);
      const double term = center != nullptr ? (v - center[f]) * (v - center[f]) : v;
      sum[f] += ok ? term : 0.0;
      if (count != nullptr) count[f] += ok ? 1.0 : 0.0;
    }
  }
}

}  // namespace

void StandardizeRowsScalarF32(const float* src, std::size_t rows, std::size_t cols,
                              const double* mean, const double* inv_scale, double* out) {
  StandardizeRowsScalar(src, rows, cols, mean, inv_scale, out);
}

void StandardizeRowsScalarF64(const double* src, std::size_t rows, std::size_t cols,
                              const double* mean, const double* inv_scale, double* out) {
  StandardizeRowsScalar(src, rows, cols, mean, inv_scale, out);
}

void AccumulateRowsScalarF32(const float* src, std::size_t rows, std::size_t cols,
                             const double* center, double* sum, double* count) {
  AccumulateRowsScalar(src, rows, cols, center, sum, count);
}

void AccumulateRowsScalarF64(const double* src, std::size_t rows, std::size_t cols,
                             const double* center, double* sum, double* count) {
  AccumulateRowsScalar(src, rows, cols, center, sum, count);
}

}  // namespace cpu_impl

namespace {

// True when the AVX2 kernels may run (compiled in, CPU support, KILN_SIMD not "scalar").
bool UseAvx2() {
#if KILN_HAVE_AVX2_TU
  return DetectedSimdLevel() == SimdLevel::kAvx2;
#else
  return false;
#endif
}

// Row-major rows [row0, row0 + n) of m standardised into out[r * cols + f].
void StandardizeRowRange(const MatrixView& m, const double* mean, const double* inv_scale,
                         std::size_t row0, std::size_t n, double* out) {
  const std::size_t cols = m.cols;
  if (m.dtype == DType::kFloat32) {
    const float* src = static_cast<const float*>(m.data) + row0 * cols;
#if KILN_HAVE_AVX2_TU
    if (UseAvx2()) return cpu_impl::StandardizeRowsAvx2F32(src, n, cols, mean, inv_scale, out);
#endif
    cpu_impl::StandardizeRowsScalarF32(src, n, cols, mean, inv_scale, out);
  } else {
    const double* src = static_cast<const double*>(m.data) + row0 * cols;
#if KILN_HAVE_AVX2_TU
    if (UseAvx2()) return cpu_impl::StandardizeRowsAvx2F64(src, n, cols, mean, inv_scale, out);
#endif
    cpu_impl::StandardizeRowsScalarF64(src, n, cols, mean, inv_scale, out);
  }
}

// Row-major rows [lo, hi) of m accumulated as cpu_impl::AccumulateRows* describes.
void AccumulateRowRange(const MatrixView& m, std::size_t lo, std::size_t hi, const double* center,
                        double* sum, double* count) {
  const std::size_t cols = m.cols;
  if (m.dtype == DType::kFloat32) {
    const float* src = static_cast<const float*>(m.data) + lo * cols;
#if KILN_HAVE_AVX2_TU
    if (UseAvx2()) return cpu_impl::AccumulateRowsAvx2F32(src, hi - lo, cols, center, sum, count);
#endif
    cpu_impl::AccumulateRowsScalarF32(src, hi - lo, cols, center, sum, count);
  } else {
    const double* src = static_cast<const double*>(m.data) + lo * cols;
#if KILN_HAVE_AVX2_TU
    if (UseAvx2()) return cpu_impl::AccumulateRowsAvx2F64(src, hi - lo, cols, center, sum, count);
#endif
    cpu_impl::AccumulateRowsScalarF64(src, hi - lo, cols, center, sum, count);
  }
}



// Column-major part of AccumulateBlock: one feature at a time, rows in order.
template <class T>
void AccumulateColumns(const MatrixView& m, std::size_t lo, std::size_t hi, const double* center,
                       double* sum, double* count) {
  const T* data = static_cast<const T*>(m.data);
  for (std::size_t f = 0; f < m.cols; ++f) {
    const T* src = data + f * m.rows;
    const double mu = center != nullptr ? center[f] : 0.0;
    double acc = 0.0;
    double cnt = 0.0;
    for (std::size_t r = lo; r < hi; ++r) {
      const double v = static_cast<double>(src[r]);
      const bool ok = Finite(v);
      const double term = center != nullptr ? (v - mu) * (v - mu) : v;
      acc += ok ? term : 0.0;
      cnt += ok ? 1.0 : 0.0;
    }
    sum[f] = acc;
    if (count != nullptr) count[f] = cnt;
  }
}

// Per-feature sums over rows [lo, hi) of finite values (center == nullptr) or of squared
// deviations from center, each feature's terms added in row order, into sum[f] (overwritten);
// count[f] gets the finite count when non-null.
void AccumulateBlock(const MatrixView& m, std::size_t lo, std::size_t hi, const double* center,
                     double* sum, double* count) {
  if (m.layout == Layout::kColumn) {
    if (m.dtype == DType::kFloat32) {
      AccumulateColumns<float>(m, lo, hi, center, sum, count);
    } else {
      AccumulateColumns<double>(m, lo, hi, center, sum, count);
    }
    return;
  }
  std::fill(sum, sum + m.cols, 0.0);
  if (count != nullptr) std::fill(count, count + m.cols, 0.0);
  AccumulateRowRange(m, lo, hi, center, sum, count);
}

template <class T>
void TileImpl(const MatrixView& m, const Standardization& s, const double* inv_scale,
              std::size_t row0, std::size_t n, double* tile) {
  const T* data = static_cast<const T*>(m.data);
  const std::size_t cols = m.cols;
  const bool column = m.layout == Layout::kColumn;
  for (std::size_t f = 0; f < cols; ++f) {
    const double mu = s.mean[f];
    const double inv = inv_scale[f];
    double* dst = tile + f * n;
    if (column) {
      const T* src = data + f * m.rows + row0;
      for (std::size_t r = 0; r < n; ++r) {
        const double v = static_cast<double>(src[r]);
        const double z = (v - mu) * inv;
        dst[r] = Finite(v) ? z : 0.0;
      }
    } else {
      const T* src = data + row0 * cols + f;
      for (std::size_t r = 0; r < n; ++r) {
        const double v = static_cast<double>(src[r * cols]);
        const double z = (v - mu) * inv;
        dst[r] = Finite(v) ? z : 0.0;
      }
    }
  }
}

template <class T>
void RowImpl(const MatrixView& m, const Standardization& s, const double* __restrict inv_scale,
             std::size_t row, double* __restrict out) {
  const T* data = static_cast<const T*>(m.data);
  const double* __restrict mean = s.mean.data();
  if (m.layout == Layout::kRow) {
    StandardizeRowRange(m, mean, inv_scale, row, 1, out);
    return;
  }
  for (std::size_t f = 0; f < m.cols; ++f) {
    const double v = static_cast<double>(data[f * m.rows + row]);
    const double z = (v - mean[f]) * inv_scale[f];
    out[f] = Finite(v) ? z : 0.0;
  }
}

}  // namespace

bool CancelRequested(const TrainControl& control) {
  if (control.cancel_flag == nullptr) return false;
#if defined(_MSC_VER)
  return *static_cast<const volatile std::int32_t*>(control.cancel_flag) != 0;
#else
  return __atomic_load_n(control.cancel_flag, __ATOMIC_RELAXED) != 0;
#endif
}

void ThrowIfCancelled(const TrainControl& control) {
  if (CancelRequested(control)) throw Error(kErrCancelled, "training was cancelled");
}

void ValidateDenseMatrix(const MatrixView& m, const char* what) {
  const std::string name(what);
  if (m.data == nullptr) throw InputError(name + " has no data");
  if (m.rows == 0) throw InputError(name + " must have at least one row");
  if (m.cols == 0) throw InputError(name + " must have at least one column");
  if (m.rows > std::numeric_limits<std::size_t>::max() / m.cols) {
    throw InputError(name + ": rows * cols is too large");
  }
}

Standardization FitStandardization(const MatrixView& m, int num_threads) {
  ValidateDenseMatrix(m, "features");
  const std::size_t cols = m.cols;
  const std::size_t blocks = NumBlocks(m.rows, kRowBlockSize);
  std::vector<double> sums(blocks * cols);
  std::vector<double> counts(blocks * cols);
  auto pass = [&](const double* mean) {
    ParallelFor(blocks, num_threads, [&](std::size_t b) {
      const std::size_t lo = b * kRowBlockSize;
      const std::size_t hi = std::min(m.rows, lo + kRowBlockSize);
      double* count = mean == nullptr ? counts.data() + b * cols : nullptr;
      AccumulateBlock(m, lo, hi, mean, sums.data() + b * cols, count);
    });
  };
  Standardization s;
  s.mean.assign(cols, 0.0);
  s.scale.assign(cols, 1.0);
  std::vector<double> n(cols, 0.0);
  pass(nullptr);
  for (std::size_t b = 0; b < blocks; ++b) {
    for (std::size_t f = 0; f < cols; ++f) {
      s.mean[f] += sums[b * cols + f];
      n[f] += counts[b * cols + f];
    }
  }
  for (std::size_t f = 0; f < cols; ++f) s.mean[f] = n[f] > 0 ? s.mean[f] / n[f] : 0.0;
  pass(s.mean.data());
  const double eps = std::numeric_limits<double>::epsilon();
  for (std::size_t f = 0; f < cols; ++f) {
    if (n[f] == 0) continue;
    double ss = 0.0;
    for (std::size_t b = 0; b < blocks; ++b) ss += sums[b * cols + f];
    const double var = ss / n[f];
    const double bound = n[f] * eps * var + (n[f] * s.mean[f] * eps) * (n[f] * s.mean[f] * eps);
    const double scale = std::sqrt(var);
    if (!(var > bound) || !std::isfinite(scale) || scale < 10 * eps) continue;
    s.scale[f] = scale;
  }
  for (std::size_t f = 0; f < cols; ++f) {
    if (!std::isfinite(s.mean[f])) {
      throw InputError("feature " + std::to_string(f) +
                       " overflows double precision (its mean is not finite)");
    }
  }
  return s;
}

void ValidateStandardization(const Standardization& s, std::size_t cols) {
  if (s.mean.size() != cols || s.scale.size() != cols) {
    throw InputError("standardization has " + std::to_string(s.mean.size()) + " means and " +
                     std::to_string(s.scale.size()) + " scales, expected " + std::to_string(cols));
  }
  for (std::size_t f = 0; f < cols; ++f) {
    if (!std::isfinite(s.mean[f])) throw InputError("mean[" + std::to_string(f) + "] is not finite");
    if (!std::isfinite(s.scale[f]) || !(s.scale[f] > 0)) {
      throw InputError("scale[" + std::to_string(f) + "] must be finite and > 0");
    }
  }
}

std::vector<double> InverseScales(const Standardization& s) {
  std::vector<double> inv(s.scale.size());
  for (std::size_t f = 0; f < inv.size(); ++f) inv[f] = 1.0 / s.scale[f];
  return inv;
}

void StandardizedTile(const MatrixView& m, const Standardization& s, const double* inv_scale,
                      std::size_t row0, std::size_t n, double* tile) {
  if (m.dtype == DType::kFloat32) {
    TileImpl<float>(m, s, inv_scale, row0, n, tile);
  } else {
    TileImpl<double>(m, s, inv_scale, row0, n, tile);
  }
}

void StandardizedRows(const MatrixView& m, const Standardization& s, const double* inv_scale,
                      std::size_t row0, std::size_t n, double* out) {
  if (m.layout == Layout::kRow) {
    StandardizeRowRange(m, s.mean.data(), inv_scale, row0, n, out);
    return;
  }
  for (std::size_t r = 0; r < n; ++r) StandardizedRow(m, s, inv_scale, row0 + r, out + r * m.cols);
}

void StandardizedRow(const MatrixView& m, const Standardization& s, const double* inv_scale,
                     std::size_t row, double* out) {
  if (m.dtype == DType::kFloat32) {
    RowImpl<float>(m, s, inv_scale, row, out);
  } else {
    RowImpl<double>(m, s, inv_scale, row, out);
  }
}

}  // namespace kiln
