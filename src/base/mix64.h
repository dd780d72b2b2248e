// splitmix64: its finaliser, a bijection on 64 bits with good avalanche, and
// the generator built from it. One copy for the counter-based weight
// generator (synth), MinHash (data), the sampler's seeding and training.
#pragma once

#include <cstdint>

namespace frugal {

// mix64(key + i * odd) is a counter-based generator indexed by i; mix64(h ^ salt)
// turns one hash into independent ones.
inline uint64_t mix64(uint64_t x) {
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ULL;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebULL;
  x ^= x >> 31;
  return x;
}

// The next value of the splitmix64 sequence whose state is `state`.
inline uint64_t splitmix64_next(uint64_t& state) { return mix64(state += 0x9e3779b97f4a7c15ULL); }

}  // namespace frugal
