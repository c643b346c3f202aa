#include "common/rng.h"

namespace kiln::rng {

std::uint64_t StreamKey(std::uint64_t seed, std::uint64_t stream) {
  return Mix64(Mix64(seed ^ 0x6A09E667F3BCC909ULL) ^ (stream * 0xD1B54A32D192ED03ULL));
}

std::uint64_t Hash(std::uint64_t seed, std::uint64_t stream, std::uint64_t counter) {
  return HashAt(StreamKey(seed, stream), counter);
}

}  // namespace kiln::rng
