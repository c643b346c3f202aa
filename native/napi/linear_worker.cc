// JS entry points of logistic regression: fitLinear / predictLinear (async, PromiseWorker).
// Options and small arrays are validated and copied on the JS thread; the feature matrix, labels
// and cancel flag are borrowed (Keep()) until the promise settles and must not be detached.
#include <napi.h>

#include <string>
#include <utility>
#include <vector>

#include "kiln/linear.h"
#include "kiln/thread_pool.h"
#include "napi/convert.h"
#include "napi/errors.h"
#include "napi/promise_worker.h"
#include "napi/train_common.h"

namespace kiln::napi {
namespace {

class FitLinearWorker final : public PromiseWorker {
 public:
  FitLinearWorker(Napi::Env env, Napi::Object values, Napi::Object labels, Napi::Object cancel,
                  const MatrixView& x, const std::int32_t* label_data, std::vector<double> weights,
                  const LinearFitParams& params, const std::int32_t* cancel_flag,
                  Napi::Value on_progress)
      : PromiseWorker(env, "kiln.fitLinear"),
        x_(x),
        labels_(label_data),
        weights_(std::move(weights)),
        params_(params),
        progress_(env, on_progress, "kiln.fitLinear.progress") {
    Keep(values);
    Keep(labels);
    Keep(cancel);
    control_.cancel_flag = cancel_flag;
    control_.on_progress = progress_.Hook();
  }

 private:
  void Compute() override {
    struct ReleaseOnExit {
      ProgressSink& sink;
      ~ReleaseOnExit() { sink.Release(); }
    } release{progress_};
    model_ = FitLogistic(x_, labels_, weights_, params_, control_, &report_);
  }

  Napi::Value Result(Napi::Env env) override {
    Napi::Object out = Napi::Object::New(env);
    out.Set("numClass", Napi::Number::New(env, model_.num_class));
    out.Set("coef", CopyToTypedArray(env, model_.coef));
    out.Set("intercept", CopyToTypedArray(env, model_.intercept));
    out.Set("mean", CopyToTypedArray(env, model_.standardization.mean));
    out.Set("scale", CopyToTypedArray(env, model_.standardization.scale));
    out.Set("iterations", Napi::Number::New(env, report_.iterations));
    out.Set("converged", Napi::Boolean::New(env, report_.converged));
    out.Set("objective", Napi::Number::New(env, report_.objective));
    out.Set("gradNorm", Napi::Number::New(env, report_.grad_norm));
    out.Set("history", CopyToTypedArray(env, report_.history));
    return out;
  }

  MatrixView x_;
  const std::int32_t* labels_;
  std::vector<double> weights_;
  LinearFitParams params_;
  ProgressSink progress_;
  TrainControl control_;
  LinearModel model_;
  LinearFitReport report_;
};

class PredictLinearWorker final : public PromiseWorker {
 public:
  PredictLinearWorker(Napi::Env env, Napi::Object values, const MatrixView& x, LinearModel model,
                      int num_threads, Napi::Float64Array out)
      : PromiseWorker(env, "kiln.predictLinear"),
        x_(x),
        model_(std::move(model)),
        num_threads_(num_threads),
        out_data_(out.Data()) {
    Keep(values);
    out_ref_ = Napi::Persistent(out);
  }

 private:
  void Compute() override { PredictLogistic(model_, x_, num_threads_, out_data_); }

  Napi::Value Result(Napi::Env) override { return out_ref_.Value(); }

