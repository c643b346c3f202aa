// Drift statistics between a reference and a current sample, one feature at a time.
//
// Numeric features: two-sample Kolmogorov–Smirnov (exact statistic over the sorted samples,
// asymptotic two-sided p-value computed as SciPy's ks_2samp(method='asymp'): the one-sample
// Kolmogorov distribution with n = round(n1 n2 / (n1 + n2))), and PSI / KL / Jensen–Shannon /
// chi-square over bins cut at reference quantiles, Wasserstein-1 on request.
// Categorical features (and any pre-binned counts): PSI / KL / JS / chi-square over count vectors.
//
// Bins from the reference: interior edges are the numpy-'linear' quantiles of the reference at
// i / n_bins (i = 1 .. n_bins - 1) with duplicates merged; bin(v) = #{edges e : e < v}, so the
// bins are (-inf, e0], (e0, e1], ..., (e_last, +inf). Missing values (NaN) are left out of every
// distribution and only counted.
//
// Smoothed proportions: p_i = count_i / total, replaced by `epsilon` where count_i == 0.
//   PSI = sum (c_i - r_i) ln(c_i / r_i)      KL = sum r_i ln(r_i / c_i)   (reference ‖ current)
//   JS  = (KL(r ‖ m) + KL(c ‖ m)) / 2, m = (r + c) / 2, on unsmoothed proportions (nats, <= ln 2)
// Chi-square: homogeneity test of the 2 x bins table (bins empty on both sides dropped),
// no continuity correction; p = chi2.sf(stat, bins - 1). Cramér's V = sqrt(stat / N).
//
// Memory: spans are borrowed for the duration of the call; results own their vectors. Sort
// scratch (8 bytes per value, one or two buffers per thread) is reused across calls: up to
// 256 MiB of it stays allocated in the process between calls.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "kiln/binning.h"

namespace kiln {

// Largest n_bins accepted.
inline constexpr int kMaxDriftBins = 1000;

// A borrowed column: `size` values of dtype; NaN = missing. With `mutable_data` the kernel may
// overwrite the values (used to sort in place and save a copy); the contents are then unspecified.
struct DriftColumn {
  const void* data = nullptr;
  DType dtype = DType::kFloat64;
  std::size_t size = 0;
  void* mutable_data = nullptr;  // == data when the kernel may overwrite it, else nullptr
};

struct DriftParams {
  int n_bins = 10;              // reference-quantile bins per feature, in [2, kMaxDriftBins]
  double epsilon = 1e-4;        // proportion used for empty bins (PSI, KL), in (0, 1)
  bool wasserstein = false;     // also compute Wasserstein-1
  bool reference_sorted = false;  // reference columns are ascending and NaN-free (checked)
  int num_threads = 0;          // 0 -> hardware concurrency; results never depend on it
};

// Statistics of one binned comparison (numeric bins or categories).
struct BinnedStats {
  double psi = 0;
  double kl = 0;
  double js = 0;
  double chi2 = 0;
  double chi2_p_value = 1;
  int chi2_dof = 0;
  double cramers_v = 0;
};

struct NumericDrift {
  std::uint64_t ref_count = 0;    // non-missing reference values
  std::uint64_t cur_count = 0;    // non-missing current values
  std::uint64_t ref_missing = 0;
  std::uint64_t cur_missing = 0;
  double ks_statistic = 0;        // 0 when either side has no values
  double ks_p_value = 1;
  double wasserstein = 0;         // 0 unless requested (and both sides have values)
  BinnedStats binned;
  std::vector<double> edges;      // interior bin edges, strictly increasing
  std::vector<double> ref_counts; // edges.size() + 1 bin counts
  std::vector<double> cur_counts;
};

// Compares ref[f] with cur[f] for every feature f (ref.size() == cur.size()). Parallel over
// features; identical results for any num_threads. Throws InputError on invalid arguments.
std::vector<NumericDrift> CompareNumeric(const std::vector<DriftColumn>& ref,
                                         const std::vector<DriftColumn>& cur,
                                         const DriftParams& params);

// Binned statistics of count vectors (same length, counts >= 0 and finite).
BinnedStats CompareCounts(const double* ref_counts, const double* cur_counts, std::size_t bins,
                          double epsilon);

// Sorts the non-missing values of each column ascending into a new vector (parallel over columns).
std::vector<std::vector<double>> SortColumns(const std::vector<DriftColumn>& columns,
                                             int num_threads);

// Counts of each column's non-missing values in the bins of its edges (edges strictly
// increasing); out[f] has edges[f].size() + 1 entries plus the missing count appended last.
std::vector<std::vector<double>> BinCounts(const std::vector<DriftColumn>& columns,
                                           const std::vector<std::vector<double>>& edges,
                                           int num_threads);

// Two-sided asymptotic p-value of SciPy's ks_2samp(method='asymp') for statistic d.
double KsTwoSamplePValue(double d, std::uint64_t n1, std::uint64_t n2);

// Survival function of the two-sided one-sample Kolmogorov statistic D_n at x (SciPy kstwo.sf).
double KolmogorovSf(std::uint64_t n, double x);

// Survival function of the chi-square distribution with dof degrees of freedom.
double ChiSquareSf(double x, double dof);

}  // namespace kiln
