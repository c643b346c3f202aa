// Logistic regression on standardised features, fitted by L-BFGS.
//
// Binary (num_class == 2): one coefficient row, P(class 1) = sigmoid(b + w . z).
// Multinomial (num_class > 2): num_class rows, P(k) = softmax_k(b_k + w_k . z).
// z = (x - mean) / scale with the training mean / scale; a non-finite x is missing: z = 0.
//
// Objective, minimised over (W, b):
//   f = (1/n) * [ sum_i cw[y_i] * logloss_i + ||W||^2 / (2 C) ]     (l2; the last term is
// dropped for penalty none; intercepts are never penalised). This is scikit-learn's lbfgs
// objective divided by n, so the optimum is the same as LogisticRegression(C) after a
// StandardScaler.
//
// Determinism: losses and gradients are per-block partials (kRowBlockSize rows, fixed inner
// tiles) summed in block order, so the fitted model is identical for any num_threads.
// Memory: MatrixView / labels are borrowed for the call; models own their vectors.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "kiln/binning.h"
#include "kiln/training.h"

namespace kiln {

enum class LinearPenalty { kL2, kNone };

struct LinearFitParams {
  int num_class = 2;                         // classes are 0..num_class-1, every one present
  double c = 1.0;                            // inverse regularisation strength, > 0
  LinearPenalty penalty = LinearPenalty::kL2;
  int max_iter = 1000;                       // L-BFGS iterations, >= 1
  double tol = 1e-8;                         // stop when max |gradient of f| <= tol
  int memory = 10;                           // L-BFGS correction pairs, >= 1
  int num_threads = 0;                       // 0 -> hardware concurrency
};

struct LinearModel {
  int num_class = 2;
  std::size_t cols = 0;
  Standardization standardization;  // cols means / scales
  std::vector<double> coef;         // CoefRows() x cols, row-major, standardised space
  std::vector<double> intercept;    // CoefRows() entries

  // Coefficient rows: 1 for binary, num_class otherwise.
  std::size_t CoefRows() const { return num_class == 2 ? 1 : static_cast<std::size_t>(num_class); }
};

// How a fit went: iterations done, whether the gradient reached tol, and the objective trace.
struct LinearFitReport {
  int iterations = 0;
  bool converged = false;
  double objective = 0.0;        // f at the returned model
  double grad_norm = 0.0;        // max |gradient of f| at the returned model
  std::vector<double> history;   // f after each iteration (history[0]: at the start)
};

// Throws InputError unless labels (x.rows entries) are in [0, num_class) with every class present,
// class_weights has num_class finite positive entries and params are in range.
void ValidateLogisticInputs(const MatrixView& x, const std::int32_t* labels,
                            const std::vector<double>& class_weights, const LinearFitParams& p);

// Fits the model (validates first). Throws InputError on bad input, Error(kErrCancelled) when
// control's flag is set. report may be null.
LinearModel FitLogistic(const MatrixView& x, const std::int32_t* labels,
                        const std::vector<double>& class_weights, const LinearFitParams& params,
                        const TrainControl& control, LinearFitReport* report);

// Throws InputError unless the model is consistent (sizes, finite numbers, 2 <= num_class).
void ValidateLinearModel(const LinearModel& model);

// Probabilities of x (cols must equal model.cols): out[r] = P(class 1) for binary, else
// out[r * num_class + k]. out is caller-owned. Row-independent: same for any num_threads.
void PredictLogistic(const LinearModel& model, const MatrixView& x, int num_threads, double* out);

}  // namespace kiln
