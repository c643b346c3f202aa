// kiln::Error — the one error type kernels throw. Plain C++ (no napi.h); native/napi turns it
// into a JS KilnError with the same stable code. Codes mirror bindings/errors.ts KilnErrorCode.
#pragma once

#include <stdexcept>
#include <string>
#include <utility>

namespace kiln {

// Stable error codes (the strings are part of the public contract).
inline constexpr const char kErrNativeInput[] = "E_NATIVE_INPUT";  // bad input across the boundary
inline constexpr const char kErrInternal[] = "E_INTERNAL";         // a kiln bug or resource failure
inline constexpr const char kErrNoGpu[] = "E_NO_GPU";              // CUDA asked for, not compiled

// An exception with a stable code; what() is the human-readable message.
class Error : public std::runtime_error {
 public:
  Error(std::string code, const std::string& message)
      : std::runtime_error(message), code_(std::move(code)) {}
  // The stable code, e.g. "E_NATIVE_INPUT".
  const std::string& code() const noexcept { return code_; }

 private:
  std::string code_;
};

// Builds an E_NATIVE_INPUT error (thrown by kernels on invalid arguments).
inline Error InputError(const std::string& message) { return Error(kErrNativeInput, message); }

}  // namespace kiln
