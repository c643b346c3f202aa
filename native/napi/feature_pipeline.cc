// One-pass native feature build (napi/feature_pipeline.h). Three stages run at once: a reader
// thread drives DuckDB's input query and checks and numbers the rows, a kernel thread runs the
// rolling kernel on them, and the output statement (a COPY) pulls finished rows through a table
// function and encodes them. Bounded channels between the stages keep memory flat.
// It joins two kernel families (scan's DuckDB C API and the features kernel), which only the
// binding layer may do, so it lives here although it holds no N-API code.
#include "napi/feature_pipeline.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <exception>
#include <memory>
#include <mutex>
#include <thread>
#include <unordered_map>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

#include "kiln/scan.h"
#include "kiln/status.h"
#include "scan/duckdb_capi.h"

namespace kiln {
namespace {

namespace capi = scan::capi;

constexpr std::size_t kQueueDepth = 3;
constexpr char kFunctionName[] = "__kiln_feature_stream";

// Thrown by the producer at the first row out of (time, entity) order on the unordered pass.
struct NeedsSort {};

// Running moments around the first finite value (stable for the magnitudes features take).
struct StatsAccumulator {
  std::int64_t count = 0, missing = 0, finite = 0;
  double k = 0, s1 = 0, s2 = 0, min = 0, max = 0;

  void Add(const double* v, const std::uint8_t* valid, std::size_t n) {
    for (std::size_t i = 0; i < n; ++i) {
      if (!((valid[i >> 3] >> (i & 7)) & 1)) {
        ++missing;
        continue;
      }
      ++count;
      const double x = v[i];
      if (!std::isfinite(x)) continue;
      if (finite == 0) {
        k = min = max = x;
      } else {
        min = x < min ? x : min;
        max = x > max ? x : max;
      }
      ++finite;
      const double d = x - k;
      s1 += d;
      s2 += d * d;
    }
  }

  FeatureColumnStats Finish() const {
    FeatureColumnStats s;
    s.count = count;
    s.missing = missing;
    s.finite = finite;
    if (finite > 0) {
      const double n = static_cast<double>(finite);
      s.mean = k + s1 / n;
      s.m2 = std::max(0.0, s2 - s1 * s1 / n);
      s.min = min;
      s.max = max;
    }
    return s;
  }
};

// Owns a fresh in-memory database and the two connections of one attempt.
class Database {
 public:
  explicit Database(const capi::Api& api) : api_(api) {
    if (api_.open(nullptr, &db_) != capi::DuckDBSuccess) throw Error("E_IO", "DuckDB could not open an in-memory database");
    if (api_.connect(db_, &in_) != capi::DuckDBSuccess || api_.connect(db_, &out_) != capi::DuckDBSuccess) {
      Close();
      throw Error("E_IO", "DuckDB refused a connection");
    }
  }
  ~Database() { Close(); }
  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;

  capi::duckdb_connection in() const { return in_; }
  capi::duckdb_connection out() const { return out_; }

  // Runs a statement on the output connection; E_IO with DuckDB's message on failure.
  void Run(const std::string& sql) {
    capi::duckdb_result r{};
    const capi::duckdb_state st = api_.query(out_, sql.c_str(), &r);
    std::string why;
    if (st != capi::DuckDBSuccess) {
      const char* e = api_.result_error(&r);
      why = e ? e : "statement failed";
    }
    api_.destroy_result(&r);
    if (st != capi::DuckDBSuccess) throw Error("E_IO", why);
  }

