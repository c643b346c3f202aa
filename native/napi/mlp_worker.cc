// JS entry points of the MLP: fitMlp / predictMlp (async, PromiseWorker).
// Options and small arrays are validated and copied on the JS thread; feature matrices, targets
// and the cancel flag are borrowed (Keep()) until the promise settles and must not be detached.
#include <napi.h>

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "kiln/mlp.h"
#include "kiln/thread_pool.h"
#include "napi/convert.h"
#include "napi/errors.h"
#include "napi/promise_worker.h"
#include "napi/train_common.h"

namespace kiln::napi {
namespace {

constexpr std::initializer_list<const char*> kObjectives = {"binary", "multiclass", "regression"};

const char* ObjectiveName(MlpObjective o) {
  switch (o) {
    case MlpObjective::kBinary: return "binary";
    case MlpObjective::kMulticlass: return "multiclass";
    case MlpObjective::kRegression: return "regression";
  }
  return "binary";
}

// A Float64Array of `expected` targets (borrowed; Keep() the array).
Span<const double> ReadTargets(Napi::Env env, Napi::Value v, std::size_t expected, const std::string& what) {
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_float64_array) {
    ThrowInput(env, what + " must be a Float64Array (got " + DescribeType(v) + ")");
  }
  RequireFixedLength(env, v.As<Napi::TypedArray>(), what);
  Span<const double> s = AsTypedSpan<double>(env, v, napi_float64_array, "Float64Array", what);
  if (s.size != expected) {
    ThrowInput(env, what + ".length is " + std::to_string(s.size) + " but rows = " + std::to_string(expected));
  }
  return s;
}

class FitMlpWorker final : public PromiseWorker {
 public:
  FitMlpWorker(Napi::Env env, std::vector<Napi::Object> borrowed, const MatrixView& x, const double* y,
               std::optional<MatrixView> valid_x, const double* valid_y, const MlpParams& params,
               const std::int32_t* cancel_flag, Napi::Value on_progress)
      : PromiseWorker(env, "kiln.fitMlp"),
        x_(x),
        y_(y),
        valid_x_(valid_x),
        valid_y_(valid_y),
        params_(params),
        progress_(env, on_progress, "kiln.fitMlp.progress") {
    for (Napi::Object& o : borrowed) Keep(o);
    control_.cancel_flag = cancel_flag;
    control_.on_progress = progress_.Hook();
  }

 private:
  void Compute() override {
    struct ReleaseOnExit {
      ProgressSink& sink;
      ~ReleaseOnExit() { sink.Release(); }
    } release{progress_};
    model_ = FitMlp(x_, y_, valid_x_ ? &*valid_x_ : nullptr, valid_y_, params_, control_, &report_);
  }

  Napi::Value Result(Napi::Env env) override {
    Napi::Object out = Napi::Object::New(env);
    out.Set("objective", Napi::String::New(env, ObjectiveName(model_.objective)));
    out.Set("numClass", Napi::Number::New(env, model_.num_class));
    out.Set("mean", CopyToTypedArray(env, model_.standardization.mean));
    out.Set("scale", CopyToTypedArray(env, model_.standardization.scale));
    out.Set("targetMean", Napi::Number::New(env, model_.target_mean));
    out.Set("targetScale", Napi::Number::New(env, model_.target_scale));
    Napi::Array layers = Napi::Array::New(env, model_.layers.size());
    for (std::size_t l = 0; l < model_.layers.size(); ++l) {
      Napi::Object layer = Napi::Object::New(env);
      layer.Set("inputs", Napi::Number::New(env, static_cast<double>(model_.layers[l].inputs)));
      layer.Set("outputs", Napi::Number::New(env, static_cast<double>(model_.layers[l].outputs)));
      layer.Set("weights", CopyToTypedArray(env, model_.layers[l].weights));
      layer.Set("biases", CopyToTypedArray(env, model_.layers[l].biases));
      layers.Set(static_cast<std::uint32_t>(l), layer);
    }
    out.Set("layers", layers);
    out.Set("epochsRun", Napi::Number::New(env, report_.epochs_run));
    out.Set("bestEpoch", Napi::Number::New(env, report_.best_epoch));
    out.Set("earlyStopped", Napi::Boolean::New(env, report_.early_stopped));
    out.Set("trainRows", Napi::Number::New(env, static_cast<double>(report_.train_rows)));
    out.Set("validRows", Napi::Number::New(env, static_cast<double>(report_.valid_rows)));
    out.Set("trainLoss", CopyToTypedArray(env, report_.train_loss));
    out.Set("validLoss", CopyToTypedArray(env, report_.valid_loss));
    return out;
  }

