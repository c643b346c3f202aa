// Argument readers and hooks shared by the training workers (linear_worker.cc, mlp_worker.cc):
// dense matrix shape + values, finite numbers, the cancel flag and the progress callback.
#pragma once

#include <napi.h>

#include <cmath>
#include <functional>
#include <string>

#include "kiln/binning.h"
#include "kiln/training.h"
#include "napi/convert.h"
#include "napi/errors.h"

namespace kiln::napi {

// {rows, cols, layout} of `owner`; reads no array memory.
inline MatrixView ReadDenseShape(Napi::Env env, Napi::Object opts, const std::string& owner) {
  MatrixView m;
  m.rows = static_cast<std::size_t>(GetInteger(env, opts, owner, "rows", 1, kMaxSafeInteger));
  m.cols = static_cast<std::size_t>(GetInteger(env, opts, owner, "cols", 1, kMaxSafeInteger));
  m.layout = GetEnum(env, opts, owner, "layout", {"column", "row"}) == 0 ? Layout::kColumn
                                                                         : Layout::kRow;
  if (m.rows > kMaxSafeInteger / m.cols) ThrowInput(env, owner + ": rows * cols is too large");
  return m;
}

// Binds a Float32Array / Float64Array to shape m (length must be rows * cols).
inline MatrixView BindDenseValues(Napi::Env env, Napi::Value v, MatrixView m, const std::string& what,
                                  FloatArray* values) {
  *values = AsFloatArray(env, v, what);
  if (values->length != m.rows * m.cols) {
    ThrowInput(env, what + ".length is " + std::to_string(values->length) + " but rows * cols = " +
                        std::to_string(m.rows) + " * " + std::to_string(m.cols) + " = " +
                        std::to_string(m.rows * m.cols));
  }
  m.data = values->data;
  m.dtype = values->dtype;
  return m;
}

// Property `owner.key` as a finite number in [min, max].
inline double GetFiniteNumber(Napi::Env env, Napi::Object o, const std::string& owner,
                              const char* key, double min, double max) {
  Napi::Value v = GetRequired(env, o, owner, key);
  const std::string range = "[" + std::to_string(min) + ", " + std::to_string(max) + "]";
  if (!v.IsNumber()) {
    ThrowInput(env, owner + "." + key + " must be a finite number in " + range + " (got " +
                        DescribeType(v) + ")");
  }
  const double d = v.As<Napi::Number>().DoubleValue();
  if (!std::isfinite(d) || d < min || d > max) {
    ThrowInput(env, owner + "." + key + " must be a finite number in " + range + " (got " +
                        v.ToString().Utf8Value() + ")");
  }
  return d;
}

// A Float64Array argument copied into a vector; every entry must be finite.
inline std::vector<double> ReadFiniteVector(Napi::Env env, Napi::Value v, const std::string& what) {
  std::vector<double> out =
      ToVector(AsTypedSpan<double>(env, v, napi_float64_array, "Float64Array", what));
  for (std::size_t i = 0; i < out.size(); ++i) {
    if (!std::isfinite(out[i])) ThrowInput(env, what + "[" + std::to_string(i) + "] is not finite");
  }
  return out;
}

// A fixed-length Int32Array argument as a borrowed span (Keep() the array while it is used).
inline Span<const std::int32_t> ReadInt32Array(Napi::Env env, Napi::Value v, const std::string& what) {
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_int32_array) {
    ThrowInput(env, what + " must be an Int32Array (got " + DescribeType(v) + ")");
  }
  RequireFixedLength(env, v.As<Napi::TypedArray>(), what);
  return AsTypedSpan<std::int32_t>(env, v, napi_int32_array, "Int32Array", what);
}

// Shared cancel flag: an Int32Array of length >= 1 whose element 0 becomes nonzero to cancel.
// The pointer is borrowed: the caller must Keep() the array for the worker's lifetime.
inline const std::int32_t* ReadCancelFlag(Napi::Env env, Napi::Value v, Napi::Object* array) {
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_int32_array) {
    ThrowInput(env, "cancelFlag must be an Int32Array (got " + DescribeType(v) + ")");
  }
  Napi::Int32Array a = v.As<Napi::Int32Array>();
  RequireFixedLength(env, a, "cancelFlag");
  if (a.ElementLength() < 1) ThrowInput(env, "cancelFlag must have at least one element");
  *array = a;
  return a.Data();
}

// Forwards TrainProgress reports from the training thread to a JS callback
// ({iteration, trainLoss, validLoss, gradNorm}; NaN fields are null). Errors thrown by the
// callback are swallowed here: the TS wrapper catches its own callback's errors.
class ProgressSink {
 public:
  // callback: a function, or undefined / null for no reports.
  ProgressSink(Napi::Env env, Napi::Value callback, const char* name) {
    if (callback.IsUndefined() || callback.IsNull()) return;
    if (!callback.IsFunction()) {
      ThrowInput(env, "onProgress must be a function (got " + DescribeType(callback) + ")");
    }
    tsfn_ = Napi::ThreadSafeFunction::New(env, callback.As<Napi::Function>(), name, 0, 1);
    active_ = true;
  }
  ProgressSink(const ProgressSink&) = delete;
  ProgressSink& operator=(const ProgressSink&) = delete;
  ~ProgressSink() { Release(); }

  // Ends reporting (idempotent; any thread). Queued reports are still delivered.
  void Release() {
    if (active_) {
      active_ = false;
      tsfn_.Release();
    }
  }

  // The hook for TrainControl::on_progress (empty when there is no callback).
  std::function<void(const TrainProgress&)> Hook() {
    if (!active_) return {};
    return [this](const TrainProgress& p) {
      auto* data = new TrainProgress(p);
      if (tsfn_.NonBlockingCall(data, Deliver) != napi_ok) delete data;
    };
  }

 private:
  static void Deliver(Napi::Env env, Napi::Function fn, TrainProgress* data) {
    const TrainProgress p = *data;
    delete data;
    if (env == nullptr || fn.IsEmpty()) return;
    auto num = [&](double v) -> Napi::Value {
      return std::isfinite(v) ? Napi::Number::New(env, v) : env.Null();
    };
    try {
      Napi::Object o = Napi::Object::New(env);
      o.Set("iteration", Napi::Number::New(env, p.iteration));
      o.Set("trainLoss", num(p.train_loss));
      o.Set("validLoss", num(p.valid_loss));
      o.Set("gradNorm", num(p.grad_norm));
      fn.Call({o});
    } catch (const Napi::Error&) {
    }
  }

  Napi::ThreadSafeFunction tsfn_;
  bool active_ = false;
};

}  // namespace kiln::napi
