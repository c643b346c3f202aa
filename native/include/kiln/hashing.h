// Text feature hashing: normalise, tokenise, hash tokens (and optional bigrams) into 2^bits buckets
// with a seeded MurmurHash3 (x86_32), then optionally weight by IDF and L2-normalise each row.
//
// Normalisation: ASCII letters are lowercased; ASCII digits, punctuation and whitespace separate
// tokens; bytes >= 0x80 (UTF-8 multi-byte characters) are kept as token characters. A token is a
// maximal run of token characters; a bigram is two adjacent tokens joined by one space.
//
// Memory: StringColumn is borrowed (caller owns and keeps it unchanged during the call); the
// returned SparseRows owns its vectors.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "kiln/simd.h"

namespace kiln {

// Largest bits of a text hash (2^12 = 4096 buckets).
inline constexpr int kMaxHashBits = 12;

// Borrowed Arrow-layout utf8 column: string i is bytes[offsets[i] .. offsets[i+1]); validity is
// an LSB-first bitmap (nullptr = all valid). Null rows hash to an empty row.
struct StringColumn {
  const std::uint8_t* bytes = nullptr;
  std::size_t bytes_len = 0;
  const std::int32_t* offsets = nullptr;  // rows + 1 entries
  std::size_t rows = 0;
  const std::uint8_t* validity = nullptr;
};

struct TextHashParams {
  int bits = 8;                        // 2^bits buckets, in [1, kMaxHashBits]
  std::uint32_t seed = 0;              // MurmurHash3 seed
  bool bigrams = false;                // also hash adjacent token pairs
  bool l2 = false;                     // L2-normalise each row after weighting
  SimdLevel simd = SimdLevel::kAvx2;   // kScalar forces the portable normaliser (same output)
  int num_threads = 0;                 // 0 -> hardware concurrency; output never depends on it
};

// CSR rows: row r holds indices[indptr[r] .. indptr[r+1]) (ascending, unique) with values.
struct SparseRows {
  std::vector<std::int64_t> indptr;
  std::vector<std::int32_t> indices;
  std::vector<double> values;
};

// MurmurHash3_x86_32 of len bytes.
std::uint32_t MurmurHash3(const void* key, std::size_t len, std::uint32_t seed);

// Normalises `len` bytes into out (same length): token bytes kept (ASCII lowercased), every
// separator byte becomes ' '. simd = kScalar uses the portable loop; other levels use SSE2 where
// the target has it. Output is identical either way.
void NormalizeBytes(const std::uint8_t* in, std::size_t len, std::uint8_t* out, SimdLevel simd);

// The normalised text of a string: tokens joined by single spaces (for tests and docs).
std::string NormalizeText(const std::string& text);

// Throws InputError unless the column is consistent (offsets monotone, within bytes_len).
void ValidateStringColumn(const StringColumn& column);

// Hashes every row into bucket counts; with idf (2^bits weights, nullptr = none) each count is
// multiplied by idf[bucket]; with params.l2 each non-empty row is scaled to unit L2 norm.
// Deterministic for any num_threads and SIMD level. Throws InputError on invalid arguments.
SparseRows HashText(const StringColumn& column, const TextHashParams& params, const double* idf);

}  // namespace kiln
