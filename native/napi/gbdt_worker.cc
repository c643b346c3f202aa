// JS entry points of the GBDT kernels: gbdtTrain (async, progress through a thread-safe
// function, cancellation through a token), gbdtPredictor / gbdtPredict / gbdtPredictRow /
// gbdtImportance, cancelToken / cancel, and the test hook gbdtDebugHistogram.
#include <napi.h>

#include <atomic>
#include <cmath>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "kiln/gbdt.h"
#include "kiln/thread_pool.h"
#include "napi/convert.h"
#include "napi/errors.h"
#include "napi/promise_worker.h"

namespace kiln::napi {
namespace {

using gbdt::Forest;
using gbdt::Objective;
using gbdt::Predictor;

double GetDouble(Napi::Env env, Napi::Object o, const std::string& owner, const char* key,
                 double min, double max) {
  Napi::Value v = GetRequired(env, o, owner, key);
  if (!v.IsNumber()) ThrowInput(env, owner + "." + key + " must be a number (got " + DescribeType(v) + ")");
  const double d = v.As<Napi::Number>().DoubleValue();
  if (!(d >= min && d <= max)) {
    ThrowInput(env, owner + "." + key + " must be in [" + std::to_string(min) + ", " + std::to_string(max) + "] (got " + v.ToString().Utf8Value() + ")");
  }
  return d;
}

Objective ReadObjective(Napi::Env env, Napi::Object o, const std::string& owner) {
  switch (GetEnum(env, o, owner, "objective", {"binary", "multiclass", "regression", "huber"})) {
    case 0: return Objective::kBinary;
    case 1: return Objective::kMulticlass;
    case 2: return Objective::kRegression;
    default: return Objective::kHuber;
  }
}

MatrixView ReadMatrix(Napi::Env env, Napi::Object opts, const std::string& owner, const FloatArray& values) {
  MatrixView m;
  m.rows = static_cast<std::size_t>(GetInteger(env, opts, owner, "rows", 1, kMaxSafeInteger));
  m.cols = static_cast<std::size_t>(GetInteger(env, opts, owner, "cols", 1, kMaxSafeInteger));
  m.layout = GetEnum(env, opts, owner, "layout", {"column", "row"}) == 0 ? Layout::kColumn : Layout::kRow;
  if (m.rows > kMaxSafeInteger / m.cols || values.length != m.rows * m.cols) {
    ThrowInput(env, owner + ": values.length is " + std::to_string(values.length) + " but rows * cols = " +
                        std::to_string(m.rows) + " * " + std::to_string(m.cols));
  }
  m.data = values.data;
  m.dtype = values.dtype;
  ValidateMatrix(m);
  return m;
}

template <class T>
std::vector<T> VectorOf(Napi::Env env, Napi::Object o, const char* key, napi_typedarray_type type,
                        const char* type_name) {
  return ToVector(AsTypedSpan<T>(env, GetRequired(env, o, "forest", key), type, type_name,
                                 std::string("forest.") + key));
}

// Reads a forest object (typed arrays, see bindings/native.d.ts) and validates it.
Forest ReadForest(Napi::Env env, Napi::Value v) {
  Napi::Object o = AsObject(env, v, "forest");
  Forest f;
  f.num_features = static_cast<int>(GetInteger(env, o, "forest", "numFeatures", 1, 1 << 24));
  f.trees_per_iteration = static_cast<int>(GetInteger(env, o, "forest", "treesPerIteration", 1, 1024));
  Napi::Value lt = GetRequired(env, o, "forest", "decisionLt");
  if (!lt.IsBoolean()) ThrowInput(env, "forest.decisionLt must be a boolean");
  f.decision_lt = lt.As<Napi::Boolean>().Value();
  f.base_score = VectorOf<double>(env, o, "baseScore", napi_float64_array, "Float64Array");
  f.node_offset = VectorOf<std::int32_t>(env, o, "nodeOffset", napi_int32_array, "Int32Array");
  f.leaf_offset = VectorOf<std::int32_t>(env, o, "leafOffset", napi_int32_array, "Int32Array");
  f.cat_offset = VectorOf<std::int32_t>(env, o, "catOffset", napi_int32_array, "Int32Array");
  f.split_feature = VectorOf<std::int32_t>(env, o, "splitFeature", napi_int32_array, "Int32Array");
  f.threshold = VectorOf<double>(env, o, "threshold", napi_float64_array, "Float64Array");
  f.decision_type = VectorOf<std::uint8_t>(env, o, "decisionType", napi_uint8_array, "Uint8Array");
  f.left_child = VectorOf<std::int32_t>(env, o, "leftChild", napi_int32_array, "Int32Array");
  f.right_child = VectorOf<std::int32_t>(env, o, "rightChild", napi_int32_array, "Int32Array");
  f.leaf_value = VectorOf<double>(env, o, "leafValue", napi_float64_array, "Float64Array");
  f.cat_bits = VectorOf<std::uint32_t>(env, o, "catBits", napi_uint32_array, "Uint32Array");
  f.split_gain = VectorOf<double>(env, o, "splitGain", napi_float64_array, "Float64Array");
  gbdt::ValidateForest(f);
  if (!f.split_gain.empty() && f.split_gain.size() != f.split_feature.size()) {
    ThrowInput(env, "forest.splitGain must be empty or have one entry per node");
  }
  return f;
}

template <class T>
Napi::TypedArrayOf<double> DoublesOf(Napi::Env env, const std::vector<T>& v) {
  Napi::Float64Array out = Napi::Float64Array::New(env, v.size());
  for (std::size_t i = 0; i < v.size(); ++i) out[i] = static_cast<double>(v[i]);
  return out;
}

Napi::Object ForestToJs(Napi::Env env, const Forest& f) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("numFeatures", Napi::Number::New(env, f.num_features));
  o.Set("treesPerIteration", Napi::Number::New(env, f.trees_per_iteration));
  o.Set("decisionLt", Napi::Boolean::New(env, f.decision_lt));
  o.Set("baseScore", CopyToTypedArray(env, f.base_score));
  o.Set("nodeOffset", CopyToTypedArray(env, f.node_offset));
  o.Set("leafOffset", CopyToTypedArray(env, f.leaf_offset));
  o.Set("catOffset", CopyToTypedArray(env, f.cat_offset));
  o.Set("splitFeature", CopyToTypedArray(env, f.split_feature));
  o.Set("threshold", CopyToTypedArray(env, f.threshold));
  o.Set("decisionType", CopyToTypedArray(env, f.decision_type));
  o.Set("leftChild", CopyToTypedArray(env, f.left_child));
  o.Set("rightChild", CopyToTypedArray(env, f.right_child));
  o.Set("leafValue", CopyToTypedArray(env, f.leaf_value));
  o.Set("catBits", CopyToTypedArray(env, f.cat_bits));
  o.Set("splitGain", CopyToTypedArray(env, f.split_gain));
  o.Set("internalCount", DoublesOf(env, f.internal_count));
  o.Set("leafCount", DoublesOf(env, f.leaf_count));
  return o;
}

class TrainWorker final : public PromiseWorker {
 public:
  TrainWorker(Napi::Env env, gbdt::TrainInput input, gbdt::TrainParams params, CancelFlag cancel,
              Napi::Value on_progress)
      : PromiseWorker(env, "kiln.gbdtTrain"), input_(input), params_(std::move(params)), cancel_(std::move(cancel)),
        progress_(env, on_progress, "kiln.gbdtProgress", IterationToJs) {}
  // Borrowed inputs: kept alive until the worker is destroyed.
  void KeepInput(Napi::Object o) { Keep(o); }

