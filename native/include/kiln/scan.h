// Streaming scan of a DuckDB query into batch-sized, Arrow-layout column buffers.
// DuckDB's C API is loaded at run time (dlopen of the libduckdb shared library that
// @duckdb/node-bindings ships), so kiln builds without DuckDB headers or link flags.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace kiln {
namespace scan {

// Physical column kinds delivered by a scan (mirror of the TS ColumnType).
enum class ColumnKind : int32_t { kBool = 0, kInt32, kInt64, kFloat32, kFloat64, kDate32, kTimestampUs, kUtf8 };

// Allocator that leaves new elements uninitialised (every byte handed out is written first).
template <typename T>
struct NoInitAllocator : std::allocator<T> {
  template <typename U>
  struct rebind {
    using other = NoInitAllocator<U>;
  };
  NoInitAllocator() noexcept = default;
  template <typename U>
  NoInitAllocator(const NoInitAllocator<U>&) noexcept {}
  template <typename U>
  void construct(U* p) noexcept {
    ::new (static_cast<void*>(p)) U;
  }
  template <typename U, typename... Args>
  void construct(U* p, Args&&... args) {
    ::new (static_cast<void*>(p)) U(std::forward<Args>(args)...);
  }
};

// A byte buffer whose growth does not zero-fill.
using ByteBuffer = std::vector<uint8_t, NoInitAllocator<uint8_t>>;

// One output column of a batch. Owns its buffers; the N-API layer hands them to JS as ArrayBuffers.
struct ColumnBuffer {
  ColumnKind kind = ColumnKind::kFloat64;
  ByteBuffer values;              // fixed-width values, or UTF-8 bytes for kUtf8
  std::vector<int32_t> offsets;   // kUtf8 only: rows + 1 byte offsets
  std::vector<uint8_t> validity;  // LSB-first bitmap, bit = 1 valid; empty when no nulls
  int64_t null_count = 0;
};

// A batch of up to `capacity` rows.
struct Batch {
  int64_t rows = 0;
  std::vector<ColumnBuffer> columns;
};

class Scanner;

// Loads DuckDB's C API from `library_path` (idempotent; first successful path wins). Throws kiln::Error.
void LoadDuckDB(const std::string& library_path);

// Starts a streaming query (caller owns the result; free it with DestroyScanner). `kinds` are the
// expected physical kinds of its columns (checked); threads 0 and stream_buffer_bytes 0 keep
// DuckDB's defaults (a larger stream buffer lets DuckDB scan ahead in parallel). Throws kiln::Error.
Scanner* OpenScan(const std::string& sql, const std::vector<ColumnKind>& kinds, int threads,
                  int64_t stream_buffer_bytes);

// The next batch of at most `capacity` rows, filled ahead by the scan's producer thread into the
// target sets given by ProvideTargets (capacity must not change between calls); false (and an
// empty batch) at the end. Throws kiln::Error.
bool NextBatch(Scanner& scanner, int64_t capacity, Batch* out);

// The planned kinds of a scan's columns.
const std::vector<ColumnKind>& KindsOf(const Scanner& scanner);

// Bytes per value of a fixed-width kind (0 for kUtf8).
size_t WidthOf(ColumnKind kind);

// Gives the producer one set of destinations for a future batch: fixed-width column c is written
// into targets[c] (caller-owned, capacity * WidthOf(kind) bytes, alive until that batch is taken;
// nullptr or an empty set = the batch's own buffers). Batches consume sets in order; the producer
// fills a batch only when a set is available, so sets bound how far it runs ahead.
void ProvideTargets(Scanner& scanner, std::vector<uint8_t*> targets);

// Hands a value buffer back for reuse by later batches (kept only while the pool is small).
void RecycleBuffer(ByteBuffer&& buffer);

// Releases the query and its connection (also done by the Scanner's destructor).
void CloseScan(Scanner& scanner);

// Destroys a scanner (Scanner is opaque outside duckdb_scan.cc).
void DestroyScanner(Scanner* scanner);

// Claims the scanner for one NextBatch call; false when another call holds it.
bool TryAcquire(Scanner& scanner);

// Releases the claim taken by TryAcquire.
void Release(Scanner& scanner);

}  // namespace scan
}  // namespace kiln
