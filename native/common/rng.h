// Counter-based randomness: every random draw is a pure function of (seed, stream, counter), so
// results never depend on thread count or evaluation order. No mutable global state.
#pragma once

#include <cstdint>

namespace kiln::rng {

// Streams separate independent uses of one seed (values are part of the determinism contract).
enum Stream : std::uint64_t {
  kStreamBinSample = 1,  // FitBins row sample, counter = row index
  kStreamMlpInit = 20,        // MLP initial weights, counter = parameter index
  kStreamMlpShuffle = 21,     // MLP epoch shuffle, counter = epoch * rows + position
  kStreamMlpDropout = 22,     // MLP dropout masks, counter = (epoch * rows + row) * units + unit
  kStreamMlpValidSplit = 23,  // MLP validation hold-out, counter = row index
};

// SplitMix64 finalizer: a bijective 64-bit mixer.
inline std::uint64_t Mix64(std::uint64_t z) {
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

// Key of (seed, stream); compute once, then draw with HashAt.
std::uint64_t StreamKey(std::uint64_t seed, std::uint64_t stream);

// The counter-th 64-bit draw of the stream with this key (SplitMix64 at position counter).
inline std::uint64_t HashAt(std::uint64_t key, std::uint64_t counter) {
  return Mix64(key + (counter + 1) * 0x9E3779B97F4A7C15ULL);
}

// Hash(seed, stream, counter) == HashAt(StreamKey(seed, stream), counter).
std::uint64_t Hash(std::uint64_t seed, std::uint64_t stream, std::uint64_t counter);

// Maps a 64-bit draw to a double uniform in [0, 1) (53 random bits).
inline double ToUnitDouble(std::uint64_t h) {
  return static_cast<double>(h >> 11) * (1.0 / 9007199254740992.0);
}

}  // namespace kiln::rng