 private:
  void Close() {
    if (in_ != nullptr) api_.disconnect(&in_);
    if (out_ != nullptr) api_.disconnect(&out_);
    if (db_ != nullptr) api_.close(&db_);
    in_ = out_ = nullptr;
    db_ = nullptr;
  }
  const capi::Api& api_;
  capi::duckdb_database db_ = nullptr;
  capi::duckdb_connection in_ = nullptr, out_ = nullptr;
};

// A bounded hand-off between two threads; Stop() wakes and refuses everyone, Close() ends input.
template <class T>
class Channel {
 public:
  explicit Channel(std::size_t capacity) : capacity_(capacity) {}
  // False when the channel was stopped (the item is dropped).
  bool Push(T item) {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [&] { return stopped_ || items_.size() < capacity_; });
    if (stopped_) return false;
    items_.push_back(std::move(item));
    cv_.notify_all();
    return true;
  }
  // False at the end (closed and drained) or when stopped.
  bool Pop(T* out) {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [&] { return stopped_ || closed_ || !items_.empty(); });
    if (stopped_ || items_.empty()) return false;
    *out = std::move(items_.front());
    items_.pop_front();
    cv_.notify_all();
    return true;
  }
  void Close() {
    std::lock_guard<std::mutex> lock(mu_);
    closed_ = true;
    cv_.notify_all();
  }
  void Stop() {
    std::lock_guard<std::mutex> lock(mu_);
    stopped_ = true;
    items_.clear();
    cv_.notify_all();
  }

 private:
  std::size_t capacity_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<T> items_;
  bool closed_ = false, stopped_ = false;
};

// Rows read from DuckDB, checked and numbered, waiting for the kernel.
struct InputBatch {
  std::vector<std::int64_t> t;
  std::vector<std::int32_t> e;
  std::vector<std::vector<double>> x;
  std::vector<std::vector<std::uint8_t>> xv;  // LSB validity bitmaps
};

// One attempt: a reader thread (DuckDB -> checked batches), a kernel thread (batches -> finished
// rows + statistics) and the table function's consumer side (finished rows -> output chunks).
class Attempt {
 public:
  Attempt(const FeaturePipelineSpec& spec, const capi::Api& api, const std::atomic<int>* cancel, bool ordered, std::string input_sql,
          const FeaturePipelineProgressFn& progress)
      : spec_(spec), api_(api), cancel_(cancel), ordered_(ordered), input_sql_(std::move(input_sql)), progress_(progress), inputs_(kQueueDepth), outputs_(kQueueDepth), stats_(spec.features.size()) {
    for (const std::string& name : spec_.cross_entities) Intern(name.data(), name.size());
    Report(true);
  }

  // Reader thread body.
  void Read(capi::duckdb_connection conn) {
    Guard([&] { ReadInput(conn); });
    inputs_.Close();
  }

  // Kernel thread body.
  void Compute() {
    Guard([&] { RunKernel(); });
    outputs_.Close();
  }

