// Drift kernels: per-feature radix sort of the non-missing values, one merge walk for the KS
// statistic (and Wasserstein-1), reference-quantile bins, binned PSI / KL / JS / chi-square.
// Work is split by feature only, so results never depend on the thread count.
#include "kiln/drift.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <mutex>
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

inline void FoldMinMax(std::uint64_t k, std::uint64_t* lo, std::uint64_t* hi) {
  if (k < *lo) *lo = k;
  if (k > *hi) *hi = k;
}

// Writes the keys of the non-NaN values of col to keys (capacity col.size); returns their count
// and the smallest / largest key in *lo / *hi.
std::size_t LoadKeys(const DriftColumn& col, std::uint64_t* keys, std::uint64_t* lo, std::uint64_t* hi) {
  std::size_t m = 0;
  *lo = ~std::uint64_t{0};
  *hi = 0;
  if (col.dtype == DType::kFloat64) {
    const double* src = static_cast<const double*>(col.data);
    for (std::size_t i = 0; i < col.size; ++i) {
      const double v = src[i];
      if (v == v) {
        const std::uint64_t k = KeyOf(v);
        FoldMinMax(k, lo, hi);
        keys[m++] = k;
      }
    }
  } else {
    const float* src = static_cast<const float*>(col.data);
    for (std::size_t i = 0; i < col.size; ++i) {
      const float v = src[i];
      if (v == v) {
        const std::uint64_t k = KeyOf(static_cast<double>(v));
        FoldMinMax(k, lo, hi);
        keys[m++] = k;
      }
    }
  }
  return m;
}

// Sorts n keys ascending. LSD radix (four 8-bit digits: fewer write streams beat fewer passes
// here, and an even pass count ends in `keys`) over the 32 bits just below the prefix that
// every key shares (bits above the highest bit where min and max differ), then one pass that
// orders runs of equal window bits by the full key (insertion sort, std::sort for long runs).
// `scratch` holds n keys.
void SortKeys(std::uint64_t* keys, std::uint64_t* scratch, std::size_t n, std::uint64_t lo,
              std::uint64_t hi) {
  if (n < 2 || lo == hi) return;
  constexpr int kWindow = 32, kDigit = 8, kPasses = 4;
  constexpr std::size_t kBuckets = std::size_t{1} << kDigit;
  int top = 63;
  while (((lo ^ hi) >> top) == 0) --top;  // highest differing bit
  const int low = std::max(0, top + 1 - kWindow);
  std::vector<std::uint32_t> hist(kBuckets * kPasses, 0);
  for (std::size_t i = 0; i < n; ++i) {
    const std::uint64_t k = keys[i] >> low;
    ++hist[k & (kBuckets - 1)];
    ++hist[kBuckets + ((k >> kDigit) & (kBuckets - 1))];
    ++hist[2 * kBuckets + ((k >> (2 * kDigit)) & (kBuckets - 1))];
    ++hist[3 * kBuckets + ((k >> (3 * kDigit)) & (kBuckets - 1))];
  }
  std::uint64_t* src = keys;
  std::uint64_t* dst = scratch;
  for (int p = 0; p < kPasses; ++p) {
    std::uint32_t* h = &hist[p * kBuckets];
    const int shift = low + p * kDigit;
    if (shift > 63) break;
    if (h[(src[0] >> shift) & (kBuckets - 1)] == n) continue;
    std::uint32_t sum = 0;
    for (std::size_t b = 0; b < kBuckets; ++b) {
      const std::uint32_t c = h[b];
      h[b] = sum;
      sum += c;
    }
    for (std::size_t i = 0; i < n; ++i) {
      const std::uint64_t k = src[i];
      dst[h[(k >> shift) & (kBuckets - 1)]++] = k;
    }
    std::swap(src, dst);
  }
  if (low == 0) {  // the window covered every differing bit
    if (src != keys) std::memcpy(keys, src, n * sizeof(std::uint64_t));
    return;
  }
  // Runs of equal window bits are copied back (when the passes ended in scratch) and ordered by
  // the full key: insertion sort for short runs, std::sort for long unsorted ones.
  std::size_t i = 0;
  while (i < n) {
    const std::uint64_t w = src[i] >> low;
    std::size_t j = i + 1;
    while (j < n && (src[j] >> low) == w) ++j;
    if (src != keys) std::memcpy(keys + i, src + i, (j - i) * sizeof(std::uint64_t));
    if (j - i > 32) {
      if (!std::is_sorted(keys + i, keys + j)) std::sort(keys + i, keys + j);
    } else {
      for (std::size_t a = i + 1; a < j; ++a) {
        const std::uint64_t x = keys[a];
        std::size_t b = a;
        while (b > i && keys[b - 1] > x) {
          keys[b] = keys[b - 1];
          --b;
        }
        keys[b] = x;
      }
    }
    i = j;
  }
}

