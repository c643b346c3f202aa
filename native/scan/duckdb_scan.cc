#include "kiln/scan.h"

#include <dlfcn.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <deque>
#include <exception>
#include <thread>
#include <cstring>
#include <limits>
#include <mutex>

#include "duckdb_capi.h"
#include "kiln/status.h"

namespace kiln {
namespace scan {

namespace {

std::mutex g_mutex;
capi::Api g_api{};
void* g_library = nullptr;
capi::duckdb_database g_database = nullptr;
int g_threads = 0;

template <typename Fn>
void Resolve(void* lib, const char* name, Fn* out) {
  void* symbol = dlsym(lib, name);
  if (symbol == nullptr) throw Error("E_IO", std::string("libduckdb does not export ") + name);
  *out = reinterpret_cast<Fn>(symbol);
}

}  // namespace

size_t WidthOf(ColumnKind kind) {
  switch (kind) {
    case ColumnKind::kBool: return 1;
    case ColumnKind::kInt32: case ColumnKind::kFloat32: case ColumnKind::kDate32: return 4;
    case ColumnKind::kInt64: case ColumnKind::kFloat64: case ColumnKind::kTimestampUs: return 8;
    case ColumnKind::kUtf8: return 0;
  }
  return 0;
}

namespace {

capi::duckdb_type DuckTypeOf(ColumnKind kind) {
  switch (kind) {
    case ColumnKind::kBool: return capi::DUCKDB_TYPE_BOOLEAN;
    case ColumnKind::kInt32: return capi::DUCKDB_TYPE_INTEGER;
    case ColumnKind::kInt64: return capi::DUCKDB_TYPE_BIGINT;
    case ColumnKind::kFloat32: return capi::DUCKDB_TYPE_FLOAT;
    case ColumnKind::kFloat64: return capi::DUCKDB_TYPE_DOUBLE;
    case ColumnKind::kDate32: return capi::DUCKDB_TYPE_DATE;
    case ColumnKind::kTimestampUs: return capi::DUCKDB_TYPE_TIMESTAMP;
    case ColumnKind::kUtf8: return capi::DUCKDB_TYPE_VARCHAR;
  }
  return capi::DUCKDB_TYPE_VARCHAR;
}

// Value buffers returned by JS (when their ArrayBuffers are collected) wait here for reuse, so a
// long scan recycles a few warm buffers instead of faulting in fresh pages for every batch.
std::mutex g_pool_mutex;
std::vector<ByteBuffer> g_pool;
constexpr size_t kPoolMaxBuffers = 12;
constexpr size_t kPoolMaxBytes = 64u << 20;

ByteBuffer TakeBuffer(size_t bytes) {
  std::lock_guard<std::mutex> lock(g_pool_mutex);
  for (size_t i = 0; i < g_pool.size(); ++i) {
    if (g_pool[i].capacity() >= bytes) {
      ByteBuffer v = std::move(g_pool[i]);
      g_pool[i] = std::move(g_pool.back());
      g_pool.pop_back();
      v.resize(bytes);
      return v;
    }
  }
  ByteBuffer v;
  v.resize(bytes);
  return v;
}

}  // namespace

void RecycleBuffer(ByteBuffer&& buffer) {
  if (buffer.capacity() == 0 || buffer.capacity() > kPoolMaxBytes) return;
  std::lock_guard<std::mutex> lock(g_pool_mutex);
  if (g_pool.size() >= kPoolMaxBuffers) return;
  buffer.clear();
  g_pool.push_back(std::move(buffer));
}

bool FillBatch(Scanner& s, int64_t capacity, uint8_t* const* targets, Batch* out);

// Owns one streaming query: its connection, result, the chunk being consumed, and a producer
// thread that fills up to kPrefetch batches ahead of the consumer (DuckDB is always driven from
// that one thread, so its per-thread state and the allocator's arena stay warm).
class Scanner {
 public:
  static constexpr size_t kPrefetch = 2;

