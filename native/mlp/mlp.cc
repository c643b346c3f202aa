// MLP training (block-parallel mini-batch gradients, Adam, early stopping) and prediction.
#include "kiln/mlp.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>

#include "common/rng.h"
#include "kiln/status.h"
#include "kiln/thread_pool.h"

namespace kiln {
namespace {

// Rows per block when evaluating a validation set (fixed: part of the summation order).
constexpr std::size_t kEvalBlockRows = 256;
// Rows x parameters of a mini-batch below which its blocks run on one thread (starting threads
// would cost more than they save; the blocks and their summation order are the same).
constexpr std::size_t kMinParallelBatchWork = std::size_t{1} << 20;
// Parameters per chunk of the gradient-sum + Adam update, and the parameter count from which
// chunks are spread over threads (each parameter's sum runs over blocks in order either way).
constexpr std::size_t kParamChunk = 4096;
constexpr std::size_t kMinParallelUpdate = 32768;
constexpr double kAdamBeta1 = 0.9;
constexpr double kAdamBeta2 = 0.999;
constexpr double kAdamEpsilon = 1e-8;

// y[0..n) += a * x[0..n).
inline void Axpy(double a, const double* x, double* y, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) y[i] += a * x[i];
}

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

// Layer shapes and their offsets in the flat parameter vector [W0, b0, W1, b1, ...].
struct Shape {
  std::vector<std::size_t> widths;       // input, hidden..., output
  std::vector<std::size_t> w_offset;     // per layer
  std::vector<std::size_t> b_offset;     // per layer
  std::vector<std::size_t> unit_offset;  // per hidden layer: first unit among all hidden units
  std::size_t num_params = 0;
  std::size_t hidden_units = 0;
  std::size_t max_width = 0;

  std::size_t NumLayers() const { return widths.size() - 1; }

  static Shape Of(std::size_t cols, const std::vector<std::size_t>& hidden, std::size_t outputs) {
    Shape s;
    s.widths.push_back(cols);
    for (std::size_t h : hidden) s.widths.push_back(h);
    s.widths.push_back(outputs);
    for (std::size_t l = 0; l + 1 < s.widths.size(); ++l) {
      s.w_offset.push_back(s.num_params);
      s.num_params += s.widths[l] * s.widths[l + 1];
      s.b_offset.push_back(s.num_params);
      s.num_params += s.widths[l + 1];
    }
    for (std::size_t l = 1; l + 1 < s.widths.size(); ++l) {
      s.unit_offset.push_back(s.hidden_units);
      s.hidden_units += s.widths[l];
    }
    for (std::size_t w : s.widths) s.max_width = std::max(s.max_width, w);
    return s;
  }
};

// Dropout draws of one epoch: unit u of row `row` is kept when its uniform draw >= rate.
struct DropoutContext {
  std::uint64_t key = 0;
  double rate = 0.0;
  double inv_keep = 1.0;
  std::uint64_t epoch_base = 0;  // epoch * total_rows
  std::size_t hidden_units = 0;

  bool Keep(std::size_t row, std::size_t unit) const {
    const std::uint64_t counter = (epoch_base + row) * hidden_units + unit;
    return rng::ToUnitDouble(rng::HashAt(key, counter)) >= rate;
  }
};

// Activations and deltas of up to `rows` rows, row-major per layer.
struct Workspace {
  std::vector<std::vector<double>> acts;  // acts[l]: rows x widths[l] (acts[0] = inputs)
  std::vector<double> delta;              // rows x max_width
  std::vector<double> delta_prev;         // rows x max_width