// The numpy 'linear' quantile of ascending keys k[0..n) at q (numpy's _lerp, bit for bit).
double Quantile(const std::uint64_t* k, std::size_t n, double q) {
  const double virtual_index = static_cast<double>(n - 1) * q;
  double lo_d = std::floor(virtual_index);
  std::size_t lo = static_cast<std::size_t>(std::max(0.0, lo_d));
  if (lo > n - 1) lo = n - 1;
  const std::size_t hi = std::min(lo + 1, n - 1);
  const double gamma = virtual_index - lo_d;
  const double a = ValueOf(k[lo]), b = ValueOf(k[hi]);
  const double diff = b - a;
  if (gamma >= 0.5) return b - diff * (1 - gamma);
  return a + diff * gamma;
}

// Counts of ascending keys k[0..n) in the bins of strictly increasing edges (bin = #{e < v}).
void CountSorted(const std::uint64_t* k, std::size_t n, const std::vector<double>& edges,
                 std::vector<double>* counts) {
  counts->assign(edges.size() + 1, 0.0);
  std::size_t prev = 0;
  for (std::size_t e = 0; e < edges.size(); ++e) {
    const std::size_t upto = static_cast<std::size_t>(std::upper_bound(k, k + n, KeyOf(edges[e])) - k);
    (*counts)[e] = static_cast<double>(upto - prev);
    prev = upto;
  }
  (*counts)[edges.size()] = static_cast<double>(n - prev);
}

// Two-sample KS statistic of ascending keys (sup |F1 - F2| at every data point, as SciPy). The
// walk compares exact integers |i n2 - j n1| (branch-free merge step); the float difference
// i/n1 - j/n2, computed as SciPy computes it, is taken at the maximising points only.
double KsStatisticKeys(const std::uint64_t* a, std::size_t n1, const std::uint64_t* b, std::size_t n2) {
  if (n1 == 0 || n2 == 0) return 0;
  const double d1 = static_cast<double>(n1), d2 = static_cast<double>(n2);
  const __int128 w1 = static_cast<__int128>(n2), w2 = static_cast<__int128>(n1);
  constexpr std::uint64_t kEnd = ~std::uint64_t{0};
  std::size_t i = 0, j = 0;
  __int128 best = -1;
  double d = 0;
  while (i < n1 && j < n2) {
    const std::uint64_t x = a[i], y = b[j];
    const std::uint64_t v = x <= y ? x : y;
    i += (x == v);
    j += (y == v);
    const std::uint64_t nx = i < n1 ? a[i] : kEnd, ny = j < n2 ? b[j] : kEnd;
    if ((nx == v) | (ny == v)) continue;  // more copies of v to take first
    __int128 diff = static_cast<__int128>(i) * w1 - static_cast<__int128>(j) * w2;
    if (diff < 0) diff = -diff;
    if (diff >= best) {
      best = diff;
      const double fd = std::fabs(static_cast<double>(i) / d1 - static_cast<double>(j) / d2);
      if (fd > d) d = fd;
    }
  }
  return std::min(d, 1.0);
}

double Wasserstein1Keys(const std::uint64_t* a, std::size_t n1, const std::uint64_t* b, std::size_t n2) {
  std::size_t i = 0, j = 0;
  double sum = 0;
  const double d1 = static_cast<double>(n1), d2 = static_cast<double>(n2);
  while (i < n1 || j < n2) {
    const std::uint64_t v = (j >= n2 || (i < n1 && a[i] <= b[j])) ? a[i] : b[j];
    while (i < n1 && a[i] <= v) ++i;
    while (j < n2 && b[j] <= v) ++j;
    if (i >= n1 && j >= n2) break;
    const std::uint64_t next = (j >= n2 || (i < n1 && a[i] <= b[j])) ? a[i] : b[j];
    sum += std::fabs(static_cast<double>(i) / d1 - static_cast<double>(j) / d2) * (ValueOf(next) - ValueOf(v));
  }
  return sum;
}

// Key buffers shared by the features of a call and kept between calls (up to kRetainBytes), so
// large buffers are faulted in once per process rather than once per feature or column group.
class KeyBufferPool {
 public:
  static constexpr std::size_t kRetainBytes = std::size_t{256} << 20;