  capi::duckdb_connection connection = nullptr;
  capi::duckdb_result result{};
  bool has_result = false;
  std::vector<ColumnKind> kinds;
  capi::duckdb_data_chunk chunk = nullptr;
  int64_t chunk_rows = 0;
  int64_t chunk_pos = 0;
  bool finished = false;
  std::atomic<bool> busy{false};

  std::thread producer;
  std::mutex mu;
  std::condition_variable cv;
  std::deque<Batch> ready;
  std::deque<std::vector<uint8_t*>> free_targets;
  std::exception_ptr error;
  int64_t capacity = 0;
  bool started = false;
  bool producer_done = false;
  std::atomic<bool> stop{false};
  bool closed = false;

  ~Scanner() { Close(); }

  void DropChunk() {
    if (chunk != nullptr) g_api.destroy_data_chunk(&chunk);
    chunk = nullptr;
    chunk_rows = chunk_pos = 0;
  }

  // Producer thread body: fill batches until the query ends, an error occurs or Close() stops it.
  void Produce() {
    try {
      for (;;) {
        std::vector<uint8_t*> targets;
        {
          std::unique_lock<std::mutex> lock(mu);
          cv.wait(lock, [&] { return stop || (ready.size() < kPrefetch && !free_targets.empty()); });
          if (stop) break;
          targets = std::move(free_targets.front());
          free_targets.pop_front();
        }
        Batch b;
        const bool more = FillBatch(*this, capacity, targets.empty() ? nullptr : targets.data(), &b);
        std::lock_guard<std::mutex> lock(mu);
        if (!more) break;
        ready.push_back(std::move(b));
        cv.notify_all();
      }
    } catch (...) {
      std::lock_guard<std::mutex> lock(mu);
      error = std::current_exception();
    }
    std::lock_guard<std::mutex> lock(mu);
    producer_done = true;
    cv.notify_all();
  }

