// JS entry points of the DuckDB scan: scanOpen / scanNext (async, PromiseWorker) and scanClose.
// A scan handle is an External owning a kiln::scan::Scanner; batches come back as ArrayBuffers
// that adopt the kernel's buffers (no copy on the JS thread).
#include <napi.h>

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "kiln/scan.h"
#include "napi/convert.h"
#include "napi/errors.h"
#include "napi/promise_worker.h"

namespace kiln::napi {
namespace {

using scan::Batch;
using scan::ColumnKind;
using scan::Scanner;

constexpr int kKindCount = 8;
constexpr std::uint64_t kMaxCapacity = 1ULL << 24;

// Moves a byte vector into an ArrayBuffer that frees it when collected.
template <typename T>
Napi::ArrayBuffer AdoptBuffer(Napi::Env env, std::vector<T>&& data) {
  if (data.empty()) return Napi::ArrayBuffer::New(env, 0);
  auto* owned = new std::vector<T>(std::move(data));
  return Napi::ArrayBuffer::New(
      env, owned->data(), owned->size() * sizeof(T),
      [](Napi::Env, void*, std::vector<T>* hint) { delete hint; }, owned);
}

Scanner* HandleOf(Napi::Env env, Napi::Value v) {
  if (!v.IsExternal()) ThrowInput(env, "handle must be a scan handle from scanOpen (got " + DescribeType(v) + ")");
  Scanner* s = v.As<Napi::External<Scanner>>().Data();
  if (s == nullptr) ThrowInput(env, "scan handle is empty");
  return s;
}

class ScanOpenWorker : public PromiseWorker {
 public:
  ScanOpenWorker(Napi::Env env, std::string library, std::string sql, std::vector<ColumnKind> kinds, int threads)
      : PromiseWorker(env, "kiln.scanOpen"), library_(std::move(library)), sql_(std::move(sql)), kinds_(std::move(kinds)), threads_(threads) {}

  ~ScanOpenWorker() override {
    if (scanner_ != nullptr) scan::DestroyScanner(scanner_);
  }

 protected:
  void Compute() override {
    scan::LoadDuckDB(library_);
    scanner_ = scan::OpenScan(sql_, kinds_, threads_);
  }

  Napi::Value Result(Napi::Env env) override {
    Scanner* s = scanner_;
    scanner_ = nullptr;
    return Napi::External<Scanner>::New(env, s, [](Napi::Env, Scanner* p) { scan::DestroyScanner(p); });
  }

 private:
  std::string library_;
  std::string sql_;
  std::vector<ColumnKind> kinds_;
  int threads_;
  Scanner* scanner_ = nullptr;
};

class ScanNextWorker : public PromiseWorker {
 public:
  ScanNextWorker(Napi::Env env, Napi::Object handle, Scanner* scanner, std::int64_t capacity)
      : PromiseWorker(env, "kiln.scanNext"), scanner_(scanner), capacity_(capacity) {
    Keep(handle);
  }

  ~ScanNextWorker() override { scan::Release(*scanner_); }

 protected:
  void Compute() override { scan::NextBatch(*scanner_, capacity_, &batch_); }

  Napi::Value Result(Napi::Env env) override {
    if (batch_.rows == 0) return env.Null();
    Napi::Object out = Napi::Object::New(env);
    out.Set("rows", Napi::Number::New(env, static_cast<double>(batch_.rows)));
    Napi::Array columns = Napi::Array::New(env, batch_.columns.size());
    for (std::size_t c = 0; c < batch_.columns.size(); ++c) {
      scan::ColumnBuffer& col = batch_.columns[c];
      Napi::Object o = Napi::Object::New(env);
      o.Set("values", AdoptBuffer(env, std::move(col.values)));
      if (col.kind == ColumnKind::kUtf8) o.Set("offsets", AdoptBuffer(env, std::move(col.offsets)));
      o.Set("validity", col.validity.empty() ? env.Null() : Napi::Value(AdoptBuffer(env, std::move(col.validity))));
      o.Set("nullCount", Napi::Number::New(env, static_cast<double>(col.null_count)));
      columns.Set(static_cast<std::uint32_t>(c), o);
    }
    out.Set("columns", columns);
    return out;
  }

 private:
  Scanner* scanner_;
  std::int64_t capacity_;
  Batch batch_;
};

}  // namespace

// JS: scanOpen(libraryPath: string, sql: string, kinds: Int32Array, threads: number): Promise<ScanHandle>
Napi::Value ScanOpenJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return Guarded(env, [&]() -> Napi::Value {
    if (info.Length() != 4) ThrowInput(env, "scanOpen expects (libraryPath, sql, kinds, threads)");
    if (!info[0].IsString()) ThrowInput(env, "libraryPath must be a string (got " + DescribeType(info[0]) + ")");
    if (!info[1].IsString()) ThrowInput(env, "sql must be a string (got " + DescribeType(info[1]) + ")");
    Span<const std::int32_t> codes = AsTypedSpan<std::int32_t>(env, info[2], napi_int32_array, "Int32Array", "kinds");
    std::vector<ColumnKind> kinds;
    kinds.reserve(codes.size);
    for (std::size_t i = 0; i < codes.size; ++i) {
      if (codes.data[i] < 0 || codes.data[i] >= kKindCount) ThrowInput(env, "kinds[" + std::to_string(i) + "] is not a column kind code (0..7)");
      kinds.push_back(static_cast<ColumnKind>(codes.data[i]));
    }
    if (kinds.empty()) ThrowInput(env, "kinds must name at least one column");
    if (!info[3].IsNumber()) ThrowInput(env, "threads must be a number");
    const double threads = info[3].As<Napi::Number>().DoubleValue();
    if (!(threads >= 0 && threads <= 256) || threads != static_cast<int>(threads)) ThrowInput(env, "threads must be an integer in [0, 256]");
    auto* worker = new ScanOpenWorker(env, info[0].As<Napi::String>().Utf8Value(), info[1].As<Napi::String>().Utf8Value(), std::move(kinds), static_cast<int>(threads));
    return worker->Start();
  });
}

// JS: scanNext(handle: ScanHandle, capacity: number): Promise<RawScanBatch | null>
Napi::Value ScanNextJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return Guarded(env, [&]() -> Napi::Value {
    if (info.Length() != 2) ThrowInput(env, "scanNext expects (handle, capacity)");
    Scanner* s = HandleOf(env, info[0]);
    if (!info[1].IsNumber()) ThrowInput(env, "capacity must be a number");
    const double cap = info[1].As<Napi::Number>().DoubleValue();
    if (!(cap >= 1 && cap <= static_cast<double>(kMaxCapacity)) || cap != static_cast<double>(static_cast<std::int64_t>(cap))) {
      ThrowInput(env, "capacity must be an integer in [1, 16777216]");
    }
    if (!scan::TryAcquire(*s)) ThrowInput(env, "scanNext called while another scanNext on this handle is pending");
    auto* worker = new ScanNextWorker(env, info[0].As<Napi::Object>(), s, static_cast<std::int64_t>(cap));
    return worker->Start();
  });
}

// JS: scanClose(handle: ScanHandle): void — releases the query; later scanNext calls return null.
Napi::Value ScanCloseJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return Guarded(env, [&]() -> Napi::Value {
    if (info.Length() != 1) ThrowInput(env, "scanClose expects (handle)");
    Scanner* s = HandleOf(env, info[0]);
    if (!scan::TryAcquire(*s)) ThrowInput(env, "scanClose called while a scanNext on this handle is pending");
    scan::CloseScan(*s);
    scan::Release(*s);
    return env.Undefined();
  });
}

}  // namespace kiln::napi
