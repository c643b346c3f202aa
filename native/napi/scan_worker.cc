// JS entry points of the DuckDB scan: scanOpen / scanNext (async, PromiseWorker) and scanClose.
// A scan handle is an External owning a ScanState (scanner + destination Buffers); batches come
// back as ArrayBuffers written by the producer thread (no copy on the JS thread).
#include <napi.h>

#include <cstring>
#include <deque>
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

// Copies a small per-batch vector (text bytes, offsets, validity) into a V8-owned Buffer, so V8
// accounts it like any Buffer and collects it promptly once the batch is dropped.
template <typename Vec>
Napi::ArrayBuffer CopyToBuffer(Napi::Env env, const Vec& data) {
  using T = typename Vec::value_type;
  if (data.empty()) return Napi::ArrayBuffer::New(env, 0);
  return Napi::Buffer<std::uint8_t>::Copy(env, reinterpret_cast<const std::uint8_t*>(data.data()), data.size() * sizeof(T)).ArrayBuffer();
}

// What a scan handle owns: the scanner and the JS Buffers given to it as batch destinations, in
// the order the producer consumes them. Created and destroyed on the JS thread.
struct ScanState {
  Scanner* scanner = nullptr;
  std::deque<std::vector<Napi::Reference<Napi::ArrayBuffer>>> sets;
  // reuseBuffers: the set of the batch last handed to JS, given back to the producer on the next call.
  bool reuse = false;
  std::vector<Napi::Reference<Napi::ArrayBuffer>> lent;
  ~ScanState() {
    if (scanner != nullptr) scan::DestroyScanner(scanner);
  }
};

// Destination sets kept ahead of the consumer: one being filled plus the prefetched batches.
constexpr std::size_t kTargetSetsAhead = 3;

ScanState* HandleOf(Napi::Env env, Napi::Value v) {
  if (!v.IsExternal()) ThrowInput(env, "handle must be a scan handle from scanOpen (got " + DescribeType(v) + ")");
  ScanState* s = v.As<Napi::External<ScanState>>().Data();
  if (s == nullptr || s->scanner == nullptr) ThrowInput(env, "scan handle is empty");
  return s;
}

// Hands an existing set of Buffers back to the producer (reuseBuffers mode).
void ReturnTargetSet(ScanState* state, std::vector<Napi::Reference<Napi::ArrayBuffer>>&& refs) {
  std::vector<std::uint8_t*> targets;
  for (auto& r : refs) targets.push_back(r.IsEmpty() ? nullptr : static_cast<std::uint8_t*>(r.Value().Data()));
  state->sets.push_back(std::move(refs));
  scan::ProvideTargets(*state->scanner, std::move(targets));
}

// Allocates Node Buffers for the fixed-width columns of one future batch and hands them to the producer.
void ProvideTargetSet(Napi::Env env, ScanState* state, std::int64_t capacity) {
  std::vector<Napi::Reference<Napi::ArrayBuffer>> refs;
  std::vector<std::uint8_t*> targets;
  for (ColumnKind kind : scan::KindsOf(*state->scanner)) {
    const std::size_t width = scan::WidthOf(kind);
    if (width == 0) {
      refs.emplace_back();
      targets.push_back(nullptr);
      continue;
    }
    Napi::Buffer<std::uint8_t> b = Napi::Buffer<std::uint8_t>::New(env, static_cast<std::size_t>(capacity) * width);
    targets.push_back(b.Data());
    refs.push_back(Napi::Persistent(b.ArrayBuffer()));
  }
  state->sets.push_back(std::move(refs));
  scan::ProvideTargets(*state->scanner, std::move(targets));
}

class ScanOpenWorker : public PromiseWorker {
 public:
  ScanOpenWorker(Napi::Env env, std::string library, std::string sql, std::vector<ColumnKind> kinds, int threads, std::int64_t buffer_bytes, bool reuse)
      : PromiseWorker(env, "kiln.scanOpen"), library_(std::move(library)), sql_(std::move(sql)), kinds_(std::move(kinds)), threads_(threads), buffer_bytes_(buffer_bytes), reuse_(reuse) {}

  ~ScanOpenWorker() override {
    if (scanner_ != nullptr) scan::DestroyScanner(scanner_);
  }

 protected:
  void Compute() override {
    scan::LoadDuckDB(library_);
    scanner_ = scan::OpenScan(sql_, kinds_, threads_, buffer_bytes_);
  }

  Napi::Value Result(Napi::Env env) override {
    auto* state = new ScanState();
    state->scanner = scanner_;
    state->reuse = reuse_;
    scanner_ = nullptr;
    return Napi::External<ScanState>::New(env, state, [](Napi::Env, ScanState* p) { delete p; });
  }

 private:
  std::string library_;
  std::string sql_;
  std::vector<ColumnKind> kinds_;
  int threads_;
  std::int64_t buffer_bytes_;
  bool reuse_;
  Scanner* scanner_ = nullptr;
};

// Fixed-width values arrive written straight from DuckDB's vectors into Node Buffers that were
// handed to the producer earlier, so V8 owns and accounts them (a dropped batch is collected like
// any Buffer); text, offsets and validity are small and copied into Buffers on the JS thread.
class ScanNextWorker : public PromiseWorker {
 public:
  ScanNextWorker(Napi::Env env, Napi::Object handle, ScanState* state, std::int64_t capacity)
      : PromiseWorker(env, "kiln.scanNext"), state_(state), capacity_(capacity) {
    Keep(handle);
  }

