// JS entry points of the streaming window kernel: rollingCreate (sync, returns a handle owning the
// state), rollingProcess (async, one batch; the handle refuses a second call while one runs), and
// featurePipeline (async, a whole DuckDB -> kernel -> DuckDB build, napi/feature_pipeline.h).
// Batch arrays are borrowed (kept alive by the worker) and copied by the kernel on the worker.
#include <napi.h>

#include <atomic>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "napi/feature_pipeline.h"
#include "kiln/rolling.h"
#include "kiln/thread_pool.h"
#include "napi/convert.h"
#include "napi/errors.h"
#include "napi/promise_worker.h"

namespace kiln::napi {
namespace {

struct RollingHandle {
  std::unique_ptr<RollingState, void (*)(RollingState*)> state{nullptr, DestroyRolling};
  std::atomic<bool> busy{false};
  bool failed = false;
};

RollingHandle* HandleOf(Napi::Env env, Napi::Value v) {
  if (!v.IsExternal()) ThrowInput(env, "handle must come from rollingCreate (got " + DescribeType(v) + ")");
  return v.As<Napi::External<RollingHandle>>().Data();
}

const std::uint8_t* OptionalBitmap(Napi::Env env, Napi::Value v, std::size_t rows, const std::string& what) {
  if (v.IsNull() || v.IsUndefined()) return nullptr;
  Span<const std::uint8_t> s = AsTypedSpan<std::uint8_t>(env, v, napi_uint8_array, "Uint8Array", what);
  if (s.size * 8 < rows) ThrowInput(env, what + " has " + std::to_string(s.size) + " bytes, fewer than rows / 8");
  return s.data;
}

// Reads a feature list (rollingCreate's first argument; left / right are entity id + 1, 0 absent).
std::vector<RollFeature> ParseFeatures(Napi::Env env, Napi::Array arr, const std::string& what) {
  std::vector<RollFeature> fs;
  const std::uint64_t big = static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max() / 2);
  for (std::uint32_t i = 0; i < arr.Length(); ++i) {
    const std::string owner = what + "[" + std::to_string(i) + "]";
    Napi::Object o = AsObject(env, arr.Get(i), owner);
    RollFeature f;
    Napi::Value name = GetRequired(env, o, owner, "name");
    if (!name.IsString()) ThrowInput(env, owner + ".name must be a string");
    f.name = name.As<Napi::String>().Utf8Value();
    f.fn = static_cast<RollFn>(GetEnum(env, o, owner, "fn", {"mean", "std", "min", "max", "sum", "zscore", "pct_change", "momentum", "volatility", "lag", "correlation", "spread", "ratio"}));
    f.input = static_cast<int>(GetInteger(env, o, owner, "input", 0, 1u << 20));
    Napi::Value tw = GetRequired(env, o, owner, "timeWindow");
    Napi::Value ex = GetRequired(env, o, owner, "exclusive");
    if (!tw.IsBoolean() || !ex.IsBoolean()) ThrowInput(env, owner + ".timeWindow and .exclusive must be booleans");
    f.time_window = tw.As<Napi::Boolean>().Value();
    f.exclusive = ex.As<Napi::Boolean>().Value();
    f.window_us = static_cast<std::int64_t>(GetInteger(env, o, owner, "windowUs", 0, big));
    f.window_rows = static_cast<std::int64_t>(GetInteger(env, o, owner, "windowRows", 0, big));
    f.min_periods = static_cast<std::int64_t>(GetInteger(env, o, owner, "minPeriods", 0, big));
    f.left = static_cast<std::int32_t>(static_cast<std::int64_t>(GetInteger(env, o, owner, "left", 0, std::numeric_limits<std::int32_t>::max())) - 1);
    f.right = static_cast<std::int32_t>(static_cast<std::int64_t>(GetInteger(env, o, owner, "right", 0, std::numeric_limits<std::int32_t>::max())) - 1);
    fs.push_back(std::move(f));
  }
  return fs;
}

class RollingWorker final : public PromiseWorker {
 public:
  RollingWorker(Napi::Env env, RollingHandle* h, RollBatch b, bool final, int threads)
      : PromiseWorker(env, "kiln.rollingProcess"), h_(h), b_(std::move(b)), final_(final), threads_(threads) {}
  using PromiseWorker::Keep;

 private:
  void Compute() override {
    struct Release {
      RollingHandle* h;
      ~Release() { h->busy.store(false); }
    } release{h_};
    if (h_->failed) throw Error(kErrNativeInput, "this rolling state failed earlier; start a new one");
    try {
      out_ = ProcessRolling(*h_->state, b_, final_, threads_);
    } catch (...) {
      h_->failed = true;
      throw;
    }
  }