  MatrixView x_;
  LinearModel model_;
  int num_threads_;
  double* out_data_;
  Napi::Reference<Napi::Float64Array> out_ref_;
};

// model {numClass, mean, scale, coef, intercept} (Float64Arrays), copied and validated.
LinearModel ReadLinearModel(Napi::Env env, Napi::Value v) {
  Napi::Object o = AsObject(env, v, "model");
  LinearModel m;
  m.num_class = static_cast<int>(GetInteger(env, o, "model", "numClass", 2, kMaxClasses));
  m.standardization.mean = ReadFiniteVector(env, GetRequired(env, o, "model", "mean"), "model.mean");
  m.standardization.scale = ReadFiniteVector(env, GetRequired(env, o, "model", "scale"), "model.scale");
  m.coef = ReadFiniteVector(env, GetRequired(env, o, "model", "coef"), "model.coef");
  m.intercept = ReadFiniteVector(env, GetRequired(env, o, "model", "intercept"), "model.intercept");
  m.cols = m.standardization.mean.size();
  ValidateLinearModel(m);
  return m;
}

Napi::Float64Array NewOutput(Napi::Env env, std::size_t length) {
  try {
    return Napi::Float64Array::New(env, length);
  } catch (const Napi::Error& e) {
    ThrowInput(env, "cannot allocate the " + std::to_string(length) + "-value output: " + e.Message());
  }
}

}  // namespace

// JS: fitLinear(values, labels: Int32Array, classWeights: Float64Array,
//   {rows, cols, layout, numClass, C, penalty, maxIter, tol, memory, numThreads},
//   cancelFlag: Int32Array, onProgress?) -> Promise<{numClass, coef, intercept, mean, scale,
//   iterations, converged, objective, gradNorm, history}>
Napi::Value FitLinearJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return Guarded(env, [&]() -> Napi::Value {
    CheckFloatArrayType(env, info[0], "values");
    Napi::Object opts = AsObject(env, info[3], "options");
    const MatrixView shape = ReadDenseShape(env, opts, "options");
    LinearFitParams p;
    p.num_class = static_cast<int>(GetInteger(env, opts, "options", "numClass", 2, kMaxClasses));
    p.c = GetFiniteNumber(env, opts, "options", "C", 1e-300, 1e300);
    p.penalty = GetEnum(env, opts, "options", "penalty", {"l2", "none"}) == 0 ? LinearPenalty::kL2
                                                                              : LinearPenalty::kNone;
    p.max_iter = static_cast<int>(GetInteger(env, opts, "options", "maxIter", 1, 1000000));
    p.tol = GetFiniteNumber(env, opts, "options", "tol", 1e-300, 1e300);
    p.memory = static_cast<int>(GetInteger(env, opts, "options", "memory", 1, 1000));
    p.num_threads = static_cast<int>(GetInteger(env, opts, "options", "numThreads", 0, kMaxThreads));
    std::vector<double> weights = ReadFiniteVector(env, info[2], "classWeights");
    Napi::Object cancel_array;
    const std::int32_t* cancel = ReadCancelFlag(env, info[4], &cancel_array);
    const Span<const std::int32_t> labels = ReadInt32Array(env, info[1], "labels");
    if (labels.size != shape.rows) {
      ThrowInput(env, "labels.length is " + std::to_string(labels.size) + " but rows = " +
                          std::to_string(shape.rows));
    }
    FloatArray values;
    const MatrixView x = BindDenseValues(env, info[0], shape, "values", &values);
    ValidateLogisticInputs(x, labels.data, weights, p);
    auto* worker = new FitLinearWorker(env, values.array, info[1].As<Napi::Object>(), cancel_array, x,
                                       labels.data, std::move(weights), p, cancel, info[5]);
    return worker->Start();
  });
}

// JS: predictLinear(values, {rows, cols, layout, numThreads}, model) -> Promise<Float64Array>
//   (rows entries of P(class 1) for binary, rows * numClass probabilities otherwise)
Napi::Value PredictLinearJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return Guarded(env, [&]() -> Napi::Value {
    CheckFloatArrayType(env, info[0], "values");
    Napi::Object opts = AsObject(env, info[1], "options");
    const MatrixView shape = ReadDenseShape(env, opts, "options");
    const int threads = static_cast<int>(GetInteger(env, opts, "options", "numThreads", 0, kMaxThreads));
    LinearModel model = ReadLinearModel(env, info[2]);
    if (model.cols != shape.cols) {
      ThrowInput(env, "options.cols is " + std::to_string(shape.cols) + " but the model has " +
                          std::to_string(model.cols) + " features");
    }
    FloatArray values;
    const MatrixView x = BindDenseValues(env, info[0], shape, "values", &values);
    const std::size_t per_row = model.num_class == 2 ? 1 : static_cast<std::size_t>(model.num_class);
    if (x.rows > kMaxSafeInteger / per_row) ThrowInput(env, "rows * numClass is too large");
    Napi::Float64Array out = NewOutput(env, x.rows * per_row);
    auto* worker = new PredictLinearWorker(env, values.array, x, std::move(model), threads, out);
    return worker->Start();
  });
}

}  // namespace kiln::napi
