// PromiseWorker: the one async-op base. Runs Compute() on the libuv pool and settles a Promise
// with Result() or a KilnError. Subclasses copy plain inputs into members on the JS thread,
// Keep() the JS objects whose memory they borrow, and never touch Napi in Compute().
#pragma once

#include <napi.h>

#include <new>
#include <string>
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

}  // namespace kiln::napi
