// Logistic regression: block-parallel loss / gradient on standardised tiles, and L-BFGS.
#include "kiln/linear.h"

#include <algorithm>
#include <cmath>
#include <deque>
#include <limits>
#include <string>

#include "kiln/status.h"
#include "kiln/thread_pool.h"

namespace kiln {
namespace {

// Rows per standardised tile inside a row block (fixed: part of the summation order).
constexpr std::size_t kTileRows = 256;
// Armijo sufficient-decrease constant.
constexpr double kArmijo = 1e-4;
// Line-search trials per iteration.
constexpr int kMaxLineSearchSteps = 40;

// Dot product with four interleaved partial sums combined in a fixed order.
inline double Dot(const double* a, const double* b, std::size_t n) {
  double s0 = 0.0, s1 = 0.0, s2 = 0.0, s3 = 0.0;
  std::size_t i = 0;
  for (; i + 4 <= n; i += 4) {
    s0 += a[i] * b[i];
    s1 += a[i + 1] * b[i + 1];
    s2 += a[i + 2] * b[i + 2];
    s3 += a[i + 3] * b[i + 3];
  }
  double s = (s0 + s1) + (s2 + s3);
  for (; i < n; ++i) s += a[i] * b[i];
  return s;
}

// Sum with four interleaved partial sums combined in a fixed order.
inline double Sum(const double* a, std::size_t n) {
  double s0 = 0.0, s1 = 0.0, s2 = 0.0, s3 = 0.0;
  std::size_t i = 0;
  for (; i + 4 <= n; i += 4) {
    s0 += a[i];
    s1 += a[i + 1];
    s2 += a[i + 2];
    s3 += a[i + 3];
  }
  double s = (s0 + s1) + (s2 + s3);
  for (; i < n; ++i) s += a[i];
  return s;
}

inline double MaxAbs(const std::vector<double>& v) {
  double m = 0.0;
  for (double x : v) m = std::max(m, std::fabs(x));
  return m;
}

// Standardised rows [row0, row0 + n) of x into tile: feature-major (tile[f * n + r]) for column
// input, row-major (tile[r * cols + f]) for row input, so both are read contiguously.
void LoadTile(const MatrixView& x, const Standardization& s, const double* inv_scale,
              std::size_t row0, std::size_t n, double* tile) {
  if (x.layout == Layout::kColumn) {
    StandardizedTile(x, s, inv_scale, row0, n, tile);
  } else {
    StandardizedRows(x, s, inv_scale, row0, n, tile);
  }
}

// margin[k * stride + r] = intercept[k] + Dot(coef row k, z_r) for the n rows of a LoadTile tile.
// Both tile orientations add the same terms in the same order (Dot's four partial sums), so the
// margins do not depend on the input layout.
void TileMargins(const double* coef, const double* intercept, std::size_t k_rows, std::size_t cols,
                 Layout layout, const double* tile, std::size_t n, std::size_t stride,
                 double* margin) {
  if (layout == Layout::kRow) {
    for (std::size_t k = 0; k < k_rows; ++k) {
      const double* w = coef + k * cols;
      double* m = margin + k * stride;
      for (std::size_t r = 0; r < n; ++r) m[r] = intercept[k] + Dot(w, tile + r * cols, cols);
    }
    return;
  }
  const std::size_t cols4 = cols - cols % 4;
  double acc[4][kTileRows];
  for (std::size_t k = 0; k < k_rows; ++k) {
    const double* w = coef + k * cols;
    double* m = margin + k * stride;
    for (auto& a : acc) std::fill(a, a + n, 0.0);
    for (std::size_t f = 0; f < cols4; ++f) {
      const double wf = w[f];
      const double* z = tile + f * n;
      double* a = acc[f % 4];
      for (std::size_t r = 0; r < n; ++r) a[r] += wf * z[r];
    }
    for (std::size_t r = 0; r < n; ++r) m[r] = (acc[0][r] + acc[1][r]) + (acc[2][r] + acc[3][r]);
    for (std::size_t f = cols4; f < cols; ++f) {
      const double wf = w[f];
      const double* z = tile + f * n;
      for (std::size_t r = 0; r < n; ++r) m[r] += wf * z[r];
    }
    for (std::size_t r = 0; r < n; ++r) m[r] = intercept[k] + m[r];
  }
}

// grad[k * cols + f] += sum_r resid[k * stride + r] * z_r[f]; grad[k_rows * cols + k] += sum_r
// resid[k * stride + r], for the n rows of a LoadTile tile.
void TileGradient(const double* resid, std::size_t k_rows, std::size_t cols, Layout layout,
                  const double* tile, std::size_t n, std::size_t stride, double* grad) {
  double* grad_b = grad + k_rows * cols;
  if (layout == Layout::kRow) {
    for (std::size_t r = 0; r < n; ++r) {
      const double* z = tile + r * cols;
      for (std::size_t k = 0; k < k_rows; ++k) {
        const double g = resid[k * stride + r];
        double* gk = grad + k * cols;
        for (std::size_t f = 0; f < cols; ++f) gk[f] += g * z[f];
        grad_b[k] += g;
      }
    }
    return;
  }
  for (std::size_t k = 0; k < k_rows; ++k) {
    const double* rk = resid + k * stride;
    for (std::size_t f = 0; f < cols; ++f) grad[k * cols + f] += Dot(rk, tile + f * n, n);
    grad_b[k] += Sum(rk, n);
  }
}

// P(class 1) from a margin, without overflow.
inline double Sigmoid(double m) {
  if (m >= 0) return 1.0 / (1.0 + std::exp(-m));
  const double e = std::exp(m);
  return e / (1.0 + e);
}

// Overwrites margins (k_rows x stride) of n rows with softmax probabilities, row by row.
void SoftmaxInPlace(double* margin, std::size_t k_rows, std::size_t n, std::size_t stride) {
  for (std::size_t r = 0; r < n; ++r) {
    double mx = -std::numeric_limits<double>::infinity();
    for (std::size_t k = 0; k < k_rows; ++k) mx = std::max(mx, margin[k * stride + r]);
    double sum = 0.0;
    for (std::size_t k = 0; k < k_rows; ++k) {
      const double e = std::exp(margin[k * stride + r] - mx);
      margin[k * stride + r] = e;
      sum += e;
    }
    for (std::size_t k = 0; k < k_rows; ++k) margin[k * stride + r] /= sum;
  }
}

// Sum of log(x) per label, taking one log per kLogGroup factors: the product of up to
// kLogGroup factors in [1, 1024] cannot overflow. Grouping depends only on the data order.
class LogSumByLabel {
 public:
  explicit LogSumByLabel(std::size_t labels) : product_(labels, 1.0), count_(labels, 0), sum_(labels, 0.0) {}