  // Stops both threads (they drop what they hold and return); failures after this are not kept.
  void Abandon() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      abandoned_ = true;
    }
    Stop();
  }

  // Fills one output chunk: full chunks until the last (so the Parquet writer's row groups, and
  // the file's bytes, depend only on the rows); 0 rows at the end. Throws when a stage failed.
  void Fill(capi::duckdb_data_chunk out) {
    if (cancelled()) throw Error("E_CANCELLED", "features: cancelled");
    std::size_t filled = 0;
    while (filled < vector_size_) {
      if (cur_ == nullptr || cur_pos_ == cur_->rows) {
        std::unique_ptr<RollResult> next;
        if (!outputs_.Pop(&next)) {
          std::lock_guard<std::mutex> lock(mu_);
          if (needs_sort_) throw Error(kErrInternal, "kiln: input out of order, restarting from the ordered query");
          if (error_) std::rethrow_exception(error_);
          if (cancelled()) throw Error("E_CANCELLED", "features: cancelled");
          break;
        }
        cur_ = std::move(next);
        cur_pos_ = 0;
        continue;
      }
      const std::size_t n = std::min(vector_size_ - filled, cur_->rows - cur_pos_);
      CopyRows(out, filled, *cur_, cur_pos_, n);
      filled += n;
      cur_pos_ += n;
    }
    api_.data_chunk_set_size(out, filled);
    written_ += static_cast<std::int64_t>(filled);
    Report(filled == 0);
  }

  bool needs_sort() {
    std::lock_guard<std::mutex> lock(mu_);
    return needs_sort_;
  }
  std::exception_ptr error() {
    std::lock_guard<std::mutex> lock(mu_);
    return error_;
  }
  void set_vector_size(std::size_t n) { vector_size_ = n; }
  const FeaturePipelineSpec& spec() const { return spec_; }

  FeaturePipelineResult Result() const {
    FeaturePipelineResult res;
    res.rows = rows_;
    res.entities = static_cast<std::int64_t>(names_.size());
    res.sorted_on_input = !ordered_;
    for (const StatsAccumulator& s : stats_) res.stats.push_back(s.Finish());
    return res;
  }

 private:
  // Tells progress_ the rows written so far: always when `now`, else at most every 200 ms.
  void Report(bool now) {
    if (!progress_) return;
    const auto t = std::chrono::steady_clock::now();
    if (!now && t < next_report_) return;
    next_report_ = t + std::chrono::milliseconds(200);
    progress_(FeaturePipelineProgress{ordered_ ? "stream sorted" : "stream", written_});
  }

  // Copies rows [pos, pos + n) of a kernel result into output rows [dst, dst + n).
  void CopyRows(capi::duckdb_data_chunk out, std::size_t dst, const RollResult& r, std::size_t pos, std::size_t n) {
    capi::idx_t col = 0;
    if (spec_.has_entity) {
      capi::duckdb_vector vec = api_.data_chunk_get_vector(out, col++);
      std::lock_guard<std::mutex> lock(names_mu_);
      for (std::size_t k = 0; k < n; ++k) {
        const std::int32_t e = r.entity[pos + k];
        if (e == null_id_) {
          SetInvalid(vec, dst + k);
        } else {
          const std::string& s = names_[static_cast<std::size_t>(e)];
          api_.vector_assign_string_element_len(vec, dst + k, s.data(), s.size());
        }
      }
    }
    auto* times = static_cast<std::int64_t*>(api_.vector_get_data(api_.data_chunk_get_vector(out, col++)));
    std::memcpy(times + dst, r.time.data() + pos, n * sizeof(std::int64_t));
    for (std::size_t f = 0; f < r.values.size(); ++f) {
      capi::duckdb_vector vec = api_.data_chunk_get_vector(out, col++);
      std::memcpy(static_cast<double*>(api_.vector_get_data(vec)) + dst, r.values[f].data() + pos, n * sizeof(double));
      const std::uint8_t* bm = r.valid[f].data();
      for (std::size_t k = 0; k < n; ++k) {
        const std::size_t i = pos + k;
        if ((i & 7) == 0 && k + 8 <= n && bm[i >> 3] == 0xFF) {
          k += 7;
          continue;
        }
        if (!((bm[i >> 3] >> (i & 7)) & 1)) SetInvalid(vec, dst + k);
      }
    }
  }

  void SetInvalid(capi::duckdb_vector vec, std::size_t row) {
    api_.vector_ensure_validity_writable(vec);
    api_.vector_get_validity(vec)[row >> 6] &= ~(1ULL << (row & 63));
  }

  bool cancelled() const { return cancel_ != nullptr && cancel_->load() != 0; }

  // Runs a thread body; the first failure is kept and stops the whole attempt.
  template <class Body>
  void Guard(Body body) {
    try {
      body();
      return;
    } catch (const NeedsSort&) {
      std::lock_guard<std::mutex> lock(mu_);
      needs_sort_ = true;
    } catch (...) {
      std::lock_guard<std::mutex> lock(mu_);
      if (!error_ && !needs_sort_ && !abandoned_) error_ = std::current_exception();
    }
    Stop();
  }

  void Stop() {
    inputs_.Stop();
    outputs_.Stop();
  }

  // Entity id of a name (ids follow first sight; the cross entities hold the first ids).
  std::int32_t Intern(const char* p, std::size_t len) {
    if (names_.size() <= 8) {
      for (std::size_t i = 0; i < names_.size(); ++i) {
        if (static_cast<std::int32_t>(i) != null_id_ && names_[i].size() == len && std::memcmp(names_[i].data(), p, len) == 0) return static_cast<std::int32_t>(i);
      }
    } else {
      key_.assign(p, len);
      auto it = ids_.find(key_);
      if (it != ids_.end()) return it->second;
    }
    const auto id = static_cast<std::int32_t>(names_.size());
    {
      std::lock_guard<std::mutex> lock(names_mu_);
      names_.emplace_back(p, len);
    }
    ids_.emplace(names_.back(), id);
    return id;
  }

  std::int32_t NullId() {
    if (null_id_ < 0) {
      std::lock_guard<std::mutex> lock(names_mu_);
      null_id_ = static_cast<std::int32_t>(names_.size());
      names_.emplace_back();
    }
    return null_id_;
  }

  // <0, 0, >0 as entity a sorts before, with, after b (bytes; the missing entity last).
  int CompareEntities(std::int32_t a, std::int32_t b) const {
    if (a == b) return 0;
    if (a == null_id_) return 1;
    if (b == null_id_) return -1;
    return names_[static_cast<std::size_t>(a)].compare(names_[static_cast<std::size_t>(b)]);
  }

  InputBatch NewBatch(std::size_t cap) const {
    InputBatch b;
    const std::size_t ni = static_cast<std::size_t>(spec_.num_inputs);
    b.t.reserve(cap);
    b.e.reserve(cap);
    b.x.resize(ni);
    b.xv.resize(ni);
    for (std::size_t c = 0; c < ni; ++c) {
      b.x[c].reserve(cap);
      b.xv[c].reserve(cap / 8 + 1);
    }
    return b;
  }

  void ReadInput(capi::duckdb_connection conn) {
    const std::string& sql = input_sql_;
    capi::duckdb_prepared_statement stmt = nullptr;
    if (api_.prepare(conn, sql.c_str(), &stmt) != capi::DuckDBSuccess) {
      const char* why = stmt ? api_.prepare_error(stmt) : nullptr;
      std::string message = why ? why : "cannot prepare the input query";
      api_.destroy_prepare(&stmt);
      throw Error("E_IO", message);
    }
    capi::duckdb_result result{};
    const capi::duckdb_state st = api_.execute_prepared_streaming(stmt, &result);
    api_.destroy_prepare(&stmt);
    struct ResultGuard {
      const capi::Api& api;
      capi::duckdb_result* r;
      ~ResultGuard() { api.destroy_result(r); }
    } guard{api_, &result};
    if (st != capi::DuckDBSuccess) {
      const char* why = api_.result_error(&result);
      throw Error("E_IO", why ? why : "the input query failed");
    }
    const std::size_t ni = static_cast<std::size_t>(spec_.num_inputs);
    const std::size_t first_input = spec_.has_entity ? 2 : 1;
    if (api_.column_count(&result) != first_input + ni) throw Error(kErrInternal, "feature pipeline: the input query has the wrong number of columns");
    if (api_.column_type(&result, 0) != capi::DUCKDB_TYPE_TIMESTAMP) throw Error(kErrInternal, "feature pipeline: __t is not a TIMESTAMP");
    if (spec_.has_entity && api_.column_type(&result, 1) != capi::DUCKDB_TYPE_VARCHAR) throw Error(kErrInternal, "feature pipeline: __e is not a VARCHAR");
    for (std::size_t c = 0; c < ni; ++c) {
      if (api_.column_type(&result, first_input + c) != capi::DUCKDB_TYPE_DOUBLE) throw Error(kErrInternal, "feature pipeline: an input is not a DOUBLE");
    }

    const std::size_t cap = static_cast<std::size_t>(std::max<std::int64_t>(1, spec_.batch_rows)) + vector_size_;
    InputBatch b = NewBatch(cap);
    bool any = false;
    std::int64_t last_t = 0;
    std::int32_t last_e = 0;
    for (;;) {
      if (cancelled()) throw Error("E_CANCELLED", "features: cancelled");
      capi::duckdb_data_chunk chunk = api_.fetch_chunk(result);
      if (chunk == nullptr) {
        const char* why = api_.result_error(&result);
        if (why != nullptr && why[0] != '\0') throw Error("E_IO", why);
        break;
      }
      struct ChunkGuard {
        const capi::Api& api;
        capi::duckdb_data_chunk c;
        ~ChunkGuard() { api.destroy_data_chunk(&c); }
      } chunk_guard{api_, chunk};
      const std::size_t n = static_cast<std::size_t>(api_.data_chunk_get_size(chunk));
      if (n == 0) break;
      capi::duckdb_vector tv = api_.data_chunk_get_vector(chunk, 0);
      const auto* times = static_cast<const std::int64_t*>(api_.vector_get_data(tv));
      const std::uint64_t* tmask = api_.vector_get_validity(tv);
      const capi::duckdb_string_t* strs = nullptr;
      const std::uint64_t* emask = nullptr;
      if (spec_.has_entity) {
        capi::duckdb_vector ev = api_.data_chunk_get_vector(chunk, 1);
        strs = static_cast<const capi::duckdb_string_t*>(api_.vector_get_data(ev));
        emask = api_.vector_get_validity(ev);
      }
      for (std::size_t i = 0; i < n; ++i) {
        if (tmask != nullptr && !((tmask[i >> 6] >> (i & 63)) & 1)) throw Error(kErrSeries, "rows: a row has no time");
        const std::int64_t ti = times[i];
        std::int32_t ei = 0;
        if (spec_.has_entity) {
          if (emask != nullptr && !((emask[i >> 6] >> (i & 63)) & 1)) {
            ei = NullId();
          } else {
            const capi::duckdb_string_t& s = strs[i];
            const std::uint32_t len = s.value.inlined.length;
            ei = Intern(len <= 12 ? s.value.inlined.inlined : s.value.pointer.ptr, len);
          }
        }
        if (any && (ti < last_t || (ti == last_t && ei != last_e && CompareEntities(last_e, ei) > 0))) {
          if (!ordered_) throw NeedsSort{};
          throw Error(kErrInternal, "feature pipeline: the ordered query returned rows out of order");
        }
        if (any && ti == last_t && ei == last_e) throw Error(kErrSeries, "rows: two rows share an entity and time");
        any = true;
        last_t = ti;
        last_e = ei;
        b.t.push_back(ti);
        b.e.push_back(ei);
      }
      const std::size_t base = b.t.size() - n;
      for (std::size_t c = 0; c < ni; ++c) {
        capi::duckdb_vector v = api_.data_chunk_get_vector(chunk, first_input + c);
        const auto* d = static_cast<const double*>(api_.vector_get_data(v));
        const std::uint64_t* m = api_.vector_get_validity(v);
        b.x[c].insert(b.x[c].end(), d, d + n);
        b.xv[c].resize((base + n + 7) / 8, 0);
        std::uint8_t* bits = b.xv[c].data();
        for (std::size_t i = 0; i < n; ++i) {
          if (m == nullptr || ((m[i >> 6] >> (i & 63)) & 1)) bits[(base + i) >> 3] |= static_cast<std::uint8_t>(1u << ((base + i) & 7));
        }
      }
      if (b.t.size() + vector_size_ > cap) {
        if (!inputs_.Push(std::move(b))) return;
        b = NewBatch(cap);
      }
    }
    if (!b.t.empty()) inputs_.Push(std::move(b));
  }

  void RunKernel() {
    std::unique_ptr<RollingState, void (*)(RollingState*)> state(CreateRolling(spec_.features, spec_.num_inputs, true), DestroyRolling);
    InputBatch b;
    bool more = true;
    while (more) {
      more = inputs_.Pop(&b);
      if (!more) {
        std::lock_guard<std::mutex> lock(mu_);
        if (error_ || needs_sort_ || cancelled()) return;
        b = InputBatch{};
        b.x.resize(static_cast<std::size_t>(spec_.num_inputs));
        b.xv.resize(static_cast<std::size_t>(spec_.num_inputs));
      }
      RollBatch rb;
      rb.rows = b.t.size();
      rb.time = b.t.data();
      rb.entity = b.e.data();
      for (std::size_t c = 0; c < b.x.size(); ++c) {
        rb.inputs.push_back(b.x[c].data());
        rb.input_valid.push_back(b.xv[c].data());
      }
      auto r = std::make_unique<RollResult>(ProcessRolling(*state, rb, !more, spec_.kernel_threads));
      if (r->rows == 0) continue;
      for (std::size_t f = 0; f < r->values.size(); ++f) stats_[f].Add(r->values[f].data(), r->valid[f].data(), r->rows);
      rows_ += static_cast<std::int64_t>(r->rows);
      if (!outputs_.Push(std::move(r))) return;
    }
  }

  const FeaturePipelineSpec& spec_;
  const capi::Api& api_;
  const std::atomic<int>* cancel_;
  const bool ordered_;
  const std::string input_sql_;
  const FeaturePipelineProgressFn& progress_;
  std::size_t vector_size_ = 2048;
  Channel<InputBatch> inputs_;
  Channel<std::unique_ptr<RollResult>> outputs_;

  // reader-owned (names_ also read by the consumer, under names_mu_)
  std::unordered_map<std::string, std::int32_t> ids_;
  std::string key_;
  std::int32_t null_id_ = -1;
  std::mutex names_mu_;
  std::vector<std::string> names_;

  // kernel-owned
  std::vector<StatsAccumulator> stats_;
  std::int64_t rows_ = 0;

  // failures
  std::mutex mu_;
  bool needs_sort_ = false, abandoned_ = false;
  std::exception_ptr error_;

  // consumer-owned
  std::unique_ptr<RollResult> cur_;
  std::size_t cur_pos_ = 0;
  std::int64_t written_ = 0;
  std::chrono::steady_clock::time_point next_report_;
};