 private:
  void Compute() override {
    std::function<void(const gbdt::IterationInfo&)> report;
    if (progress_.enabled()) report = [this](const gbdt::IterationInfo& info) { progress_.Report(info); };
    result_ = gbdt::Train(input_, params_, report, cancel_.get());
    progress_.Drain();
  }

  static Napi::Value IterationToJs(Napi::Env env, const gbdt::IterationInfo& it) {
    Napi::Object o = Napi::Object::New(env);
    o.Set("iteration", it.iteration);
    o.Set("trainMetric", it.train_metric);
    o.Set("validMetric", it.valid_metric);
    o.Set("rowsPerSecond", it.rows_per_second);
    o.Set("bestIteration", it.best_iteration);
    return o;
  }

  Napi::Value Result(Napi::Env env) override {
    Napi::Object out = Napi::Object::New(env);
    out.Set("forest", ForestToJs(env, result_.forest));
    Napi::Object mapper = Napi::Object::New(env);
    mapper.Set("numBins", CopyToTypedArray(env, result_.mapper.num_bins));
    mapper.Set("thresholds", CopyToTypedArray(env, result_.mapper.thresholds));
    mapper.Set("offsets", CopyToTypedArray(env, result_.mapper.offsets));
    out.Set("mapper", mapper);
    out.Set("trainMetric", CopyToTypedArray(env, result_.train_metric));
    out.Set("validMetric", CopyToTypedArray(env, result_.valid_metric));
    out.Set("bestIteration", result_.best_iteration);
    out.Set("earlyStopped", result_.early_stopped);
    return out;
  }

