// Run-time SIMD dispatch. Detection happens once per process; env KILN_SIMD=scalar forces the
// portable path (any other value, or unset, means "best available").
#pragma once

namespace kiln {

enum class SimdLevel { kScalar = 0, kAvx2 = 1 };

// True when this binary has an AVX2 code path and the CPU supports AVX2 + FMA (ignores KILN_SIMD).
bool CpuSupportsAvx2();

// The level kernels use by default: kAvx2 when supported and KILN_SIMD != "scalar". Cached.
SimdLevel DetectedSimdLevel();

// "avx2" or "scalar" (static storage).
const char* SimdLevelName(SimdLevel level);

}  // namespace kiln