  MatrixView x_;
  const double* y_;
  std::optional<MatrixView> valid_x_;
  const double* valid_y_;
  MlpParams params_;
  ProgressSink progress_;
  TrainControl control_;
  MlpModel model_;
  MlpFitReport report_;
};

class PredictMlpWorker final : public PromiseWorker {
 public:
  PredictMlpWorker(Napi::Env env, Napi::Object values, const MatrixView& x, MlpModel model,
                   int num_threads, Napi::Float64Array out)
      : PromiseWorker(env, "kiln.predictMlp"),
        x_(x),
        model_(std::move(model)),
        num_threads_(num_threads),
        out_data_(out.Data()) {
    Keep(values);
    out_ref_ = Napi::Persistent(out);
  }

 private:
  void Compute() override { PredictMlp(model_, x_, num_threads_, out_data_); }

  Napi::Value Result(Napi::Env) override { return out_ref_.Value(); }

  MatrixView x_;
  MlpModel model_;
  int num_threads_;
  double* out_data_;
  Napi::Reference<Napi::Float64Array> out_ref_;
};

// model {objective, numClass, mean, scale, targetMean, targetScale,
//        layers: [{inputs, outputs, weights, biases}]}, copied and validated.
MlpModel ReadMlpModel(Napi::Env env, Napi::Value v) {
  Napi::Object o = AsObject(env, v, "model");
  MlpModel m;
  m.objective = static_cast<MlpObjective>(GetEnum(env, o, "model", "objective", kObjectives));
  m.num_class = static_cast<int>(GetInteger(env, o, "model", "numClass", 1, kMaxClasses));
  m.target_mean = GetFiniteNumber(env, o, "model", "targetMean", -1e308, 1e308);
  m.target_scale = GetFiniteNumber(env, o, "model", "targetScale", 1e-300, 1e308);
  m.standardization.mean = ReadFiniteVector(env, GetRequired(env, o, "model", "mean"), "model.mean");
  m.standardization.scale = ReadFiniteVector(env, GetRequired(env, o, "model", "scale"), "model.scale");
  m.cols = m.standardization.mean.size();
  Napi::Value layers_value = GetRequired(env, o, "model", "layers");
  if (!layers_value.IsArray()) ThrowInput(env, "model.layers must be an Array (got " + DescribeType(layers_value) + ")");
  Napi::Array layers = layers_value.As<Napi::Array>();
  if (layers.Length() > static_cast<std::uint32_t>(kMlpMaxHiddenLayers) + 1) {
    ThrowInput(env, "model.layers has " + std::to_string(layers.Length()) + " entries, at most " +
                        std::to_string(kMlpMaxHiddenLayers + 1) + " allowed");
  }
  for (std::uint32_t l = 0; l < layers.Length(); ++l) {
    const std::string name = "model.layers[" + std::to_string(l) + "]";
    Napi::Object lo = AsObject(env, layers.Get(l), name);
    MlpLayer layer;
    layer.inputs = static_cast<std::size_t>(GetInteger(env, lo, name, "inputs", 1, kMaxSafeInteger));
    layer.outputs = static_cast<std::size_t>(GetInteger(env, lo, name, "outputs", 1, kMaxSafeInteger));
    layer.weights = ReadFiniteVector(env, GetRequired(env, lo, name, "weights"), name + ".weights");
    layer.biases = ReadFiniteVector(env, GetRequired(env, lo, name, "biases"), name + ".biases");
    m.layers.push_back(std::move(layer));
  }
  ValidateMlpModel(m);
  return m;
}

}  // namespace