  gbdt::TrainInput input_;
  gbdt::TrainParams params_;
  CancelFlag cancel_;
  ProgressCallback<gbdt::IterationInfo> progress_;
  gbdt::TrainResult result_;
};

class PredictWorker final : public PromiseWorker {
 public:
  PredictWorker(Napi::Env env, Napi::Object handle, const Predictor* predictor, Napi::Object values,
                MatrixView m, int num_trees, int num_threads, int transform, Objective objective,
                Napi::Float64Array out)
      : PromiseWorker(env, "kiln.gbdtPredict"), predictor_(predictor), m_(m), num_trees_(num_trees),
        num_threads_(num_threads), transform_(transform), objective_(objective), out_(out.Data()) {
    Keep(handle);
    Keep(values);
    out_ref_ = Napi::Persistent(out);
  }

 private:
  void Compute() override {
    predictor_->PredictMargin(m_, num_trees_, num_threads_, out_);
    if (transform_) gbdt::TransformMargins(objective_, predictor_->num_outputs(), m_.rows, out_);
  }
  Napi::Value Result(Napi::Env) override { return out_ref_.Value(); }

  const Predictor* predictor_;
  MatrixView m_;
  int num_trees_, num_threads_, transform_;
  Objective objective_;
  double* out_;
  Napi::Reference<Napi::Float64Array> out_ref_;
};

const Predictor* AsPredictor(Napi::Env env, Napi::Value v) {
  if (!v.IsExternal()) ThrowInput(env, "handle must come from gbdtPredictor() (got " + DescribeType(v) + ")");
  return v.As<Napi::External<Predictor>>().Data();
}

}  // namespace

// JS: cancelToken() -> token; cancel(token): void (idempotent).
Napi::Value CancelTokenJs(const Napi::CallbackInfo& info) {
  return Napi::External<CancelFlag>::New(info.Env(), new CancelFlag(std::make_shared<std::atomic<int>>(0)),
                                         [](Napi::Env, CancelFlag* p) { delete p; });
}
Napi::Value CancelJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return Guarded(env, [&]() -> Napi::Value {
    (*AsCancelToken(env, info[0]))->store(1);
    return env.Undefined();
  });
}

