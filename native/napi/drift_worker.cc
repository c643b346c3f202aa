// JS entry points of the drift kernels: driftNumeric, driftSort, driftBinCounts (async,
// PromiseWorker) and driftCountsSync, ksPValueSync, kolmogorovSfSync, chiSquareSfSync (sync).
// Column arrays are borrowed (Keep()) until the promise settles; with mutateInputs the kernel
// sorts Float64 columns in place, leaving their contents unspecified.
#include <napi.h>

#include <string>
#include <vector>

#include "kiln/drift.h"
#include "kiln/thread_pool.h"
#include "napi/convert.h"
#include "napi/errors.h"
#include "napi/promise_worker.h"

namespace kiln::napi {
namespace {

bool GetBool(Napi::Env env, Napi::Object o, const std::string& owner, const char* key) {
  Napi::Value v = GetRequired(env, o, owner, key);
  if (!v.IsBoolean()) ThrowInput(env, owner + "." + key + " must be a boolean (got " + DescribeType(v) + ")");
  return v.As<Napi::Boolean>().Value();
}

double GetNumber(Napi::Env env, Napi::Object o, const std::string& owner, const char* key) {
  Napi::Value v = GetRequired(env, o, owner, key);
  if (!v.IsNumber()) ThrowInput(env, owner + "." + key + " must be a number (got " + DescribeType(v) + ")");
  return v.As<Napi::Number>().DoubleValue();
}

// An Array of Float32Array / Float64Array, borrowed; `keep` collects the arrays to pin.
std::vector<DriftColumn> ReadColumns(Napi::Env env, Napi::Value v, const std::string& what,
                                     bool mutate, std::vector<Napi::Object>* keep) {
  if (!v.IsArray()) ThrowInput(env, what + " must be an Array of Float32Array/Float64Array (got " + DescribeType(v) + ")");
  Napi::Array arr = v.As<Napi::Array>();
  std::vector<DriftColumn> cols(arr.Length());
  for (std::uint32_t i = 0; i < arr.Length(); ++i) {
    FloatArray fa = AsFloatArray(env, arr.Get(i), what + "[" + std::to_string(i) + "]");
    cols[i].data = fa.data;
    cols[i].dtype = fa.dtype;
    cols[i].size = fa.length;
    cols[i].mutable_data = mutate ? const_cast<void*>(fa.data) : nullptr;
    keep->push_back(fa.array);
  }
  return cols;
}

Napi::Float64Array NewF64(Napi::Env env, std::size_t n) { return Napi::Float64Array::New(env, n); }

class DriftNumericWorker final : public PromiseWorker {
 public:
  DriftNumericWorker(Napi::Env env, std::vector<Napi::Object> keep, std::vector<DriftColumn> ref,
                     std::vector<DriftColumn> cur, const DriftParams& p)
      : PromiseWorker(env, "kiln.driftNumeric"), ref_(std::move(ref)), cur_(std::move(cur)), params_(p) {
    for (auto& o : keep) Keep(o);
  }

 private:
  void Compute() override { results_ = CompareNumeric(ref_, cur_, params_); }

