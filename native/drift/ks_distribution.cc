// Distribution functions behind the drift p-values: the two-sided one-sample Kolmogorov
// distribution D_n (SciPy's kstwo, used by ks_2samp(method='asymp') with n = round(n1 n2/(n1+n2))),
// the one-sided Smirnov distribution D_n^+ and the chi-square survival function.
//
// KolmogorovSf follows the regime selection of Simard & L'Ecuyer (2011) as SciPy does:
//   Ruben–Gambino closed forms for n x <= 1 and n x >= n - 1; 2 * Smirnov(n, x) for x >= 1/2 and in
//   the far tail; the Durbin matrix (Marsaglia–Tsang–Wang) where exact and cheap; the Pelz–Good
//   asymptotic series otherwise. Where SciPy uses Pomeranz' recursion (n <= 140, 0.754693 < n x^2
//   <= 4) we use the Durbin matrix, which is also exact there.
// Smirnov(n, x) sums the Birnbaum–Tingey series in log space (all terms positive); above 10^6
// it uses the exponential approximation exp(-(6 n x + 1)^2 / (18 n)).
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "kiln/drift.h"

namespace kiln {
namespace {

constexpr double kPi = 3.14159265358979323846;
constexpr double kMinLog = -708.3964185322641;  // log(DBL_MIN)
constexpr std::uint64_t kSmirnovExactMaxN = 1000000;
constexpr int kScaleExp = 128;

double Clip01(double p) { return p < 0 ? 0 : (p > 1 ? 1 : p); }

// One-sided Smirnov survival function P(D_n^+ >= x).
double SmirnovSf(std::uint64_t n_u, double x) {
  if (!(x >= 0 && x <= 1)) return std::nan("");
  if (n_u == 1) return 1 - x;
  if (x == 0) return 1;
  if (x == 1) return 0;
  const double n = static_cast<double>(n_u);
  const long double nx_l = static_cast<long double>(n) * static_cast<long double>(x);
  long double nx_floor_l = std::floor(nx_l);
  std::int64_t nx_floor = static_cast<std::int64_t>(nx_floor_l);
  const bool exact_multiple = (nx_l == nx_floor_l);
  if (nx_floor == 0 || (nx_floor == 1 && exact_multiple)) {
    // x <= 1/n: P(D^+ < x) = x (1 + x)^(n-1).
    const double cdf = x * std::exp((n - 1) * std::log1p(x));
    return Clip01(1 - cdf);
  }
  if (-2 * n * x * x < kMinLog) return 0;
  if (nx_floor >= static_cast<std::int64_t>(n_u) - 1) return Clip01(std::exp(n * std::log1p(-x)));
  if (n_u > kSmirnovExactMaxN) {
    const double t = 6.0 * n * x + 1;
    return Clip01(std::exp(-t * t / 18.0 / n));
  }
  // sf = x * sum_{j=0}^{J} C(n,j) (x + j/n)^(j-1) (1 - x - j/n)^(n-j), J = ceil(n(1-x)) - 1.
  const std::int64_t last = static_cast<std::int64_t>(n_u) - nx_floor - 1;
  double log_binom = 0;  // log C(n, j)
  double sum = 0;
  const double nd = n;
  for (std::int64_t j = 0; j <= last; ++j) {
    const double jd = static_cast<double>(j);
    const long double rest_l = (static_cast<long double>(nd) - jd) - nx_l;  // n (1 - x - j/n)
    const double rest = static_cast<double>(rest_l);
    const double lower = x + jd / nd;
    const double log_term = log_binom + (nd - jd) * std::log(rest / nd) +
                            (jd - 1) * std::log(lower);
    const double term = std::exp(log_term);
    sum += term;
    if (term > 0 && jd > 1 && 4.0 * static_cast<double>(last - j) * term < 1e-17 * sum &&
        j != last) {
      break;
    }
    log_binom += std::log((nd - jd) / (jd + 1));
  }
  return Clip01(x * sum);
}

// P(D_n <= d) by the Durbin matrix (Marsaglia, Tsang & Wang 2003), with exponent tracking.
double DurbinMatrixCdf(std::uint64_t n_u, double d) {
  if (d >= 1) return 1;
  const double n = static_cast<double>(n_u);
  const double nd = n * d;
  if (nd <= 0.5) return 0;
  const int k = static_cast<int>(std::ceil(nd));
  const double h = k - nd;
  const int m = 2 * k - 1;
  std::vector<double> w(m), v(m);
  double fac = 1;
  for (int j = 1; j <= m; ++j) {
    w[j - 1] = fac;  // 1 / (j-1)!
    fac /= j;        // 1 / j!
    v[j - 1] = (1 - std::pow(h, j)) * fac;
  }
  const double tt = std::pow(std::max(2 * h - 1, 0.0), m) - 2 * std::pow(h, m);
  v[m - 1] = (1 + tt) * fac;
  std::vector<double> H(static_cast<std::size_t>(m) * m, 0.0);
  auto at = [m](std::vector<double>& a, int r, int c) -> double& {
    return a[static_cast<std::size_t>(r) * m + c];
  };
  for (int c = 1; c < m; ++c)
    for (int r = c - 1; r < m; ++r) at(H, r, c) = w[r - c + 1];
  for (int r = 0; r < m; ++r) at(H, r, 0) = v[r];
  for (int c = 0; c < m; ++c) at(H, m - 1, c) = v[m - 1 - c];

  std::vector<double> P(static_cast<std::size_t>(m) * m, 0.0), T(P.size());
  for (int i = 0; i < m; ++i) at(P, i, i) = 1;
  auto multiply = [m](const std::vector<double>& a, const std::vector<double>& b,
                      std::vector<double>& out) {
    std::fill(out.begin(), out.end(), 0.0);
    for (int i = 0; i < m; ++i) {
      double* orow = &out[static_cast<std::size_t>(i) * m];
      for (int l = 0; l < m; ++l) {
        const double ail = a[static_cast<std::size_t>(i) * m + l];
        if (ail == 0) continue;
        const double* brow = &b[static_cast<std::size_t>(l) * m];
        for (int j = 0; j < m; ++j) orow[j] += ail * brow[j];
      }
    }
  };
  const double big = std::ldexp(1.0, kScaleExp), small = std::ldexp(1.0, -kScaleExp);
  long long expnt = 0, h_expnt = 0;
  std::uint64_t e = n_u;
  while (e > 0) {
    if (e & 1) {
      multiply(P, H, T);
      P.swap(T);
      expnt += h_expnt;
    }
    multiply(H, H, T);
    H.swap(T);
    h_expnt *= 2;
    if (std::fabs(at(H, k - 1, k - 1)) > big) {
      for (double& x : H) x *= small;
      h_expnt += kScaleExp;
    }
    e >>= 1;
  }
  double p = at(P, k - 1, k - 1);
  for (std::uint64_t i = 1; i <= n_u; ++i) {
    p = static_cast<double>(i) * p / n;
    if (std::fabs(p) < small) {
      p *= big;
      expnt -= kScaleExp;
    }
  }
  if (expnt != 0) p = std::ldexp(p, static_cast<int>(std::max<long long>(std::min<long long>(expnt, 100000), -100000)));
  return Clip01(p);
}

// P(D_n <= x) by the Pelz–Good (1976) asymptotic expansion to order n^-3/2.
double PelzGoodCdf(std::uint64_t n_u, double x) {
  if (x <= 0) return 0;
  if (x >= 1) return 1;
  const double n = static_cast<double>(n_u);
  const double z = std::sqrt(n) * x;
  const double z2 = z * z, z3 = z2 * z, z4 = z2 * z2, z6 = z4 * z2;
  const double pi2 = kPi * kPi, pi4 = pi2 * pi2, pi6 = pi4 * pi2;
  const double qlog = -pi2 / 8 / z2;
  if (qlog < -708) return 0;
  double q = std::exp(qlog);
  const double sqrt2pi = std::sqrt(2 * kPi);
  const double k1a = -z2, k1b = pi2 / 4;
  const double k2a = 6 * z6 + 2 * z4, k2b = (2 * z4 - 5 * z2) * pi2 / 4, k2c = pi4 * (1 - 2 * z2) / 16;
  const double k3d = pi6 * (5 - 30 * z2) / 64, k3c = pi4 * (-60 * z2 + 212 * z4) / 16;
  const double k3b = pi2 * (135 * z4 - 96 * z6) / 4, k3a = -30 * z6 - 90 * z4 * z4;
  double K[4] = {0, 0, 0, 0};
  const int maxk = static_cast<int>(std::ceil(16 * z / kPi));
  for (int kk = maxk; kk >= 1; --kk) {
    const double mm = 2.0 * kk - 1, m2 = mm * mm, m4 = m2 * m2, m6 = m4 * m2;
    const double qp = std::pow(q, 8.0 * kk);
    const double c[4] = {1.0, k1a + k1b * m2, k2a + k2b * m2 + k2c * m4,
                         k3a + k3b * m2 + k3c * m4 + k3d * m6};
    for (int i = 0; i < 4; ++i) K[i] = K[i] * qp + c[i];
  }
  const double div[4] = {z, 6 * z4, 72 * z4 * z3, 6480 * z4 * z6};
  for (int i = 0; i < 4; ++i) K[i] = K[i] * q * sqrt2pi / div[i];
  q = std::exp(-pi2 / 2 / z2);
  const double sqrt3z = std::sqrt(3.0) * z;
  double extra2 = 0, extra3 = 0;
  for (int kk = maxk; kk >= 1; --kk) {
    const double k2 = static_cast<double>(kk) * kk;
    const double qk = std::pow(q, k2);
    const double kpi = kPi * kk;
    extra2 += k2 * qk;
    extra3 += (sqrt3z + kpi) * (sqrt3z - kpi) * k2 * qk;
  }
  K[2] += extra2 * pi2 * sqrt2pi / (-36 * z3);
  K[3] += extra3 * pi2 * sqrt2pi / (216 * z6);
  double sum = 0;
  for (int i = 0; i < 4; ++i) sum += K[i] / std::pow(n, i / 2.0);
  return sum;
}

}  // namespace

double KolmogorovSf(std::uint64_t n_u, double x) {
  if (n_u == 0 || std::isnan(x)) return std::nan("");
  if (x >= 1) return 0;
  if (x <= 0) return 1;
  const double n = static_cast<double>(n_u);
  const double t = n * x;
  if (t <= 1) {
    if (t <= 0.5) return 1;
    double prob;
    if (n_u <= 140) {
      prob = 1;
      for (std::uint64_t i = 1; i <= n_u; ++i) prob *= static_cast<double>(i) * (1.0 / n) * (2 * t - 1);
    } else {
      prob = std::exp(std::lgamma(n + 1) - n * std::log(n) + n * std::log(2 * t - 1));
    }
    return Clip01(1 - prob);
  }
  if (t >= n - 1) return Clip01(2 * std::pow(1 - x, n));
  if (x >= 0.5) return Clip01(2 * SmirnovSf(n_u, x));
  const double nxx = t * x;
  if (n_u <= 140) {
    if (nxx <= 4) return Clip01(1 - DurbinMatrixCdf(n_u, x));
    return Clip01(2 * SmirnovSf(n_u, x));
  }
  if (nxx >= 370) return 0;
  if (nxx >= 2.2) return Clip01(2 * SmirnovSf(n_u, x));
  double cdf;
  if (n_u <= 100000 && n * std::pow(x, 1.5) <= 1.4) {
    cdf = DurbinMatrixCdf(n_u, x);
  } else {
    cdf = PelzGoodCdf(n_u, x);
  }
  return Clip01(1 - cdf);
}

double KsTwoSamplePValue(double d, std::uint64_t n1, std::uint64_t n2) {
  if (n1 == 0 || n2 == 0) return 1;
  const double m = static_cast<double>(std::max(n1, n2));
  const double k = static_cast<double>(std::min(n1, n2));
  const double en = m * k / (m + k);
  const double rounded = std::nearbyint(en);  // half to even, as numpy's round
  const std::uint64_t n = rounded < 1 ? 1 : static_cast<std::uint64_t>(rounded);
  return Clip01(KolmogorovSf(n, d));
}

// Regularised upper incomplete gamma Q(a, x): series for x < a + 1, Lentz continued fraction else.
double ChiSquareSf(double x, double dof) {
  if (!(dof > 0) || std::isnan(x)) return std::nan("");
  if (x <= 0) return 1;
  if (std::isinf(x)) return 0;
  const double a = dof / 2, y = x / 2;
  const double log_prefix = a * std::log(y) - y - std::lgamma(a);
  if (y < a + 1) {
    double term = 1 / a, sum = term;
    for (int i = 1; i < 100000; ++i) {
      term *= y / (a + i);
      sum += term;
      if (std::fabs(term) < std::fabs(sum) * 1e-17) break;
    }
    return Clip01(1 - sum * std::exp(log_prefix));
  }
  const double tiny = 1e-300;
  double b = y + 1 - a, c = 1 / tiny, dd = 1 / b, h = dd;
  for (int i = 1; i < 100000; ++i) {
    const double an = -i * (i - a);
    b += 2;
    dd = an * dd + b;
    if (std::fabs(dd) < tiny) dd = tiny;
    c = b + an / c;
    if (std::fabs(c) < tiny) c = tiny;
    dd = 1 / dd;
    const double delta = dd * c;
    h *= delta;
    if (std::fabs(delta - 1) < 1e-16) break;
  }
  return Clip01(std::exp(log_prefix) * h);
}

}  // namespace kiln