// JS: gbdtTrain(values, shape, labels, validValues|null, validShape|null, validLabels|null,
//               params, onProgress|null, cancelToken) -> Promise<TrainResult>
Napi::Value GbdtTrainJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return Guarded(env, [&]() -> Napi::Value {
    Napi::Object shape = AsObject(env, info[1], "shape");
    Napi::Object po = AsObject(env, info[6], "params");
    gbdt::TrainParams p;
    p.objective = ReadObjective(env, po, "params");
    p.num_class = static_cast<int>(GetInteger(env, po, "params", "numClass", 1, 1024));
    p.huber_delta = GetDouble(env, po, "params", "huberDelta", 1e-300, 1e300);
    p.num_iterations = static_cast<int>(GetInteger(env, po, "params", "nEstimators", 0, 1000000));
    p.learning_rate = GetDouble(env, po, "params", "learningRate", 1e-300, 1e300);
    p.num_leaves = static_cast<int>(GetInteger(env, po, "params", "numLeaves", 2, 131072));
    p.max_depth = static_cast<int>(GetInteger(env, po, "params", "maxDepth", 0, 1000));
    p.min_data_in_leaf = static_cast<int>(GetInteger(env, po, "params", "minDataInLeaf", 1, 1u << 31));
    p.min_sum_hessian_in_leaf = GetDouble(env, po, "params", "minSumHessianInLeaf", 0, 1e300);
    p.lambda_l2 = GetDouble(env, po, "params", "lambdaL2", 0, 1e300);
    p.min_gain_to_split = GetDouble(env, po, "params", "minGainToSplit", 0, 1e300);
    p.feature_fraction = GetDouble(env, po, "params", "featureFraction", 1e-300, 1);
    p.bagging_fraction = GetDouble(env, po, "params", "baggingFraction", 1e-300, 1);
    p.bagging_freq = static_cast<int>(GetInteger(env, po, "params", "baggingFreq", 0, 1000000));
    p.class_weight = ToVector(AsTypedSpan<double>(env, GetRequired(env, po, "params", "classWeight"), napi_float64_array, "Float64Array", "params.classWeight"));
    p.scale_pos_weight = GetDouble(env, po, "params", "scalePosWeight", 1e-300, 1e300);
    p.monotone = ToVector(AsTypedSpan<std::int8_t>(env, GetRequired(env, po, "params", "monotone"), napi_int8_array, "Int8Array", "params.monotone"));
    p.num_categories = ToVector(AsTypedSpan<std::int32_t>(env, GetRequired(env, po, "params", "numCategories"), napi_int32_array, "Int32Array", "params.numCategories"));
    p.early_stopping_rounds = static_cast<int>(GetInteger(env, po, "params", "earlyStoppingRounds", 0, 1000000));
    p.metric = static_cast<int>(GetEnum(env, po, "params", "metric", {"default", "auc"}));
    p.seed = GetInteger(env, po, "params", "seed", 0, kMaxSafeInteger);
    p.num_threads = static_cast<int>(GetInteger(env, po, "params", "numThreads", 0, kMaxThreads));
    p.max_bin = static_cast<int>(GetInteger(env, po, "params", "maxBin", kMinValueBins, kMaxValueBins));
    p.bin_sample_size = GetInteger(env, po, "params", "binSampleSize", 1, kMaxSafeInteger);
    // Optional execution setting (not part of the model): where the row-heavy steps run.
    if (po.Has("device") && !po.Get("device").IsUndefined()) {
      p.device = GetEnum(env, po, "params", "device", {"cpu", "cuda"}) == 1 ? gbdt::Device::kCuda : gbdt::Device::kCpu;
    }
    CancelFlag cancel = *AsCancelToken(env, info[8]);
    const bool has_valid = !info[3].IsNull() && !info[3].IsUndefined();
    Napi::Object valid_shape = has_valid ? AsObject(env, info[4], "validShape") : Napi::Object();
    // Array memory is bound last: nothing after this point runs user JS.
    gbdt::TrainInput in;
    CheckFloatArrayType(env, info[0], "values");
    const FloatArray values = AsFloatArray(env, info[0], "values");
    in.x = ReadMatrix(env, shape, "shape", values);
    Span<const double> labels = AsTypedSpan<double>(env, info[2], napi_float64_array, "Float64Array", "labels");
    if (labels.size != in.x.rows) ThrowInput(env, "labels has " + std::to_string(labels.size) + " entries for " + std::to_string(in.x.rows) + " rows");
    in.label = labels.data;
    FloatArray valid_values;
    if (has_valid) {
      valid_values = AsFloatArray(env, info[3], "validValues");
      in.valid_x = ReadMatrix(env, valid_shape, "validShape", valid_values);
      Span<const double> vl = AsTypedSpan<double>(env, info[5], napi_float64_array, "Float64Array", "validLabels");
      if (vl.size != in.valid_x.rows) ThrowInput(env, "validLabels has " + std::to_string(vl.size) + " entries for " + std::to_string(in.valid_x.rows) + " rows");
      in.valid_label = vl.data;
    }
    auto* worker = new TrainWorker(env, in, std::move(p), cancel, info[7]);
    worker->KeepInput(values.array);
    worker->KeepInput(info[2].As<Napi::Object>());
    if (has_valid) {
      worker->KeepInput(valid_values.array);
      worker->KeepInput(info[5].As<Napi::Object>());
    }
    return worker->Start();
  });
}