  // Stops the producer, then releases DuckDB resources; idempotent, never from the producer.
  void Close() {
    {
      std::lock_guard<std::mutex> lock(mu);
      stop = true;
      closed = true;
      ready.clear();
      free_targets.clear();
      cv.notify_all();
    }
    if (producer.joinable()) producer.join();
    DropChunk();
    if (has_result) g_api.destroy_result(&result);
    has_result = false;
    if (connection != nullptr) g_api.disconnect(&connection);
    connection = nullptr;
    finished = true;
  }
};

void DestroyScanner(Scanner* s) { delete s; }

const std::vector<ColumnKind>& KindsOf(const Scanner& s) { return s.kinds; }

bool TryAcquire(Scanner& s) { return !s.busy.exchange(true); }

void Release(Scanner& s) { s.busy.store(false); }

void LoadDuckDB(const std::string& library_path) {
  std::lock_guard<std::mutex> lock(g_mutex);
  if (g_database != nullptr) return;
  void* lib = dlopen(library_path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (lib == nullptr) {
    const char* why = dlerror();
    throw Error("E_IO", "cannot load DuckDB library " + library_path + ": " + (why ? why : "unknown error"));
  }
  capi::Api api{};
  Resolve(lib, "duckdb_open", &api.open);
  Resolve(lib, "duckdb_connect", &api.connect);
  Resolve(lib, "duckdb_disconnect", &api.disconnect);
  Resolve(lib, "duckdb_query", &api.query);
  Resolve(lib, "duckdb_prepare", &api.prepare);
  Resolve(lib, "duckdb_prepare_error", &api.prepare_error);
  Resolve(lib, "duckdb_destroy_prepare", &api.destroy_prepare);
  Resolve(lib, "duckdb_execute_prepared_streaming", &api.execute_prepared_streaming);
  Resolve(lib, "duckdb_result_error", &api.result_error);
  Resolve(lib, "duckdb_destroy_result", &api.destroy_result);
  Resolve(lib, "duckdb_column_count", &api.column_count);
  Resolve(lib, "duckdb_column_name", &api.column_name);
  Resolve(lib, "duckdb_column_type", &api.column_type);
  Resolve(lib, "duckdb_fetch_chunk", &api.fetch_chunk);
  Resolve(lib, "duckdb_data_chunk_get_size", &api.data_chunk_get_size);
  Resolve(lib, "duckdb_data_chunk_get_vector", &api.data_chunk_get_vector);
  Resolve(lib, "duckdb_vector_get_data", &api.vector_get_data);
  Resolve(lib, "duckdb_vector_get_validity", &api.vector_get_validity);
  Resolve(lib, "duckdb_destroy_data_chunk", &api.destroy_data_chunk);
  Resolve(lib, "duckdb_close", &api.close);
  Resolve(lib, "duckdb_interrupt", &api.interrupt);
  Resolve(lib, "duckdb_create_table_function", &api.create_table_function);
  Resolve(lib, "duckdb_destroy_table_function", &api.destroy_table_function);
  Resolve(lib, "duckdb_table_function_set_name", &api.table_function_set_name);
  Resolve(lib, "duckdb_table_function_set_extra_info", &api.table_function_set_extra_info);
  Resolve(lib, "duckdb_table_function_set_bind", &api.table_function_set_bind);
  Resolve(lib, "duckdb_table_function_set_init", &api.table_function_set_init);
  Resolve(lib, "duckdb_table_function_set_function", &api.table_function_set_function);
  Resolve(lib, "duckdb_register_table_function", &api.register_table_function);
  Resolve(lib, "duckdb_bind_add_result_column", &api.bind_add_result_column);
  Resolve(lib, "duckdb_bind_get_extra_info", &api.bind_get_extra_info);
  Resolve(lib, "duckdb_init_set_max_threads", &api.init_set_max_threads);
  Resolve(lib, "duckdb_function_get_extra_info", &api.function_get_extra_info);
  Resolve(lib, "duckdb_function_set_error", &api.function_set_error);
  Resolve(lib, "duckdb_create_logical_type", &api.create_logical_type);
  Resolve(lib, "duckdb_destroy_logical_type", &api.destroy_logical_type);
  Resolve(lib, "duckdb_data_chunk_set_size", &api.data_chunk_set_size);
  Resolve(lib, "duckdb_vector_assign_string_element_len", &api.vector_assign_string_element_len);
  Resolve(lib, "duckdb_vector_ensure_validity_writable", &api.vector_ensure_validity_writable);
  Resolve(lib, "duckdb_vector_size", &api.vector_size);
  capi::duckdb_database db = nullptr;
  if (api.open(nullptr, &db) != capi::DuckDBSuccess) throw Error("E_IO", "DuckDB could not open an in-memory database");
  g_api = api;
  g_library = lib;
  g_database = db;
}

namespace capi {
const Api& LoadedApi() {
  std::lock_guard<std::mutex> lock(g_mutex);
  if (g_database == nullptr) throw Error("E_INTERNAL", "DuckDB is not loaded (call LoadDuckDB first)");
  return g_api;
}
}  // namespace capi

Scanner* OpenScan(const std::string& sql, const std::vector<ColumnKind>& kinds, int threads, int64_t stream_buffer_bytes) {
  if (g_database == nullptr) throw Error("E_INTERNAL", "DuckDB is not loaded (call LoadDuckDB first)");
  std::unique_ptr<Scanner> s(new Scanner());
  s->kinds = kinds;
  if (g_api.connect(g_database, &s->connection) != capi::DuckDBSuccess) throw Error("E_IO", "DuckDB refused a connection");
  if (threads > 0) {
    std::lock_guard<std::mutex> lock(g_mutex);
    if (threads != g_threads) {
      capi::duckdb_result r{};
      std::string set = "SET threads = " + std::to_string(threads);
      g_api.query(s->connection, set.c_str(), &r);
      g_api.destroy_result(&r);
      g_threads = threads;
    }
  }
  if (stream_buffer_bytes > 0) {
    capi::duckdb_result r{};
    std::string set = "SET streaming_buffer_size = '" + std::to_string(stream_buffer_bytes) + "B'";
    g_api.query(s->connection, set.c_str(), &r);
    g_api.destroy_result(&r);
  }
  capi::duckdb_prepared_statement stmt = nullptr;
  if (g_api.prepare(s->connection, sql.c_str(), &stmt) != capi::DuckDBSuccess) {
    const char* why = stmt ? g_api.prepare_error(stmt) : nullptr;
    std::string message = why ? why : "cannot prepare query";
    g_api.destroy_prepare(&stmt);
    throw Error("E_IO", message);
  }
  capi::duckdb_state st = g_api.execute_prepared_streaming(stmt, &s->result);
  g_api.destroy_prepare(&stmt);
  s->has_result = true;
  if (st != capi::DuckDBSuccess) {
    const char* why = g_api.result_error(&s->result);
    throw Error("E_IO", why ? why : "query failed");
  }
  const capi::idx_t ncols = g_api.column_count(&s->result);
  if (ncols != kinds.size()) {
    throw Error("E_SCHEMA", "query has " + std::to_string(ncols) + " columns, expected " + std::to_string(kinds.size()));
  }
  for (capi::idx_t c = 0; c < ncols; ++c) {
    if (g_api.column_type(&s->result, c) != DuckTypeOf(kinds[c])) {
      throw Error("E_SCHEMA", std::string("column ") + g_api.column_name(&s->result, c) + " does not have the planned type");
    }
  }
  return s.release();
}

bool FillBatch(Scanner& s, int64_t capacity, uint8_t* const* targets, Batch* out) {
  const size_t ncols = s.kinds.size();
  out->rows = 0;
  out->columns.assign(ncols, ColumnBuffer{});
  for (size_t c = 0; c < ncols; ++c) {
    ColumnBuffer& col = out->columns[c];
    col.kind = s.kinds[c];
    if (col.kind == ColumnKind::kUtf8) {
      col.offsets.assign(static_cast<size_t>(capacity) + 1, 0);
      col.values = TakeBuffer(static_cast<size_t>(capacity) * 8);
    } else {
      if (targets == nullptr || targets[c] == nullptr) col.values = TakeBuffer(static_cast<size_t>(capacity) * WidthOf(col.kind));
    }
  }
  int64_t rows = 0;
  while (rows < capacity && !s.finished) {
    if (s.chunk == nullptr || s.chunk_pos == s.chunk_rows) {
      s.DropChunk();
      if (s.stop.load(std::memory_order_relaxed)) {
        s.finished = true;
        break;
      }
      s.chunk = g_api.fetch_chunk(s.result);
      if (s.chunk == nullptr) {
        s.finished = true;
        const char* why = g_api.result_error(&s.result);
        if (why != nullptr && why[0] != '\0') throw Error("E_IO", why);
        break;
      }
      s.chunk_rows = static_cast<int64_t>(g_api.data_chunk_get_size(s.chunk));
      if (s.chunk_rows == 0) {
        s.DropChunk();
        s.finished = true;
        break;
      }
    }
    const int64_t n = std::min(s.chunk_rows - s.chunk_pos, capacity - rows);
    const int64_t pos = s.chunk_pos;
    for (size_t c = 0; c < ncols; ++c) {
      ColumnBuffer& col = out->columns[c];
      capi::duckdb_vector vec = g_api.data_chunk_get_vector(s.chunk, c);
      const uint8_t* data = static_cast<const uint8_t*>(g_api.vector_get_data(vec));
      const uint64_t* mask = g_api.vector_get_validity(vec);
      const size_t width = WidthOf(col.kind);
      uint8_t* base = targets != nullptr && targets[c] != nullptr ? targets[c] : col.values.data();
      if (width > 0) std::memcpy(base + rows * width, data + pos * width, n * width);
      for (int64_t i = 0; mask != nullptr && i < n;) {
        const uint64_t src = static_cast<uint64_t>(pos + i);
        if ((src & 63) == 0 && i + 64 <= n && mask[src >> 6] == ~0ULL) {
          i += 64;
          continue;
        }
        if (!((mask[src >> 6] >> (src & 63)) & 1ULL)) {
          if (col.validity.empty()) col.validity.assign((static_cast<size_t>(capacity) + 7) / 8, 0xFF);
          const int64_t dst = rows + i;
          col.validity[dst >> 3] &= static_cast<uint8_t>(~(1u << (dst & 7)));
          ++col.null_count;
          if (width > 0) std::memset(base + dst * width, 0, width);
        }
        ++i;
      }
      if (col.kind == ColumnKind::kUtf8) {
        const auto* strings = reinterpret_cast<const capi::duckdb_string_t*>(data);
        size_t used = col.offsets[rows];
        for (int64_t i = 0; i < n; ++i) {
          const uint64_t src = static_cast<uint64_t>(pos + i);
          const bool valid = mask == nullptr || ((mask[src >> 6] >> (src & 63)) & 1ULL);
          if (valid) {
            const capi::duckdb_string_t& str = strings[src];
            const uint32_t len = str.value.inlined.length;
            const char* bytes = len <= 12 ? str.value.inlined.inlined : str.value.pointer.ptr;
            if (used + len > static_cast<size_t>(std::numeric_limits<int32_t>::max())) {
              throw Error("E_IO", "a text column holds more than 2 GiB in one batch; use a smaller batch size");
            }
            if (used + len > col.values.size()) col.values.resize(std::max(col.values.size() * 2, used + len));
            std::memcpy(col.values.data() + used, bytes, len);
            used += len;
          }
          col.offsets[rows + i + 1] = static_cast<int32_t>(used);
        }
      }
    }
    rows += n;
    s.chunk_pos += n;
  }
  out->rows = rows;
  for (ColumnBuffer& col : out->columns) {
    if (col.kind == ColumnKind::kUtf8) {
      col.offsets.resize(static_cast<size_t>(rows) + 1);
      col.values.resize(static_cast<size_t>(col.offsets[rows]));
    } else {
      if (!col.values.empty()) col.values.resize(static_cast<size_t>(rows) * WidthOf(col.kind));
    }
    if (!col.validity.empty()) col.validity.resize((static_cast<size_t>(rows) + 7) / 8);
  }
  return rows > 0;
}

bool NextBatch(Scanner& s, int64_t capacity, Batch* out) {
  if (capacity <= 0) throw Error("E_NATIVE_INPUT", "batch capacity must be positive");
  std::unique_lock<std::mutex> lock(s.mu);
  out->rows = 0;
  out->columns.clear();
  if (s.closed) return false;
  if (!s.started) {
    s.started = true;
    s.capacity = capacity;
    s.producer = std::thread(&Scanner::Produce, &s);
  } else if (capacity != s.capacity) {
    throw Error("E_NATIVE_INPUT", "capacity must stay the same across calls on one scan");
  }
  s.cv.wait(lock, [&] { return !s.ready.empty() || s.producer_done; });
  if (!s.ready.empty()) {
    *out = std::move(s.ready.front());
    s.ready.pop_front();
    s.cv.notify_all();
    return true;
  }
  if (s.error) {
    std::exception_ptr e = s.error;
    s.error = nullptr;
    std::rethrow_exception(e);
  }
  return false;
}

void ProvideTargets(Scanner& s, std::vector<uint8_t*> targets) {
  if (targets.size() != s.kinds.size() && !targets.empty()) throw Error("E_NATIVE_INPUT", "one target per column (or none)");
  std::lock_guard<std::mutex> lock(s.mu);
  if (s.closed) return;
  s.free_targets.push_back(std::move(targets));
  s.cv.notify_all();
}

void CloseScan(Scanner& s) { s.Close(); }

}  // namespace scan
}  // namespace kiln
