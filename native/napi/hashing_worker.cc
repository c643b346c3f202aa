// JS entry points of the text hashing kernel: textHash (async, PromiseWorker), normalizeText and
// murmurHash3 (sync, for tests and docs). Inputs are validated and the string column is copied
// into the worker on the JS thread, so the caller may reuse its buffers at once.
#include <napi.h>

#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "kiln/hashing.h"
#include "kiln/thread_pool.h"
#include "napi/convert.h"
#include "napi/errors.h"
#include "napi/promise_worker.h"

namespace kiln::napi {
namespace {

bool GetBool(Napi::Env env, Napi::Object o, const std::string& owner, const char* key) {
  Napi::Value v = GetRequired(env, o, owner, key);
  if (!v.IsBoolean()) ThrowInput(env, owner + "." + key + " must be a boolean (got " + DescribeType(v) + ")");
  return v.As<Napi::Boolean>().Value();
}

class TextHashWorker final : public PromiseWorker {
 public:
  TextHashWorker(Napi::Env env, std::vector<std::uint8_t> bytes, std::vector<std::int32_t> offsets,
                 std::vector<std::uint8_t> validity, bool has_validity, std::size_t rows,
                 const TextHashParams& p, std::vector<double> idf)
      : PromiseWorker(env, "kiln.textHash"),
        bytes_(std::move(bytes)),
        offsets_(std::move(offsets)),
        validity_(std::move(validity)),
        has_validity_(has_validity),
        rows_(rows),
        params_(p),
        idf_(std::move(idf)) {}

 private:
  void Compute() override {
    StringColumn c;
    c.bytes = bytes_.data();
    c.bytes_len = bytes_.size();
    c.offsets = offsets_.data();
    c.rows = rows_;
    c.validity = has_validity_ ? validity_.data() : nullptr;
    out_ = HashText(c, params_, idf_.empty() ? nullptr : idf_.data());
    if (out_.indices.size() > static_cast<std::size_t>(std::numeric_limits<std::int32_t>::max())) {
      throw InputError("too many hashed terms in one call (" + std::to_string(out_.indices.size()) + "); hash fewer rows at a time");
    }
  }

  Napi::Value Result(Napi::Env env) override {
    Napi::Object o = Napi::Object::New(env);
    Napi::Int32Array indptr = Napi::Int32Array::New(env, out_.indptr.size());
    for (std::size_t i = 0; i < out_.indptr.size(); ++i) indptr[i] = static_cast<std::int32_t>(out_.indptr[i]);
    o.Set("indptr", indptr);
    o.Set("indices", CopyToTypedArray(env, out_.indices));
    o.Set("values", CopyToTypedArray(env, out_.values));
    return o;
  }

  std::vector<std::uint8_t> bytes_;
  std::vector<std::int32_t> offsets_;
  std::vector<std::uint8_t> validity_;
  bool has_validity_;
  std::size_t rows_;
  TextHashParams params_;
  std::vector<double> idf_;
  SparseRows out_;
};

}  // namespace

// JS: textHash(bytes: Uint8Array, offsets: Int32Array, validity: Uint8Array | null,
//              {rows, bits, seed, bigrams, l2, simd, numThreads}, idf: Float64Array | null)
//     -> Promise<{indptr: Int32Array, indices: Int32Array, values: Float64Array}>
Napi::Value TextHashJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return Guarded(env, [&]() -> Napi::Value {
    Napi::Object opts = AsObject(env, info[3], "options");
    const std::size_t rows = static_cast<std::size_t>(GetInteger(env, opts, "options", "rows", 0, std::numeric_limits<std::int32_t>::max() - 1));
    TextHashParams p;
    p.bits = static_cast<int>(GetInteger(env, opts, "options", "bits", 1, kMaxHashBits));
    p.seed = static_cast<std::uint32_t>(GetInteger(env, opts, "options", "seed", 0, 0xffffffffULL));
    p.bigrams = GetBool(env, opts, "options", "bigrams");
    p.l2 = GetBool(env, opts, "options", "l2");
    p.simd = GetEnum(env, opts, "options", "simd", {"auto", "scalar"}) == 0 ? SimdLevel::kAvx2 : SimdLevel::kScalar;
    p.num_threads = static_cast<int>(GetInteger(env, opts, "options", "numThreads", 0, kMaxThreads));
    std::vector<double> idf;
    if (!info[4].IsNull() && !info[4].IsUndefined()) {
      idf = ToVector(AsTypedSpan<double>(env, info[4], napi_float64_array, "Float64Array", "idf"));
      if (idf.size() != (static_cast<std::size_t>(1) << p.bits)) {
        ThrowInput(env, "idf has " + std::to_string(idf.size()) + " entries, expected 2^bits = " + std::to_string(1 << p.bits));
      }
    }
    std::vector<std::uint8_t> validity;
    const bool has_validity = !info[2].IsNull() && !info[2].IsUndefined();
    if (has_validity) {
      validity = ToVector(AsTypedSpan<std::uint8_t>(env, info[2], napi_uint8_array, "Uint8Array", "validity"));
      if (validity.size() * 8 < rows) ThrowInput(env, "validity has " + std::to_string(validity.size()) + " bytes, fewer than rows / 8");
    }
    std::vector<std::int32_t> offsets = ToVector(AsTypedSpan<std::int32_t>(env, info[1], napi_int32_array, "Int32Array", "offsets"));
    if (offsets.size() < rows + 1) ThrowInput(env, "offsets has " + std::to_string(offsets.size()) + " entries, expected rows + 1 = " + std::to_string(rows + 1));
    std::vector<std::uint8_t> bytes = ToVector(AsTypedSpan<std::uint8_t>(env, info[0], napi_uint8_array, "Uint8Array", "bytes"));
    StringColumn check;
    check.bytes = bytes.data();
    check.bytes_len = bytes.size();
    check.offsets = offsets.data();
    check.rows = rows;
    ValidateStringColumn(check);
    auto* worker = new TextHashWorker(env, std::move(bytes), std::move(offsets), std::move(validity), has_validity, rows, p, std::move(idf));
    return worker->Start();
  });
}

// JS: normalizeText(text: string) -> string (tokens joined by one space).
Napi::Value NormalizeTextJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return Guarded(env, [&]() -> Napi::Value {
    if (!info[0].IsString()) ThrowInput(env, "text must be a string (got " + DescribeType(info[0]) + ")");
    return Napi::String::New(env, NormalizeText(info[0].As<Napi::String>().Utf8Value()));
  });
}

// JS: murmurHash3(bytes: Uint8Array, seed: number) -> number (unsigned 32-bit).
Napi::Value MurmurHash3Js(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return Guarded(env, [&]() -> Napi::Value {
    Span<const std::uint8_t> bytes = AsTypedSpan<std::uint8_t>(env, info[0], napi_uint8_array, "Uint8Array", "bytes");
    if (!info[1].IsNumber()) ThrowInput(env, "seed must be an integer in [0, 4294967295] (got " + DescribeType(info[1]) + ")");
    const double s = info[1].As<Napi::Number>().DoubleValue();
    if (!(s >= 0 && s <= 4294967295.0) || s != static_cast<double>(static_cast<std::uint64_t>(s))) {
      ThrowInput(env, "seed must be an integer in [0, 4294967295]");
    }
    return Napi::Number::New(env, MurmurHash3(bytes.data, bytes.size, static_cast<std::uint32_t>(s)));
  });
}

}  // namespace kiln::napi