// JS: gbdtPredictor(forest) -> handle (validated; compiled once, shared by predict calls).
Napi::Value GbdtPredictorJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return Guarded(env, [&]() -> Napi::Value {
    Forest f = ReadForest(env, info[0]);
    auto* predictor = new Predictor(f);
    return Napi::External<Predictor>::New(env, predictor, [](Napi::Env, Predictor* p) { delete p; });
  });
}

// JS: gbdtPredict(handle, values, shape, {numTrees, numThreads, transform, objective}) -> Promise<Float64Array>
Napi::Value GbdtPredictJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return Guarded(env, [&]() -> Napi::Value {
    const Predictor* predictor = AsPredictor(env, info[0]);
    Napi::Object shape = AsObject(env, info[2], "shape");
    Napi::Object opts = AsObject(env, info[3], "options");
    const int num_trees = static_cast<int>(GetInteger(env, opts, "options", "numTrees", 0, static_cast<std::uint64_t>(predictor->num_trees())));
    const int num_threads = static_cast<int>(GetInteger(env, opts, "options", "numThreads", 0, kMaxThreads));
    const int transform = static_cast<int>(GetInteger(env, opts, "options", "transform", 0, 1));
    const Objective objective = ReadObjective(env, opts, "options");
    CheckFloatArrayType(env, info[1], "values");
    const FloatArray values = AsFloatArray(env, info[1], "values");
    const MatrixView m = ReadMatrix(env, shape, "shape", values);
    if (m.cols != static_cast<std::size_t>(predictor->num_features())) {
      ThrowInput(env, "the model has " + std::to_string(predictor->num_features()) + " features but the data has " + std::to_string(m.cols) + " columns");
    }
    if (num_trees % predictor->num_outputs() != 0) ThrowInput(env, "numTrees must be a multiple of the trees per iteration");
    Napi::Float64Array out = Napi::Float64Array::New(env, m.rows * static_cast<std::size_t>(predictor->num_outputs()));
    auto* worker = new PredictWorker(env, info[0].As<Napi::Object>(), predictor, values.array, m, num_trees,
                                     num_threads, transform, objective, out);
    return worker->Start();
  });
}