  // Adds log(x) (x >= 1) to the sum of `label`.
  void Add(std::size_t label, double x) {
    product_[label] *= x;
    if (++count_[label] == kLogGroup) Flush(label);
  }

  // sum_k weights[k] * (sum of log terms of label k).
  double WeightedTotal(const std::vector<double>& weights) {
    double total = 0.0;
    for (std::size_t k = 0; k < sum_.size(); ++k) {
      Flush(k);
      total += weights[k] * sum_[k];
    }
    return total;
  }

 private:
  static constexpr int kLogGroup = 16;

  void Flush(std::size_t label) {
    sum_[label] += std::log(product_[label]);
    product_[label] = 1.0;
    count_[label] = 0;
  }

  std::vector<double> product_;
  std::vector<int> count_;
  std::vector<double> sum_;
};

// The objective f and its gradient over the training matrix. Parameters theta are
// [coef (k_rows x cols, row-major), intercept (k_rows)].
class LogisticObjective {
 public:
  LogisticObjective(const MatrixView& x, const std::int32_t* labels,
                    const std::vector<double>& class_weights, const LinearFitParams& p,
                    const Standardization& s)
      : x_(x),
        labels_(labels),
        class_weights_(class_weights),
        params_(p),
        std_(s),
        inv_scale_(InverseScales(s)),
        k_rows_(p.num_class == 2 ? 1 : static_cast<std::size_t>(p.num_class)),
        cols_(x.cols),
        blocks_(NumBlocks(x.rows, kRowBlockSize)),
        partials_(blocks_ * (1 + NumParams())) {}

