// JS entry points of the binning kernel: fitBins / applyBins (async, PromiseWorker).
// Everything is validated and copied into plain structs on the JS thread; the input typed
// arrays are borrowed (Keep()) for the worker's lifetime and must not be detached meanwhile.
#include <napi.h>

#include <string>

#include "kiln/binning.h"
#include "kiln/thread_pool.h"
#include "napi/convert.h"
#include "napi/errors.h"
#include "napi/promise_worker.h"

namespace kiln::napi {
namespace {

// Shape options shared by both ops: {rows, cols, layout}. Reads no array memory.
MatrixView ReadShape(Napi::Env env, Napi::Object opts, const std::string& owner) {
  MatrixView m;
  m.rows = static_cast<std::size_t>(GetInteger(env, opts, owner, "rows", 1, kMaxSafeInteger));
  m.cols = static_cast<std::size_t>(GetInteger(env, opts, owner, "cols", 1, kMaxSafeInteger));
  m.layout = GetEnum(env, opts, owner, "layout", {"column", "row"}) == 0 ? Layout::kColumn
                                                                         : Layout::kRow;
  if (m.rows > kMaxSafeInteger / m.cols) ThrowInput(env, owner + ": rows * cols is too large");
  return m;
}

// Binds the values array to the shape; called last so no JS runs between here and Queue().
MatrixView BindValues(Napi::Env env, Napi::Value v, MatrixView m, FloatArray* values) {
  *values = AsFloatArray(env, v, "values");
  if (values->length != m.rows * m.cols) {
    ThrowInput(env, "values.length is " + std::to_string(values->length) + " but rows * cols = " +
                        std::to_string(m.rows) + " * " + std::to_string(m.cols) + " = " +
                        std::to_string(m.rows * m.cols));
  }
  m.dtype = values->dtype;
  m.data = values->data;
  ValidateMatrix(m);
  return m;
}

int ReadNumThreads(Napi::Env env, Napi::Object opts, const std::string& owner) {
  return static_cast<int>(GetInteger(env, opts, owner, "numThreads", 0, kMaxThreads));
}

// mapper {numBins: Int32Array, thresholds: Float64Array, offsets: Int32Array}, copied.
BinMapper ReadMapper(Napi::Env env, Napi::Value v, std::size_t cols) {
  Napi::Object o = AsObject(env, v, "mapper");
  BinMapper mapper;
  mapper.num_bins = ToVector(AsTypedSpan<std::int32_t>(
      env, GetRequired(env, o, "mapper", "numBins"), napi_int32_array, "Int32Array", "mapper.numBins"));
  mapper.thresholds = ToVector(AsTypedSpan<double>(env, GetRequired(env, o, "mapper", "thresholds"),
                                                   napi_float64_array, "Float64Array",
                                                   "mapper.thresholds"));
  mapper.offsets = ToVector(AsTypedSpan<std::int32_t>(
      env, GetRequired(env, o, "mapper", "offsets"), napi_int32_array, "Int32Array", "mapper.offsets"));
  ValidateBinMapper(mapper, cols);
  return mapper;
}

class FitBinsWorker final : public PromiseWorker {
 public:
  FitBinsWorker(Napi::Env env, Napi::Object values, const MatrixView& m, const FitBinsParams& p)
      : PromiseWorker(env, "kiln.fitBins"), matrix_(m), params_(p) {
    Keep(values);
  }

 private:
  void Compute() override { mapper_ = FitBins(matrix_, params_); }

  Napi::Value Result(Napi::Env env) override {
    Napi::Object out = Napi::Object::New(env);
    out.Set("numBins", CopyToTypedArray(env, mapper_.num_bins));
    out.Set("thresholds", CopyToTypedArray(env, mapper_.thresholds));
    out.Set("offsets", CopyToTypedArray(env, mapper_.offsets));
    return out;
  }

  MatrixView matrix_;
  FitBinsParams params_;
  BinMapper mapper_;
};

class ApplyBinsWorker final : public PromiseWorker {
 public:
  ApplyBinsWorker(Napi::Env env, Napi::Object values, const MatrixView& m, BinMapper mapper,
                  const ApplyBinsParams& p, Napi::Uint8Array out)
      : PromiseWorker(env, "kiln.applyBins"),
        matrix_(m),
        mapper_(std::move(mapper)),
        params_(p),
        out_data_(out.Data()) {
    Keep(values);
    out_ref_ = Napi::Persistent(out);  // keeps the output alive; resolved in Result()
  }

 private:
  void Compute() override { ApplyBins(matrix_, mapper_, params_, out_data_); }

  Napi::Value Result(Napi::Env) override { return out_ref_.Value(); }

  MatrixView matrix_;
  BinMapper mapper_;
  ApplyBinsParams params_;
  std::uint8_t* out_data_;
  Napi::Reference<Napi::Uint8Array> out_ref_;
};

}  // namespace

// JS: fitBins(values, {rows, cols, layout, maxBin, sampleSize, seed, numThreads}) -> Promise<mapper>
Napi::Value FitBinsJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return Guarded(env, [&]() -> Napi::Value {
    CheckFloatArrayType(env, info[0], "values");
    Napi::Object opts = AsObject(env, info[1], "options");
    const MatrixView shape = ReadShape(env, opts, "options");
    FitBinsParams p;
    p.max_bin = static_cast<int>(
        GetInteger(env, opts, "options", "maxBin", kMinValueBins, kMaxValueBins));
    p.sample_size = GetInteger(env, opts, "options", "sampleSize", 1, kMaxSafeInteger);
    p.seed = GetInteger(env, opts, "options", "seed", 0, kMaxSafeInteger);
    p.num_threads = ReadNumThreads(env, opts, "options");
    FloatArray values;
    const MatrixView m = BindValues(env, info[0], shape, &values);
    auto* worker = new FitBinsWorker(env, values.array, m, p);
    return worker->Start();
  });
}

// JS: applyBins(values, {rows, cols, layout, numThreads, simd}, mapper) -> Promise<Uint8Array>
Napi::Value ApplyBinsJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return Guarded(env, [&]() -> Napi::Value {
    CheckFloatArrayType(env, info[0], "values");
    Napi::Object opts = AsObject(env, info[1], "options");
    const MatrixView shape = ReadShape(env, opts, "options");
    ApplyBinsParams p;
    p.num_threads = ReadNumThreads(env, opts, "options");
    p.simd = GetEnum(env, opts, "options", "simd", {"auto", "scalar"}) == 0 ? SimdLevel::kAvx2
                                                                            : SimdLevel::kScalar;
    BinMapper mapper = ReadMapper(env, info[2], shape.cols);
    FloatArray values;
    const MatrixView m = BindValues(env, info[0], shape, &values);
    Napi::Uint8Array out;
    try {
      out = Napi::Uint8Array::New(env, m.rows * m.cols);
    } catch (const Napi::Error& e) {
      ThrowInput(env, "cannot allocate the " + std::to_string(m.rows * m.cols) +
                          "-byte output: " + e.Message());
    }
    auto* worker = new ApplyBinsWorker(env, values.array, m, std::move(mapper), p, out);
    return worker->Start();
  });
}

}  // namespace kiln::napi