const capi::Api* g_pipeline_api = nullptr;

void Bind(capi::duckdb_bind_info info) {
  const capi::Api& api = *g_pipeline_api;
  auto* a = static_cast<Attempt*>(api.bind_get_extra_info(info));
  const FeaturePipelineSpec& spec = a->spec();
  auto add = [&](const std::string& name, capi::duckdb_type type) {
    capi::duckdb_logical_type lt = api.create_logical_type(type);
    api.bind_add_result_column(info, name.c_str(), lt);
    api.destroy_logical_type(&lt);
  };
  if (spec.has_entity) add("__e", capi::DUCKDB_TYPE_VARCHAR);
  add("__t", capi::DUCKDB_TYPE_TIMESTAMP);
  for (std::size_t f = 0; f < spec.features.size(); ++f) add("__f" + std::to_string(f), capi::DUCKDB_TYPE_DOUBLE);
}

void Init(capi::duckdb_init_info info) { g_pipeline_api->init_set_max_threads(info, 1); }

void Function(capi::duckdb_function_info info, capi::duckdb_data_chunk out) {
  const capi::Api& api = *g_pipeline_api;
  auto* a = static_cast<Attempt*>(api.function_get_extra_info(info));
  try {
    a->Fill(out);
  } catch (const std::exception& e) {
    api.function_set_error(info, e.what());
  } catch (...) {
    api.function_set_error(info, "feature pipeline failed");
  }
}

