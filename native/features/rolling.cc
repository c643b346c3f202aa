// Streaming window, lag and cross features (kiln/rolling.h). One pass per feature over each
// chunk of finished rows; per-entity state carries windows across chunks. Variances use sums of
// values shifted by a reference K, recomputed exactly from the window every max(64, 2n) updates,
// so rounding never accumulates beyond one window's worth of updates; min/max use monotonic deques.
#include "kiln/rolling.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <string>
#include <utility>

#include "kiln/status.h"
#include "kiln/thread_pool.h"

namespace kiln {
namespace {

// A growable FIFO with random access from the front.
template <class T>
class Ring {
 public:
  std::size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  T& operator[](std::size_t i) { return buf_[(head_ + i) & mask_]; }
  const T& operator[](std::size_t i) const { return buf_[(head_ + i) & mask_]; }
  T& front() { return (*this)[0]; }
  T& back() { return (*this)[size_ - 1]; }
  const T& front() const { return (*this)[0]; }
  const T& back() const { return (*this)[size_ - 1]; }
  void push_back(const T& v) {
    if (size_ == buf_.size()) Grow();
    buf_[(head_ + size_) & mask_] = v;
    ++size_;
  }
  void pop_front() {
    head_ = (head_ + 1) & mask_;
    --size_;
  }
  void pop_back() { --size_; }

 private:
  void Grow() {
    std::size_t cap = buf_.empty() ? 8 : buf_.size() * 2;
    std::vector<T> next(cap);
    for (std::size_t i = 0; i < size_; ++i) next[i] = (*this)[i];
    buf_.swap(next);
    head_ = 0;
    mask_ = cap - 1;
  }
  std::vector<T> buf_;
  std::size_t head_ = 0, size_ = 0, mask_ = 0;
};

bool IsFinite(double x) { return std::isfinite(x); }

// Shifted running moments of finite values; Recompute() resets K to the window mean.
struct Moments {
  std::int64_t n = 0;
  double k = 0, s1 = 0, s2 = 0;
  std::int64_t ops = 0;
  void Add(double x) {
    if (n == 0) {
      k = x;
      s1 = s2 = 0;
    }
    const double d = x - k;
    s1 += d;
    s2 += d * d;
    ++n;
    ++ops;
  }
  void Remove(double x) {
    const double d = x - k;
    s1 -= d;
    s2 -= d * d;
    --n;
    ++ops;
    if (n == 0) k = s1 = s2 = 0;
  }
  bool Due() const { return ops > std::max<std::int64_t>(64, 2 * n); }
  double Mean() const { return k + s1 / static_cast<double>(n); }
  double Sum() const { return static_cast<double>(n) * k + s1; }
  double SampleVar() const {
    const double v = (s2 - s1 * s1 / static_cast<double>(n)) / static_cast<double>(n - 1);
    return v > 0 ? v : 0;
  }
};

struct RowEnt {
  std::int64_t t;
  bool valid;
};

// Window aggregate state of one entity.
struct AggState {
  Ring<RowEnt> rows;
  Ring<double> vals;  // valid values of the rows in the frame, in order
  std::uint64_t vals_base = 0;  // absolute index of vals.front()
  Ring<std::uint64_t> mq;  // monotonic deque (min or max) of absolute indices into vals
  std::int64_t n_nan = 0, n_pinf = 0, n_ninf = 0, ndiff = 0;
  Moments m;
  // volatility: the entity's previous raw value
  bool has_prev = false, prev_valid = false;
  double prev = 0;
};

struct LagEnt {
  double v;
  bool valid;
};
struct LagState {
  Ring<LagEnt> hist;
};
struct MomEnt {
  std::int64_t t;
  double v;
  bool valid;
};
struct MomState {
  Ring<MomEnt> rows;
  bool has_base = false, base_valid = false;
  double base = 0;
};

struct PairEnt {
  std::int64_t t;
  bool valid;
};
struct CorrState {
  Ring<PairEnt> rows;
  Ring<std::pair<double, double>> vals;
  std::int64_t n_bad = 0, ndiff_a = 0, ndiff_b = 0, ops = 0;
  double ka = 0, kb = 0, sa = 0, sb = 0, saa = 0, sbb = 0, sab = 0;
};

bool IsCross(RollFn f) { return f == RollFn::kCorrelation || f == RollFn::kSpread || f == RollFn::kRatio; }

bool Bit(const std::uint8_t* bm, std::size_t i) { return bm == nullptr || ((bm[i >> 3] >> (i & 7)) & 1) != 0; }

[[noreturn]] void NotFinite(const RollFeature& f) {
  throw Error(kErrValidation, "feature \"" + f.name + "\": " +
                                  (f.fn == RollFn::kCorrelation ? "correlation" : "standard deviation") +
                                  " over a window holding NaN or infinite values is out of range");
}

}  // namespace

class RollingState {
 public:
  RollingState(std::vector<RollFeature> features, int num_inputs, bool caller_orders)
      : f_(std::move(features)), num_inputs_(num_inputs), caller_orders_(caller_orders) {
    const std::size_t nf = f_.size();
    agg_.resize(nf);
    lag_.resize(nf);
    mom_.resize(nf);
    corr_.resize(nf);
    level_.assign(nf, 0);
    for (std::size_t i = 0; i < nf; ++i) {
      const RollFeature& f = f_[i];
      if (f.input < 0 || f.input >= num_inputs_ + static_cast<int>(i)) {
        throw InputError("feature \"" + f.name + "\": input " + std::to_string(f.input) + " is not an input column or an earlier feature");
      }
      if (f.input >= num_inputs_) level_[i] = level_[f.input - num_inputs_] + 1;
      if (f.time_window ? f.window_us <= 0 : (f.fn != RollFn::kSpread && f.fn != RollFn::kRatio && f.window_rows <= 0)) {
        throw InputError("feature \"" + f.name + "\": window must be positive");
      }
      if (f.min_periods < 0) throw InputError("feature \"" + f.name + "\": min_periods must be >= 0");
      if (IsCross(f.fn)) has_cross_ = true;
      max_level_ = std::max(max_level_, level_[i]);
    }
    pend_in_.resize(num_inputs_);
    pend_iv_.resize(num_inputs_);
  }