  Napi::Value Result(Napi::Env env) override {
    const std::size_t F = results_.size();
    Napi::Object out = Napi::Object::New(env);
    auto column = [&](const char* name, auto get) {
      Napi::Float64Array a = NewF64(env, F);
      for (std::size_t f = 0; f < F; ++f) a[f] = get(results_[f]);
      out.Set(name, a);
    };
    column("refCount", [](const NumericDrift& r) { return static_cast<double>(r.ref_count); });
    column("curCount", [](const NumericDrift& r) { return static_cast<double>(r.cur_count); });
    column("refMissing", [](const NumericDrift& r) { return static_cast<double>(r.ref_missing); });
    column("curMissing", [](const NumericDrift& r) { return static_cast<double>(r.cur_missing); });
    column("ksStatistic", [](const NumericDrift& r) { return r.ks_statistic; });
    column("ksPValue", [](const NumericDrift& r) { return r.ks_p_value; });
    column("wasserstein", [](const NumericDrift& r) { return r.wasserstein; });
    column("psi", [](const NumericDrift& r) { return r.binned.psi; });
    column("kl", [](const NumericDrift& r) { return r.binned.kl; });
    column("js", [](const NumericDrift& r) { return r.binned.js; });
    column("chi2", [](const NumericDrift& r) { return r.binned.chi2; });
    column("chi2PValue", [](const NumericDrift& r) { return r.binned.chi2_p_value; });
    column("chi2Dof", [](const NumericDrift& r) { return static_cast<double>(r.binned.chi2_dof); });
    column("cramersV", [](const NumericDrift& r) { return r.binned.cramers_v; });
    std::size_t ne = 0, nc = 0;
    for (const auto& r : results_) {
      ne += r.edges.size();
      nc += r.ref_counts.size();
    }
    Napi::Float64Array edges = NewF64(env, ne), rc = NewF64(env, nc), cc = NewF64(env, nc);
    Napi::Int32Array eo = Napi::Int32Array::New(env, F + 1), co = Napi::Int32Array::New(env, F + 1);
    std::size_t e = 0, c = 0;
    eo[0] = 0;
    co[0] = 0;
    for (std::size_t f = 0; f < F; ++f) {
      const auto& r = results_[f];
      for (double v : r.edges) edges[e++] = v;
      for (std::size_t k = 0; k < r.ref_counts.size(); ++k, ++c) {
        rc[c] = r.ref_counts[k];
        cc[c] = r.cur_counts[k];
      }
      eo[f + 1] = static_cast<std::int32_t>(e);
      co[f + 1] = static_cast<std::int32_t>(c);
    }
    out.Set("edges", edges);
    out.Set("edgeOffsets", eo);
    out.Set("refCounts", rc);
    out.Set("curCounts", cc);
    out.Set("countOffsets", co);
    return out;
  }

  std::vector<DriftColumn> ref_, cur_;
  DriftParams params_;
  std::vector<NumericDrift> results_;
};

class DriftSortWorker final : public PromiseWorker {
 public:
  DriftSortWorker(Napi::Env env, std::vector<Napi::Object> keep, std::vector<DriftColumn> cols, int threads)
      : PromiseWorker(env, "kiln.driftSort"), cols_(std::move(cols)), threads_(threads) {
    for (auto& o : keep) Keep(o);
  }

 private:
  void Compute() override { sorted_ = SortColumns(cols_, threads_); }
  Napi::Value Result(Napi::Env env) override {
    Napi::Array out = Napi::Array::New(env, sorted_.size());
    for (std::size_t f = 0; f < sorted_.size(); ++f) out.Set(static_cast<std::uint32_t>(f), CopyToTypedArray(env, sorted_[f]));
    return out;
  }
  std::vector<DriftColumn> cols_;
  int threads_;
  std::vector<std::vector<double>> sorted_;
};

class DriftBinCountsWorker final : public PromiseWorker {
 public:
  DriftBinCountsWorker(Napi::Env env, std::vector<Napi::Object> keep, std::vector<DriftColumn> cols,
                       std::vector<std::vector<double>> edges, int threads)
      : PromiseWorker(env, "kiln.driftBinCounts"), cols_(std::move(cols)), edges_(std::move(edges)), threads_(threads) {
    for (auto& o : keep) Keep(o);
  }