std::string Replace(std::string s, const std::string& from, const std::string& to) {
  for (std::size_t p = s.find(from); p != std::string::npos; p = s.find(from, p + to.size())) s.replace(p, from.size(), to);
  return s;
}

// A SQL string literal.
std::string SqlString(const std::string& s) { return "'" + Replace(s, "'", "''") + "'"; }

// Runs one attempt; returns false when it must be redone from the ordered query.
bool RunAttempt(const FeaturePipelineSpec& spec, const capi::Api& api, const std::atomic<int>* cancel, bool ordered,
                const FeaturePipelineProgressFn& progress, FeaturePipelineResult* out) {
  Database db(api);
  for (const std::string& s : spec.settings) db.Run(s);
  std::string input = spec.input_sql;
  if (ordered) {
    if (spec.sorted_file.empty()) throw Error(kErrInternal, "feature pipeline: no file for the sorted input");
    db.Run("SET threads = " + std::to_string(std::max(1, spec.threads)));
    if (progress) progress(FeaturePipelineProgress{"sort", 0});
    const std::string sort = "COPY (" + spec.ordered_sql + ") TO " + SqlString(spec.sorted_file) + " (FORMAT parquet, COMPRESSION lz4)";
    for (const std::string& st : spec.sort_settings) db.Run(st);
    try {
      db.Run(sort);
    } catch (const Error& e) {
      // Out of memory under the sort's own settings: once more under the build's.
      if (spec.sort_settings.empty() || std::strstr(e.what(), "Out of Memory") == nullptr) throw;
      std::remove(spec.sorted_file.c_str());
      for (const std::string& st : spec.after_sort_settings) db.Run(st);
      db.Run(sort);
    }
    for (const std::string& st : spec.after_sort_settings) db.Run(st);
    input = "SELECT * FROM read_parquet(" + SqlString(spec.sorted_file) + ")";
  }
  db.Run("SET threads = " + std::to_string(std::max(1, spec.stream_threads)));
  Attempt attempt(spec, api, cancel, ordered, input, progress);
  attempt.set_vector_size(static_cast<std::size_t>(api.vector_size()));
  capi::duckdb_table_function fn = api.create_table_function();
  api.table_function_set_name(fn, kFunctionName);
  api.table_function_set_extra_info(fn, &attempt, nullptr);
  api.table_function_set_bind(fn, Bind);
  api.table_function_set_init(fn, Init);
  api.table_function_set_function(fn, Function);
  const capi::duckdb_state reg = api.register_table_function(db.out(), fn);
  api.destroy_table_function(&fn);
  if (reg != capi::DuckDBSuccess) throw Error("E_IO", "DuckDB refused the feature stream table function");

  std::thread reader(&Attempt::Read, &attempt, db.in());
  std::thread kernel(&Attempt::Compute, &attempt);
  std::string failure;
  try {
    db.Run(Replace(spec.output_sql, "{fn}", std::string(kFunctionName) + "()"));
  } catch (const Error& e) {
    failure = e.what();
  }
  attempt.Abandon();
  if (!failure.empty()) api.interrupt(db.in());
  reader.join();
  kernel.join();
  if (attempt.needs_sort()) return false;
  if (attempt.error()) std::rethrow_exception(attempt.error());
  if (!failure.empty() && cancel != nullptr && cancel->load() != 0) throw Error("E_CANCELLED", "features: cancelled");
  if (!failure.empty()) throw Error("E_IO", failure);
  *out = attempt.Result();
  return true;
}

}  // namespace

FeaturePipelineResult RunFeaturePipeline(const FeaturePipelineSpec& spec, const std::atomic<int>* cancel, const FeaturePipelineProgressFn& progress) {
  scan::LoadDuckDB(spec.library);
  const capi::Api& api = capi::LoadedApi();
  g_pipeline_api = &api;
  FeaturePipelineResult result;
  if (RunAttempt(spec, api, cancel, false, progress, &result)) return result;
  if (cancel != nullptr && cancel->load() != 0) throw Error("E_CANCELLED", "features: cancelled");
#if defined(__GLIBC__)
  // The first attempt's database is gone; hand its freed pages back before the sort allocates
  // (the allocator would otherwise keep them, and the process's peak would be both together).
  malloc_trim(0);
#endif
  struct RemoveSorted {
    const std::string& file;
    ~RemoveSorted() {
      if (!file.empty()) std::remove(file.c_str());
    }
  } remove_sorted{spec.sorted_file};
  if (!RunAttempt(spec, api, cancel, true, progress, &result)) throw Error(kErrInternal, "feature pipeline: the ordered query returned rows out of order");
  return result;
}

}  // namespace kiln