  std::vector<std::uint64_t> Take(std::size_t n) {
    std::vector<std::uint64_t> v;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      // Smallest retained buffer that is large enough, else the largest one (grown).
      std::size_t pick = free_.size();
      for (std::size_t i = 0; i < free_.size(); ++i) {
        const bool fits = free_[i].size() >= n;
        if (pick == free_.size()) pick = i;
        else if (fits && (free_[pick].size() < n || free_[i].size() < free_[pick].size())) pick = i;
        else if (!fits && free_[pick].size() < n && free_[i].size() > free_[pick].size()) pick = i;
      }
      if (pick < free_.size()) {
        v = std::move(free_[pick]);
        free_.erase(free_.begin() + static_cast<std::ptrdiff_t>(pick));
        retained_ -= v.size() * sizeof(std::uint64_t);
      }
    }
    if (v.size() < n) v.resize(n);
    return v;
  }

  void Give(std::vector<std::uint64_t>&& v) {
    std::lock_guard<std::mutex> lock(mutex_);
    const std::size_t bytes = v.size() * sizeof(std::uint64_t);
    if (retained_ + bytes > kRetainBytes) return;  // dropped: freed by v's destructor
    retained_ += bytes;
    free_.push_back(std::move(v));
  }

  static KeyBufferPool& Shared() {
    static KeyBufferPool pool;
    return pool;
  }

 private:
  std::mutex mutex_;
  std::vector<std::vector<std::uint64_t>> free_;
  std::size_t retained_ = 0;
};

void CheckColumn(const DriftColumn& c, const std::string& what) {
  if (c.size > 0 && c.data == nullptr) throw InputError(what + " has no data");
}

}  // namespace

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
  KeyBufferPool& pool = KeyBufferPool::Shared();
  ParallelFor(ref.size(), ResolveNumThreads(params.num_threads), [&](std::size_t f) {
    NumericDrift& r = out[f];
    const DriftColumn& rc = ref[f];
    const DriftColumn& cc = cur[f];
    std::vector<std::uint64_t> own_ref, own_cur, scratch;
    struct GiveBack {
      KeyBufferPool& pool;
      std::vector<std::uint64_t>* bufs[3];
      ~GiveBack() {
        try {
          for (auto* b : bufs) if (!b->empty()) pool.Give(std::move(*b));
        } catch (...) {
        }
      }
    } give_back{pool, {&own_ref, &own_cur, &scratch}};
    const std::uint64_t* a = nullptr;
    std::size_t n1 = 0;
    if (params.reference_sorted) {
      const double* v = static_cast<const double*>(rc.data);
      n1 = rc.size;
      own_ref = pool.Take(n1);
      for (std::size_t i = 0; i < n1; ++i) {
        if (!(v[i] == v[i]) || (i > 0 && !(v[i - 1] <= v[i]))) {
          throw InputError("reference column " + std::to_string(f) +
                           " is not sorted ascending and NaN-free (index " + std::to_string(i) + ")");
        }
        own_ref[i] = KeyOf(v[i]);
      }
      a = own_ref.data();
    } else {
      std::uint64_t* keys;
      if (rc.mutable_data != nullptr && rc.dtype == DType::kFloat64) {
        keys = static_cast<std::uint64_t*>(rc.mutable_data);
      } else {
        own_ref = pool.Take(rc.size);
        keys = own_ref.data();
      }
      std::uint64_t lo, hi;
      n1 = LoadKeys(rc, keys, &lo, &hi);
      scratch = pool.Take(std::max(rc.size, cc.size));
      SortKeys(keys, scratch.data(), n1, lo, hi);
      a = keys;
    }
    std::uint64_t* ckeys;
    if (cc.mutable_data != nullptr && cc.dtype == DType::kFloat64) {
      ckeys = static_cast<std::uint64_t*>(cc.mutable_data);
    } else {
      own_cur = pool.Take(cc.size);
      ckeys = own_cur.data();
    }
    std::uint64_t clo, chi;
    const std::size_t n2 = LoadKeys(cc, ckeys, &clo, &chi);
    if (scratch.size() < n2) {
      if (!scratch.empty()) pool.Give(std::move(scratch));
      scratch = pool.Take(n2);
    }
    SortKeys(ckeys, scratch.data(), n2, clo, chi);
    pool.Give(std::move(scratch));
    const std::uint64_t* b = ckeys;

    r.ref_count = n1;
    r.cur_count = n2;
    r.ref_missing = params.reference_sorted ? 0 : rc.size - n1;
    r.cur_missing = cc.size - n2;
    if (n1 == 0 || n2 == 0) {
      r.ref_counts.assign(1, static_cast<double>(n1));
      r.cur_counts.assign(1, static_cast<double>(n2));
      return;
    }
    r.ks_statistic = KsStatisticKeys(a, n1, b, n2);
    r.ks_p_value = KsTwoSamplePValue(r.ks_statistic, n1, n2);
    if (params.wasserstein) r.wasserstein = Wasserstein1Keys(a, n1, b, n2);
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
    std::uint64_t lo, hi;
    const std::size_t n = LoadKeys(columns[f], keys.data(), &lo, &hi);
    SortKeys(keys.data(), scratch.data(), n, lo, hi);
    out[f].resize(n);
    for (std::size_t i = 0; i < n; ++i) out[f][i] = ValueOf(keys[i]);
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
