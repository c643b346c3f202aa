// Text feature hashing kernel (see kiln/hashing.h).
#include "kiln/hashing.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#if defined(__SSE2__)
#include <emmintrin.h>
#define KILN_HASH_SSE2 1
#else
#define KILN_HASH_SSE2 0
#endif

#include "kiln/status.h"
#include "kiln/thread_pool.h"

namespace kiln {
namespace {

inline std::uint32_t Rotl32(std::uint32_t x, int r) { return (x << r) | (x >> (32 - r)); }

inline std::uint32_t Fmix32(std::uint32_t h) {
  h ^= h >> 16;
  h *= 0x85ebca6bU;
  h ^= h >> 13;
  h *= 0xc2b2ae35U;
  h ^= h >> 16;
  return h;
}

// 256-entry table: 0 = separator, else the normalised byte.
struct ByteClass {
  std::uint8_t map[256];
  ByteClass() {
    for (int c = 0; c < 256; ++c) {
      std::uint8_t v = 0;
      if (c >= 'a' && c <= 'z') v = static_cast<std::uint8_t>(c);
      else if (c >= 'A' && c <= 'Z') v = static_cast<std::uint8_t>(c + 32);
      else if (c >= 0x80) v = static_cast<std::uint8_t>(c);
      map[c] = v;
    }
  }
};
const ByteClass kClass;

void NormalizeScalar(const std::uint8_t* in, std::size_t len, std::uint8_t* out) {
  for (std::size_t i = 0; i < len; ++i) {
    const std::uint8_t v = kClass.map[in[i]];
    out[i] = v ? v : static_cast<std::uint8_t>(' ');
  }
}

#if KILN_HASH_SSE2
// 16 bytes at a time: upper -> |0x20, lower and >= 0x80 kept, everything else -> ' '.
void NormalizeSse2(const std::uint8_t* in, std::size_t len, std::uint8_t* out) {
  std::size_t i = 0;
  const __m128i bias = _mm_set1_epi8(static_cast<char>(0x80));
  // Signed compares after xor 0x80 give unsigned ordering.
  const __m128i upper_lo = _mm_set1_epi8(static_cast<char>(('A' - 1) ^ 0x80));
  const __m128i upper_hi = _mm_set1_epi8(static_cast<char>(('Z' + 1) ^ 0x80));
  const __m128i lower_lo = _mm_set1_epi8(static_cast<char>(('a' - 1) ^ 0x80));
  const __m128i lower_hi = _mm_set1_epi8(static_cast<char>(('z' + 1) ^ 0x80));
  const __m128i space = _mm_set1_epi8(' ');
  const __m128i case_bit = _mm_set1_epi8(0x20);
  for (; i + 16 <= len; i += 16) {
    const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(in + i));
    const __m128i s = _mm_xor_si128(v, bias);
    const __m128i is_upper = _mm_and_si128(_mm_cmpgt_epi8(s, upper_lo), _mm_cmplt_epi8(s, upper_hi));
    const __m128i is_lower = _mm_and_si128(_mm_cmpgt_epi8(s, lower_lo), _mm_cmplt_epi8(s, lower_hi));
    const __m128i is_high = _mm_cmplt_epi8(v, _mm_setzero_si128());  // byte >= 0x80
    const __m128i keep = _mm_or_si128(_mm_or_si128(is_upper, is_lower), is_high);
    const __m128i lowered = _mm_or_si128(v, _mm_and_si128(is_upper, case_bit));
    const __m128i res = _mm_or_si128(_mm_and_si128(keep, lowered), _mm_andnot_si128(keep, space));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(out + i), res);
  }
  NormalizeScalar(in + i, len - i, out + i);
}
#endif

struct Entry {
  std::int32_t bucket;
  double value;
};

// Hashes one normalised row into `counts` (bucket -> count), using `scratch` for bigrams.
void HashRow(const std::uint8_t* norm, std::size_t len, const TextHashParams& p, std::uint32_t mask,
             std::vector<std::int32_t>* buckets, std::vector<std::uint8_t>* scratch) {
  buckets->clear();
  std::size_t prev_start = 0, prev_len = 0;
  bool have_prev = false;
  std::size_t i = 0;
  while (i < len) {
    while (i < len && norm[i] == ' ') ++i;
    if (i >= len) break;
    const std::size_t start = i;
    while (i < len && norm[i] != ' ') ++i;
    const std::size_t tlen = i - start;
    buckets->push_back(static_cast<std::int32_t>(MurmurHash3(norm + start, tlen, p.seed) & mask));
    if (p.bigrams && have_prev) {
      scratch->resize(prev_len + 1 + tlen);
      std::memcpy(scratch->data(), norm + prev_start, prev_len);
      (*scratch)[prev_len] = ' ';
      std::memcpy(scratch->data() + prev_len + 1, norm + start, tlen);
      buckets->push_back(static_cast<std::int32_t>(MurmurHash3(scratch->data(), scratch->size(), p.seed) & mask));
    }
    prev_start = start;
    prev_len = tlen;
    have_prev = true;
  }
}

}  // namespace