  RollResult Process(const RollBatch& b, bool final, int num_threads) {
    if (b.inputs.size() != static_cast<std::size_t>(num_inputs_) || b.input_valid.size() != b.inputs.size()) {
      throw InputError("batch has " + std::to_string(b.inputs.size()) + " inputs, expected " + std::to_string(num_inputs_));
    }
    Append(b);
    std::size_t m = pend_t_.size();
    if (has_cross_ && !final && m > 0) {
      std::size_t cut = m;
      const std::int64_t last = pend_t_[m - 1];
      while (cut > 0 && pend_t_[cut - 1] == last) --cut;
      m = cut;
    }
    RollResult r;
    r.rows = m;
    r.time.assign(pend_t_.begin(), pend_t_.begin() + m);
    r.entity.assign(pend_e_.begin(), pend_e_.begin() + m);
    if (has_rid_) r.row_id.assign(pend_r_.begin(), pend_r_.begin() + m);
    const std::size_t nf = f_.size();
    std::vector<std::vector<double>> vals(nf, std::vector<double>(m));
    std::vector<std::vector<std::uint8_t>> ok(nf, std::vector<std::uint8_t>(m));
    for (int level = 0; level <= max_level_ && m > 0; ++level) {
      std::vector<std::size_t> todo;
      for (std::size_t i = 0; i < nf; ++i) if (level_[i] == level) todo.push_back(i);
      ParallelFor(todo.size(), num_threads, [&](std::size_t j) {
        const std::size_t i = todo[j];
        const RollFeature& f = f_[i];
        const double* x;
        const std::uint8_t* xv;
        if (f.input < num_inputs_) {
          x = pend_in_[f.input].data();
          xv = pend_iv_[f.input].data();
        } else {
          x = vals[f.input - num_inputs_].data();
          xv = ok[f.input - num_inputs_].data();
        }
        if (IsCross(f.fn)) Cross(i, m, x, xv, vals[i].data(), ok[i].data());
        else Series(i, m, x, xv, vals[i].data(), ok[i].data());
      });
    }
    r.values.resize(nf);
    r.valid.resize(nf);
    for (std::size_t i = 0; i < nf; ++i) {
      r.values[i] = std::move(vals[i]);
      std::vector<std::uint8_t>& bm = r.valid[i];
      bm.assign((m + 7) / 8, 0);
      for (std::size_t k = 0; k < m; ++k) if (ok[i][k]) bm[k >> 3] |= static_cast<std::uint8_t>(1u << (k & 7));
    }
    Drop(m);
    return r;
  }

