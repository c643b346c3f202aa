// Standardisation over dense matrices and the cancel / progress hooks of iterative trainers.
#include "kiln/training.h"

#include <cmath>
#include <limits>
#include <string>

#include "kiln/status.h"
#include "kiln/thread_pool.h"

namespace kiln {
namespace {

// Finite test that compiles to a branchless compare: x - x is 0 only for finite x.
inline bool Finite(double x) { return x - x == 0.0; }

template <class T>
double ValueAt(const T* data, const MatrixView& m, std::size_t r, std::size_t f) {
  return m.layout == Layout::kColumn ? static_cast<double>(data[f * m.rows + r])
                                     : static_cast<double>(data[r * m.cols + f]);
}

// Per-feature sums of finite values (pass 0) or of squared deviations from mean (pass 1) over
// rows [lo, hi), added in row order into sum[f]; count[f] gets the finite count (pass 0).
template <class T>
void AccumulateBlock(const MatrixView& m, std::size_t lo, std::size_t hi, const double* mean,
                     double* sum, double* count) {
  const T* data = static_cast<const T*>(m.data);
  for (std::size_t f = 0; f < m.cols; ++f) {
    double s = 0.0;
    double c = 0.0;
    for (std::size_t r = lo; r < hi; ++r) {
      const double v = ValueAt(data, m, r, f);
      if (!Finite(v)) continue;
      if (mean == nullptr) {
        s += v;
        c += 1.0;
      } else {
        const double d = v - mean[f];
        s += d * d;
      }
    }
    sum[f] = s;
    if (count != nullptr) count[f] = c;
  }
}

template <class T>
void TileImpl(const MatrixView& m, const Standardization& s, std::size_t row0, std::size_t n,
              double* tile) {
  const T* data = static_cast<const T*>(m.data);
  const std::size_t cols = m.cols;
  if (m.layout == Layout::kColumn) {
    for (std::size_t f = 0; f < cols; ++f) {
      const T* src = data + f * m.rows + row0;
      const double mu = s.mean[f];
      const double inv = 1.0 / s.scale[f];
      double* dst = tile + f * n;
      for (std::size_t r = 0; r < n; ++r) {
        const double v = static_cast<double>(src[r]);
        const double z = (v - mu) * inv;
        dst[r] = Finite(v) ? z : 0.0;
      }
    }
  } else {
    for (std::size_t r = 0; r < n; ++r) {
      const T* src = data + (row0 + r) * cols;
      for (std::size_t f = 0; f < cols; ++f) {
        const double v = static_cast<double>(src[f]);
        const double z = (v - s.mean[f]) * (1.0 / s.scale[f]);
        tile[f * n + r] = Finite(v) ? z : 0.0;
      }
    }
  }
}

template <class T>
void RowImpl(const MatrixView& m, const Standardization& s, std::size_t row, double* out) {
  const T* data = static_cast<const T*>(m.data);
  for (std::size_t f = 0; f < m.cols; ++f) {
    const double v = ValueAt(data, m, row, f);
    const double z = (v - s.mean[f]) * (1.0 / s.scale[f]);
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
      if (m.dtype == DType::kFloat32) {
        AccumulateBlock<float>(m, lo, hi, mean, sums.data() + b * cols, count);
      } else {
        AccumulateBlock<double>(m, lo, hi, mean, sums.data() + b * cols, count);
      }
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

void StandardizedTile(const MatrixView& m, const Standardization& s, std::size_t row0,
                      std::size_t n, double* tile) {
  if (m.dtype == DType::kFloat32) {
    TileImpl<float>(m, s, row0, n, tile);
  } else {
    TileImpl<double>(m, s, row0, n, tile);
  }
}

void StandardizedRow(const MatrixView& m, const Standardization& s, std::size_t row, double* out) {
  if (m.dtype == DType::kFloat32) {
    RowImpl<float>(m, s, row, out);
  } else {
    RowImpl<double>(m, s, row, out);
  }
}

}  // namespace kiln