  std::size_t NumParams() const { return k_rows_ * (cols_ + 1); }
  std::size_t CoefRows() const { return k_rows_; }

  // f(theta); grad (NumParams entries) receives its gradient.
  double Evaluate(const std::vector<double>& theta, std::vector<double>& grad) {
    const std::size_t width = 1 + NumParams();
    ParallelFor(blocks_, params_.num_threads, [&](std::size_t b) {
      EvaluateBlock(b, theta.data(), partials_.data() + b * width);
    });
    double loss = 0.0;
    std::fill(grad.begin(), grad.end(), 0.0);
    for (std::size_t b = 0; b < blocks_; ++b) {
      const double* part = partials_.data() + b * width;
      loss += part[0];
      for (std::size_t j = 0; j < NumParams(); ++j) grad[j] += part[1 + j];
    }
    const double inv_n = 1.0 / static_cast<double>(x_.rows);
    double penalty = 0.0;
    const std::size_t n_coef = k_rows_ * cols_;
    if (params_.penalty == LinearPenalty::kL2) {
      const double inv_c = 1.0 / params_.c;
      for (std::size_t j = 0; j < n_coef; ++j) {
        penalty += theta[j] * theta[j];
        grad[j] += inv_c * theta[j];
      }
      penalty *= 0.5 * inv_c;
    }
    for (double& g : grad) g *= inv_n;
    return (loss + penalty) * inv_n;
  }

 private:
  // Loss sum and raw gradient sums of rows in block b, written to part[0] and part[1..].
  void EvaluateBlock(std::size_t b, const double* theta, double* part) const {
    const std::size_t lo = b * kRowBlockSize;
    const std::size_t hi = std::min(x_.rows, lo + kRowBlockSize);
    const std::size_t n_coef = k_rows_ * cols_;
    std::vector<double> tile(cols_ * kTileRows);
    std::vector<double> margin(k_rows_ * kTileRows);
    std::fill(part, part + 1 + NumParams(), 0.0);
    double* grad = part + 1;
    for (std::size_t t0 = lo; t0 < hi; t0 += kTileRows) {
      const std::size_t n = std::min(kTileRows, hi - t0);
      LoadTile(x_, std_, inv_scale_.data(), t0, n, tile.data());
      TileMargins(theta, theta + n_coef, k_rows_, cols_, x_.layout, tile.data(), n, kTileRows,
                  margin.data());
      LogSumByLabel log_terms(class_weights_.size());
      double linear_terms = 0.0;
      if (k_rows_ == 1) {
        for (std::size_t r = 0; r < n; ++r) {
          const double m = margin[r];
          const std::int32_t label = labels_[t0 + r];
          const double y = static_cast<double>(label);
          const double w = class_weights_[static_cast<std::size_t>(label)];
          const double e = std::exp(-std::fabs(m));
          const double p = m >= 0 ? 1.0 / (1.0 + e) : e / (1.0 + e);
          log_terms.Add(static_cast<std::size_t>(label), 1.0 + e);
          linear_terms += w * (std::max(m, 0.0) - y * m);
          margin[r] = w * (p - y);
        }
      } else {
        for (std::size_t r = 0; r < n; ++r) {
          const std::size_t label = static_cast<std::size_t>(labels_[t0 + r]);
          const double w = class_weights_[label];
          double mx = -std::numeric_limits<double>::infinity();
          for (std::size_t k = 0; k < k_rows_; ++k) mx = std::max(mx, margin[k * kTileRows + r]);
          double sum = 0.0;
          const double m_label = margin[label * kTileRows + r];
          for (std::size_t k = 0; k < k_rows_; ++k) {
            const double e = std::exp(margin[k * kTileRows + r] - mx);
            margin[k * kTileRows + r] = e;
            sum += e;
          }
          log_terms.Add(label, sum);
          linear_terms += w * (mx - m_label);
          const double scale = w / sum;
          for (std::size_t k = 0; k < k_rows_; ++k) margin[k * kTileRows + r] *= scale;
          margin[label * kTileRows + r] -= w;
        }
      }
      const double loss = log_terms.WeightedTotal(class_weights_) + linear_terms;
      part[0] += loss;
      TileGradient(margin.data(), k_rows_, cols_, x_.layout, tile.data(), n, kTileRows, grad);
    }
  }

