// PromiseWorker: the one async-op base. Runs Compute() on the libuv pool and settles a Promise
// with Result() or a KilnError. Subclasses copy plain inputs into members on the JS thread,
// Keep() the JS objects whose memory they borrow, and never touch Napi in Compute().
#pragma once

#include <napi.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <new>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "kiln/status.h"
#include "napi/errors.h"

namespace kiln::napi {

class PromiseWorker : public Napi::AsyncWorker {
 public:
  // Queues the work; the promise resolves with Result() or rejects with a KilnError. The worker
  // deletes itself (on the JS thread) after settling.
  Napi::Promise Start() {
    Napi::Promise promise = deferred_.Promise();
    Queue();
    return promise;
  }

 protected:
  PromiseWorker(Napi::Env env, const char* resource_name)
      : Napi::AsyncWorker(env, resource_name), deferred_(Napi::Promise::Deferred::New(env)) {}

  // Keeps obj (and the memory it owns) alive until this worker is destroyed.
  void Keep(Napi::Object obj) { kept_.push_back(Napi::Persistent(obj)); }

  // Worker thread: the computation. Throw kiln::Error (or any std::exception) to reject.
  virtual void Compute() = 0;

  // JS thread, after Compute() succeeded: the resolution value.
  virtual Napi::Value Result(Napi::Env env) = 0;

 private:
  void Execute() final {
    try {
      Compute();
    } catch (const kiln::Error& e) {
      Fail(e.code(), e.what());
    } catch (const std::bad_alloc&) {
      Fail(kErrInternal, "out of memory");
    } catch (const std::exception& e) {
      Fail(kErrInternal, e.what());
    } catch (...) {
      Fail(kErrInternal, "unknown native exception");
    }
  }

  void OnOK() final {
    Napi::Env env = Env();
    try {
      deferred_.Resolve(Guarded(env, [&] { return Result(env); }));
    } catch (const Napi::Error& e) {
      deferred_.Reject(e.Value());
    }
  }

  void OnError(const Napi::Error& /*error*/) final {
    deferred_.Reject(MakeError(Env(), code_, message_).Value());
  }

  void Fail(std::string code, std::string message) {
    code_ = std::move(code);
    message_ = std::move(message);
    SetError(message_);
  }

  Napi::Promise::Deferred deferred_;
  std::vector<Napi::ObjectReference> kept_;
  std::string code_ = kErrInternal;
  std::string message_;
};

// A JS progress callback that worker threads call without blocking: each Report copies its value
// and queues a call on the JS thread (to_js builds the argument; a throwing callback is ignored).
// Drain() waits (bounded) for queued calls so they run before the promise settles. Built and
// destroyed on the JS thread; Report and Drain on the worker thread.
template <class T>
class ProgressCallback {
 public:
  using ToJs = Napi::Value (*)(Napi::Env env, const T& value);

  // `fn` may be anything; only a function is called.
  ProgressCallback(Napi::Env env, Napi::Value fn, const char* name, ToJs to_js) : to_js_(to_js) {
    if (!fn.IsFunction()) return;
    tsfn_ = Napi::ThreadSafeFunction::New(env, fn.As<Napi::Function>(), name, 0, 1);
    enabled_ = true;
  }
  ProgressCallback(const ProgressCallback&) = delete;
  ProgressCallback& operator=(const ProgressCallback&) = delete;
  ~ProgressCallback() {
    if (enabled_) tsfn_.Release();
  }

  bool enabled() const { return enabled_; }

  void Report(const T& value) {
    if (!enabled_) return;
    auto* copy = new T(value);
    in_flight_.fetch_add(1);
    std::atomic<int>* counter = &in_flight_;
    const ToJs to_js = to_js_;
    const napi_status st = tsfn_.NonBlockingCall(copy, [counter, to_js](Napi::Env env, Napi::Function fn, T* v) {
      Napi::Value arg = to_js(env, *v);
      delete v;
      counter->fetch_sub(1);
      try {
        fn.Call({arg});
      } catch (const Napi::Error&) {
        // a throwing progress callback must not break the work
      }
    });
    if (st != napi_ok) {
      delete copy;
      in_flight_.fetch_sub(1);
    }
  }

  void Drain() {
    for (int i = 0; i < 5000 && in_flight_.load() > 0; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }

 private:
  ToJs to_js_;
  Napi::ThreadSafeFunction tsfn_;
  bool enabled_ = false;
  std::atomic<int> in_flight_{0};
};

}  // namespace kiln::napi