 private:
  void Append(const RollBatch& b) {
    if (b.rows > 0 && (b.time == nullptr || b.entity == nullptr)) throw InputError("batch needs time and entity arrays");
    if (pend_t_.empty() && !seen_any_) has_rid_ = b.row_id != nullptr;
    if (b.rows > 0 && (b.row_id != nullptr) != has_rid_) throw InputError("row ids must be given on every batch or on none");
    for (std::size_t i = 0; i < b.rows; ++i) {
      if (!Bit(b.time_valid, i)) throw Error(kErrSeries, "rows: a row has no time");
      const std::int64_t t = b.time[i];
      const std::int32_t e = b.entity[i];
      if (e < 0) throw InputError("entity ids must be >= 0");
      if (seen_any_ && caller_orders_) {
        if (t < last_t_) throw Error(kErrInternal, "rows are not ordered by time");
      } else if (seen_any_) {
        if (t < last_t_ || (t == last_t_ && e < last_e_)) throw Error(kErrInternal, "rows are not ordered by time and entity");
        if (t == last_t_ && e == last_e_) throw Error(kErrSeries, "rows: two rows share an entity and time");
      }
      seen_any_ = true;
      last_t_ = t;
      last_e_ = e;
      pend_t_.push_back(t);
      pend_e_.push_back(e);
      if (has_rid_) pend_r_.push_back(b.row_id[i]);
    }
    for (int c = 0; c < num_inputs_; ++c) {
      if (b.rows > 0 && b.inputs[c] == nullptr) throw InputError("input " + std::to_string(c) + " is missing");
      pend_in_[c].insert(pend_in_[c].end(), b.inputs[c], b.inputs[c] + b.rows);
      for (std::size_t i = 0; i < b.rows; ++i) pend_iv_[c].push_back(Bit(b.input_valid[c], i) ? 1 : 0);
    }
  }

  void Drop(std::size_t m) {
    auto drop = [m](auto& v) { v.erase(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(std::min(m, v.size()))); };
    drop(pend_t_);
    drop(pend_e_);
    drop(pend_r_);
    for (auto& v : pend_in_) drop(v);
    for (auto& v : pend_iv_) drop(v);
  }

  template <class S>
  static S& Of(std::vector<S>& v, std::int32_t e) {
    if (static_cast<std::size_t>(e) >= v.size()) v.resize(static_cast<std::size_t>(e) + 1);
    return v[static_cast<std::size_t>(e)];
  }

  // Per-entity features over rows [0, m): lag, pct_change and momentum here, window aggregates in AggLoop.
  void Series(std::size_t fi, std::size_t m, const double* x, const std::uint8_t* xv, double* out, std::uint8_t* ok) {
    const RollFeature& f = f_[fi];
    if (f.fn != RollFn::kLag && f.fn != RollFn::kPctChange && f.fn != RollFn::kMomentum) return AggSeries(fi, m, x, xv, out, ok);
    for (std::size_t i = 0; i < m; ++i) {
      const std::int32_t e = pend_e_[i];
      const std::int64_t t = pend_t_[i];
      const bool valid = xv[i] != 0;
      const double v = x[i];
      double r = 0;
      bool rv = false;
      if (f.fn != RollFn::kMomentum || !f.time_window) {
        LagState& s = Of(lag_[fi], e);
        const std::size_t p = static_cast<std::size_t>(f.window_rows);
        const bool has = s.hist.size() == p;
        const LagEnt base = has ? s.hist.front() : LagEnt{0, false};
        s.hist.push_back({v, valid});
        if (s.hist.size() > p) s.hist.pop_front();
        if (f.fn == RollFn::kLag) {
          rv = has && base.valid;
          r = base.v;
        } else {
          rv = valid && has && base.valid && base.v != 0;
          r = v / base.v - 1;
        }
      } else {
        MomState& s = Of(mom_[fi], e);
        s.rows.push_back({t, v, valid});
        while (!s.rows.empty() && s.rows.front().t <= t - f.window_us) {
          s.has_base = true;
          s.base = s.rows.front().v;
          s.base_valid = s.rows.front().valid;
          s.rows.pop_front();
        }
        rv = valid && s.has_base && s.base_valid && s.base != 0;
        r = v / s.base - 1;
      }
      out[i] = rv ? r : 0;
      ok[i] = rv ? 1 : 0;
    }
  }

