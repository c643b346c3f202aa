// CPU-vs-GPU parity and timing harness for kiln's GBDT (no N-API: the addon's own C++ code paths,
// gbdt::Train with TrainParams::device = kCpu / kCuda, and cuda_impl::PredictMargin).
//
//   benchmarks/gpu/build.sh            -> benchmarks/gpu/bin/kiln-gpu-harness
//   kiln-gpu-harness [--parity-rows N] [--rows N] [--cols C] [--trees T] [--leaves L]
//                    [--cpu-threads a,b] [--cpu-big-trees T] [--skip-big] [--profile] [--only NAME]
//
// Parity: several option sets on seeded data; each forest (with its bin mapper, metric history and
// best iteration) is serialised to bytes and compared; margins of CPU prediction vs GPU prediction.
// Timing: the big set (default 10M x 28 float32, 2% NaN, non-linear signal), binary objective,
// T trees of L leaves, wall clock of the whole Train() call (binning included) on the GPU and on
// the CPU at the listed thread counts; GPU batch prediction throughput (transfers included).
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "common/rng.h"
#include "kiln/gbdt.h"
#include "kiln/gpu.h"
#include "kiln/status.h"

using namespace kiln;
using Clock = std::chrono::steady_clock;

namespace {

double Secs(Clock::time_point a) { return std::chrono::duration<double>(Clock::now() - a).count(); }

struct Data {
  std::size_t rows = 0, cols = 0;
  std::vector<float> x;  // row-major
  std::vector<double> y_bin, y_reg, y_mc;
};

double Unit(std::uint64_t key, std::uint64_t c) { return rng::ToUnitDouble(rng::HashAt(key, c)); }

// Seeded data: uniform features in [-2, 2) with 2% NaN, column cols-1 a categorical code 0..11
// when cat is set; labels from a non-linear signal plus noise.
Data Make(std::size_t rows, std::size_t cols, std::uint64_t seed, bool cat) {
  Data d;
  d.rows = rows;
  d.cols = cols;
  d.x.resize(rows * cols);
  d.y_bin.resize(rows);
  d.y_reg.resize(rows);
  d.y_mc.resize(rows);
  const std::uint64_t key = rng::StreamKey(seed, 9001);
  const unsigned nt = std::max(1u, std::thread::hardware_concurrency());
  std::vector<std::thread> pool;
  for (unsigned t = 0; t < nt; ++t) {
    pool.emplace_back([&, t] {
      for (std::size_t r = t; r < rows; r += nt) {
        float* row = d.x.data() + r * cols;
        const std::uint64_t base = r * (cols + 4);
        for (std::size_t c = 0; c < cols; ++c) {
          const double u = Unit(key, base + c);
          const double nan_draw = Unit(key ^ 0x5555, base + c);
          row[c] = nan_draw < 0.02 ? NAN : static_cast<float>(u * 4 - 2);
        }
        if (cat) row[cols - 1] = static_cast<float>(std::floor(Unit(key, base + cols) * 12));
        auto v = [&](std::size_t c) { return std::isnan(row[c]) ? 0.0 : static_cast<double>(row[c]); };
        double f = std::sin(2 * v(0)) + v(1) * v(2) + 0.5 * v(3) * v(3) - 0.7 * std::fabs(v(4)) + (v(5) > 0.5 ? 0.8 : 0.0);
        if (cat) f += 0.4 * (static_cast<int>(v(cols - 1)) % 3);
        const double noise = Unit(key, base + cols + 1) - 0.5;
        d.y_reg[r] = f + noise;
        d.y_bin[r] = f + 1.5 * noise > 0.3 ? 1 : 0;
        d.y_mc[r] = f < -0.3 ? 0 : (f < 0.7 ? 1 : 2);
      }
    });
  }
  for (auto& th : pool) th.join();
  return d;
}

template <class T>
void Put(std::string* out, const std::vector<T>& v) {
  const std::uint64_t n = v.size();
  out->append(reinterpret_cast<const char*>(&n), sizeof(n));
  if (n) out->append(reinterpret_cast<const char*>(v.data()), n * sizeof(T));
}

// Every field of the result that the saved model is made of, as bytes.
std::string Serialize(const gbdt::TrainResult& r) {
  std::string s;
  const gbdt::Forest& f = r.forest;
  s.append(reinterpret_cast<const char*>(&f.num_features), sizeof(int));
  s.append(reinterpret_cast<const char*>(&f.trees_per_iteration), sizeof(int));
  Put(&s, f.base_score);
  Put(&s, f.node_offset);
  Put(&s, f.leaf_offset);
  Put(&s, f.cat_offset);
  Put(&s, f.split_feature);
  Put(&s, f.threshold);
  Put(&s, f.decision_type);
  Put(&s, f.left_child);
  Put(&s, f.right_child);
  Put(&s, f.leaf_value);
  Put(&s, f.cat_bits);
  Put(&s, f.split_gain);
  Put(&s, f.internal_count);
  Put(&s, f.leaf_count);
  Put(&s, r.mapper.num_bins);
  Put(&s, r.mapper.thresholds);
  Put(&s, r.mapper.offsets);
  Put(&s, r.train_metric);
  Put(&s, r.valid_metric);
  s.append(reinterpret_cast<const char*>(&r.best_iteration), sizeof(int));
  s.push_back(r.early_stopped ? 1 : 0);
  return s;
}

std::uint64_t Fnv(const std::string& s) {
  std::uint64_t h = 1469598103934665603ULL;
  for (unsigned char c : s) h = (h ^ c) * 1099511628211ULL;
  return h;
}

// Where two forests first differ (tree structure first, then values).
std::string Diff(const gbdt::TrainResult& a, const gbdt::TrainResult& b) {
  const gbdt::Forest &fa = a.forest, &fb = b.forest;
  if (fa.num_trees() != fb.num_trees()) return "tree count " + std::to_string(fa.num_trees()) + " vs " + std::to_string(fb.num_trees());
  for (std::size_t t = 0; t < fa.num_trees(); ++t) {
    for (int n = fa.node_offset[t]; n < fa.node_offset[t + 1]; ++n) {
      if (n >= static_cast<int>(fb.split_feature.size()) || fa.split_feature[n] != fb.split_feature[n] ||
          fa.threshold[n] != fb.threshold[n] || fa.left_child[n] != fb.left_child[n] ||
          fa.decision_type[n] != fb.decision_type[n]) {
        return "structure differs in tree " + std::to_string(t) + " node " + std::to_string(n - fa.node_offset[t]);
      }
    }
  }
  auto count_diff = [](const auto& x, const auto& y, std::size_t* first) {
    std::size_t n = 0;
    *first = SIZE_MAX;
    for (std::size_t i = 0; i < x.size() && i < y.size(); ++i) {
      if (std::memcmp(&x[i], &y[i], sizeof(x[i])) != 0) {
        if (*first == SIZE_MAX) *first = i;
        ++n;
      }
    }
    return n + (x.size() > y.size() ? x.size() - y.size() : y.size() - x.size());
  };
  double md = 0;
  for (std::size_t i = 0; i < fa.leaf_value.size() && i < fb.leaf_value.size(); ++i) md = std::max(md, std::fabs(fa.leaf_value[i] - fb.leaf_value[i]));
  std::size_t f1, f2, f3, f4;
  char buf[512];
  std::snprintf(buf, sizeof(buf),
                "same structure; leaf values differing %zu (first at leaf %zu, max |diff| %.3g); split gains differing %zu (first %zu); "
                "leaf counts differing %zu; train metric entries differing %zu (first %zu)",
                count_diff(fa.leaf_value, fb.leaf_value, &f1), f1, md, count_diff(fa.split_gain, fb.split_gain, &f2), f2,
                count_diff(fa.leaf_count, fb.leaf_count, &f3), count_diff(a.train_metric, b.train_metric, &f4), f4);
  std::string s = buf;
  if (a.valid_metric != b.valid_metric) s += "; valid metric differs";
  if (a.best_iteration != b.best_iteration) s += "; best iteration differs";
  if (a.mapper.thresholds != b.mapper.thresholds) s += "; bin mappers differ";
  return s;
}

MatrixView View(const Data& d, std::size_t rows) {
  MatrixView m;
  m.data = d.x.data();
  m.dtype = DType::kFloat32;
  m.rows = rows;
  m.cols = d.cols;
  m.layout = Layout::kRow;
  return m;
}

gbdt::TrainResult TrainOn(const Data& d, const gbdt::TrainParams& p, const std::vector<double>& y, gbdt::Device dev,
                          int threads, double* secs, bool valid) {
  gbdt::TrainParams q = p;
  q.device = dev;
  q.num_threads = threads;
  gbdt::TrainInput in;
  const std::size_t train_rows = valid ? d.rows * 4 / 5 : d.rows;
  in.x = View(d, train_rows);
  in.label = y.data();
  if (valid) {
    in.valid_x = in.x;
    in.valid_x.data = d.x.data() + train_rows * d.cols;
    in.valid_x.rows = d.rows - train_rows;
    in.valid_label = y.data() + train_rows;
  }
  const auto t0 = Clock::now();
  gbdt::TrainResult r = gbdt::Train(in, q, nullptr, nullptr);
  *secs = Secs(t0);
  return r;
}

std::vector<std::string> Split(const std::string& s) {
  std::vector<std::string> out;
  std::size_t a = 0;
  while (a <= s.size()) {
    const std::size_t b = s.find(',', a);
    out.push_back(s.substr(a, b == std::string::npos ? std::string::npos : b - a));
    if (b == std::string::npos) break;
    a = b + 1;
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  std::size_t parity_rows = 200000, rows = 10000000, cols = 28;
  int trees = 100, leaves = 63, cpu_big_trees = 100;
  std::string cpu_threads = "16,2";
  bool skip_big = false;
  std::string only;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&]() { return std::string(i + 1 < argc ? argv[++i] : ""); };
    if (a == "--parity-rows") parity_rows = std::stoull(next());
    else if (a == "--rows") rows = std::stoull(next());
    else if (a == "--cols") cols = std::stoull(next());
    else if (a == "--trees") trees = std::stoi(next());
    else if (a == "--leaves") leaves = std::stoi(next());
    else if (a == "--cpu-threads") cpu_threads = next();
    else if (a == "--cpu-big-trees") cpu_big_trees = std::stoi(next());
    else if (a == "--skip-big") skip_big = true;
    else if (a == "--only") only = next();  // parity cases whose name contains this
    else if (a == "--profile") setenv("KILN_GBDT_PROFILE", "1", 1);  // phase times of every Train() on stderr
    else {
      std::fprintf(stderr, "unknown argument %s\n", a.c_str());
      return 2;
    }
  }
  const int hw = static_cast<int>(std::thread::hardware_concurrency());
  std::printf("kiln GPU harness: %d host threads\n", hw);
  const std::vector<GpuInfo> gpus = ListGpus();
  if (gpus.empty()) {
    std::printf("no CUDA GPU visible\n");
    return 1;
  }
  for (const GpuInfo& g : gpus) {
    std::printf("GPU: %s, %.1f GiB, compute capability %d.%d\n", g.name.c_str(), g.memory_bytes / 1073741824.0, g.major, g.minor);
  }
  int failures = 0;
  try {
    // ---- Parity on option sets --------------------------------------------------------------
    const Data pd = Make(parity_rows, cols, 7, false);
    const Data pc = Make(parity_rows, cols, 8, true);
    struct Case {
      const char* name;
      gbdt::TrainParams p;
      const Data* d;
      int label;  // 0 binary, 1 regression, 2 multiclass
      bool valid;
    };
    std::vector<Case> cases;
    auto base = [&]() {
      gbdt::TrainParams p;
      p.num_iterations = 20;
      p.num_leaves = 31;
      p.seed = 3;
      return p;
    };
    {
      gbdt::TrainParams p = base();
      p.num_leaves = 63;
      cases.push_back({"binary 63 leaves", p, &pd, 0, false});
    }
    {
      gbdt::TrainParams p = base();
      p.bagging_fraction = 0.7;
      p.bagging_freq = 2;
      p.feature_fraction = 0.8;
      p.lambda_l2 = 1;
      cases.push_back({"binary bagging+feature fraction", p, &pd, 0, false});
    }
    {
      gbdt::TrainParams p = base();
      p.objective = gbdt::Objective::kRegression;
      p.max_depth = 6;
      p.monotone.assign(cols, 0);
      p.monotone[1] = 1;
      cases.push_back({"regression depth 6 + monotone", p, &pd, 1, false});
    }
    {
      gbdt::TrainParams p = base();
      p.objective = gbdt::Objective::kHuber;
      cases.push_back({"huber", p, &pd, 1, false});
    }
    {
      gbdt::TrainParams p = base();
      p.objective = gbdt::Objective::kMulticlass;
      p.num_class = 3;
      p.num_iterations = 10;
      cases.push_back({"multiclass 3", p, &pd, 2, false});
    }
    {
      gbdt::TrainParams p = base();
      p.num_categories.assign(cols, 0);
      p.num_categories[cols - 1] = 12;
      p.early_stopping_rounds = 5;
      p.num_iterations = 40;
      cases.push_back({"binary categorical + valid + early stop", p, &pc, 0, true});
    }
    {
      gbdt::TrainParams p = base();
      p.metric = 1;
      p.num_iterations = 15;
      cases.push_back({"binary auc valid", p, &pd, 0, true});
    }
    std::printf("\n== parity: %zu rows x %zu cols, CPU (%d threads) vs GPU ==\n", parity_rows, cols, hw);
    for (const Case& c : cases) {
      if (!only.empty() && std::string(c.name).find(only) == std::string::npos) continue;
      const std::vector<double>& y = c.label == 0 ? c.d->y_bin : c.label == 1 ? c.d->y_reg : c.d->y_mc;
      double tc = 0, tg = 0;
      const gbdt::TrainResult rc = TrainOn(*c.d, c.p, y, gbdt::Device::kCpu, hw, &tc, c.valid);
      const gbdt::TrainResult rg = TrainOn(*c.d, c.p, y, gbdt::Device::kCuda, hw, &tg, c.valid);
      const std::string sc = Serialize(rc), sg = Serialize(rg);
      const bool same = sc == sg;
      // Prediction parity: CPU Predictor vs GPU kernel on the training rows.
      gbdt::Predictor pred(rc.forest);
      const int k = rc.forest.trees_per_iteration;
      const std::size_t n = std::min<std::size_t>(c.d->rows, 100000);
      std::vector<double> m_cpu(n * k), m_gpu(n * k);
      pred.PredictMargin(View(*c.d, n), pred.num_trees(), hw, m_cpu.data());
      gbdt::cuda_impl::PredictMargin(rc.forest, View(*c.d, n), pred.num_trees(), m_gpu.data());
      double pmax = 0;
      for (std::size_t i = 0; i < m_cpu.size(); ++i) pmax = std::max(pmax, std::fabs(m_cpu[i] - m_gpu[i]));
      std::printf("%-42s %s  trees %zu  hash cpu %016llx gpu %016llx  predict max|diff| %.3g  (cpu %.2fs, gpu %.2fs)\n", c.name,
                  same ? "IDENTICAL" : "DIFFERENT", rc.forest.num_trees(), static_cast<unsigned long long>(Fnv(sc)),
                  static_cast<unsigned long long>(Fnv(sg)), pmax, tc, tg);
      if (!same) {
        std::printf("    %s\n", Diff(rc, rg).c_str());
        ++failures;
      }
      if (pmax > 1e-6) ++failures;
    }
    if (skip_big) return failures == 0 ? 0 : 3;

    // ---- Timing on the big set ----------------------------------------------------------------
    std::printf("\n== timing: %zu x %zu float32 (2%% NaN), binary, %d trees, %d leaves ==\n", rows, cols, trees, leaves);
    const auto tgen = Clock::now();
    const Data big = Make(rows, cols, 42, false);
    std::printf("data generated in %.2f s\n", Secs(tgen));
    gbdt::TrainParams p;
    p.num_iterations = trees;
    p.num_leaves = leaves;
    p.seed = 1;
    p.min_data_in_leaf = 20;
    double tg1 = 0, tg2 = 0;
    const gbdt::TrainResult g1 = TrainOn(big, p, big.y_bin, gbdt::Device::kCuda, hw, &tg1, false);
    const gbdt::TrainResult g2 = TrainOn(big, p, big.y_bin, gbdt::Device::kCuda, hw, &tg2, false);
    std::printf("GPU train (whole Train(): binning on %d host threads + boosting): run 1 %.3f s, run 2 %.3f s; repeat identical: %s\n",
                hw, tg1, tg2, Serialize(g1) == Serialize(g2) ? "yes" : "NO");
    std::printf("GPU final train logloss %.6f\n", g2.train_metric.empty() ? NAN : g2.train_metric.back());
    // Binning alone (the host part of both devices): a zero-iteration run.
    {
      gbdt::TrainParams p0 = p;
      p0.num_iterations = 0;
      double tb = 0;
      TrainOn(big, p0, big.y_bin, gbdt::Device::kCuda, hw, &tb, false);
      std::printf("of which setup (binning %d threads + upload, 0 trees): %.3f s -> boosting %.3f s (%.1f ms/tree)\n", hw, tb,
                  tg2 - tb, (tg2 - tb) * 1000 / trees);
    }
    for (const std::string& ts : Split(cpu_threads)) {
      if (ts.empty()) continue;
      const int th = std::stoi(ts);
      gbdt::TrainParams pc = p;
      const bool full = th >= 16 || cpu_big_trees >= trees;
      pc.num_iterations = full ? trees : cpu_big_trees;
      double t = 0;
      const gbdt::TrainResult rc = TrainOn(big, pc, big.y_bin, gbdt::Device::kCpu, th, &t, false);
      if (full) {
        const bool same = Serialize(rc) == Serialize(g2);
        std::printf("CPU train %d threads: %.3f s (%d trees); model vs GPU: %s\n", th, t, pc.num_iterations,
                    same ? "IDENTICAL" : ("DIFFERENT: " + Diff(rc, g2)).c_str());
        if (!same) ++failures;
      } else {
        std::printf("CPU train %d threads: %.3f s for %d trees (%.3f s per tree)\n", th, t, pc.num_iterations, t / pc.num_iterations);
      }
    }
    // ---- Batch prediction throughput ----------------------------------------------------------
    gbdt::Predictor pred(g2.forest);
    std::vector<double> out_gpu(rows), out_cpu(rows);
    const MatrixView m = View(big, rows);
    gbdt::cuda_impl::PredictMargin(g2.forest, m, pred.num_trees(), out_gpu.data());  // warm-up
    const auto tp = Clock::now();
    gbdt::cuda_impl::PredictMargin(g2.forest, m, pred.num_trees(), out_gpu.data());
    const double tpg = Secs(tp);
    const auto tq = Clock::now();
    pred.PredictMargin(m, pred.num_trees(), hw, out_cpu.data());
    const double tpc = Secs(tq);
    double md = 0;
    for (std::size_t i = 0; i < rows; ++i) md = std::max(md, std::fabs(out_gpu[i] - out_cpu[i]));
    std::printf("predict %zu rows x %d trees: GPU %.3f s = %.3g rows/s (host->device copy of the float32 input included); "
                "CPU %d threads %.3f s = %.3g rows/s; max|diff| %.3g\n",
                rows, pred.num_trees(), tpg, rows / tpg, hw, tpc, rows / tpc, md);
    if (md > 1e-6) ++failures;
  } catch (const Error& e) {
    std::printf("FAILED: %s: %s\n", e.code().c_str(), e.what());
    return 4;
  }
  std::printf("\n%s\n", failures == 0 ? "ALL PARITY CHECKS PASSED" : "PARITY FAILURES");
  return failures == 0 ? 0 : 3;
}