  Workspace(const Shape& s, std::size_t rows) {
    for (std::size_t w : s.widths) acts.emplace_back(rows * w);
    delta.resize(rows * s.max_width);
    delta_prev.resize(rows * s.max_width);
  }
};

// Forward pass of n rows whose inputs are in ws.acts[0]; the output layer's raw values end in
// ws.acts.back(). dropout null = inference.
void Forward(const Shape& s, const double* theta, std::size_t n, const std::size_t* rows,
             const DropoutContext* dropout, Workspace& ws) {
  const std::size_t layers = s.NumLayers();
  for (std::size_t l = 0; l < layers; ++l) {
    const std::size_t in = s.widths[l];
    const std::size_t out = s.widths[l + 1];
    const double* w = theta + s.w_offset[l];
    const double* b = theta + s.b_offset[l];
    const bool hidden = l + 1 < layers;
    for (std::size_t r = 0; r < n; ++r) {
      const double* a = ws.acts[l].data() + r * in;
      double* z = ws.acts[l + 1].data() + r * out;
      std::copy(b, b + out, z);
      for (std::size_t i = 0; i < in; ++i) {
        if (a[i] != 0.0) Axpy(a[i], w + i * out, z, out);
      }
      if (!hidden) continue;
      for (std::size_t o = 0; o < out; ++o) z[o] = z[o] > 0.0 ? z[o] : 0.0;
      if (dropout != nullptr && dropout->rate > 0.0) {
        const std::size_t base = s.unit_offset[l];
        for (std::size_t o = 0; o < out; ++o) {
          z[o] = dropout->Keep(rows[r], base + o) ? z[o] * dropout->inv_keep : 0.0;
        }
      }
    }
  }
}

// Loss of one output row and (when delta is non-null) d loss / d output into delta.
// target: class index or standardised regression target.
double OutputLoss(MlpObjective objective, const double* out, std::size_t k, double target,
                  double* delta) {
  switch (objective) {
    case MlpObjective::kBinary: {
      const double m = out[0];
      const double e = std::exp(-std::fabs(m));
      const double p = m >= 0 ? 1.0 / (1.0 + e) : e / (1.0 + e);
      if (delta != nullptr) delta[0] = p - target;
      return std::log1p(e) + std::max(m, 0.0) - target * m;
    }
    case MlpObjective::kMulticlass: {
      const std::size_t label = static_cast<std::size_t>(target);
      double mx = out[0];
      for (std::size_t j = 1; j < k; ++j) mx = std::max(mx, out[j]);
      double sum = 0.0;
      for (std::size_t j = 0; j < k; ++j) sum += std::exp(out[j] - mx);
      if (delta != nullptr) {
        for (std::size_t j = 0; j < k; ++j) delta[j] = std::exp(out[j] - mx) / sum;
        delta[label] -= 1.0;
      }
      return mx + std::log(sum) - out[label];
    }
    case MlpObjective::kRegression: {
      const double e = out[0] - target;
      if (delta != nullptr) delta[0] = e;
      return e * e;
    }
  }
  return 0.0;
}

// Sums loss and accumulates raw gradients (into grad, NumParams entries, pre-zeroed) of n rows
// whose forward pass is in ws; targets[r] is the (standardised) target of row r.
double Backward(const Shape& s, const double* theta, MlpObjective objective, std::size_t n,
                const double* targets, const DropoutContext* dropout, Workspace& ws,
                double* grad) {
  const std::size_t layers = s.NumLayers();
  const std::size_t k = s.widths[layers];
  double loss = 0.0;
  for (std::size_t r = 0; r < n; ++r) {
    loss += OutputLoss(objective, ws.acts[layers].data() + r * k, k, targets[r],
                       ws.delta.data() + r * k);
  }
  const double inv_keep = dropout != nullptr ? dropout->inv_keep : 1.0;
  for (std::size_t l = layers; l-- > 0;) {
    const std::size_t in = s.widths[l];
    const std::size_t out = s.widths[l + 1];
    const double* w = theta + s.w_offset[l];
    double* gw = grad + s.w_offset[l];
    double* gb = grad + s.b_offset[l];
    for (std::size_t r = 0; r < n; ++r) {
      const double* a = ws.acts[l].data() + r * in;
      const double* d = ws.delta.data() + r * out;
      for (std::size_t i = 0; i < in; ++i) {
        if (a[i] != 0.0) Axpy(a[i], d, gw + i * out, out);
      }
      for (std::size_t o = 0; o < out; ++o) gb[o] += d[o];
      if (l == 0) continue;
      double* dp = ws.delta_prev.data() + r * in;
      for (std::size_t i = 0; i < in; ++i) {
        dp[i] = a[i] != 0.0 ? inv_keep * Dot(w + i * out, d, out) : 0.0;
      }
    }
    if (l > 0) ws.delta.swap(ws.delta_prev);
  }
  return loss;
}

// Standardised inputs of the given rows of x into ws.acts[0].
void LoadInputs(const MatrixView& x, const Standardization& st, const double* inv_scale,
                const std::size_t* rows, std::size_t n, Workspace& ws) {
  for (std::size_t r = 0; r < n; ++r) {
    StandardizedRow(x, st, inv_scale, rows[r], ws.acts[0].data() + r * x.cols);
  }
}

// Mean loss (target units) of the rows `index` of x; blocks of kEvalBlockRows summed in order.
double EvaluateLoss(const Shape& s, const std::vector<double>& theta, MlpObjective objective,
                    const MatrixView& x, const Standardization& st, const std::vector<std::size_t>& index,
                    const std::vector<double>& targets, double loss_scale, int num_threads) {
  const std::size_t blocks = NumBlocks(index.size(), kEvalBlockRows);
  std::vector<double> partial(blocks, 0.0);
  const std::size_t layers = s.NumLayers();
  const std::size_t k = s.widths[layers];
  const std::vector<double> inv_scale = InverseScales(st);
  ParallelFor(blocks, num_threads, [&](std::size_t b) {
    const std::size_t lo = b * kEvalBlockRows;
    const std::size_t n = std::min(kEvalBlockRows, index.size() - lo);
    Workspace ws(s, n);
    LoadInputs(x, st, inv_scale.data(), index.data() + lo, n, ws);
    Forward(s, theta.data(), n, index.data() + lo, nullptr, ws);
    double loss = 0.0;
    for (std::size_t r = 0; r < n; ++r) {
      loss += OutputLoss(objective, ws.acts[layers].data() + r * k, k, targets[lo + r], nullptr);
    }
    partial[b] = loss;
  });
  double total = 0.0;
  for (double p : partial) total += p;
  return total * loss_scale / static_cast<double>(index.size());
}

std::size_t OutputsFor(MlpObjective objective, int num_class) {
  return objective == MlpObjective::kMulticlass ? static_cast<std::size_t>(num_class) : 1;
}

// Hidden widths as size_t after range checks.
std::vector<std::size_t> CheckedHidden(const std::vector<int>& hidden) {
  if (hidden.empty() || hidden.size() > static_cast<std::size_t>(kMlpMaxHiddenLayers)) {
    throw InputError("hiddenLayers must have 1 to " + std::to_string(kMlpMaxHiddenLayers) +
                     " entries, got " + std::to_string(hidden.size()));
  }
  std::vector<std::size_t> out;
  for (std::size_t l = 0; l < hidden.size(); ++l) {
    if (hidden[l] < 1 || hidden[l] > kMlpMaxWidth) {
      throw InputError("hiddenLayers[" + std::to_string(l) + "] must be in [1, " +
                       std::to_string(kMlpMaxWidth) + "], got " + std::to_string(hidden[l]));
    }
    out.push_back(static_cast<std::size_t>(hidden[l]));
  }
  return out;
}

// Throws unless y[0..n) are valid targets for the objective; `what` names the array.
void ValidateTargets(const double* y, std::size_t n, const MlpParams& p, const char* what,
                     bool require_every_class) {
  if (y == nullptr) throw InputError(std::string(what) + " has no data");
  if (p.objective == MlpObjective::kRegression) {
    for (std::size_t r = 0; r < n; ++r) {
      if (!std::isfinite(y[r])) {
        throw InputError(std::string(what) + "[" + std::to_string(r) + "] is not a finite number");
      }
    }
    return;
  }
  std::vector<std::size_t> counts(static_cast<std::size_t>(p.num_class), 0);
  for (std::size_t r = 0; r < n; ++r) {
    const double v = y[r];
    if (!(v >= 0) || v >= p.num_class || std::floor(v) != v) {
      throw InputError(std::string(what) + "[" + std::to_string(r) + "] = " + std::to_string(v) +
                       " is not a class index in [0, " + std::to_string(p.num_class - 1) + "]");
    }
    ++counts[static_cast<std::size_t>(v)];
  }
  if (!require_every_class) return;
  for (std::size_t c = 0; c < counts.size(); ++c) {
    if (counts[c] == 0) throw InputError("class " + std::to_string(c) + " has no rows");
  }
}

void ValidateParams(const MlpParams& p) {
  CheckedHidden(p.hidden);
  if (p.objective == MlpObjective::kBinary && p.num_class != 2) throw InputError("binary needs numClass = 2");
  if (p.objective == MlpObjective::kMulticlass && (p.num_class < 2 || p.num_class > kMaxClasses)) {
    throw InputError("multiclass needs numClass in [2, " + std::to_string(kMaxClasses) + "]");
  }
  if (!(p.dropout >= 0.0 && p.dropout < 1.0)) throw InputError("dropout must be in [0, 1)");
  if (!(p.learning_rate > 0.0) || !std::isfinite(p.learning_rate)) {
    throw InputError("learningRate must be a finite number > 0");
  }
  if (!(p.l2 >= 0.0) || !std::isfinite(p.l2)) throw InputError("l2 must be a finite number >= 0");
  if (p.batch_size < 1) throw InputError("batchSize must be >= 1");
  if (p.epochs < 1) throw InputError("epochs must be >= 1");
  if (p.patience < 0) throw InputError("patience must be >= 0");
  if (!(p.valid_fraction >= 0.0 && p.valid_fraction < 1.0)) throw InputError("validationFraction must be in [0, 1)");
}

}  // namespace