  // What a window aggregate keeps up to date besides its frame's rows and values.
  template <RollFn FN>
  struct AggNeeds {
    static constexpr bool kMinMax = FN == RollFn::kMin || FN == RollFn::kMax;
    static constexpr bool kMoments = !kMinMax;
    static constexpr bool kStd = FN == RollFn::kStd || FN == RollFn::kZscore || FN == RollFn::kVolatility;
  };

  // Picks the aggregate loop compiled for this feature's function and window kind.
  void AggSeries(std::size_t fi, std::size_t m, const double* x, const std::uint8_t* xv, double* out, std::uint8_t* ok) {
    switch (f_[fi].fn) {
      case RollFn::kMean: return AggSeriesOf<RollFn::kMean>(fi, m, x, xv, out, ok);
      case RollFn::kSum: return AggSeriesOf<RollFn::kSum>(fi, m, x, xv, out, ok);
      case RollFn::kStd: return AggSeriesOf<RollFn::kStd>(fi, m, x, xv, out, ok);
      case RollFn::kZscore: return AggSeriesOf<RollFn::kZscore>(fi, m, x, xv, out, ok);
      case RollFn::kVolatility: return AggSeriesOf<RollFn::kVolatility>(fi, m, x, xv, out, ok);
      case RollFn::kMin: return AggSeriesOf<RollFn::kMin>(fi, m, x, xv, out, ok);
      case RollFn::kMax: return AggSeriesOf<RollFn::kMax>(fi, m, x, xv, out, ok);
      default: throw Error(kErrInternal, "feature \"" + f_[fi].name + "\": not a window aggregate");
    }
  }

  template <RollFn FN>
  void AggSeriesOf(std::size_t fi, std::size_t m, const double* x, const std::uint8_t* xv, double* out, std::uint8_t* ok) {
    const RollFeature& f = f_[fi];
    if (f.time_window) {
      if (f.exclusive) AggLoop<FN, true, true>(fi, m, x, xv, out, ok);
      else AggLoop<FN, true, false>(fi, m, x, xv, out, ok);
    } else {
      if (f.exclusive) AggLoop<FN, false, true>(fi, m, x, xv, out, ok);
      else AggLoop<FN, false, false>(fi, m, x, xv, out, ok);
    }
  }

  // One window aggregate over rows [0, m), specialised so each row runs only what FN needs.
  template <RollFn FN, bool kTime, bool kExclusive>
  void AggLoop(std::size_t fi, std::size_t m, const double* x, const std::uint8_t* xv, double* out, std::uint8_t* ok) {
    const RollFeature& f = f_[fi];
    std::vector<AggState>& states = agg_[fi];
    for (std::size_t i = 0; i < m; ++i) {
      AggState& s = Of(states, pend_e_[i]);
      const std::int64_t t = pend_t_[i];
      const bool valid = xv[i] != 0;
      const double v = x[i];
      double hv = v;
      bool hvalid = valid;
      if constexpr (FN == RollFn::kVolatility) {
        hvalid = valid && s.has_prev && s.prev_valid && s.prev != 0;
        hv = hvalid ? v / s.prev - 1 : 0;
        s.has_prev = true;
        s.prev_valid = valid;
        s.prev = v;
      }
      double r = 0;
      bool rv;
      if constexpr (kExclusive) {
        Evict<FN, kTime>(f, s, t, /*inclusive=*/false);
        rv = Aggregate<FN>(f, s, valid, v, &r);
        Push<FN>(s, t, hvalid, hv);
        if constexpr (!kTime) {
          while (static_cast<std::int64_t>(s.rows.size()) > f.window_rows) PopRow<FN>(s);
        }
      } else {
        Push<FN>(s, t, hvalid, hv);
        Evict<FN, kTime>(f, s, t, /*inclusive=*/true);
        rv = Aggregate<FN>(f, s, valid, v, &r);
      }
      if constexpr (AggNeeds<FN>::kMoments) {
        if (s.m.Due()) Recompute(s);
      }
      out[i] = rv ? r : 0;
      ok[i] = rv ? 1 : 0;
    }
  }

