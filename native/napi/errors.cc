#include "napi/errors.h"

namespace kiln::napi {

AddonData& GetAddonData(Napi::Env env) {
  AddonData* data = env.GetInstanceData<AddonData>();
  if (data == nullptr) {
    data = new AddonData();
    env.SetInstanceData(data);
  }
  return *data;
}

Napi::Error MakeError(Napi::Env env, const std::string& code, const std::string& message) {
  AddonData& data = GetAddonData(env);
  if (!data.error_ctor.IsEmpty()) {
    try {
      Napi::Object err =
          data.error_ctor.New({Napi::String::New(env, code), Napi::String::New(env, message)});
      return Napi::Error(env, err);
    } catch (const Napi::Error&) {
      // The registered constructor threw: fall back to a plain Error carrying the code.
    }
  }
  Napi::Error err = Napi::Error::New(env, message);
  err.Set("name", Napi::String::New(env, "KilnError"));
  err.Set("code", Napi::String::New(env, code));
  return err;
}

void Throw(Napi::Env env, const std::string& code, const std::string& message) {
  throw MakeError(env, code, message);
}

void ThrowInput(Napi::Env env, const std::string& message) {
  Throw(env, kErrNativeInput, message);
}

Napi::Value SetErrorClass(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsFunction()) {
    ThrowInput(env, "setErrorClass(ctor): ctor must be a constructor function");
  }
  GetAddonData(env).error_ctor = Napi::Persistent(info[0].As<Napi::Function>());
  return env.Undefined();
}

}  // namespace kiln::napi
