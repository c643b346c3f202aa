// Drift kernels: per-feature radix sort of the non-missing values, one merge walk for the KS
// statistic (and Wasserstein-1), reference-quantile bins, binned PSI / KL / JS / chi-square.
// Work is split by feature only, so results never depend on the thread count.
#include "kiln/drift.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>

#include "kiln/status.h"
#include "kiln/thread_pool.h"

namespace kiln {
namespace {

constexpr std::uint64_t kSignBit = 0x8000000000000000ULL;

// Order-preserving map of a non-NaN double to uint64 (-0.0 folded onto +0.0).
inline std::uint64_t KeyOf(double v) {
  if (v == 0) v = 0;  // -0.0 -> +0.0
  std::uint64_t u;
  std::memcpy(&u, &v, sizeof u);
  return (u & kSignBit) ? ~u : (u | kSignBit);
}

inline double ValueOf(std::uint64_t k) {
  const std::uint64_t u = (k & kSignBit) ? (k & ~kSignBit) : ~k;
  double v;
  std::memcpy(&v, &u, sizeof v);
  return v;
}

// Writes the keys of the non-NaN values of col to keys (capacity col.size); returns their count.
std::size_t LoadKeys(const DriftColumn& col, std::uint64_t* keys) {
  std::size_t m = 0;
  if (col.dtype == DType::kFloat64) {
    const double* src = static_cast<const double*>(col.data);
    for (std::size_t i = 0; i < col.size; ++i) {
      const double v = src[i];
      if (v == v) keys[m++] = KeyOf(v);
    }
  } else {
    const float* src = static_cast<const float*>(col.data);
    for (std::size_t i = 0; i < col.size; ++i) {
      const float v = src[i];
      if (v == v) keys[m++] = KeyOf(static_cast<double>(v));
    }
  }
  return m;
}

// LSD radix sort of n keys (11-bit digits, passes where every key shares the digit skipped),
// then keys are turned back into doubles in place. `scratch` holds n keys.
void RadixSortToDoubles(std::uint64_t* keys, std::uint64_t* scratch, std::size_t n) {
  constexpr int kBits = 11, kPasses = 6;
  constexpr std::size_t kBuckets = std::size_t{1} << kBits;
  if (n > 1) {
    std::vector<std::size_t> hist(kBuckets * kPasses, 0);
    for (std::size_t i = 0; i < n; ++i) {
      const std::uint64_t k = keys[i];
      for (int p = 0; p < kPasses; ++p) ++hist[p * kBuckets + ((k >> (p * kBits)) & (kBuckets - 1))];
    }
    std::uint64_t* src = keys;
    std::uint64_t* dst = scratch;
    for (int p = 0; p < kPasses; ++p) {
      std::size_t* h = &hist[p * kBuckets];
      const std::uint64_t first = (src[0] >> (p * kBits)) & (kBuckets - 1);
      if (h[first] == n) continue;
      std::size_t sum = 0;
      for (std::size_t b = 0; b < kBuckets; ++b) {
        const std::size_t c = h[b];
        h[b] = sum;
        sum += c;
      }
      const int shift = p * kBits;
      for (std::size_t i = 0; i < n; ++i) {
        const std::uint64_t k = src[i];
        dst[h[(k >> shift) & (kBuckets - 1)]++] = k;
      }
      std::swap(src, dst);
    }
    if (src != keys) std::memcpy(keys, src, n * sizeof(std::uint64_t));
  }
  double* out = reinterpret_cast<double*>(keys);
  for (std::size_t i = 0; i < n; ++i) out[i] = ValueOf(keys[i]);
}

// The numpy 'linear' quantile of ascending v[0..n) at q (numpy's _lerp, bit for bit).
double Quantile(const double* v, std::size_t n, double q) {
  const double virtual_index = static_cast<double>(n - 1) * q;
  double lo_d = std::floor(virtual_index);
  std::size_t lo = static_cast<std::size_t>(std::max(0.0, lo_d));
  if (lo > n - 1) lo = n - 1;
  const std::size_t hi = std::min(lo + 1, n - 1);
  const double gamma = virtual_index - lo_d;
  const double a = v[lo], b = v[hi];
  const double diff = b - a;
  if (gamma >= 0.5) return b - diff * (1 - gamma);
  return a + diff * gamma;
}

// Counts of ascending v[0..n) in the bins of strictly increasing edges (bin = #{e < v}).
void CountSorted(const double* v, std::size_t n, const std::vector<double>& edges,
                 std::vector<double>* counts) {
  counts->assign(edges.size() + 1, 0.0);
  std::size_t prev = 0;
  for (std::size_t k = 0; k < edges.size(); ++k) {
    const std::size_t upto = static_cast<std::size_t>(std::upper_bound(v, v + n, edges[k]) - v);
    (*counts)[k] = static_cast<double>(upto - prev);
    prev = upto;
  }
  (*counts)[edges.size()] = static_cast<double>(n - prev);
}

double Wasserstein1Sorted(const double* a, std::size_t n1, const double* b, std::size_t n2) {
  std::size_t i = 0, j = 0;
  double sum = 0;
  const double d1 = static_cast<double>(n1), d2 = static_cast<double>(n2);
  while (i < n1 || j < n2) {
    double v;
    if (j >= n2 || (i < n1 && a[i] <= b[j])) v = a[i]; else v = b[j];
    while (i < n1 && a[i] <= v) ++i;
    while (j < n2 && b[j] <= v) ++j;
    if (i >= n1 && j >= n2) break;
    double next;
    if (j >= n2 || (i < n1 && a[i] <= b[j])) next = a[i]; else next = b[j];
    sum += std::fabs(static_cast<double>(i) / d1 - static_cast<double>(j) / d2) * (next - v);
  }
  return sum;
}

void CheckColumn(const DriftColumn& c, const std::string& what) {
  if (c.size > 0 && c.data == nullptr) throw InputError(what + " has no data");
}

}  // namespace

double KsStatisticSorted(const double* a, std::size_t n1, const double* b, std::size_t n2) {
  if (n1 == 0 || n2 == 0) return 0;
  const double d1 = static_cast<double>(n1), d2 = static_cast<double>(n2);
  std::size_t i = 0, j = 0;
  double d = 0;
  while (i < n1 && j < n2) {
    const double v = a[i] <= b[j] ? a[i] : b[j];
    while (i < n1 && a[i] <= v) ++i;
    while (j < n2 && b[j] <= v) ++j;
    const double diff = std::fabs(static_cast<double>(i) / d1 - static_cast<double>(j) / d2);
    if (diff > d) d = diff;
  }
  return std::min(d, 1.0);
}

BinnedStats CompareCounts(const double* ref_counts, const double* cur_counts, std::size_t bins,
                          double epsilon) {
  BinnedStats s;
  double nr = 0, nc = 0;
  for (std::size_t i = 0; i < bins; ++i) {
    if (!(ref_counts[i] >= 0) || !(cur_counts[i] >= 0) || std::isinf(ref_counts[i]) ||
        std::isinf(cur_counts[i])) {
      throw InputError("bin counts must be finite and >= 0 (bin " + std::to_string(i) + ")");
    }
    nr += ref_counts[i];
    nc += cur_counts[i];
  }
  if (nr == 0 || nc == 0) return s;
  int nonempty = 0;
  double chi2 = 0;
  const double total = nr + nc;
  for (std::size_t i = 0; i < bins; ++i) {
    const double r0 = ref_counts[i] / nr, c0 = cur_counts[i] / nc;
    const double r = ref_counts[i] > 0 ? r0 : epsilon;
    const double c = cur_counts[i] > 0 ? c0 : epsilon;
    s.psi += (c - r) * std::log(c / r);
    s.kl += r * std::log(r / c);
    const double m = (r0 + c0) / 2;
    if (r0 > 0) s.js += 0.5 * r0 * std::log(r0 / m);
    if (c0 > 0) s.js += 0.5 * c0 * std::log(c0 / m);
    const double col = ref_counts[i] + cur_counts[i];
    if (col > 0) {
      ++nonempty;
      const double er = col * nr / total, ec = col * nc / total;
      chi2 += (ref_counts[i] - er) * (ref_counts[i] - er) / er +
              (cur_counts[i] - ec) * (cur_counts[i] - ec) / ec;
    }
  }
  if (s.js < 0) s.js = 0;
  if (nonempty > 1) {
    s.chi2 = chi2;
    s.chi2_dof = nonempty - 1;
    s.chi2_p_value = ChiSquareSf(chi2, nonempty - 1);
    s.cramers_v = std::sqrt(chi2 / total);
  }
  return s;
}

std::vector<NumericDrift> CompareNumeric(const std::vector<DriftColumn>& ref,
                                         const std::vector<DriftColumn>& cur,
                                         const DriftParams& params) {
  if (ref.size() != cur.size()) {
    throw InputError("reference has " + std::to_string(ref.size()) + " columns, current has " +
                     std::to_string(cur.size()));
  }
  if (params.n_bins < 2 || params.n_bins > kMaxDriftBins) {
    throw InputError("nBins must be in [2, " + std::to_string(kMaxDriftBins) + "]");
  }
  if (!(params.epsilon > 0 && params.epsilon < 1)) throw InputError("epsilon must be in (0, 1)");
  for (std::size_t f = 0; f < ref.size(); ++f) {
    CheckColumn(ref[f], "reference column " + std::to_string(f));
    CheckColumn(cur[f], "current column " + std::to_string(f));
    if (params.reference_sorted && ref[f].dtype != DType::kFloat64) {
      throw InputError("a sorted reference must be Float64 (column " + std::to_string(f) + ")");
    }
  }
  std::vector<NumericDrift> out(ref.size());
  ParallelFor(ref.size(), ResolveNumThreads(params.num_threads), [&](std::size_t f) {
    NumericDrift& r = out[f];
    const DriftColumn& rc = ref[f];
    const DriftColumn& cc = cur[f];
    std::vector<std::uint64_t> own_ref, own_cur, scratch;
    const double* a = nullptr;
    std::size_t n1 = 0;
    if (params.reference_sorted) {
      a = static_cast<const double*>(rc.data);
      n1 = rc.size;
      for (std::size_t i = 0; i < n1; ++i) {
        if (!(a[i] == a[i]) || (i > 0 && !(a[i - 1] <= a[i]))) {
          throw InputError("reference column " + std::to_string(f) +
                           " is not sorted ascending and NaN-free (index " + std::to_string(i) + ")");
        }
      }
    } else {
      std::uint64_t* keys;
      if (rc.mutable_data != nullptr && rc.dtype == DType::kFloat64) {
        keys = static_cast<std::uint64_t*>(rc.mutable_data);
      } else {
        own_ref.resize(rc.size);
        keys = own_ref.data();
      }
      n1 = LoadKeys(rc, keys);
      scratch.resize(std::max(rc.size, cc.size));
      RadixSortToDoubles(keys, scratch.data(), n1);
      a = reinterpret_cast<const double*>(keys);
    }
    std::uint64_t* ckeys;
    if (cc.mutable_data != nullptr && cc.dtype == DType::kFloat64) {
      ckeys = static_cast<std::uint64_t*>(cc.mutable_data);
    } else {
      own_cur.resize(cc.size);
      ckeys = own_cur.data();
    }
    const std::size_t n2 = LoadKeys(cc, ckeys);
    if (scratch.size() < n2) scratch.resize(n2);
    RadixSortToDoubles(ckeys, scratch.data(), n2);
    std::vector<std::uint64_t>().swap(scratch);
    const double* b = reinterpret_cast<const double*>(ckeys);

    r.ref_count = n1;
    r.cur_count = n2;
    r.ref_missing = params.reference_sorted ? 0 : rc.size - n1;
    r.cur_missing = cc.size - n2;
    if (n1 == 0 || n2 == 0) {
      r.ref_counts.assign(1, static_cast<double>(n1));
      r.cur_counts.assign(1, static_cast<double>(n2));
      return;
    }
    r.ks_statistic = KsStatisticSorted(a, n1, b, n2);
    r.ks_p_value = KsTwoSamplePValue(r.ks_statistic, n1, n2);
    if (params.wasserstein) r.wasserstein = Wasserstein1Sorted(a, n1, b, n2);
    for (int i = 1; i < params.n_bins; ++i) {
      const double e = Quantile(a, n1, static_cast<double>(i) / params.n_bins);
      if (r.edges.empty() || e > r.edges.back()) r.edges.push_back(e);
    }
    CountSorted(a, n1, r.edges, &r.ref_counts);
    CountSorted(b, n2, r.edges, &r.cur_counts);
    r.binned = CompareCounts(r.ref_counts.data(), r.cur_counts.data(), r.ref_counts.size(),
                             params.epsilon);
  });
  return out;
}

std::vector<std::vector<double>> SortColumns(const std::vector<DriftColumn>& columns,
                                             int num_threads) {
  for (std::size_t f = 0; f < columns.size(); ++f) CheckColumn(columns[f], "column " + std::to_string(f));
  std::vector<std::vector<double>> out(columns.size());
  ParallelFor(columns.size(), ResolveNumThreads(num_threads), [&](std::size_t f) {
    std::vector<std::uint64_t> keys(columns[f].size), scratch(columns[f].size);
    const std::size_t n = LoadKeys(columns[f], keys.data());
    RadixSortToDoubles(keys.data(), scratch.data(), n);
    const double* v = reinterpret_cast<const double*>(keys.data());
    out[f].assign(v, v + n);
  });
  return out;
}

std::vector<std::vector<double>> BinCounts(const std::vector<DriftColumn>& columns,
                                           const std::vector<std::vector<double>>& edges,
                                           int num_threads) {
  if (columns.size() != edges.size()) throw InputError("one edge list per column is required");
  for (std::size_t f = 0; f < columns.size(); ++f) {
    CheckColumn(columns[f], "column " + std::to_string(f));
    for (std::size_t k = 0; k < edges[f].size(); ++k) {
      if (!(edges[f][k] == edges[f][k]) || (k > 0 && !(edges[f][k - 1] < edges[f][k]))) {
        throw InputError("edges of column " + std::to_string(f) + " must be strictly increasing and not NaN");
      }
    }
  }
  std::vector<std::vector<double>> out(columns.size());
  ParallelFor(columns.size(), ResolveNumThreads(num_threads), [&](std::size_t f) {
    const std::vector<double>& e = edges[f];
    std::vector<double>& counts = out[f];
    counts.assign(e.size() + 2, 0.0);
    const DriftColumn& c = columns[f];
    auto add = [&](double v) {
      if (!(v == v)) {
        counts[e.size() + 1] += 1;
        return;
      }
      counts[static_cast<std::size_t>(std::lower_bound(e.begin(), e.end(), v) - e.begin())] += 1;
    };
    if (c.dtype == DType::kFloat64) {
      const double* s = static_cast<const double*>(c.data);
      for (std::size_t i = 0; i < c.size; ++i) add(s[i]);
    } else {
      const float* s = static_cast<const float*>(c.data);
      for (std::size_t i = 0; i < c.size; ++i) add(static_cast<double>(s[i]));
    }
  });
  return out;
}

}  // namespace kiln