  template <RollFn FN>
  static void Push(AggState& s, std::int64_t t, bool valid, double v) {
    s.rows.push_back({t, valid});
    if (!valid) return;
    if constexpr (AggNeeds<FN>::kStd) {
      if (!s.vals.empty() && !(s.vals.back() == v)) ++s.ndiff;
    }
    const std::uint64_t abs = s.vals_base + s.vals.size();
    s.vals.push_back(v);
    if constexpr (AggNeeds<FN>::kMoments) {
      if (IsFinite(v)) s.m.Add(v);
      else if (std::isnan(v)) ++s.n_nan;
      else if (v > 0) ++s.n_pinf;
      else ++s.n_ninf;
    } else {
      if (std::isnan(v)) {
        ++s.n_nan;
        return;
      }
      while (!s.mq.empty()) {
        const double w = s.vals[s.mq.back() - s.vals_base];
        if (FN == RollFn::kMin ? w >= v : w <= v) s.mq.pop_back();
        else break;
      }
      s.mq.push_back(abs);
    }
  }

  template <RollFn FN>
  static void PopRow(AggState& s) {
    const bool valid = s.rows.front().valid;
    s.rows.pop_front();
    if (!valid) return;
    const double v = s.vals.front();
    if constexpr (AggNeeds<FN>::kStd) {
      if (s.vals.size() > 1 && !(s.vals[1] == v)) --s.ndiff;
    }
    if constexpr (AggNeeds<FN>::kMoments) {
      if (IsFinite(v)) s.m.Remove(v);
      else if (std::isnan(v)) --s.n_nan;
      else if (v > 0) --s.n_pinf;
      else --s.n_ninf;
    } else {
      if (std::isnan(v)) --s.n_nan;
      else if (!s.mq.empty() && s.mq.front() == s.vals_base) s.mq.pop_front();
    }
    s.vals.pop_front();
    ++s.vals_base;
  }

  template <RollFn FN, bool kTime>
  static void Evict(const RollFeature& f, AggState& s, std::int64_t t, bool inclusive) {
    if constexpr (kTime) {
      const std::int64_t lo = t - f.window_us;  // inclusive keeps t' > lo; exclusive keeps t' >= lo
      while (!s.rows.empty() && (inclusive ? s.rows.front().t <= lo : s.rows.front().t < lo)) PopRow<FN>(s);
    } else {
      while (static_cast<std::int64_t>(s.rows.size()) > f.window_rows) PopRow<FN>(s);
    }
  }

  static void Recompute(AggState& s) {
    Moments& m = s.m;
    double sum = 0;
    std::int64_t n = 0;
    for (std::size_t i = 0; i < s.vals.size(); ++i) {
      const double v = s.vals[i];
      if (IsFinite(v)) {
        sum += v;
        ++n;
      }
    }
    m.n = n;
    m.ops = 0;
    m.k = n > 0 ? sum / static_cast<double>(n) : 0;
    m.s1 = m.s2 = 0;
    for (std::size_t i = 0; i < s.vals.size(); ++i) {
      const double v = s.vals[i];
      if (IsFinite(v)) {
        const double d = v - m.k;
        m.s1 += d;
        m.s2 += d * d;
      }
    }
  }