// JS: gbdtPredictRow(handle, row: Float64Array, numTrees, out: Float64Array, transform) -> undefined.
// Synchronous and allocation-free: margins of one row into out[0..K), turned into outputs with the
// same code as batch prediction when transform is 1 (binary) or 2 (multiclass).
Napi::Value GbdtPredictRowJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 4 || !info[0].IsExternal() || !info[1].IsTypedArray() || !info[3].IsTypedArray() || !info[2].IsNumber()) {
    ThrowInput(env, "gbdtPredictRow(handle, row: Float64Array, numTrees: number, out: Float64Array)");
  }
  const Predictor* predictor = info[0].As<Napi::External<Predictor>>().Data();
  Napi::TypedArray row_ta = info[1].As<Napi::TypedArray>();
  Napi::TypedArray out_ta = info[3].As<Napi::TypedArray>();
  if (row_ta.TypedArrayType() != napi_float64_array || out_ta.TypedArrayType() != napi_float64_array) {
    ThrowInput(env, "gbdtPredictRow: row and out must be Float64Arrays");
  }
  Napi::Float64Array row = info[1].As<Napi::Float64Array>();
  Napi::Float64Array out = info[3].As<Napi::Float64Array>();
  const double nt = info[2].As<Napi::Number>().DoubleValue();
  if (row.ElementLength() != static_cast<std::size_t>(predictor->num_features()) ||
      out.ElementLength() < static_cast<std::size_t>(predictor->num_outputs()) ||
      !(nt >= 0 && nt <= predictor->num_trees()) || std::floor(nt) != nt ||
      static_cast<int>(nt) % predictor->num_outputs() != 0) {
    ThrowInput(env, "gbdtPredictRow: row length, out length or numTrees does not match the model");
  }
  predictor->PredictRowMargin(row.Data(), static_cast<int>(nt), out.Data());
  const int transform = info.Length() > 4 && info[4].IsNumber() ? info[4].As<Napi::Number>().Int32Value() : 0;
  if (transform == 1) gbdt::TransformMargins(Objective::kBinary, 1, 1, out.Data());
  if (transform == 2) gbdt::TransformMargins(Objective::kMulticlass, predictor->num_outputs(), 1, out.Data());
  return env.Undefined();
}

// JS: gbdtImportance(handle, numTrees) -> {splits: Float64Array, gain: Float64Array}
Napi::Value GbdtImportanceJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return Guarded(env, [&]() -> Napi::Value {
    const Predictor* predictor = AsPredictor(env, info[0]);
    if (!info[1].IsNumber()) ThrowInput(env, "numTrees must be a number");
    std::vector<double> splits, gain;
    predictor->Importance(info[1].As<Napi::Number>().Int32Value(), &splits, &gain);
    Napi::Object out = Napi::Object::New(env);
    out.Set("splits", CopyToTypedArray(env, splits));
    out.Set("gain", CopyToTypedArray(env, gain));
    return out;
  });
}

// JS: gbdtDebugHistogram(binsRowMajor: Uint8Array, rows, cols, packed: BigInt64Array,
//     rowIndex: Uint32Array) -> BigInt64Array (cols * 256 packed sums). Test hook.
Napi::Value GbdtDebugHistogramJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return Guarded(env, [&]() -> Napi::Value {
    if (!info[1].IsNumber() || !info[2].IsNumber()) ThrowInput(env, "rows and cols must be numbers");
    const std::size_t rows = static_cast<std::size_t>(info[1].As<Napi::Number>().Int64Value());
    const std::size_t cols = static_cast<std::size_t>(info[2].As<Napi::Number>().Int64Value());
    Span<const std::uint8_t> bins = AsTypedSpan<std::uint8_t>(env, info[0], napi_uint8_array, "Uint8Array", "bins");
    Span<const std::int64_t> gh = AsTypedSpan<std::int64_t>(env, info[3], napi_bigint64_array, "BigInt64Array", "packed");
    Span<const std::uint32_t> idx = AsTypedSpan<std::uint32_t>(env, info[4], napi_uint32_array, "Uint32Array", "rowIndex");
    if (rows == 0 || cols == 0 || bins.size != rows * cols || gh.size != rows) ThrowInput(env, "bins/packed lengths do not match rows and cols");
    const std::vector<std::int64_t> hist = gbdt::DebugBuildHistogram(bins.data, rows, cols, gh.data, ToVector(idx), 1);
    Napi::TypedArrayOf<std::int64_t> out = Napi::TypedArrayOf<std::int64_t>::New(env, hist.size(), napi_bigint64_array);
    std::copy(hist.begin(), hist.end(), out.Data());
    return out;
  });
}

}  // namespace kiln::napi
