// JS value <-> plain C++ conversions for the addon. Every reader validates and throws an
// E_NATIVE_INPUT KilnError naming the argument; nothing here trusts the caller.
// Spans and FloatArray views borrow JS memory: valid only while the JS object is referenced.
#pragma once

#include <napi.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <memory>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <vector>

#include "kiln/binning.h"
#include "napi/errors.h"

namespace kiln::napi {

// Largest integer a JS number holds exactly (Number.MAX_SAFE_INTEGER).
inline constexpr std::uint64_t kMaxSafeInteger = 9007199254740991ULL;

// A borrowed contiguous range of T.
template <class T>
struct Span {
  T* data = nullptr;
  std::size_t size = 0;
};

// Short type name of a JS value for messages: "Int32Array", "Array", "null", "string", ...
inline std::string DescribeType(Napi::Value v) {
  if (v.IsUndefined()) return "undefined";
  if (v.IsNull()) return "null";
  if (v.IsTypedArray()) {
    switch (v.As<Napi::TypedArray>().TypedArrayType()) {
      case napi_int8_array: return "Int8Array";
      case napi_uint8_array: return "Uint8Array";
      case napi_uint8_clamped_array: return "Uint8ClampedArray";
      case napi_int16_array: return "Int16Array";
      case napi_uint16_array: return "Uint16Array";
      case napi_int32_array: return "Int32Array";
      case napi_uint32_array: return "Uint32Array";
      case napi_float32_array: return "Float32Array";
      case napi_float64_array: return "Float64Array";
      case napi_bigint64_array: return "BigInt64Array";
      case napi_biguint64_array: return "BigUint64Array";
      default: return "TypedArray";
    }
  }
  if (v.IsArray()) return "Array";
  if (v.IsArrayBuffer()) return "ArrayBuffer";
  if (v.IsDataView()) return "DataView";
  if (v.IsString()) return "string";
  if (v.IsNumber()) return "number";
  if (v.IsBoolean()) return "boolean";
  if (v.IsFunction()) return "function";
  if (v.IsBigInt()) return "bigint";
  if (v.IsSymbol()) return "symbol";
  return "object";
}

// Rejects typed arrays over a resizable ArrayBuffer (it could shrink under a running worker).
inline void RequireFixedLength(Napi::Env env, Napi::TypedArray array, const std::string& what) {
  Napi::Value resizable = array.ArrayBuffer().Get("resizable");
  if (resizable.IsBoolean() && resizable.As<Napi::Boolean>().Value()) {
    ThrowInput(env, what + " must not be backed by a resizable ArrayBuffer");
  }
}

// Borrowed view of a Float32Array / Float64Array argument.
struct FloatArray {
  Napi::TypedArray array;
  const void* data = nullptr;
  std::size_t length = 0;
  DType dtype = DType::kFloat64;
};

// Throws E_NATIVE_INPUT naming `what` unless `v` is a Float32Array or Float64Array.
inline void CheckFloatArrayType(Napi::Env env, Napi::Value v, const std::string& what) {
  const bool ok = v.IsTypedArray() &&
                  (v.As<Napi::TypedArray>().TypedArrayType() == napi_float32_array ||
                   v.As<Napi::TypedArray>().TypedArrayType() == napi_float64_array);
  if (!ok) {
    ThrowInput(env, what + " must be a Float32Array or Float64Array (got " + DescribeType(v) + ")");
  }
}

// `v` as a Float32Array or Float64Array, else E_NATIVE_INPUT naming `what`. Call it after every
// other argument was read: a user getter run later could detach the buffer under the view.
inline FloatArray AsFloatArray(Napi::Env env, Napi::Value v, const std::string& what) {
  CheckFloatArrayType(env, v, what);
  Napi::TypedArray ta = v.As<Napi::TypedArray>();
  RequireFixedLength(env, ta, what);  // may run JS (a getter): before the pointer is taken
  FloatArray out;
  out.array = ta;
  if (ta.TypedArrayType() == napi_float32_array) {
    Napi::Float32Array a = v.As<Napi::Float32Array>();
    out.data = a.Data();
    out.length = a.ElementLength();
    out.dtype = DType::kFloat32;
  } else {
    Napi::Float64Array a = v.As<Napi::Float64Array>();
    out.data = a.Data();
    out.length = a.ElementLength();
    out.dtype = DType::kFloat64;
  }
  return out;
}

// `v` as a typed array of exactly `type` (e.g. napi_int32_array), as a borrowed span.
template <class T>
Span<const T> AsTypedSpan(Napi::Env env, Napi::Value v, napi_typedarray_type type,
                          const char* type_name, const std::string& what) {
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != type) {
    ThrowInput(env, what + " must be a " + type_name + " (got " + DescribeType(v) + ")");
  }
  Napi::TypedArrayOf<T> a = v.As<Napi::TypedArrayOf<T>>();
  return Span<const T>{a.Data(), a.ElementLength()};
}

