// Errors across the boundary: every error the addon raises is a JS KilnError(code, message),
// built with the constructor bindings/index.ts registers through setErrorClass().
#pragma once

#include <napi.h>

#include <new>
#include <string>

#include "kiln/status.h"

namespace kiln::napi {

// Per-environment addon state; owned by the env (SetInstanceData), freed at env teardown.
struct AddonData {
  Napi::FunctionReference error_ctor;  // KilnError constructor, empty until setErrorClass()
};

// The env's AddonData (created in Init, never null afterwards).
AddonData& GetAddonData(Napi::Env env);

// new KilnError(code, message) — or, before setErrorClass(), an Error with .name/.code set.
Napi::Error MakeError(Napi::Env env, const std::string& code, const std::string& message);

// Throws MakeError(env, code, message) as a C++ exception (rethrown into JS by the wrapper).
[[noreturn]] void Throw(Napi::Env env, const std::string& code, const std::string& message);

// Throws an E_NATIVE_INPUT KilnError.
[[noreturn]] void ThrowInput(Napi::Env env, const std::string& message);

// Runs body(); kiln::Error and std exceptions become KilnErrors, Napi::Error passes unchanged.
template <class F>
Napi::Value Guarded(Napi::Env env, F&& body) {
  try {
    return body();
  } catch (const Napi::Error&) {
    throw;
  } catch (const kiln::Error& e) {
    throw MakeError(env, e.code(), e.what());
  } catch (const std::bad_alloc&) {
    throw MakeError(env, kErrInternal, "out of memory");
  } catch (const std::exception& e) {
    throw MakeError(env, kErrInternal, e.what());
  }
}

// JS: setErrorClass(ctor: new (code, message) => Error): void.
Napi::Value SetErrorClass(const Napi::CallbackInfo& info);

}  // namespace kiln::napi