  Napi::Value Result(Napi::Env env) override {
    Napi::Object o = Napi::Object::New(env);
    o.Set("rows", Napi::Number::New(env, static_cast<double>(out_.rows)));
    Napi::BigInt64Array time = Napi::BigInt64Array::New(env, out_.time.size());
    std::copy(out_.time.begin(), out_.time.end(), time.Data());
    o.Set("time", time);
    o.Set("entity", CopyToTypedArray(env, out_.entity));
    if (!out_.row_id.empty() || out_.rows == 0) {
      Napi::BigInt64Array rid = Napi::BigInt64Array::New(env, out_.row_id.size());
      std::copy(out_.row_id.begin(), out_.row_id.end(), rid.Data());
      o.Set("rowId", rid);
    } else {
      o.Set("rowId", env.Null());
    }
    Napi::Array values = Napi::Array::New(env, out_.values.size());
    Napi::Array valid = Napi::Array::New(env, out_.valid.size());
    for (std::size_t i = 0; i < out_.values.size(); ++i) {
      values.Set(static_cast<std::uint32_t>(i), CopyToTypedArray(env, out_.values[i]));
      valid.Set(static_cast<std::uint32_t>(i), CopyToTypedArray(env, out_.valid[i]));
    }
    o.Set("values", values);
    o.Set("validity", valid);
    return o;
  }

  RollingHandle* h_;
  RollBatch b_;
  bool final_;
  int threads_;
  RollResult out_;
};

std::string GetString(Napi::Env env, Napi::Object o, const std::string& owner, const char* key) {
  Napi::Value v = GetRequired(env, o, owner, key);
  if (!v.IsString()) ThrowInput(env, owner + "." + key + " must be a string (got " + DescribeType(v) + ")");
  return v.As<Napi::String>().Utf8Value();
}

std::vector<std::string> GetStrings(Napi::Env env, Napi::Object o, const std::string& owner, const char* key) {
  Napi::Value v = GetRequired(env, o, owner, key);
  if (!v.IsArray()) ThrowInput(env, owner + "." + key + " must be an array of strings");
  Napi::Array a = v.As<Napi::Array>();
  std::vector<std::string> out;
  for (std::uint32_t i = 0; i < a.Length(); ++i) {
    Napi::Value x = a.Get(i);
    if (!x.IsString()) ThrowInput(env, owner + "." + key + "[" + std::to_string(i) + "] must be a string");
    out.push_back(x.As<Napi::String>().Utf8Value());
  }
  return out;
}

class PipelineWorker final : public PromiseWorker {
 public:
  PipelineWorker(Napi::Env env, FeaturePipelineSpec spec, CancelFlag cancel, Napi::Value on_progress)
      : PromiseWorker(env, "kiln.featurePipeline"), spec_(std::move(spec)), cancel_(std::move(cancel)),
        progress_(env, on_progress, "kiln.featurePipelineProgress", ProgressToJs) {}

 private:
  void Compute() override {
    FeaturePipelineProgressFn report;
    if (progress_.enabled()) report = [this](const FeaturePipelineProgress& p) { progress_.Report(p); };
    out_ = RunFeaturePipeline(spec_, cancel_.get(), report);
    progress_.Drain();
  }

  static Napi::Value ProgressToJs(Napi::Env env, const FeaturePipelineProgress& p) {
    Napi::Object o = Napi::Object::New(env);
    o.Set("phase", p.phase);
    o.Set("rowsWritten", Napi::Number::New(env, static_cast<double>(p.rows_written)));
    return o;
  }

  Napi::Value Result(Napi::Env env) override {
    Napi::Object o = Napi::Object::New(env);
    o.Set("rows", Napi::Number::New(env, static_cast<double>(out_.rows)));
    o.Set("entities", Napi::Number::New(env, static_cast<double>(out_.entities)));
    o.Set("sortedOnInput", Napi::Boolean::New(env, out_.sorted_on_input));
    Napi::Array stats = Napi::Array::New(env, out_.stats.size());
    for (std::size_t i = 0; i < out_.stats.size(); ++i) {
      const FeatureColumnStats& st = out_.stats[i];
      Napi::Object x = Napi::Object::New(env);
      x.Set("count", Napi::Number::New(env, static_cast<double>(st.count)));
      x.Set("missing", Napi::Number::New(env, static_cast<double>(st.missing)));
      x.Set("finite", Napi::Number::New(env, static_cast<double>(st.finite)));
      x.Set("mean", Napi::Number::New(env, st.mean));
      x.Set("m2", Napi::Number::New(env, st.m2));
      x.Set("min", Napi::Number::New(env, st.min));
      x.Set("max", Napi::Number::New(env, st.max));
      stats.Set(static_cast<std::uint32_t>(i), x);
    }
    o.Set("stats", stats);
    return o;
  }