std::uint32_t MurmurHash3(const void* key, std::size_t len, std::uint32_t seed) {
  const auto* data = static_cast<const std::uint8_t*>(key);
  const std::size_t nblocks = len / 4;
  std::uint32_t h1 = seed;
  const std::uint32_t c1 = 0xcc9e2d51U;
  const std::uint32_t c2 = 0x1b873593U;
  for (std::size_t i = 0; i < nblocks; ++i) {
    std::uint32_t k1;
    std::memcpy(&k1, data + i * 4, 4);  // little-endian hosts (x86, arm64)
    k1 *= c1;
    k1 = Rotl32(k1, 15);
    k1 *= c2;
    h1 ^= k1;
    h1 = Rotl32(h1, 13);
    h1 = h1 * 5 + 0xe6546b64U;
  }
  const std::uint8_t* tail = data + nblocks * 4;
  std::uint32_t k1 = 0;
  switch (len & 3) {
    case 3: k1 ^= static_cast<std::uint32_t>(tail[2]) << 16; [[fallthrough]];
    case 2: k1 ^= static_cast<std::uint32_t>(tail[1]) << 8; [[fallthrough]];
    case 1:
      k1 ^= tail[0];
      k1 *= c1;
      k1 = Rotl32(k1, 15);
      k1 *= c2;
      h1 ^= k1;
  }
  h1 ^= static_cast<std::uint32_t>(len);
  return Fmix32(h1);
}

void NormalizeBytes(const std::uint8_t* in, std::size_t len, std::uint8_t* out, SimdLevel simd) {
#if KILN_HASH_SSE2
  if (simd != SimdLevel::kScalar) {
    NormalizeSse2(in, len, out);
    return;
  }
#endif
  (void)simd;
  NormalizeScalar(in, len, out);
}

std::string NormalizeText(const std::string& text) {
  std::vector<std::uint8_t> buf(text.size());
  NormalizeBytes(reinterpret_cast<const std::uint8_t*>(text.data()), text.size(), buf.data(), SimdLevel::kScalar);
  std::string out;
  std::size_t i = 0;
  while (i < buf.size()) {
    while (i < buf.size() && buf[i] == ' ') ++i;
    if (i >= buf.size()) break;
    if (!out.empty()) out.push_back(' ');
    while (i < buf.size() && buf[i] != ' ') out.push_back(static_cast<char>(buf[i++]));
  }
  return out;
}

void ValidateStringColumn(const StringColumn& c) {
  if (c.offsets == nullptr) throw InputError("offsets is required");
  if (c.bytes == nullptr && c.bytes_len > 0) throw InputError("bytes is required");
  if (c.offsets[0] < 0) throw InputError("offsets[0] must be >= 0");
  for (std::size_t r = 0; r < c.rows; ++r) {
    if (c.offsets[r + 1] < c.offsets[r]) {
      throw InputError("offsets must be non-decreasing (offsets[" + std::to_string(r + 1) + "] < offsets[" + std::to_string(r) + "])");
    }
  }
  if (static_cast<std::size_t>(c.offsets[c.rows]) > c.bytes_len) {
    throw InputError("offsets[rows] = " + std::to_string(c.offsets[c.rows]) + " is past the end of bytes (" + std::to_string(c.bytes_len) + ")");
  }
}

SparseRows HashText(const StringColumn& column, const TextHashParams& params, const double* idf) {
  if (params.bits < 1 || params.bits > kMaxHashBits) throw InputError("bits must be in [1, " + std::to_string(kMaxHashBits) + "]");
  ValidateStringColumn(column);
  const std::uint32_t mask = (1U << params.bits) - 1U;
  const std::size_t nblocks = NumBlocks(column.rows, kRowBlockSize);
  struct Block {
    std::vector<std::int64_t> lengths;
    std::vector<std::int32_t> indices;
    std::vector<double> values;
  };
  std::vector<Block> blocks(nblocks);
  ParallelFor(nblocks, ResolveNumThreads(params.num_threads), [&](std::size_t b) {
    Block& out = blocks[b];
    const std::size_t lo = b * kRowBlockSize;
    const std::size_t hi = std::min(column.rows, lo + kRowBlockSize);
    out.lengths.reserve(hi - lo);
    std::vector<std::uint8_t> norm;
    std::vector<std::uint8_t> scratch;
    std::vector<std::int32_t> buckets;
    for (std::size_t r = lo; r < hi; ++r) {
      const bool valid = column.validity == nullptr || ((column.validity[r >> 3] >> (r & 7)) & 1) != 0;
      const std::size_t before = out.indices.size();
      if (valid) {
        const std::size_t start = static_cast<std::size_t>(column.offsets[r]);
        const std::size_t len = static_cast<std::size_t>(column.offsets[r + 1]) - start;
        norm.resize(len);
        if (len) NormalizeBytes(column.bytes + start, len, norm.data(), params.simd);
        HashRow(norm.data(), len, params, mask, &buckets, &scratch);
        std::sort(buckets.begin(), buckets.end());
        double sumsq = 0;
        for (std::size_t i = 0; i < buckets.size();) {
          std::size_t j = i;
          while (j < buckets.size() && buckets[j] == buckets[i]) ++j;
          double v = static_cast<double>(j - i);
          if (idf != nullptr) v *= idf[buckets[i]];
          out.indices.push_back(buckets[i]);
          out.values.push_back(v);
          sumsq += v * v;
          i = j;
        }
        if (params.l2 && sumsq > 0) {
          const double inv = 1.0 / std::sqrt(sumsq);
          for (std::size_t k = before; k < out.values.size(); ++k) out.values[k] *= inv;
        }
      }
      out.lengths.push_back(static_cast<std::int64_t>(out.indices.size() - before));
    }
  });
  SparseRows rows;
  rows.indptr.reserve(column.rows + 1);
  rows.indptr.push_back(0);
  std::size_t total = 0;
  for (const Block& b : blocks) total += b.indices.size();
  rows.indices.reserve(total);
  rows.values.reserve(total);
  for (const Block& b : blocks) {
    for (std::int64_t len : b.lengths) rows.indptr.push_back(rows.indptr.back() + len);
    rows.indices.insert(rows.indices.end(), b.indices.begin(), b.indices.end());
    rows.values.insert(rows.values.end(), b.values.begin(), b.values.end());
  }
  return rows;
}

}  // namespace kiln
