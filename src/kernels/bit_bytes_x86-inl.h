// 32 bits spread to 32 bytes on a 256-bit register: byte i is 0xFF where bit
// i is set, else 0 (Q5_0's fifth bits, the lattice types' sign bits).
// Included inside a level's namespace after it defines FRUGAL_TARGET, as
// matmul_x86-inl.h is; no include guard, since each level's file includes it
// once inside its own namespace.
FRUGAL_TARGET inline __m256i bit_bytes32(uint32_t bits) {
  // Byte i takes byte i / 8 of the word (each 128-bit lane holds all four), then tests its bit i % 8.
  const __m256i byte_of = _mm256_setr_epi8(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 2, 2, 2, 3,
                                           3, 3, 3, 3, 3, 3, 3);
  const __m256i bit = _mm256_set1_epi64x(static_cast<int64_t>(0x8040201008040201ull));
  const __m256i bytes = _mm256_shuffle_epi8(_mm256_set1_epi32(static_cast<int32_t>(bits)), byte_of);
  return _mm256_cmpeq_epi8(_mm256_and_si256(bytes, bit), bit);
}