  const MatrixView& x_;
  const std::int32_t* labels_;
  const std::vector<double>& class_weights_;
  const LinearFitParams& params_;
  const Standardization& std_;
  std::vector<double> inv_scale_;
  std::size_t k_rows_;
  std::size_t cols_;
  std::size_t blocks_;
  std::vector<double> partials_;
};

// Two-loop recursion: direction = -H * grad for the stored pairs (s, y), H0 = gamma * I.
std::vector<double> LbfgsDirection(const std::vector<double>& grad,
                                   const std::deque<std::vector<double>>& s_list,
                                   const std::deque<std::vector<double>>& y_list,
                                   const std::deque<double>& rho) {
  std::vector<double> q(grad);
  const std::size_t m = s_list.size();
  const std::size_t n = q.size();
  std::vector<double> alpha(m);
  for (std::size_t i = m; i-- > 0;) {
    alpha[i] = rho[i] * Dot(s_list[i].data(), q.data(), n);
    for (std::size_t j = 0; j < n; ++j) q[j] -= alpha[i] * y_list[i][j];
  }
  if (m > 0) {
    const double gamma = Dot(s_list[m - 1].data(), y_list[m - 1].data(), n) /
                         Dot(y_list[m - 1].data(), y_list[m - 1].data(), n);
    for (double& v : q) v *= gamma;
  }
  for (std::size_t i = 0; i < m; ++i) {
    const double beta = rho[i] * Dot(y_list[i].data(), q.data(), n);
    for (std::size_t j = 0; j < n; ++j) q[j] += (alpha[i] - beta) * s_list[i][j];
  }
  for (double& v : q) v = -v;
  return q;
}

}  // namespace

void ValidateLogisticInputs(const MatrixView& x, const std::int32_t* labels,
                            const std::vector<double>& class_weights, const LinearFitParams& p) {
  ValidateDenseMatrix(x, "features");
  if (labels == nullptr) throw InputError("labels has no data");
  if (p.num_class < 2 || p.num_class > kMaxClasses) {
    throw InputError("numClass must be in [2, " + std::to_string(kMaxClasses) + "], got " +
                     std::to_string(p.num_class));
  }
  if (!(p.c > 0) || !std::isfinite(p.c)) throw InputError("C must be a finite number > 0");
  if (p.max_iter < 1) throw InputError("maxIter must be >= 1");
  if (!(p.tol > 0) || !std::isfinite(p.tol)) throw InputError("tol must be a finite number > 0");
  if (p.memory < 1) throw InputError("memory must be >= 1");
  if (class_weights.size() != static_cast<std::size_t>(p.num_class)) {
    throw InputError("classWeights has " + std::to_string(class_weights.size()) +
                     " entries, expected numClass = " + std::to_string(p.num_class));
  }
  for (std::size_t k = 0; k < class_weights.size(); ++k) {
    if (!(class_weights[k] > 0) || !std::isfinite(class_weights[k])) {
      throw InputError("classWeights[" + std::to_string(k) + "] must be a finite number > 0");
    }
  }
  std::vector<std::size_t> counts(static_cast<std::size_t>(p.num_class), 0);
  for (std::size_t r = 0; r < x.rows; ++r) {
    const std::int32_t y = labels[r];
    if (y < 0 || y >= p.num_class) {
      throw InputError("labels[" + std::to_string(r) + "] = " + std::to_string(y) +
                       " is outside [0, " + std::to_string(p.num_class - 1) + "]");
    }
    ++counts[static_cast<std::size_t>(y)];
  }
  for (std::size_t k = 0; k < counts.size(); ++k) {
    if (counts[k] == 0) throw InputError("class " + std::to_string(k) + " has no rows");
  }
}

LinearModel FitLogistic(const MatrixView& x, const std::int32_t* labels,
                        const std::vector<double>& class_weights, const LinearFitParams& params,
                        const TrainControl& control, LinearFitReport* report) {
  ValidateLogisticInputs(x, labels, class_weights, params);
  LinearModel model;
  model.num_class = params.num_class;
  model.cols = x.cols;
  model.standardization = FitStandardization(x, params.num_threads);
  ThrowIfCancelled(control);

  LogisticObjective objective(x, labels, class_weights, params, model.standardization);
  const std::size_t n = objective.NumParams();
  std::vector<double> theta(n, 0.0);
  std::vector<double> grad(n);
  double f = objective.Evaluate(theta, grad);
  double gnorm = MaxAbs(grad);

  LinearFitReport local;
  LinearFitReport& rep = report != nullptr ? *report : local;
  rep = LinearFitReport();
  rep.history.push_back(f);

  std::deque<std::vector<double>> s_list, y_list;
  std::deque<double> rho;
  std::vector<double> theta_new(n), grad_new(n);
  const double eps = std::numeric_limits<double>::epsilon();
  int iter = 0;
  while (gnorm > params.tol && iter < params.max_iter) {
    ThrowIfCancelled(control);
    std::vector<double> dir = LbfgsDirection(grad, s_list, y_list, rho);
    double slope = Dot(grad.data(), dir.data(), n);
    if (!(slope < 0)) {
      s_list.clear();
      y_list.clear();
      rho.clear();
      dir = LbfgsDirection(grad, s_list, y_list, rho);
      slope = Dot(grad.data(), dir.data(), n);
    }
    double step = s_list.empty() ? std::min(1.0, 1.0 / std::sqrt(-slope)) : 1.0;
    bool accepted = false;
    double f_new = f;
    for (int trial = 0; trial < kMaxLineSearchSteps; ++trial) {
      for (std::size_t j = 0; j < n; ++j) theta_new[j] = theta[j] + step * dir[j];
      f_new = objective.Evaluate(theta_new, grad_new);
      if (std::isfinite(f_new)) {
        const bool armijo = f_new <= f + kArmijo * step * slope;
        const bool within_rounding = f_new <= f + 8 * eps * std::fabs(f) && MaxAbs(grad_new) < gnorm;
        if (armijo || within_rounding) {
          accepted = true;
          break;
        }
        const double denom = 2.0 * (f_new - f - slope * step);
        const double quad = denom > 0 ? -slope * step * step / denom : 0.5 * step;
        step = std::min(0.5 * step, std::max(0.1 * step, quad));
      } else {
        step *= 0.1;
      }
    }
    if (!accepted) {
      if (s_list.empty()) break;
      s_list.clear();
      y_list.clear();
      rho.clear();
      continue;
    }
    std::vector<double> s(n), y(n);
    for (std::size_t j = 0; j < n; ++j) {
      s[j] = theta_new[j] - theta[j];
      y[j] = grad_new[j] - grad[j];
    }
    const double sy = Dot(s.data(), y.data(), n);
    const double yy = Dot(y.data(), y.data(), n);
    if (sy > eps * yy && sy > 0) {
      if (s_list.size() == static_cast<std::size_t>(params.memory)) {
        s_list.pop_front();
        y_list.pop_front();
        rho.pop_front();
      }
      s_list.push_back(std::move(s));
      y_list.push_back(std::move(y));
      rho.push_back(1.0 / sy);
    }
    theta.swap(theta_new);
    grad.swap(grad_new);
    f = f_new;
    gnorm = MaxAbs(grad);
    ++iter;
    rep.history.push_back(f);
    if (control.on_progress) {
      TrainProgress progress;
      progress.iteration = iter;
      progress.train_loss = f;
      progress.grad_norm = gnorm;
      control.on_progress(progress);
    }
  }
  ThrowIfCancelled(control);

  const std::size_t k_rows = objective.CoefRows();
  model.coef.assign(theta.begin(), theta.begin() + static_cast<std::ptrdiff_t>(k_rows * x.cols));
  model.intercept.assign(theta.begin() + static_cast<std::ptrdiff_t>(k_rows * x.cols), theta.end());
  if (k_rows > 1) {
    const double mean = Sum(model.intercept.data(), k_rows) / static_cast<double>(k_rows);
    for (double& b : model.intercept) b -= mean;
  }
  for (double v : theta) {
    if (!std::isfinite(v)) throw Error(kErrInternal, "logistic regression diverged (non-finite coefficient)");
  }
  rep.iterations = iter;
  rep.converged = gnorm <= params.tol;
  rep.objective = f;
  rep.grad_norm = gnorm;
  return model;
}

void ValidateLinearModel(const LinearModel& model) {
  if (model.num_class < 2 || model.num_class > kMaxClasses) {
    throw InputError("model numClass must be in [2, " + std::to_string(kMaxClasses) + "]");
  }
  if (model.cols == 0) throw InputError("model must have at least one feature");
  ValidateStandardization(model.standardization, model.cols);
  const std::size_t k_rows = model.CoefRows();
  if (model.coef.size() != k_rows * model.cols) {
    throw InputError("model coef has " + std::to_string(model.coef.size()) + " entries, expected " +
                     std::to_string(k_rows * model.cols));
  }
  if (model.intercept.size() != k_rows) {
    throw InputError("model intercept has " + std::to_string(model.intercept.size()) +
                     " entries, expected " + std::to_string(k_rows));
  }
  for (double v : model.coef) {
    if (!std::isfinite(v)) throw InputError("model coef contains a non-finite number");
  }
  for (double v : model.intercept) {
    if (!std::isfinite(v)) throw InputError("model intercept contains a non-finite number");
  }
}

void PredictLogistic(const LinearModel& model, const MatrixView& x, int num_threads, double* out) {
  ValidateLinearModel(model);
  ValidateDenseMatrix(x, "features");
  if (x.cols != model.cols) {
    throw InputError("features have " + std::to_string(x.cols) + " columns, the model has " +
                     std::to_string(model.cols));
  }
  const std::size_t k_rows = model.CoefRows();
  const std::size_t cols = model.cols;
  const std::vector<double> inv_scale = InverseScales(model.standardization);
  ParallelFor(NumBlocks(x.rows, kRowBlockSize), num_threads, [&](std::size_t b) {
    const std::size_t lo = b * kRowBlockSize;
    const std::size_t hi = std::min(x.rows, lo + kRowBlockSize);
    std::vector<double> tile(cols * kTileRows);
    std::vector<double> margin(k_rows * kTileRows);
    for (std::size_t t0 = lo; t0 < hi; t0 += kTileRows) {
      const std::size_t n = std::min(kTileRows, hi - t0);
      LoadTile(x, model.standardization, inv_scale.data(), t0, n, tile.data());
      TileMargins(model.coef.data(), model.intercept.data(), k_rows, cols, x.layout, tile.data(), n,
                  kTileRows, margin.data());
      if (k_rows == 1) {
        for (std::size_t r = 0; r < n; ++r) out[t0 + r] = Sigmoid(margin[r]);
      } else {
        SoftmaxInPlace(margin.data(), k_rows, n, kTileRows);
        for (std::size_t r = 0; r < n; ++r) {
          for (std::size_t k = 0; k < k_rows; ++k) out[(t0 + r) * k_rows + k] = margin[k * kTileRows + r];
        }
      }
    }
  });
}

}  // namespace kiln
