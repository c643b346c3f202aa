// One-pass native feature build: rows stream out of DuckDB (C API, native/scan), through the rolling
// kernel (kiln/rolling.h), and back into DuckDB as a table function that a COPY ... TO writes to
// Parquet. Plain C++ (no napi.h); it sits in native/napi because it joins two kernel families.
// No row passes through JS and nothing is materialised, so memory is bounded by DuckDB's limit,
// a few kernel batches and the rows inside the largest window.
//
// The input is first read in the order DuckDB gives it; while it arrives sorted by (time, entity)
// nothing is sorted. At the first row out of that order the output is abandoned and the build
// restarts once: DuckDB writes the ordered query to a temporary Parquet file (a COPY sorts within
// the memory limit, spilling as needed, where a streamed ORDER BY runs out of memory), which is
// then streamed and removed. Sorted inputs cost one read, unsorted ones a partial read plus the
// sort. Entities are compared as UTF-8 bytes, a missing entity after every other, exactly as the
// ordered query's ORDER BY sorts them.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "kiln/rolling.h"

namespace kiln {

// What one build runs. The SQL strings are complete statements for a fresh in-memory DuckDB.
struct FeaturePipelineSpec {
  std::string library;                // libduckdb shared library (see scan::LoadDuckDB)
  std::vector<std::string> settings;  // statements run first (SET memory_limit = ..., temp_directory, ...)
  // Statements run just before the sort (e.g. a lower memory_limit: DuckDB's sort holds reader and
  // per-thread state outside its buffer pool), and after it (restoring the build's). When the sort
  // runs out of memory under sort_settings, it runs once more after after_sort_settings.
  std::vector<std::string> sort_settings;
  std::vector<std::string> after_sort_settings;
  // DuckDB threads of the ordered attempt (its sort is parallel), and of the first, streamed one
  // (1 by default: DuckDB parses a streamed scan on the reader thread; more workers only spin).
  int threads = 1;
  int stream_threads = 1;
  // Both yield __t TIMESTAMP, then __e VARCHAR when has_entity, then num_inputs DOUBLE columns;
  // ordered_sql adds ORDER BY __t, __e NULLS LAST.
  std::string input_sql;
  std::string ordered_sql;
  std::string sorted_file;  // where the ordered attempt writes the sorted input (removed afterwards)
  // A statement reading the table function named by the placeholder {fn}, whose columns are
  // __e (VARCHAR, when has_entity), __t (TIMESTAMP), __f0 .. __f<n-1> (DOUBLE), e.g. a COPY.
  std::string output_sql;
  bool has_entity = false;
  int num_inputs = 0;
  // Cross features' left / right are indexes into cross_entities (-1: absent).
  std::vector<RollFeature> features;
  std::vector<std::string> cross_entities;
  int kernel_threads = 1;
  std::int64_t batch_rows = 65536;
};

// count / missing over all rows, moments and extremes over the finite values (nulls excluded).
struct FeatureColumnStats {
  std::int64_t count = 0, missing = 0, finite = 0;
  double mean = 0, m2 = 0, min = 0, max = 0;
};

struct FeaturePipelineResult {
  std::int64_t rows = 0;
  std::int64_t entities = 0;
  bool sorted_on_input = true;  // false when the build had to restart from the ordered query
  std::vector<FeatureColumnStats> stats;  // one per feature
};

// Where a build stands: its pass ("stream": the input in its own order; "sort": DuckDB sorting
// the input into sorted_file; "stream sorted": the sorted copy) and the rows written in that pass.
struct FeaturePipelineProgress {
  const char* phase = "stream";
  std::int64_t rows_written = 0;
};

// Receives progress on a pipeline or DuckDB thread: when each pass starts, every ~200 ms while
// rows are written, and once when a pass has written all its rows. Must not throw.
using FeaturePipelineProgressFn = std::function<void(const FeaturePipelineProgress&)>;

// Runs the build; `cancel` (may be null) stops it with E_CANCELLED; `progress` (may be empty)
// hears how far it got. Errors: kiln::Error with the kernel's codes (E_VALIDATION "rows: ..." for
// a missing time or a duplicated (entity, time)), E_IO for DuckDB failures.
FeaturePipelineResult RunFeaturePipeline(const FeaturePipelineSpec& spec, const std::atomic<int>* cancel,
                                         const FeaturePipelineProgressFn& progress = {});

}  // namespace kiln