// `v` as an object (not null, not an array), else E_NATIVE_INPUT naming `what`.
inline Napi::Object AsObject(Napi::Env env, Napi::Value v, const std::string& what) {
  if (!v.IsObject() || v.IsArray() || v.IsFunction() || v.IsTypedArray()) {
    ThrowInput(env, what + " must be an object (got " + DescribeType(v) + ")");
  }
  return v.As<Napi::Object>();
}

// Property `owner.key`, required (undefined -> E_NATIVE_INPUT).
inline Napi::Value GetRequired(Napi::Env env, Napi::Object o, const std::string& owner,
                               const char* key) {
  Napi::Value v = o.Get(key);
  if (v.IsUndefined()) ThrowInput(env, owner + "." + key + " is required");
  return v;
}

// Property `owner.key` as an integer in [min, max] (a JS number, finite, no fraction).
inline std::uint64_t GetInteger(Napi::Env env, Napi::Object o, const std::string& owner,
                                const char* key, std::uint64_t min, std::uint64_t max) {
  Napi::Value v = GetRequired(env, o, owner, key);
  const std::string range = "[" + std::to_string(min) + ", " + std::to_string(max) + "]";
  if (!v.IsNumber()) {
    ThrowInput(env, owner + "." + key + " must be an integer in " + range + " (got " +
                        DescribeType(v) + ")");
  }
  const double d = v.As<Napi::Number>().DoubleValue();
  if (!std::isfinite(d) || std::floor(d) != d || d < static_cast<double>(min) ||
      d > static_cast<double>(max)) {
    ThrowInput(env, owner + "." + key + " must be an integer in " + range + " (got " +
                        v.ToString().Utf8Value() + ")");
  }
  return static_cast<std::uint64_t>(d);
}

// Property `owner.key` as one of `allowed` strings; returns its index in `allowed`.
inline std::size_t GetEnum(Napi::Env env, Napi::Object o, const std::string& owner,
                           const char* key, std::initializer_list<const char*> allowed) {
  Napi::Value v = GetRequired(env, o, owner, key);
  std::string list;
  for (const char* a : allowed) list += (list.empty() ? "'" : ", '") + std::string(a) + "'";
  if (!v.IsString()) {
    ThrowInput(env, owner + "." + key + " must be one of " + list + " (got " + DescribeType(v) + ")");
  }
  const std::string s = v.As<Napi::String>().Utf8Value();
  std::size_t i = 0;
  for (const char* a : allowed) {
    if (s == a) return i;
    ++i;
  }
  ThrowInput(env, owner + "." + key + " must be one of " + list + " (got '" + s + "')");
}

// A new JS typed array holding a copy of `values`.
template <class T>
Napi::TypedArrayOf<T> CopyToTypedArray(Napi::Env env, const std::vector<T>& values) {
  Napi::TypedArrayOf<T> out = Napi::TypedArrayOf<T>::New(env, values.size());
  if (!values.empty()) std::copy(values.begin(), values.end(), out.Data());
  return out;
}

// A copy of a borrowed span.
template <class T>
std::vector<T> ToVector(Span<const T> s) {
  return std::vector<T>(s.data, s.data + s.size);
}

// Cancellation flag shared between a cancelToken() External and the workers using it.
using CancelFlag = std::shared_ptr<std::atomic<int>>;

// The flag behind a token from cancelToken(); throws E_NATIVE_INPUT for anything else.
inline CancelFlag* AsCancelToken(Napi::Env env, Napi::Value v) {
  if (!v.IsExternal()) ThrowInput(env, "cancel token must come from cancelToken() (got " + DescribeType(v) + ")");
  return v.As<Napi::External<CancelFlag>>().Data();
}

}  // namespace kiln::napi