 private:
  void Compute() override { counts_ = BinCounts(cols_, edges_, threads_); }
  Napi::Value Result(Napi::Env env) override {
    std::size_t total = 0;
    for (const auto& c : counts_) total += c.size();
    Napi::Float64Array counts = NewF64(env, total);
    Napi::Int32Array offsets = Napi::Int32Array::New(env, counts_.size() + 1);
    std::size_t k = 0;
    offsets[0] = 0;
    for (std::size_t f = 0; f < counts_.size(); ++f) {
      for (double v : counts_[f]) counts[k++] = v;
      offsets[f + 1] = static_cast<std::int32_t>(k);
    }
    Napi::Object out = Napi::Object::New(env);
    out.Set("counts", counts);
    out.Set("offsets", offsets);
    return out;
  }
  std::vector<DriftColumn> cols_;
  std::vector<std::vector<double>> edges_;
  int threads_;
  std::vector<std::vector<double>> counts_;
};

// Splits a concatenated Float64Array by Int32Array offsets (F + 1 entries, validated).
std::vector<std::vector<double>> SplitByOffsets(Napi::Env env, Span<const double> values,
                                                Span<const std::int32_t> offsets, std::size_t parts,
                                                const std::string& what) {
  if (offsets.size != parts + 1) ThrowInput(env, what + " offsets must have " + std::to_string(parts + 1) + " entries");
  if (offsets.data[0] != 0 || static_cast<std::size_t>(offsets.data[parts]) != values.size) {
    ThrowInput(env, what + " offsets must start at 0 and end at the values length");
  }
  std::vector<std::vector<double>> out(parts);
  for (std::size_t f = 0; f < parts; ++f) {
    if (offsets.data[f + 1] < offsets.data[f]) ThrowInput(env, what + " offsets must be non-decreasing");
    out[f].assign(values.data + offsets.data[f], values.data + offsets.data[f + 1]);
  }
  return out;
}

}  // namespace

// JS: driftNumeric(ref[], cur[], {nBins, epsilon, wasserstein, referenceSorted, mutateInputs, numThreads})
Napi::Value DriftNumericJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return Guarded(env, [&]() -> Napi::Value {
    Napi::Object opts = AsObject(env, info[2], "options");
    DriftParams p;
    p.n_bins = static_cast<int>(GetInteger(env, opts, "options", "nBins", 2, kMaxDriftBins));
    p.epsilon = GetNumber(env, opts, "options", "epsilon");
    if (!(p.epsilon > 0 && p.epsilon < 1)) ThrowInput(env, "options.epsilon must be in (0, 1)");
    p.wasserstein = GetBool(env, opts, "options", "wasserstein");
    p.reference_sorted = GetBool(env, opts, "options", "referenceSorted");
    const bool mutate = GetBool(env, opts, "options", "mutateInputs");
    p.num_threads = static_cast<int>(GetInteger(env, opts, "options", "numThreads", 0, kMaxThreads));
    std::vector<Napi::Object> keep;
    std::vector<DriftColumn> ref = ReadColumns(env, info[0], "reference", mutate && !p.reference_sorted, &keep);
    std::vector<DriftColumn> cur = ReadColumns(env, info[1], "current", mutate, &keep);
    if (ref.size() != cur.size()) {
      ThrowInput(env, "reference has " + std::to_string(ref.size()) + " columns but current has " + std::to_string(cur.size()));
    }
    auto* worker = new DriftNumericWorker(env, std::move(keep), std::move(ref), std::move(cur), p);
    return worker->Start();
  });
}

// JS: driftSort(columns[], numThreads) -> Promise<Float64Array[]> (non-missing values, ascending)
Napi::Value DriftSortJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return Guarded(env, [&]() -> Napi::Value {
    if (!info[1].IsNumber()) ThrowInput(env, "numThreads must be a number");
    const int threads = info[1].As<Napi::Number>().Int32Value();
    if (threads < 0 || threads > kMaxThreads) ThrowInput(env, "numThreads must be in [0, 256]");
    std::vector<Napi::Object> keep;
    std::vector<DriftColumn> cols = ReadColumns(env, info[0], "columns", false, &keep);
    auto* worker = new DriftSortWorker(env, std::move(keep), std::move(cols), threads);
    return worker->Start();
  });
}

// JS: driftBinCounts(columns[], edges: Float64Array, edgeOffsets: Int32Array, numThreads)
//   -> Promise<{counts, offsets}>; column f has edges_f + 1 bins then its missing count.
Napi::Value DriftBinCountsJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return Guarded(env, [&]() -> Napi::Value {
    if (!info[3].IsNumber()) ThrowInput(env, "numThreads must be a number");
    const int threads = info[3].As<Napi::Number>().Int32Value();
    if (threads < 0 || threads > kMaxThreads) ThrowInput(env, "numThreads must be in [0, 256]");
    auto edges = AsTypedSpan<double>(env, info[1], napi_float64_array, "Float64Array", "edges");
    auto offsets = AsTypedSpan<std::int32_t>(env, info[2], napi_int32_array, "Int32Array", "edgeOffsets");
    std::vector<Napi::Object> keep;
    std::vector<DriftColumn> cols = ReadColumns(env, info[0], "columns", false, &keep);
    std::vector<std::vector<double>> split = SplitByOffsets(env, edges, offsets, cols.size(), "edge");
    auto* worker = new DriftBinCountsWorker(env, std::move(keep), std::move(cols), std::move(split), threads);
    return worker->Start();
  });
}