std::size_t MlpModel::OutputsPerRow() const { return OutputsFor(objective, num_class); }

void ValidateMlpInputs(const MatrixView& x, const double* y, const MlpParams& params) {
  ValidateDenseMatrix(x, "features");
  ValidateParams(params);
  ValidateTargets(y, x.rows, params, "targets", true);
}

MlpModel FitMlp(const MatrixView& x, const double* y, const MatrixView* valid_x,
                const double* valid_y, const MlpParams& params, const TrainControl& control,
                MlpFitReport* report) {
  ValidateMlpInputs(x, y, params);
  if (valid_x != nullptr) {
    ValidateDenseMatrix(*valid_x, "validation features");
    if (valid_x->cols != x.cols) {
      throw InputError("validation features have " + std::to_string(valid_x->cols) +
                       " columns, training features have " + std::to_string(x.cols));
    }
    if (params.valid_fraction > 0) throw InputError("give validation rows or validationFraction, not both");
    ValidateTargets(valid_y, valid_x->rows, params, "validation targets", false);
  }
  const std::vector<std::size_t> hidden = CheckedHidden(params.hidden);
  const std::size_t outputs = OutputsFor(params.objective, params.num_class);
  const Shape shape = Shape::Of(x.cols, hidden, outputs);

  MlpModel model;
  model.objective = params.objective;
  model.num_class = params.objective == MlpObjective::kRegression ? 1 : params.num_class;
  model.cols = x.cols;
  model.standardization = FitStandardization(x, params.num_threads);

  std::vector<std::size_t> train_rows;
  std::vector<std::size_t> held_rows;
  if (params.valid_fraction > 0) {
    const std::uint64_t key = rng::StreamKey(params.seed, rng::kStreamMlpValidSplit);
    for (std::size_t r = 0; r < x.rows; ++r) {
      (rng::ToUnitDouble(rng::HashAt(key, r)) < params.valid_fraction ? held_rows : train_rows).push_back(r);
    }
    if (train_rows.empty() || held_rows.empty()) {
      throw InputError("validationFraction leaves " + std::to_string(train_rows.size()) +
                       " training and " + std::to_string(held_rows.size()) +
                       " validation rows; both must be >= 1");
    }
  } else {
    train_rows.resize(x.rows);
    for (std::size_t r = 0; r < x.rows; ++r) train_rows[r] = r;
  }

  if (params.objective == MlpObjective::kRegression) {
    double sum = 0.0;
    for (std::size_t r : train_rows) sum += y[r];
    const double mean = sum / static_cast<double>(train_rows.size());
    double ss = 0.0;
    for (std::size_t r : train_rows) ss += (y[r] - mean) * (y[r] - mean);
    const double sd = std::sqrt(ss / static_cast<double>(train_rows.size()));
    if (!std::isfinite(mean) || !std::isfinite(sd)) throw InputError("targets overflow double precision");
    model.target_mean = mean;
    model.target_scale = sd > 0 ? sd : 1.0;
  }
  auto standardized_target = [&](double v) {
    return params.objective == MlpObjective::kRegression ? (v - model.target_mean) / model.target_scale : v;
  };
  const double loss_scale =
      params.objective == MlpObjective::kRegression ? model.target_scale * model.target_scale : 1.0;
  std::vector<double> train_targets(x.rows);
  for (std::size_t r = 0; r < x.rows; ++r) train_targets[r] = standardized_target(y[r]);

  const MatrixView* vx = valid_x != nullptr ? valid_x : (held_rows.empty() ? nullptr : &x);
  std::vector<std::size_t> valid_index;
  std::vector<double> valid_targets;
  if (valid_x != nullptr) {
    valid_index.resize(valid_x->rows);
    for (std::size_t r = 0; r < valid_x->rows; ++r) {
      valid_index[r] = r;
      valid_targets.push_back(standardized_target(valid_y[r]));
    }
  } else {
    valid_index = held_rows;
    for (std::size_t r : held_rows) valid_targets.push_back(train_targets[r]);
  }

  std::vector<double> theta(shape.num_params, 0.0);
  {
    const std::uint64_t key = rng::StreamKey(params.seed, rng::kStreamMlpInit);
    for (std::size_t l = 0; l < shape.NumLayers(); ++l) {
      const double fan_in = static_cast<double>(shape.widths[l]);
      const double fan_out = static_cast<double>(shape.widths[l + 1]);
      const bool output = l + 1 == shape.NumLayers();
      const double limit = output ? std::sqrt(6.0 / (fan_in + fan_out)) : std::sqrt(6.0 / fan_in);
      const std::size_t count = shape.widths[l] * shape.widths[l + 1];
      for (std::size_t j = 0; j < count; ++j) {
        const std::size_t p = shape.w_offset[l] + j;
        theta[p] = (2.0 * rng::ToUnitDouble(rng::HashAt(key, p)) - 1.0) * limit;
      }
    }
  }

  const std::size_t batch = static_cast<std::size_t>(params.batch_size);
  const std::size_t max_blocks = NumBlocks(std::min(batch, train_rows.size()), kMlpBlockRows);
  std::vector<std::vector<double>> block_grads(max_blocks, std::vector<double>(shape.num_params));
  std::vector<double> block_loss(max_blocks);
  std::vector<Workspace> workspaces;
  for (std::size_t b = 0; b < max_blocks; ++b) workspaces.emplace_back(shape, kMlpBlockRows);
  std::vector<double> adam_m(shape.num_params, 0.0), adam_v(shape.num_params, 0.0);
  std::vector<char> is_weight(shape.num_params, 0);
  for (std::size_t l = 0; l < shape.NumLayers(); ++l) {
    std::fill(is_weight.begin() + static_cast<std::ptrdiff_t>(shape.w_offset[l]),
              is_weight.begin() + static_cast<std::ptrdiff_t>(shape.b_offset[l]), 1);
  }
  std::vector<double> best_theta = theta;
  std::vector<std::size_t> order = train_rows;
  std::vector<double> batch_targets(batch);

  DropoutContext dropout;
  dropout.key = rng::StreamKey(params.seed, rng::kStreamMlpDropout);
  dropout.rate = params.dropout;
  dropout.inv_keep = 1.0 / (1.0 - params.dropout);
  dropout.hidden_units = shape.hidden_units;
  const std::uint64_t shuffle_key = rng::StreamKey(params.seed, rng::kStreamMlpShuffle);
  const std::vector<double> inv_scale = InverseScales(model.standardization);

  MlpFitReport local;
  MlpFitReport& rep = report != nullptr ? *report : local;
  rep = MlpFitReport();
  rep.train_rows = train_rows.size();
  rep.valid_rows = valid_index.size();
  double best_loss = std::numeric_limits<double>::infinity();
  std::uint64_t step = 0;
  double beta1_power = 1.0;
  double beta2_power = 1.0;

  for (int epoch = 0; epoch < params.epochs; ++epoch) {
    const std::uint64_t e = static_cast<std::uint64_t>(epoch);
    for (std::size_t i = order.size(); i-- > 1;) {
      const std::uint64_t h = rng::HashAt(shuffle_key, e * order.size() + i);
      std::swap(order[i], order[static_cast<std::size_t>(h % (i + 1))]);
    }
    dropout.epoch_base = e * x.rows;
    double epoch_loss = 0.0;
    for (std::size_t start = 0; start < order.size(); start += batch) {
      ThrowIfCancelled(control);
      const std::size_t n = std::min(batch, order.size() - start);
      const std::size_t* rows = order.data() + start;
      const std::size_t blocks = NumBlocks(n, kMlpBlockRows);
      const int threads = n * shape.num_params >= kMinParallelBatchWork ? params.num_threads : 1;
      ParallelFor(blocks, threads, [&](std::size_t b) {
        const std::size_t lo = b * kMlpBlockRows;
        const std::size_t m = std::min(kMlpBlockRows, n - lo);
        Workspace& ws = workspaces[b];
        double targets[kMlpBlockRows];
        for (std::size_t r = 0; r < m; ++r) targets[r] = train_targets[rows[lo + r]];
        std::fill(block_grads[b].begin(), block_grads[b].end(), 0.0);
        LoadInputs(x, model.standardization, inv_scale.data(), rows + lo, m, ws);
        Forward(shape, theta.data(), m, rows + lo, &dropout, ws);
        block_loss[b] = Backward(shape, theta.data(), params.objective, m, targets, &dropout, ws,
                                 block_grads[b].data());
      });
      double loss = block_loss[0];
      for (std::size_t b = 1; b < blocks; ++b) loss += block_loss[b];
      epoch_loss += loss;
      const double inv_n = 1.0 / static_cast<double>(n);
      ++step;
      beta1_power *= kAdamBeta1;
      beta2_power *= kAdamBeta2;
      const double step_size = params.learning_rate * std::sqrt(1.0 - beta2_power) / (1.0 - beta1_power);
      const int update_threads = shape.num_params >= kMinParallelUpdate ? params.num_threads : 1;
      ParallelFor(NumBlocks(shape.num_params, kParamChunk), update_threads, [&](std::size_t c) {
        const std::size_t lo = c * kParamChunk;
        const std::size_t hi = std::min(shape.num_params, lo + kParamChunk);
        for (std::size_t j = lo; j < hi; ++j) {
          double sum = block_grads[0][j];
          for (std::size_t b = 1; b < blocks; ++b) sum += block_grads[b][j];
          double g = sum * inv_n;
          if (is_weight[j]) g += params.l2 * theta[j];
          adam_m[j] = kAdamBeta1 * adam_m[j] + (1.0 - kAdamBeta1) * g;
          adam_v[j] = kAdamBeta2 * adam_v[j] + (1.0 - kAdamBeta2) * g * g;
          theta[j] -= step_size * adam_m[j] / (std::sqrt(adam_v[j]) + kAdamEpsilon);
        }
      });
    }
    const double train_loss = epoch_loss * loss_scale / static_cast<double>(order.size());
    if (!std::isfinite(train_loss)) {
      throw InputError("training diverged at epoch " + std::to_string(epoch + 1) +
                       " (the loss is not finite); lower learningRate");
    }
    rep.train_loss.push_back(train_loss);
    rep.epochs_run = epoch + 1;
    TrainProgress progress;
    progress.iteration = epoch + 1;
    progress.train_loss = train_loss;
    if (vx != nullptr) {
      const double valid_loss = EvaluateLoss(shape, theta, params.objective, *vx, model.standardization,
                                             valid_index, valid_targets, loss_scale, params.num_threads);
      rep.valid_loss.push_back(valid_loss);
      progress.valid_loss = valid_loss;
      if (valid_loss < best_loss) {
        best_loss = valid_loss;
        best_theta = theta;
        rep.best_epoch = epoch + 1;
      }
    } else {
      rep.best_epoch = epoch + 1;
    }
    if (control.on_progress) control.on_progress(progress);
    if (vx != nullptr && params.patience > 0 && epoch + 1 - rep.best_epoch >= params.patience) {
      rep.early_stopped = epoch + 1 < params.epochs;
      break;
    }
  }
  ThrowIfCancelled(control);
  if (vx != nullptr) {
    if (rep.best_epoch == 0) {
      throw InputError("the validation loss was never finite; check the validation data or lower learningRate");
    }
    theta = best_theta;
  }
  for (double v : theta) {
    if (!std::isfinite(v)) throw InputError("training diverged (a weight is not finite); lower learningRate");
  }

  for (std::size_t l = 0; l < shape.NumLayers(); ++l) {
    MlpLayer layer;
    layer.inputs = shape.widths[l];
    layer.outputs = shape.widths[l + 1];
    layer.weights.assign(theta.begin() + static_cast<std::ptrdiff_t>(shape.w_offset[l]),
                         theta.begin() + static_cast<std::ptrdiff_t>(shape.b_offset[l]));
    layer.biases.assign(theta.begin() + static_cast<std::ptrdiff_t>(shape.b_offset[l]),
                        theta.begin() + static_cast<std::ptrdiff_t>(shape.b_offset[l] + layer.outputs));
    model.layers.push_back(std::move(layer));
  }
  return model;
}