  FeaturePipelineSpec spec_;
  CancelFlag cancel_;
  ProgressCallback<FeaturePipelineProgress> progress_;
  FeaturePipelineResult out_;
};

}  // namespace

// JS: rollingCreate(features: Array<{name, fn, input, timeWindow, windowUs, windowRows, exclusive,
//     minPeriods, left, right}>, numInputs: number) -> RollingHandle
Napi::Value RollingCreateJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return Guarded(env, [&]() -> Napi::Value {
    if (!info[0].IsArray()) ThrowInput(env, "features must be an array (got " + DescribeType(info[0]) + ")");
    if (!info[1].IsNumber()) ThrowInput(env, "numInputs must be a number");
    const double ni = info[1].As<Napi::Number>().DoubleValue();
    if (!(ni >= 0 && ni <= 4096) || ni != static_cast<int>(ni)) ThrowInput(env, "numInputs must be an integer in [0, 4096]");
    std::vector<RollFeature> fs = ParseFeatures(env, info[0].As<Napi::Array>(), "features");
    auto* h = new RollingHandle();
    try {
      h->state.reset(CreateRolling(std::move(fs), static_cast<int>(ni)));
    } catch (...) {
      delete h;
      throw;
    }
    return Napi::External<RollingHandle>::New(env, h, [](Napi::Env, RollingHandle* p) { delete p; });
  });
}

// JS: rollingProcess(handle, batch: {rows, time: BigInt64Array, timeValidity, entity: Int32Array,
//     rowId: BigInt64Array | null, inputs: Float64Array[], validity: (Uint8Array | null)[]},
//     final: boolean, numThreads: number) -> Promise<RawRollingResult>
// (left/right in rollingCreate are entity id + 1, 0 meaning absent.)
Napi::Value RollingProcessJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return Guarded(env, [&]() -> Napi::Value {
    RollingHandle* h = HandleOf(env, info[0]);
    Napi::Object b = AsObject(env, info[1], "batch");
    if (!info[2].IsBoolean()) ThrowInput(env, "final must be a boolean");
    if (!info[3].IsNumber()) ThrowInput(env, "numThreads must be a number");
    const double nt = info[3].As<Napi::Number>().DoubleValue();
    if (!(nt >= 0 && nt <= kMaxThreads) || nt != static_cast<int>(nt)) ThrowInput(env, "numThreads must be an integer in [0, 256]");
    RollBatch rb;
    rb.rows = static_cast<std::size_t>(GetInteger(env, b, "batch", "rows", 0, std::numeric_limits<std::int32_t>::max()));
    Span<const std::int64_t> time = AsTypedSpan<std::int64_t>(env, GetRequired(env, b, "batch", "time"), napi_bigint64_array, "BigInt64Array", "batch.time");
    Span<const std::int32_t> ent = AsTypedSpan<std::int32_t>(env, GetRequired(env, b, "batch", "entity"), napi_int32_array, "Int32Array", "batch.entity");
    if (time.size < rb.rows || ent.size < rb.rows) ThrowInput(env, "batch.time and batch.entity must have batch.rows entries");
    rb.time = time.data;
    rb.entity = ent.data;
    rb.time_valid = OptionalBitmap(env, b.Get("timeValidity"), rb.rows, "batch.timeValidity");
    Napi::Value rid = b.Get("rowId");
    if (!rid.IsNull() && !rid.IsUndefined()) {
      Span<const std::int64_t> r = AsTypedSpan<std::int64_t>(env, rid, napi_bigint64_array, "BigInt64Array", "batch.rowId");
      if (r.size < rb.rows) ThrowInput(env, "batch.rowId must have batch.rows entries");
      rb.row_id = r.data;
    }
    Napi::Value inputs = GetRequired(env, b, "batch", "inputs");
    Napi::Value validity = GetRequired(env, b, "batch", "validity");
    if (!inputs.IsArray() || !validity.IsArray()) ThrowInput(env, "batch.inputs and batch.validity must be arrays");
    Napi::Array ia = inputs.As<Napi::Array>(), va = validity.As<Napi::Array>();
    if (ia.Length() != va.Length()) ThrowInput(env, "batch.inputs and batch.validity must have the same length");
    for (std::uint32_t c = 0; c < ia.Length(); ++c) {
      const std::string what = "batch.inputs[" + std::to_string(c) + "]";
      Span<const double> s = AsTypedSpan<double>(env, ia.Get(c), napi_float64_array, "Float64Array", what);
      if (s.size < rb.rows) ThrowInput(env, what + " must have batch.rows entries");
      rb.inputs.push_back(s.data);
      rb.input_valid.push_back(OptionalBitmap(env, va.Get(c), rb.rows, "batch.validity[" + std::to_string(c) + "]"));
    }
    bool expected = false;
    if (!h->busy.compare_exchange_strong(expected, true)) ThrowInput(env, "rollingProcess: the previous call on this handle has not finished");
    auto* w = new RollingWorker(env, h, std::move(rb), info[2].As<Napi::Boolean>().Value(), static_cast<int>(nt));
    w->Keep(info[0].As<Napi::Object>());
    w->Keep(b);
    return w->Start();
  });
}

