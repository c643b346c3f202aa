// Multi-layer perceptron: 1-3 ReLU hidden layers (inverted dropout while training), a sigmoid,
// softmax or identity output; Adam on mini-batches; early stopping on a validation set keeps the
// weights of the best epoch. Inputs are standardised inside (see kiln/training.h: non-finite
// values are missing -> 0 after standardisation); regression targets are standardised too.
//
// Determinism: one seed drives initialisation, shuffles, the validation split and dropout masks,
// all drawn from counter-based streams keyed by (seed, epoch, row, unit), never by thread. A
// mini-batch is cut into fixed blocks of kMlpBlockRows rows; per-block gradients are summed in
// block order. The fitted model is identical for any num_threads.
//
// Memory: matrices and targets are borrowed for the call; models own their vectors.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "kiln/binning.h"
#include "kiln/training.h"

namespace kiln {

// Rows per gradient block of a mini-batch (fixed: part of the summation order).
inline constexpr std::size_t kMlpBlockRows = 32;
// Most hidden layers, and the widest layer, a model may have.
inline constexpr int kMlpMaxHiddenLayers = 3;
inline constexpr int kMlpMaxWidth = 4096;

enum class MlpObjective { kBinary, kMulticlass, kRegression };

struct MlpParams {
  MlpObjective objective = MlpObjective::kBinary;
  int num_class = 2;                 // classes 0..num_class-1: 2 for binary, >= 2 multiclass
  std::vector<int> hidden{64};       // 1..kMlpMaxHiddenLayers widths in [1, kMlpMaxWidth]
  double dropout = 0.0;              // drop probability of hidden units, in [0, 1)
  double learning_rate = 1e-3;       // Adam step size, > 0
  double l2 = 0.0;                   // weight decay added to weight gradients (not biases), >= 0
  int batch_size = 128;              // rows per mini-batch, >= 1
  int epochs = 100;                  // passes over the training rows, >= 1
  int patience = 0;                  // stop after this many epochs without a better validation
                                     // loss; 0 = train all epochs (best epoch still kept)
  double valid_fraction = 0.0;       // without explicit validation rows: share of rows held out
                                     // (by a seeded hash of the row index), in [0, 1)
  std::uint64_t seed = 0;
  int num_threads = 0;               // 0 -> hardware concurrency
};

// One dense layer: out[o] = bias[o] + sum_i in[i] * weights[i * outputs + o].
struct MlpLayer {
  std::size_t inputs = 0;
  std::size_t outputs = 0;
  std::vector<double> weights;  // inputs x outputs, input-major
  std::vector<double> biases;   // outputs
};

struct MlpModel {
  MlpObjective objective = MlpObjective::kBinary;
  int num_class = 2;                  // 1 for regression
  std::size_t cols = 0;
  Standardization standardization;    // cols means / scales
  double target_mean = 0.0;           // regression: prediction = target_mean + target_scale * out
  double target_scale = 1.0;
  std::vector<MlpLayer> layers;       // hidden layers then the output layer

  // Values per predicted row: num_class for multiclass, else 1.
  std::size_t OutputsPerRow() const;
};

// Per-epoch losses (log-loss, multi-class log-loss or mean squared error in target units).
struct MlpFitReport {
  int epochs_run = 0;
  int best_epoch = 0;                 // 1-based epoch whose weights were kept
  bool early_stopped = false;
  std::size_t train_rows = 0;
  std::size_t valid_rows = 0;
  std::vector<double> train_loss;     // mean loss of each epoch's mini-batches (dropout active)
  std::vector<double> valid_loss;     // empty without validation rows
};

// Throws InputError unless x / y (x.rows targets) and params are usable: targets are class
// indices with every class present (binary, multiclass) or finite numbers (regression).
void ValidateMlpInputs(const MatrixView& x, const double* y, const MlpParams& params);

// Fits the network. valid_x / valid_y may be null (then valid_fraction may hold rows out).
// Throws InputError on bad input, Error(kErrCancelled) when control's flag is set.
MlpModel FitMlp(const MatrixView& x, const double* y, const MatrixView* valid_x,
                const double* valid_y, const MlpParams& params, const TrainControl& control,
                MlpFitReport* report);

// Throws InputError unless the model is consistent (shapes chain, finite numbers, objective).
void ValidateMlpModel(const MlpModel& model);

// Predictions of x: P(class 1) (binary), num_class probabilities per row (multiclass) or values
// (regression) into caller-owned out. Row-independent: same for any num_threads.
void PredictMlp(const MlpModel& model, const MatrixView& x, int num_threads, double* out);

}  // namespace kiln