void ValidateMlpModel(const MlpModel& model) {
  if (model.cols == 0) throw InputError("model must have at least one feature");
  ValidateStandardization(model.standardization, model.cols);
  if (model.objective == MlpObjective::kBinary && model.num_class != 2) {
    throw InputError("binary model needs numClass = 2");
  }
  if (model.objective == MlpObjective::kMulticlass && (model.num_class < 2 || model.num_class > kMaxClasses)) {
    throw InputError("multiclass model needs numClass in [2, " + std::to_string(kMaxClasses) + "]");
  }
  if (model.objective == MlpObjective::kRegression) {
    if (model.num_class != 1) throw InputError("regression model needs numClass = 1");
    if (!std::isfinite(model.target_mean) || !std::isfinite(model.target_scale) || !(model.target_scale > 0)) {
      throw InputError("model target mean / scale must be finite, scale > 0");
    }
  }
  if (model.layers.size() < 2 || model.layers.size() > static_cast<std::size_t>(kMlpMaxHiddenLayers) + 1) {
    throw InputError("model must have 2 to " + std::to_string(kMlpMaxHiddenLayers + 1) + " layers");
  }
  std::size_t in = model.cols;
  for (std::size_t l = 0; l < model.layers.size(); ++l) {
    const MlpLayer& layer = model.layers[l];
    const std::string name = "model layer " + std::to_string(l);
    if (layer.inputs != in) {
      throw InputError(name + " has " + std::to_string(layer.inputs) + " inputs, expected " + std::to_string(in));
    }
    if (layer.outputs < 1 || layer.outputs > static_cast<std::size_t>(std::max(kMlpMaxWidth, kMaxClasses))) {
      throw InputError(name + " has an invalid output count");
    }
    if (layer.weights.size() != layer.inputs * layer.outputs || layer.biases.size() != layer.outputs) {
      throw InputError(name + " weights / biases do not match its shape");
    }
    for (double v : layer.weights) {
      if (!std::isfinite(v)) throw InputError(name + " has a non-finite weight");
    }
    for (double v : layer.biases) {
      if (!std::isfinite(v)) throw InputError(name + " has a non-finite bias");
    }
    in = layer.outputs;
  }
  if (in != model.OutputsPerRow()) {
    throw InputError("model output layer has " + std::to_string(in) + " units, expected " +
                     std::to_string(model.OutputsPerRow()));
  }
}