  // The feature's value over the current frame (x, xvalid: the current row, for zscore).
  template <RollFn FN>
  static bool Aggregate(const RollFeature& f, const AggState& s, bool xvalid, double x, double* r) {
    const std::int64_t n = static_cast<std::int64_t>(s.vals.size());
    const double inf = std::numeric_limits<double>::infinity();
    const double nan = std::numeric_limits<double>::quiet_NaN();
    if constexpr (AggNeeds<FN>::kStd) {
      if (n >= 2 && s.n_nan + s.n_pinf + s.n_ninf > 0) NotFinite(f);
    }
    if (n < f.min_periods) return false;
    auto std_of = [&]() -> double { return s.ndiff == 0 ? 0.0 : std::sqrt(s.m.SampleVar()); };
    if constexpr (FN == RollFn::kMean || FN == RollFn::kSum) {
      if (n == 0) return false;
      if (s.n_nan > 0 || (s.n_pinf > 0 && s.n_ninf > 0)) *r = nan;
      else if (s.n_pinf > 0) *r = inf;
      else if (s.n_ninf > 0) *r = -inf;
      else *r = FN == RollFn::kMean ? s.m.Mean() : s.m.Sum();
      return true;
    } else if constexpr (AggNeeds<FN>::kMinMax) {
      if (n == 0) return false;
      if (FN == RollFn::kMax && s.n_nan > 0) *r = nan;
      else if (s.mq.empty()) *r = nan;  // only NaN in the frame
      else *r = s.vals[s.mq.front() - s.vals_base];
      return true;
    } else if constexpr (FN == RollFn::kZscore) {
      if (!xvalid || n < 2) return false;
      const double sd = std_of();
      if (sd == 0) return false;
      *r = (x - s.m.Mean()) / sd;
      return true;
    } else {  // kStd, kVolatility
      if (n < 2) return false;
      *r = std_of();
      return true;
    }
  }

  void Cross(std::size_t fi, std::size_t m, const double* x, const std::uint8_t* xv, double* out, std::uint8_t* ok) {
    const RollFeature& f = f_[fi];
    CorrState& s = corr_[fi];
    std::size_t i = 0;
    while (i < m) {
      std::size_t j = i;
      const std::int64_t t = pend_t_[i];
      std::ptrdiff_t il = -1, ir = -1;
      while (j < m && pend_t_[j] == t) {
        if (pend_e_[j] == f.left) il = static_cast<std::ptrdiff_t>(j);
        if (pend_e_[j] == f.right) ir = static_cast<std::ptrdiff_t>(j);
        ++j;
      }
      double r = 0;
      bool rv = false;
      if (il >= 0 && ir >= 0) {
        const bool av = xv[il] != 0, bv = xv[ir] != 0;
        const double a = x[il], b = x[ir];
        if (f.fn == RollFn::kSpread) {
          rv = av && bv;
          r = a - b;
        } else if (f.fn == RollFn::kRatio) {
          rv = av && bv && b != 0;
          r = a / b;
        } else {
          CorrPush(s, t, av && bv, a, b);
          if (f.time_window) {
            while (!s.rows.empty() && s.rows.front().t <= t - f.window_us) CorrPop(s);
          } else {
            while (static_cast<std::int64_t>(s.rows.size()) > f.window_rows) CorrPop(s);
          }
          rv = CorrValue(f, s, &r);
          if (s.ops > std::max<std::int64_t>(64, 2 * static_cast<std::int64_t>(s.vals.size()))) CorrRecompute(s);
        }
      }
      for (std::size_t k = i; k < j; ++k) {
        out[k] = rv ? r : 0;
        ok[k] = rv ? 1 : 0;
      }
      i = j;
    }
  }

  static bool Fin2(double a, double b) { return IsFinite(a) && IsFinite(b); }

  static void CorrAddMoments(CorrState& s, double a, double b, double sign) {
    const double da = a - s.ka, db = b - s.kb;
    s.sa += sign * da;
    s.sb += sign * db;
    s.saa += sign * da * da;
    s.sbb += sign * db * db;
    s.sab += sign * da * db;
    ++s.ops;
  }