  ~ScanNextWorker() override { scan::Release(*state_->scanner); }

 protected:
  void Compute() override { scan::NextBatch(*state_->scanner, capacity_, &batch_); }

  Napi::Value Result(Napi::Env env) override {
    if (batch_.rows == 0) return env.Null();
    std::vector<Napi::Reference<Napi::ArrayBuffer>> set = std::move(state_->sets.front());
    state_->sets.pop_front();
    if (state_->reuse && !state_->lent.empty()) ReturnTargetSet(state_, std::move(state_->lent));
    else ProvideTargetSet(env, state_, capacity_);
    Napi::Object out = Napi::Object::New(env);
    out.Set("rows", Napi::Number::New(env, static_cast<double>(batch_.rows)));
    Napi::Array columns = Napi::Array::New(env, batch_.columns.size());
    for (std::size_t c = 0; c < batch_.columns.size(); ++c) {
      scan::ColumnBuffer& col = batch_.columns[c];
      Napi::Object o = Napi::Object::New(env);
      if (!set[c].IsEmpty()) {
        o.Set("values", set[c].Value());
      } else {
        o.Set("values", CopyToBuffer(env, col.values));
        o.Set("offsets", CopyToBuffer(env, col.offsets));
        scan::RecycleBuffer(std::move(col.values));
      }
      o.Set("validity", col.validity.empty() ? env.Null() : Napi::Value(CopyToBuffer(env, col.validity)));
      o.Set("nullCount", Napi::Number::New(env, static_cast<double>(col.null_count)));
      columns.Set(static_cast<std::uint32_t>(c), o);
    }
    out.Set("columns", columns);
    if (state_->reuse) state_->lent = std::move(set);
    return out;
  }

 private:
  ScanState* state_;
  std::int64_t capacity_;
  Batch batch_;
};

}  // namespace

// JS: scanOpen(libraryPath, sql, kinds: Int32Array, threads, streamBufferBytes, reuseBuffers: boolean): Promise<ScanHandle>
Napi::Value ScanOpenJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return Guarded(env, [&]() -> Napi::Value {
    if (info.Length() != 6) ThrowInput(env, "scanOpen expects (libraryPath, sql, kinds, threads, streamBufferBytes, reuseBuffers)");
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
    if (!info[4].IsNumber()) ThrowInput(env, "streamBufferBytes must be a number");
    const double buffer = info[4].As<Napi::Number>().DoubleValue();
    if (!(buffer >= 0 && buffer <= 1099511627776.0) || buffer != static_cast<double>(static_cast<std::int64_t>(buffer))) {
      ThrowInput(env, "streamBufferBytes must be an integer in [0, 2^40]");
    }
    if (!info[5].IsBoolean()) ThrowInput(env, "reuseBuffers must be a boolean");
    auto* worker = new ScanOpenWorker(env, info[0].As<Napi::String>().Utf8Value(), info[1].As<Napi::String>().Utf8Value(), std::move(kinds), static_cast<int>(threads), static_cast<std::int64_t>(buffer), info[5].As<Napi::Boolean>().Value());
    return worker->Start();
  });
}

// JS: scanNext(handle: ScanHandle, capacity: number): Promise<RawScanBatch | null>
Napi::Value ScanNextJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return Guarded(env, [&]() -> Napi::Value {
    if (info.Length() != 2) ThrowInput(env, "scanNext expects (handle, capacity)");
    ScanState* state = HandleOf(env, info[0]);
    Scanner* s = state->scanner;
    if (!info[1].IsNumber()) ThrowInput(env, "capacity must be a number");
    const double cap = info[1].As<Napi::Number>().DoubleValue();
    if (!(cap >= 1 && cap <= static_cast<double>(kMaxCapacity)) || cap != static_cast<double>(static_cast<std::int64_t>(cap))) {
      ThrowInput(env, "capacity must be an integer in [1, 16777216]");
    }
    if (!scan::TryAcquire(*s)) ThrowInput(env, "scanNext called while another scanNext on this handle is pending");
    const auto capacity = static_cast<std::int64_t>(cap);
    try {
      while (state->sets.size() < kTargetSetsAhead) ProvideTargetSet(env, state, capacity);
    } catch (...) {
      scan::Release(*s);
      throw;
    }
    auto* worker = new ScanNextWorker(env, info[0].As<Napi::Object>(), state, capacity);
    return worker->Start();
  });
}

// JS: scanClose(handle: ScanHandle): void — releases the query; later scanNext calls return null.
Napi::Value ScanCloseJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return Guarded(env, [&]() -> Napi::Value {
    if (info.Length() != 1) ThrowInput(env, "scanClose expects (handle)");
    ScanState* state = HandleOf(env, info[0]);
    Scanner* s = state->scanner;
    if (!scan::TryAcquire(*s)) ThrowInput(env, "scanClose called while a scanNext on this handle is pending");
    scan::CloseScan(*s);
    state->sets.clear();
    state->lent.clear();
    scan::Release(*s);
    return env.Undefined();
  });
}

}  // namespace kiln::napi