// JS: driftCountsSync(refCounts, curCounts, offsets, epsilon) -> {psi, kl, js, chi2, chi2PValue, chi2Dof, cramersV}
Napi::Value DriftCountsSyncJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return Guarded(env, [&]() -> Napi::Value {
    auto rc = AsTypedSpan<double>(env, info[0], napi_float64_array, "Float64Array", "refCounts");
    auto cc = AsTypedSpan<double>(env, info[1], napi_float64_array, "Float64Array", "curCounts");
    auto off = AsTypedSpan<std::int32_t>(env, info[2], napi_int32_array, "Int32Array", "offsets");
    if (!info[3].IsNumber()) ThrowInput(env, "epsilon must be a number");
    const double eps = info[3].As<Napi::Number>().DoubleValue();
    if (!(eps > 0 && eps < 1)) ThrowInput(env, "epsilon must be in (0, 1)");
    if (rc.size != cc.size) ThrowInput(env, "refCounts and curCounts must have the same length");
    if (off.size < 1) ThrowInput(env, "offsets must have at least one entry");
    const std::size_t F = off.size - 1;
    auto r = SplitByOffsets(env, rc, off, F, "count");
    auto c = SplitByOffsets(env, cc, off, F, "count");
    Napi::Object out = Napi::Object::New(env);
    Napi::Float64Array psi = NewF64(env, F), kl = NewF64(env, F), js = NewF64(env, F), chi = NewF64(env, F),
                       chip = NewF64(env, F), dof = NewF64(env, F), v = NewF64(env, F);
    for (std::size_t f = 0; f < F; ++f) {
      const BinnedStats s = CompareCounts(r[f].data(), c[f].data(), r[f].size(), eps);
      psi[f] = s.psi;
      kl[f] = s.kl;
      js[f] = s.js;
      chi[f] = s.chi2;
      chip[f] = s.chi2_p_value;
      dof[f] = s.chi2_dof;
      v[f] = s.cramers_v;
    }
    out.Set("psi", psi);
    out.Set("kl", kl);
    out.Set("js", js);
    out.Set("chi2", chi);
    out.Set("chi2PValue", chip);
    out.Set("chi2Dof", dof);
    out.Set("cramersV", v);
    return out;
  });
}

// JS: ksPValueSync(d, n1, n2) -> two-sided asymptotic p-value of ks_2samp.
Napi::Value KsPValueSyncJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return Guarded(env, [&]() -> Napi::Value {
    for (int i = 0; i < 3; ++i) if (!info[i].IsNumber()) ThrowInput(env, "ksPValueSync(d, n1, n2) takes three numbers");
    const double d = info[0].As<Napi::Number>().DoubleValue();
    const double n1 = info[1].As<Napi::Number>().DoubleValue(), n2 = info[2].As<Napi::Number>().DoubleValue();
    if (!(d >= 0 && d <= 1)) ThrowInput(env, "d must be in [0, 1]");
    if (!(n1 >= 1 && n2 >= 1 && n1 <= 9e15 && n2 <= 9e15)) ThrowInput(env, "n1 and n2 must be >= 1");
    return Napi::Number::New(env, KsTwoSamplePValue(d, static_cast<std::uint64_t>(n1), static_cast<std::uint64_t>(n2)));
  });
}

// JS: kolmogorovSfSync(n, x) -> SciPy kstwo.sf(x, n).
Napi::Value KolmogorovSfSyncJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return Guarded(env, [&]() -> Napi::Value {
    if (!info[0].IsNumber() || !info[1].IsNumber()) ThrowInput(env, "kolmogorovSfSync(n, x) takes two numbers");
    const double n = info[0].As<Napi::Number>().DoubleValue();
    if (!(n >= 1 && n <= 9e15) || n != static_cast<double>(static_cast<std::uint64_t>(n))) ThrowInput(env, "n must be an integer >= 1");
    return Napi::Number::New(env, KolmogorovSf(static_cast<std::uint64_t>(n), info[1].As<Napi::Number>().DoubleValue()));
  });
}

// JS: chiSquareSfSync(x, dof) -> chi2.sf(x, dof).
Napi::Value ChiSquareSfSyncJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return Guarded(env, [&]() -> Napi::Value {
    if (!info[0].IsNumber() || !info[1].IsNumber()) ThrowInput(env, "chiSquareSfSync(x, dof) takes two numbers");
    const double dof = info[1].As<Napi::Number>().DoubleValue();
    if (!(dof > 0)) ThrowInput(env, "dof must be > 0");
    return Napi::Number::New(env, ChiSquareSf(info[0].As<Napi::Number>().DoubleValue(), dof));
  });
}

}  // namespace kiln::napi