// JS: featurePipeline(spec: {library, settings: string[], sortSettings?: string[], afterSortSettings?: string[], threads, streamThreads?, inputSql, orderedSql, outputSql,
//     sortedFile, hasEntity, numInputs, features (as rollingCreate; left / right index crossEntities + 1),
//     crossEntities: string[], kernelThreads, batchRows}, cancelToken | null,
//     onProgress?: ({phase: 'stream' | 'sort' | 'stream sorted', rowsWritten}) => void)
//     -> Promise<{rows, entities, sortedOnInput, stats: [{count, missing, finite, mean, m2, min, max}]}>
Napi::Value FeaturePipelineJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return Guarded(env, [&]() -> Napi::Value {
    Napi::Object o = AsObject(env, info[0], "spec");
    FeaturePipelineSpec spec;
    spec.library = GetString(env, o, "spec", "library");
    spec.settings = GetStrings(env, o, "spec", "settings");
    if (!o.Get("sortSettings").IsUndefined()) spec.sort_settings = GetStrings(env, o, "spec", "sortSettings");
    if (!o.Get("afterSortSettings").IsUndefined()) spec.after_sort_settings = GetStrings(env, o, "spec", "afterSortSettings");
    spec.threads = static_cast<int>(GetInteger(env, o, "spec", "threads", 1, kMaxThreads));
    if (!o.Get("streamThreads").IsUndefined()) spec.stream_threads = static_cast<int>(GetInteger(env, o, "spec", "streamThreads", 1, kMaxThreads));
    spec.input_sql = GetString(env, o, "spec", "inputSql");
    spec.ordered_sql = GetString(env, o, "spec", "orderedSql");
    spec.sorted_file = GetString(env, o, "spec", "sortedFile");
    spec.output_sql = GetString(env, o, "spec", "outputSql");
    Napi::Value he = GetRequired(env, o, "spec", "hasEntity");
    if (!he.IsBoolean()) ThrowInput(env, "spec.hasEntity must be a boolean");
    spec.has_entity = he.As<Napi::Boolean>().Value();
    spec.num_inputs = static_cast<int>(GetInteger(env, o, "spec", "numInputs", 0, 4096));
    Napi::Value fv = GetRequired(env, o, "spec", "features");
    if (!fv.IsArray()) ThrowInput(env, "spec.features must be an array (got " + DescribeType(fv) + ")");
    spec.features = ParseFeatures(env, fv.As<Napi::Array>(), "spec.features");
    spec.cross_entities = GetStrings(env, o, "spec", "crossEntities");
    for (const RollFeature& f : spec.features) {
      if (f.left >= static_cast<std::int32_t>(spec.cross_entities.size()) || f.right >= static_cast<std::int32_t>(spec.cross_entities.size())) {
        ThrowInput(env, "spec.features: \"" + f.name + "\" names a cross entity beyond crossEntities");
      }
    }
    spec.kernel_threads = static_cast<int>(GetInteger(env, o, "spec", "kernelThreads", 0, kMaxThreads));
    spec.batch_rows = static_cast<std::int64_t>(GetInteger(env, o, "spec", "batchRows", 1, 1u << 24));
    CancelFlag cancel = info[1].IsNull() || info[1].IsUndefined() ? std::make_shared<std::atomic<int>>(0) : *AsCancelToken(env, info[1]);
    auto* w = new PipelineWorker(env, std::move(spec), std::move(cancel), info[2]);
    return w->Start();
  });
}

}  // namespace kiln::napi
