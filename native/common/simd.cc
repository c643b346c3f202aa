// Run-time SIMD detection (x86: __builtin_cpu_supports), overridable with KILN_SIMD=scalar.
#include "kiln/simd.h"

#include <cstdlib>
#include <cstring>

namespace kiln {

bool CpuSupportsAvx2() {
#if KILN_HAVE_AVX2_TU && (defined(__x86_64__) || defined(__i386__)) && (defined(__GNUC__) || defined(__clang__))
  static const bool supported = [] {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  }();
  return supported;
#else
  return false;
#endif
}

SimdLevel DetectedSimdLevel() {
  static const SimdLevel level = [] {
    const char* env = std::getenv("KILN_SIMD");
    if (env != nullptr && std::strcmp(env, "scalar") == 0) return SimdLevel::kScalar;
    return CpuSupportsAvx2() ? SimdLevel::kAvx2 : SimdLevel::kScalar;
  }();
  return level;
}

const char* SimdLevelName(SimdLevel level) {
  return level == SimdLevel::kAvx2 ? "avx2" : "scalar";
}

}  // namespace kiln
