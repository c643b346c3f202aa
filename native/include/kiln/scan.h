// Streaming scan of a DuckDB query into batch-sized, Arrow-layout column buffers.
// DuckDB's C API is loaded at run time (dlopen of the libduckdb shared library that
// @duckdb/node-bindings ships), so kiln builds without DuckDB headers or link flags.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace kiln {
namespace scan {

// Physical column kinds delivered by a scan (mirror of the TS ColumnType).
enum class ColumnKind : int32_t { kBool = 0, kInt32, kInt64, kFloat32, kFloat64, kDate32, kTimestampUs, kUtf8 };

// One output column of a batch. Owns its buffers; the N-API layer hands them to JS as ArrayBuffers.
struct ColumnBuffer {
  ColumnKind kind = ColumnKind::kFloat64;
  std::vector<uint8_t> values;    // fixed-width values, or UTF-8 bytes for kUtf8
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

// Starts a streaming query (caller owns the result; free it with DestroyScanner); `kinds` are the expected physical kinds of its columns (checked). Throws kiln::Error.
Scanner* OpenScan(const std::string& sql, const std::vector<ColumnKind>& kinds, int threads);

// Fills the next batch of at most `capacity` rows; returns false (and an empty batch) at the end. Throws kiln::Error.
bool NextBatch(Scanner& scanner, int64_t capacity, Batch* out);

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