  static void CorrPush(CorrState& s, std::int64_t t, bool valid, double a, double b) {
    s.rows.push_back({t, valid});
    if (!valid) return;
    if (!s.vals.empty()) {
      if (!(s.vals.back().first == a)) ++s.ndiff_a;
      if (!(s.vals.back().second == b)) ++s.ndiff_b;
    }
    if (!Fin2(a, b)) ++s.n_bad;
    else {
      if (s.vals.size() == static_cast<std::size_t>(s.n_bad)) {  // no finite pair yet: reset the shift
        s.ka = a;
        s.kb = b;
        s.sa = s.sb = s.saa = s.sbb = s.sab = 0;
      }
      CorrAddMoments(s, a, b, 1.0);
    }
    s.vals.push_back({a, b});
  }

  static void CorrPop(CorrState& s) {
    const bool valid = s.rows.front().valid;
    s.rows.pop_front();
    if (!valid) return;
    const auto [a, b] = s.vals.front();
    if (s.vals.size() > 1) {
      if (!(s.vals[1].first == a)) --s.ndiff_a;
      if (!(s.vals[1].second == b)) --s.ndiff_b;
    }
    if (!Fin2(a, b)) --s.n_bad;
    else CorrAddMoments(s, a, b, -1.0);
    s.vals.pop_front();
  }

  static void CorrRecompute(CorrState& s) {
    double suma = 0, sumb = 0;
    std::int64_t n = 0;
    for (std::size_t i = 0; i < s.vals.size(); ++i) {
      const auto [a, b] = s.vals[i];
      if (Fin2(a, b)) {
        suma += a;
        sumb += b;
        ++n;
      }
    }
    s.ka = n ? suma / static_cast<double>(n) : 0;
    s.kb = n ? sumb / static_cast<double>(n) : 0;
    s.sa = s.sb = s.saa = s.sbb = s.sab = 0;
    for (std::size_t i = 0; i < s.vals.size(); ++i) {
      const auto [a, b] = s.vals[i];
      if (Fin2(a, b)) CorrAddMoments(s, a, b, 1.0);
    }
    s.ops = 0;
  }

  static bool CorrValue(const RollFeature& f, const CorrState& s, double* r) {
    const std::int64_t n = static_cast<std::int64_t>(s.vals.size());
    if (n >= 2 && s.n_bad > 0) NotFinite(f);
    if (n < 2 || s.ndiff_a == 0 || s.ndiff_b == 0) return false;
    const double dn = static_cast<double>(n);
    const double caa = s.saa - s.sa * s.sa / dn, cbb = s.sbb - s.sb * s.sb / dn, cab = s.sab - s.sa * s.sb / dn;
    if (!(caa > 0) || !(cbb > 0)) return false;
    *r = cab / std::sqrt(caa * cbb);
    return std::isfinite(*r);
  }

  std::vector<RollFeature> f_;
  int num_inputs_;
  bool caller_orders_;
  std::vector<int> level_;
  int max_level_ = 0;
  bool has_cross_ = false;
  std::vector<std::vector<AggState>> agg_;
  std::vector<std::vector<LagState>> lag_;
  std::vector<std::vector<MomState>> mom_;
  std::vector<CorrState> corr_;
  // rows given but not yet finished
  std::vector<std::int64_t> pend_t_;
  std::vector<std::int32_t> pend_e_;
  std::vector<std::int64_t> pend_r_;
  std::vector<std::vector<double>> pend_in_;
  std::vector<std::vector<std::uint8_t>> pend_iv_;
  bool has_rid_ = false, seen_any_ = false;
  std::int64_t last_t_ = 0;
  std::int32_t last_e_ = 0;
};

RollingState* CreateRolling(std::vector<RollFeature> features, int num_inputs, bool caller_orders) {
  if (num_inputs < 0) throw InputError("num_inputs must be >= 0");
  return new RollingState(std::move(features), num_inputs, caller_orders);
}

RollResult ProcessRolling(RollingState& state, const RollBatch& batch, bool final, int num_threads) {
  return state.Process(batch, final, num_threads);
}

void DestroyRolling(RollingState* state) { delete state; }

}  // namespace kiln
