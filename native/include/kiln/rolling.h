// Streaming per-entity window, lag and cross features over rows in (time, entity) order.
//
// Rows arrive in batches sorted by time (then entity); each row carries a dense entity id. State
// (each window's rows, running moments, monotonic deques) is kept per feature and entity across
// batches, so memory is bounded by the batch plus the rows inside the largest window per entity
// (and one time group of rows held back when cross features exist), not by the input.
//
// Semantics are those of kiln's SQL compiler (src/features/plan.ts): NULLs are ignored by the
// aggregates, NaN/inf follow DuckDB (NaN sorts above every number; a sample or population
// standard deviation that is not finite is an error), `std` is the sample std, time windows are
// (t - w, t] (inclusive) or [t - w, t) (exclusive), row windows the last n rows (or the n rows
// before the current one when exclusive). Cross features pair the rows of two entities with the
// same time; their value is given to every row at that time.
//
// Memory: RollBatch borrows the caller's arrays for the duration of Process; RollResult owns its
// vectors. Results do not depend on the thread count (threads only split work across features).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace kiln {

enum class RollFn : int {
  kMean = 0, kStd = 1, kMin = 2, kMax = 3, kSum = 4, kZscore = 5, kPctChange = 6, kMomentum = 7,
  kVolatility = 8, kLag = 9, kCorrelation = 10, kSpread = 11, kRatio = 12,
};

// One feature. `input` indexes the batch's inputs (0 .. num_inputs-1) or, from num_inputs on,
// the outputs of earlier features (num_inputs + feature index; must be a lower index).
struct RollFeature {
  std::string name;
  RollFn fn = RollFn::kMean;
  int input = 0;
  bool time_window = false;  // window is window_us microseconds (else window_rows rows)
  std::int64_t window_us = 0;
  std::int64_t window_rows = 0;  // rows of a row window; periods of pct_change / lag
  bool exclusive = false;
  std::int64_t min_periods = 1;
  std::int32_t left = -1, right = -1;  // cross features: entity ids (-1: absent, all NULL)
};

// A borrowed batch: time in microseconds (time_valid LSB bitmap or nullptr), entity ids (>= 0),
// an optional row id passed through, and num_inputs double columns with optional validity bitmaps.
struct RollBatch {
  std::size_t rows = 0;
  const std::int64_t* time = nullptr;
  const std::uint8_t* time_valid = nullptr;
  const std::int32_t* entity = nullptr;
  const std::int64_t* row_id = nullptr;
  std::vector<const double*> inputs;
  std::vector<const std::uint8_t*> input_valid;
};

// Rows finished by a Process call (a prefix of the rows given so far), with their pass-through
// keys and one value column + LSB validity bitmap per feature.
struct RollResult {
  std::size_t rows = 0;
  std::vector<std::int64_t> time;
  std::vector<std::int32_t> entity;
  std::vector<std::int64_t> row_id;
  std::vector<std::vector<double>> values;
  std::vector<std::vector<std::uint8_t>> valid;
};

// Thrown (as kiln::Error with this code) when the rows are not one per (entity, time) with a
// time on every row, so the caller can report the first offending input row.
inline constexpr const char kErrSeries[] = "E_VALIDATION";
// Thrown when a standard deviation or correlation window holds NaN or infinite values (the SQL
// engine fails the same way).
inline constexpr const char kErrValidation[] = "E_VALIDATION";

class RollingState;

// Creates the streaming state (owned by the caller, released with DestroyRolling); throws
// InputError on a bad feature list. With `caller_orders` the caller guarantees rows come sorted
// by time and one per (entity, time) in an entity order of its own, so ids within one time need
// not increase (the state then checks only that time never decreases).
RollingState* CreateRolling(std::vector<RollFeature> features, int num_inputs, bool caller_orders = false);

// Consumes a batch. Unless `final`, rows of the last time in the batch are held back when cross
// features exist (they may pair with rows of the next batch); `final` flushes everything.
RollResult ProcessRolling(RollingState& state, const RollBatch& batch, bool final, int num_threads);

void DestroyRolling(RollingState* state);

}  // namespace kiln