// JS: fitMlp(values, targets: Float64Array, {rows, cols, layout, objective, numClass, hiddenLayers:
//   Int32Array, dropout, learningRate, l2, batchSize, epochs, patience, validationFraction, seed,
//   numThreads}, valid: null | {values, targets, rows, cols, layout}, cancelFlag: Int32Array,
//   onProgress?) -> Promise<{objective, numClass, mean, scale, targetMean, targetScale, layers,
//   epochsRun, bestEpoch, earlyStopped, trainRows, validRows, trainLoss, validLoss}>
Napi::Value FitMlpJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return Guarded(env, [&]() -> Napi::Value {
    CheckFloatArrayType(env, info[0], "values");
    Napi::Object opts = AsObject(env, info[2], "options");
    const MatrixView shape = ReadDenseShape(env, opts, "options");
    MlpParams p;
    p.objective = static_cast<MlpObjective>(GetEnum(env, opts, "options", "objective", kObjectives));
    p.num_class = static_cast<int>(GetInteger(env, opts, "options", "numClass", 1, kMaxClasses));
    Span<const std::int32_t> hidden = AsTypedSpan<std::int32_t>(
        env, GetRequired(env, opts, "options", "hiddenLayers"), napi_int32_array, "Int32Array",
        "options.hiddenLayers");
    p.hidden.assign(hidden.data, hidden.data + hidden.size);
    p.dropout = GetFiniteNumber(env, opts, "options", "dropout", 0.0, 0.999999);
    p.learning_rate = GetFiniteNumber(env, opts, "options", "learningRate", 1e-300, 1e300);
    p.l2 = GetFiniteNumber(env, opts, "options", "l2", 0.0, 1e300);
    p.batch_size = static_cast<int>(GetInteger(env, opts, "options", "batchSize", 1, 1 << 24));
    p.epochs = static_cast<int>(GetInteger(env, opts, "options", "epochs", 1, 1000000));
    p.patience = static_cast<int>(GetInteger(env, opts, "options", "patience", 0, 1000000));
    p.valid_fraction = GetFiniteNumber(env, opts, "options", "validationFraction", 0.0, 0.999999);
    p.seed = GetInteger(env, opts, "options", "seed", 0, kMaxSafeInteger);
    p.num_threads = static_cast<int>(GetInteger(env, opts, "options", "numThreads", 0, kMaxThreads));

    std::vector<Napi::Object> borrowed;
    std::optional<MatrixView> valid_shape;
    Napi::Object valid_obj;
    if (!info[3].IsNull() && !info[3].IsUndefined()) {
      valid_obj = AsObject(env, info[3], "valid");
      CheckFloatArrayType(env, GetRequired(env, valid_obj, "valid", "values"), "valid.values");
      valid_shape = ReadDenseShape(env, valid_obj, "valid");
    }
    Napi::Object cancel_array;
    const std::int32_t* cancel = ReadCancelFlag(env, info[4], &cancel_array);
    borrowed.push_back(cancel_array);
    if (!info[5].IsUndefined() && !info[5].IsNull() && !info[5].IsFunction()) {
      ThrowInput(env, "onProgress must be a function (got " + DescribeType(info[5]) + ")");
    }
    const Span<const double> y = ReadTargets(env, info[1], shape.rows, "targets");
    borrowed.push_back(info[1].As<Napi::Object>());
    std::optional<MatrixView> valid_x;
    const double* valid_y = nullptr;
    if (valid_shape) {
      Napi::Value valid_targets = GetRequired(env, valid_obj, "valid", "targets");
      Napi::Value valid_values = GetRequired(env, valid_obj, "valid", "values");
      valid_y = ReadTargets(env, valid_targets, valid_shape->rows, "valid.targets").data;
      borrowed.push_back(valid_targets.As<Napi::Object>());
      FloatArray vv;
      valid_x = BindDenseValues(env, valid_values, *valid_shape, "valid.values", &vv);
      borrowed.push_back(vv.array);
    }
    FloatArray values;
    const MatrixView x = BindDenseValues(env, info[0], shape, "values", &values);
    borrowed.push_back(values.array);
    ValidateMlpInputs(x, y.data, p);
    auto* worker = new FitMlpWorker(env, std::move(borrowed), x, y.data, valid_x, valid_y, p, cancel, info[5]);
    return worker->Start();
  });
}

// JS: predictMlp(values, {rows, cols, layout, numThreads}, model) -> Promise<Float64Array>
//   (rows values for binary / regression, rows * numClass probabilities for multiclass)
Napi::Value PredictMlpJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return Guarded(env, [&]() -> Napi::Value {
    CheckFloatArrayType(env, info[0], "values");
    Napi::Object opts = AsObject(env, info[1], "options");
    const MatrixView shape = ReadDenseShape(env, opts, "options");
    const int threads = static_cast<int>(GetInteger(env, opts, "options", "numThreads", 0, kMaxThreads));
    MlpModel model = ReadMlpModel(env, info[2]);
    if (model.cols != shape.cols) {
      ThrowInput(env, "options.cols is " + std::to_string(shape.cols) + " but the model has " +
                          std::to_string(model.cols) + " features");
    }
    FloatArray values;
    const MatrixView x = BindDenseValues(env, info[0], shape, "values", &values);
    const std::size_t per_row = model.OutputsPerRow();
    if (x.rows > kMaxSafeInteger / per_row) ThrowInput(env, "rows * outputs is too large");
    Napi::Float64Array out;
    try {
      out = Napi::Float64Array::New(env, x.rows * per_row);
    } catch (const Napi::Error& e) {
      ThrowInput(env, "cannot allocate the " + std::to_string(x.rows * per_row) + "-value output: " + e.Message());
    }
    auto* worker = new PredictMlpWorker(env, values.array, x, std::move(model), threads, out);
    return worker->Start();
  });
}

}  // namespace kiln::napi
