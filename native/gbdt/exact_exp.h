// exp(x) rounded to nearest from a double-double evaluation (about 100 bits before the final
// rounding), for host and device. The CUDA trainer computes its exp-based gradients with it: the
// CPU's libm exp (glibc's, nearly always correctly rounded) and CUDA's exp (up to 1 ulp off) would
// otherwise disagree in the last bit now and then, and a gradient scale one ulp apart changes every
// leaf value of the tree in its last bit. Results outside about [-708, 709] (subnormal, overflow)
// fall back to the platform exp.
#pragma once

#include <cmath>

#if defined(__CUDACC__)
#define KILN_HD __host__ __device__ __forceinline__
#else
#define KILN_HD inline
#endif

namespace kiln::gbdt {

struct DD {
  double hi, lo;
};

KILN_HD DD TwoSum(double a, double b) {
  const double s = a + b;
  const double bb = s - a;
  const double e = (a - (s - bb)) + (b - bb);
  return {s, e};
}
KILN_HD DD QuickTwoSum(double a, double b) {
  const double s = a + b;
  return {s, b - (s - a)};
}
KILN_HD DD TwoProd(double a, double b) {
  const double p = a * b;
  return {p, std::fma(a, b, -p)};
}
KILN_HD DD Add(DD a, DD b) {
  DD s = TwoSum(a.hi, b.hi);
  DD t = TwoSum(a.lo, b.lo);
  s.lo += t.hi;
  s = QuickTwoSum(s.hi, s.lo);
  s.lo += t.lo;
  return QuickTwoSum(s.hi, s.lo);
}
KILN_HD DD Mul(DD a, DD b) {
  DD p = TwoProd(a.hi, b.hi);
  p.lo += a.hi * b.lo + a.lo * b.hi;
  return QuickTwoSum(p.hi, p.lo);
}
KILN_HD DD MulD(DD a, double b) {
  DD p = TwoProd(a.hi, b);
  p.lo += a.lo * b;
  return QuickTwoSum(p.hi, p.lo);
}

KILN_HD double ExactExp(double x) {
  if (!(x > -708.0 && x < 709.0)) return std::exp(x);
  // ln 2 as three parts: hi has 32 significant bits, so n * hi is exact for |n| < 2^21.
  constexpr double kLn2Hi = 6.93147180369123816490e-01;   // 0x3FE62E42FEE00000
  constexpr double kLn2Mid = 1.90821492927058770002e-10;  // 0x3DEA39EF35793C76
  constexpr double kLn2Lo = -2.32040566843632660e-27;
  const double n = std::nearbyint(x * 1.4426950408889634);
  // r = x - n ln2 in double-double.
  DD r = TwoSum(x, -n * kLn2Hi);  // n * kLn2Hi exact
  r = Add(r, TwoProd(-n, kLn2Mid));
  r = Add(r, DD{-n * kLn2Lo, 0.0});
  // exp(r) = exp(r / 256)^256; Taylor series of exp(r / 256) (|r / 256| < 0.0014) to degree 9.
  DD t{std::ldexp(r.hi, -8), std::ldexp(r.lo, -8)};
  DD sum{1.0, 0.0};
  DD term{1.0, 0.0};
  for (int i = 1; i <= 9; ++i) {
    term = Mul(term, t);
    // term / i in double-double: q.hi, corrected by the remainder.
    DD q{term.hi / i, 0.0};
    const DD back = MulD(q, static_cast<double>(i));
    q.lo = ((term.hi - back.hi) - back.lo + term.lo) / i;
    q = QuickTwoSum(q.hi, q.lo);
    term = q;
    sum = Add(sum, term);
  }
  for (int i = 0; i < 8; ++i) sum = Mul(sum, sum);
  // Round hi + lo once, then scale by 2^n (exact for normal results).
  return std::ldexp(sum.hi + sum.lo, static_cast<int>(n));
}

}  // namespace kiln::gbdt