void PredictMlp(const MlpModel& model, const MatrixView& x, int num_threads, double* out) {
  ValidateMlpModel(model);
  ValidateDenseMatrix(x, "features");
  if (x.cols != model.cols) {
    throw InputError("features have " + std::to_string(x.cols) + " columns, the model has " +
                     std::to_string(model.cols));
  }
  std::vector<std::size_t> hidden;
  for (std::size_t l = 0; l + 1 < model.layers.size(); ++l) hidden.push_back(model.layers[l].outputs);
  const std::size_t k = model.OutputsPerRow();
  const Shape shape = Shape::Of(model.cols, hidden, k);
  std::vector<double> theta(shape.num_params);
  for (std::size_t l = 0; l < model.layers.size(); ++l) {
    std::copy(model.layers[l].weights.begin(), model.layers[l].weights.end(), theta.begin() + static_cast<std::ptrdiff_t>(shape.w_offset[l]));
    std::copy(model.layers[l].biases.begin(), model.layers[l].biases.end(), theta.begin() + static_cast<std::ptrdiff_t>(shape.b_offset[l]));
  }
  const std::size_t layers = shape.NumLayers();
  const std::vector<double> inv_scale = InverseScales(model.standardization);
  ParallelFor(NumBlocks(x.rows, kRowBlockSize), num_threads, [&](std::size_t b) {
    const std::size_t lo = b * kRowBlockSize;
    const std::size_t hi = std::min(x.rows, lo + kRowBlockSize);
    Workspace ws(shape, kEvalBlockRows);
    std::vector<std::size_t> rows(kEvalBlockRows);
    for (std::size_t t0 = lo; t0 < hi; t0 += kEvalBlockRows) {
      const std::size_t n = std::min(kEvalBlockRows, hi - t0);
      for (std::size_t r = 0; r < n; ++r) rows[r] = t0 + r;
      LoadInputs(x, model.standardization, inv_scale.data(), rows.data(), n, ws);
      Forward(shape, theta.data(), n, rows.data(), nullptr, ws);
      for (std::size_t r = 0; r < n; ++r) {
        const double* o = ws.acts[layers].data() + r * k;
        double* dst = out + (t0 + r) * k;
        switch (model.objective) {
          case MlpObjective::kBinary: {
            const double m = o[0];
            const double e = std::exp(-std::fabs(m));
            dst[0] = m >= 0 ? 1.0 / (1.0 + e) : e / (1.0 + e);
            break;
          }
          case MlpObjective::kMulticlass: {
            double mx = o[0];
            for (std::size_t j = 1; j < k; ++j) mx = std::max(mx, o[j]);
            double sum = 0.0;
            for (std::size_t j = 0; j < k; ++j) sum += std::exp(o[j] - mx);
            for (std::size_t j = 0; j < k; ++j) dst[j] = std::exp(o[j] - mx) / sum;
            break;
          }
          case MlpObjective::kRegression:
            dst[0] = model.target_mean + model.target_scale * o[0];
            break;
        }
      }
    }
  });
}

}  // namespace kiln
