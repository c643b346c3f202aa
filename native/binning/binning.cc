// Quantile binning, portable part: FitBins, ApplyBins driver, scalar run kernels, validation.
//
// Threshold rule (documented choice for the quantile case): the cut at sorted rank r is placed
// between the value s[r] and the next larger distinct sample value b, at Mid(s[r], b); so s[r]
// is the inclusive upper end of its bin. Candidates with no larger value are dropped and
// duplicates removed, which keeps thresholds strictly increasing.
#include "binning/binning.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string>
#include <type_traits>
#include <vector>

#include "common/rng.h"
#include "kiln/binning.h"
#include "kiln/status.h"
#include "kiln/thread_pool.h"

namespace kiln {
namespace {

constexpr int kMaxThresholds = kMaxValueBins - 1;  // 254: value bins 0..254
constexpr std::size_t kStageRows = 256;              // row-layout staging chunk (per feature)

// Threshold between consecutive distinct sorted values a < b: the midpoint (a + b) / 2 when
// a <= m < b, else a. m == b happens for adjacent doubles and b = +Inf; m < a only when a + b
// overflows to -Inf (e.g. a = -MAX_VALUE); a = -Inf, b = +Inf gives NaN -> a.
inline double Mid(double a, double b) {
  const double m = (a + b) / 2.0;
  return (m < b && m >= a) ? m : a;
}

// Thresholds for one feature from its sorted, NaN-free sample values.
std::vector<double> ThresholdsFromSorted(const std::vector<double>& s, int max_bin) {
  std::vector<double> out;
  const std::size_t n = s.size();
  if (n == 0) return out;

  std::size_t distinct = 1;
  for (std::size_t i = 1; i < n && distinct <= static_cast<std::size_t>(max_bin); ++i) {
    if (s[i] > s[i - 1]) ++distinct;
  }
  if (distinct <= static_cast<std::size_t>(max_bin)) {
    out.reserve(distinct - 1);
    for (std::size_t i = 1; i < n; ++i) {
      if (s[i] > s[i - 1]) out.push_back(Mid(s[i - 1], s[i]));
    }
    return out;
  }

  out.reserve(static_cast<std::size_t>(max_bin) - 1);
  for (int i = 1; i < max_bin; ++i) {
    // n <= 2^53 and i < 256, so i * n fits in 64 bits.
    const std::size_t r = static_cast<std::size_t>(
        (static_cast<std::uint64_t>(i) * n) / static_cast<std::uint64_t>(max_bin));
    const double a = s[r];
    const auto next = std::upper_bound(s.begin() + static_cast<std::ptrdiff_t>(r), s.end(), a);
    if (next == s.end()) break;  // a is the maximum: later candidates are too
    const double t = Mid(a, *next);
    if (out.empty() || t > out.back()) out.push_back(t);
  }
  return out;
}

template <class T>
inline double At(const T* data, const MatrixView& m, std::size_t r, std::size_t f) {
  return m.layout == Layout::kColumn ? static_cast<double>(data[f * m.rows + r])
                                     : static_cast<double>(data[r * m.cols + f]);
}

// One value at a time per lane, four independent lanes interleaved so their loads overlap.
template <class T>
inline void BinRunScalar(const T* src, std::size_t n, const double* table, unsigned first_step,
                         std::uint8_t* out) {
  std::size_t i = 0;
  for (; i + 4 <= n; i += 4) {
    const double v0 = static_cast<double>(src[i]);
    const double v1 = static_cast<double>(src[i + 1]);
    const double v2 = static_cast<double>(src[i + 2]);
    const double v3 = static_cast<double>(src[i + 3]);
    unsigned p0 = 0, p1 = 0, p2 = 0, p3 = 0;
    for (unsigned step = first_step; step != 0; step >>= 1) {
      p0 += (table[p0 + step - 1] < v0) ? step : 0u;
      p1 += (table[p1 + step - 1] < v1) ? step : 0u;
      p2 += (table[p2 + step - 1] < v2) ? step : 0u;
      p3 += (table[p3 + step - 1] < v3) ? step : 0u;
    }
    out[i] = std::isnan(v0) ? kMissingBin : static_cast<std::uint8_t>(p0);
    out[i + 1] = std::isnan(v1) ? kMissingBin : static_cast<std::uint8_t>(p1);
    out[i + 2] = std::isnan(v2) ? kMissingBin : static_cast<std::uint8_t>(p2);
    out[i + 3] = std::isnan(v3) ? kMissingBin : static_cast<std::uint8_t>(p3);
  }
  for (; i < n; ++i) {
    const double v = static_cast<double>(src[i]);
    unsigned pos = 0;
    for (unsigned step = first_step; step != 0; step >>= 1) {
      pos += (table[pos + step - 1] < v) ? step : 0u;
    }
    out[i] = std::isnan(v) ? kMissingBin : static_cast<std::uint8_t>(pos);
  }
}

using RunF32 = void (*)(const float*, std::size_t, const double*, unsigned, std::uint8_t*);
using RunF64 = void (*)(const double*, std::size_t, const double*, unsigned, std::uint8_t*);

// Bins rows [r0, r1) of every feature into the column-major output.
template <class T, class Run>
void ApplyBlock(const MatrixView& m, const double* tables, const unsigned* first_steps, Run run,
                std::size_t r0, std::size_t r1, std::uint8_t* out) {
  const T* data = static_cast<const T*>(m.data);
  if (m.layout == Layout::kColumn) {
    for (std::size_t f = 0; f < m.cols; ++f) {
      run(data + f * m.rows + r0, r1 - r0, tables + f * cpu_impl::kTableSize, first_steps[f],
          out + f * m.rows + r0);
    }
    return;
  }
  T stage[kStageRows];
  for (std::size_t c0 = r0; c0 < r1; c0 += kStageRows) {
    const std::size_t n = std::min(kStageRows, r1 - c0);
    for (std::size_t f = 0; f < m.cols; ++f) {
      const T* src = data + c0 * m.cols + f;
      for (std::size_t i = 0; i < n; ++i) stage[i] = src[i * m.cols];
      run(stage, n, tables + f * cpu_impl::kTableSize, first_steps[f], out + f * m.rows + c0);
    }
  }
}

unsigned FirstStep(std::size_t num_thresholds) {
  unsigned step = 0;
  if (num_thresholds > 0) {
    step = 1;
    while (static_cast<std::size_t>(step) * 2 <= num_thresholds) step *= 2;
  }
  return step;
}

}  // namespace

namespace cpu_impl {

void BinRunScalarF32(const float* src, std::size_t n, const double* table, unsigned first_step,
                     std::uint8_t* out) {
  BinRunScalar(src, n, table, first_step, out);
}

void BinRunScalarF64(const double* src, std::size_t n, const double* table, unsigned first_step,
                     std::uint8_t* out) {
  BinRunScalar(src, n, table, first_step, out);
}

}  // namespace cpu_impl

// Order-preserving unsigned key of a float / double (NaN-free input; -0 sorts before +0).
inline std::uint32_t SortKey(float v) {
  std::uint32_t u;
  std::memcpy(&u, &v, sizeof u);
  return (u & 0x80000000u) ? ~u : (u | 0x80000000u);
}
inline std::uint64_t SortKey(double v) {
  std::uint64_t u;
  std::memcpy(&u, &v, sizeof u);
  return (u & 0x8000000000000000ull) ? ~u : (u | 0x8000000000000000ull);
}
template <class K>
inline K FromSortKey(K k) {
  constexpr K kSign = static_cast<K>(1) << (sizeof(K) * 8 - 1);
  return (k & kSign) ? (k & ~kSign) : ~k;
}

// Least-significant-digit radix sort of keys (11-bit digits); tmp is scratch of the same size.
// Passes where every key has the same digit are skipped.
template <class K>
void RadixSort(std::vector<K>& keys, std::vector<K>& tmp) {
  constexpr unsigned kBits = 11;
  constexpr std::size_t kBuckets = std::size_t{1} << kBits;
  const std::size_t n = keys.size();
  tmp.resize(n);
  std::vector<std::size_t> count(kBuckets);
  for (unsigned shift = 0; shift < sizeof(K) * 8; shift += kBits) {
    std::fill(count.begin(), count.end(), 0);
    for (std::size_t i = 0; i < n; ++i) ++count[(keys[i] >> shift) & (kBuckets - 1)];
    if (n == 0 || count[(keys[0] >> shift) & (kBuckets - 1)] == n) continue;
    std::size_t at = 0;
    for (std::size_t b = 0; b < kBuckets; ++b) {
      const std::size_t c = count[b];
      count[b] = at;
      at += c;
    }
    for (std::size_t i = 0; i < n; ++i) tmp[count[(keys[i] >> shift) & (kBuckets - 1)]++] = keys[i];
    keys.swap(tmp);
  }
}

// Thresholds of every feature from the sampled rows (all rows when sample is null): the sampled
// values are staged column by column in one pass over the rows, then each feature's non-NaN values
// are radix-sorted (the same sorted values as a comparison sort, up to the order of -0 and +0,
// which ThresholdsFromSorted treats as one value).
template <class T>
void FitFeatures(const MatrixView& m, const std::vector<std::size_t>* sample, const FitBinsParams& params,
                 std::vector<std::vector<double>>& per_feature) {
  using Key = std::conditional_t<sizeof(T) == 4, std::uint32_t, std::uint64_t>;
  const T* data = static_cast<const T*>(m.data);
  const std::size_t ns = sample ? sample->size() : m.rows;
  std::vector<T> staged(ns * m.cols);
  constexpr std::size_t kChunk = 4096;
  ParallelFor((ns + kChunk - 1) / kChunk, params.num_threads, [&](std::size_t c) {
    const std::size_t j0 = c * kChunk, j1 = std::min(ns, j0 + kChunk);
    for (std::size_t j = j0; j < j1; ++j) {
      const std::size_t r = sample ? (*sample)[j] : j;
      for (std::size_t f = 0; f < m.cols; ++f) {
        staged[f * ns + j] = m.layout == Layout::kColumn ? data[f * m.rows + r] : data[r * m.cols + f];
      }
    }
  });
  ParallelFor(m.cols, params.num_threads, [&](std::size_t f) {
    std::vector<Key> keys, tmp;
    keys.reserve(ns);
    const T* col = staged.data() + f * ns;
    for (std::size_t j = 0; j < ns; ++j) {
      if (!std::isnan(col[j])) keys.push_back(SortKey(col[j]));
    }
    RadixSort(keys, tmp);
    std::vector<double> sorted(keys.size());
    for (std::size_t i = 0; i < keys.size(); ++i) {
      const Key u = FromSortKey(keys[i]);
      T v;
      std::memcpy(&v, &u, sizeof v);
      sorted[i] = static_cast<double>(v);
    }
    per_feature[f] = ThresholdsFromSorted(sorted, params.max_bin);
  });
}

void ValidateMatrix(const MatrixView& m) {
  if (m.rows == 0) throw InputError("rows must be >= 1");
  if (m.cols == 0) throw InputError("cols must be >= 1");
  const std::size_t elem = m.dtype == DType::kFloat32 ? sizeof(float) : sizeof(double);
  const std::size_t max_elems = std::numeric_limits<std::size_t>::max() / elem;
  if (m.rows > max_elems / m.cols) throw InputError("rows * cols overflows");
  if (m.data == nullptr) throw InputError("values has no data");
  if (m.layout != Layout::kColumn && m.layout != Layout::kRow) throw InputError("bad layout");
  if (m.dtype != DType::kFloat32 && m.dtype != DType::kFloat64) throw InputError("bad dtype");
}

void ValidateBinMapper(const BinMapper& mapper, std::size_t cols) {
  if (mapper.num_bins.size() != cols) {
    throw InputError("mapper.numBins has " + std::to_string(mapper.num_bins.size()) +
                     " entries, expected cols = " + std::to_string(cols));
  }
  if (mapper.offsets.size() != cols + 1) {
    throw InputError("mapper.offsets has " + std::to_string(mapper.offsets.size()) +
                     " entries, expected cols + 1 = " + std::to_string(cols + 1));
  }
  if (mapper.offsets[0] != 0) throw InputError("mapper.offsets[0] must be 0");
  for (std::size_t f = 0; f < cols; ++f) {
    const std::int64_t lo = mapper.offsets[f];
    const std::int64_t hi = mapper.offsets[f + 1];
    if (hi < lo) {
      throw InputError("mapper.offsets must be non-decreasing (offsets[" + std::to_string(f + 1) +
                       "] < offsets[" + std::to_string(f) + "])");
    }
    if (hi - lo > kMaxThresholds) {
      throw InputError("feature " + std::to_string(f) + " has " + std::to_string(hi - lo) +
                       " thresholds, at most " + std::to_string(kMaxThresholds) + " allowed");
    }
    if (static_cast<std::uint64_t>(hi) > mapper.thresholds.size()) {
      throw InputError("mapper.offsets[" + std::to_string(f + 1) +
                       "] is past the end of mapper.thresholds");
    }
    if (static_cast<std::int64_t>(mapper.num_bins[f]) != hi - lo + 1) {
      throw InputError("mapper.numBins[" + std::to_string(f) + "] = " +
                       std::to_string(mapper.num_bins[f]) + " but feature has " +
                       std::to_string(hi - lo) + " thresholds (expected numBins = thresholds + 1)");
    }
    for (std::int64_t j = lo; j < hi; ++j) {
      const double t = mapper.thresholds[static_cast<std::size_t>(j)];
      if (std::isnan(t)) {
        throw InputError("mapper.thresholds[" + std::to_string(j) + "] is NaN");
      }
      if (j > lo && !(mapper.thresholds[static_cast<std::size_t>(j - 1)] < t)) {
        throw InputError("mapper.thresholds of feature " + std::to_string(f) +
                         " must be strictly increasing (at index " + std::to_string(j) + ")");
      }
    }
  }
  if (static_cast<std::uint64_t>(mapper.offsets[cols]) != mapper.thresholds.size()) {
    throw InputError("mapper.offsets[cols] = " + std::to_string(mapper.offsets[cols]) +
                     " but mapper.thresholds has " + std::to_string(mapper.thresholds.size()) +
                     " entries");
  }
}

BinMapper FitBins(const MatrixView& m, const FitBinsParams& params) {
  ValidateMatrix(m);
  if (params.max_bin < kMinValueBins || params.max_bin > kMaxValueBins) {
    throw InputError("maxBin must be in [2, 255], got " + std::to_string(params.max_bin));
  }
  if (params.sample_size < 1) throw InputError("sampleSize must be >= 1");
  if (m.cols > static_cast<std::size_t>(std::numeric_limits<std::int32_t>::max() / kMaxThresholds)) {
    throw InputError("too many columns for int32 mapper offsets: " + std::to_string(m.cols));
  }

  // Bernoulli sample with p = sample_size / rows; row r is in iff its counter hash says so.
  std::vector<std::size_t> sample;
  const bool use_all = m.rows <= params.sample_size;
  if (!use_all) {
    const double p = static_cast<double>(params.sample_size) / static_cast<double>(m.rows);
    const std::uint64_t key = rng::StreamKey(params.seed, rng::kStreamBinSample);
    sample.reserve(static_cast<std::size_t>(params.sample_size + params.sample_size / 16 + 64));
    for (std::size_t r = 0; r < m.rows; ++r) {
      if (rng::ToUnitDouble(rng::HashAt(key, r)) < p) sample.push_back(r);
    }
  }

  std::vector<std::vector<double>> per_feature(m.cols);
  if (m.dtype == DType::kFloat32) {
    FitFeatures<float>(m, use_all ? nullptr : &sample, params, per_feature);
  } else {
    FitFeatures<double>(m, use_all ? nullptr : &sample, params, per_feature);
  }

  BinMapper mapper;
  mapper.num_bins.resize(m.cols);
  mapper.offsets.resize(m.cols + 1);
  mapper.offsets[0] = 0;
  std::size_t total = 0;
  for (std::size_t f = 0; f < m.cols; ++f) total += per_feature[f].size();
  mapper.thresholds.reserve(total);
  for (std::size_t f = 0; f < m.cols; ++f) {
    const auto& t = per_feature[f];
    mapper.thresholds.insert(mapper.thresholds.end(), t.begin(), t.end());
    mapper.num_bins[f] = static_cast<std::int32_t>(t.size() + 1);
    mapper.offsets[f + 1] = static_cast<std::int32_t>(mapper.thresholds.size());
  }
  return mapper;
}

SimdLevel EffectiveSimdLevel(SimdLevel requested) {
  return (requested == SimdLevel::kAvx2 && DetectedSimdLevel() == SimdLevel::kAvx2)
             ? SimdLevel::kAvx2
             : SimdLevel::kScalar;
}

void ApplyBins(const MatrixView& m, const BinMapper& mapper, const ApplyBinsParams& params,
               std::uint8_t* out) {
  ValidateMatrix(m);
  ValidateBinMapper(mapper, m.cols);
  if (out == nullptr) throw InputError("output buffer is null");

  std::vector<double> tables(m.cols * cpu_impl::kTableSize,
                             std::numeric_limits<double>::infinity());
  std::vector<unsigned> first_steps(m.cols);
  for (std::size_t f = 0; f < m.cols; ++f) {
    const std::size_t lo = static_cast<std::size_t>(mapper.offsets[f]);
    const std::size_t hi = static_cast<std::size_t>(mapper.offsets[f + 1]);
    std::copy(mapper.thresholds.begin() + static_cast<std::ptrdiff_t>(lo),
              mapper.thresholds.begin() + static_cast<std::ptrdiff_t>(hi),
              tables.begin() + static_cast<std::ptrdiff_t>(f * cpu_impl::kTableSize));
    first_steps[f] = FirstStep(hi - lo);
  }

  RunF32 run32 = cpu_impl::BinRunScalarF32;
  RunF64 run64 = cpu_impl::BinRunScalarF64;
#if KILN_HAVE_AVX2_TU
  if (EffectiveSimdLevel(params.simd) == SimdLevel::kAvx2) {
    run32 = cpu_impl::BinRunAvx2F32;
    run64 = cpu_impl::BinRunAvx2F64;
  }
#endif

  const std::size_t num_blocks = NumBlocks(m.rows, kRowBlockSize);
  ParallelFor(num_blocks, params.num_threads, [&](std::size_t b) {
    const std::size_t r0 = b * kRowBlockSize;
    const std::size_t r1 = std::min(m.rows, r0 + kRowBlockSize);
    if (m.dtype == DType::kFloat32) {
      ApplyBlock<float>(m, tables.data(), first_steps.data(), run32, r0, r1, out);
    } else {
      ApplyBlock<double>(m, tables.data(), first_steps.data(), run64, r0, r1, out);
    }
  });
}

}  // namespace kiln
