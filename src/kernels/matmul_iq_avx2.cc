// Dot kernels of the lattice types IQ2_XXS, IQ2_XS, IQ2_S, IQ3_XXS, IQ3_S, IQ1_S and IQ1_M
// at the avx2 level, against Q8_K activations: the same integer sums as their
// scalar twins (matmul_iq_scalar.cc), so the same bits.
//
// A block is taken 32 values at a time: the grid points of four groups make
// one register of unsigned magnitudes (at most 62); the four sign bytes are
// spread to one byte a value (a shuffle, a test against each byte's bit) as
// +-1, and vpsignb gives the activations the weights' signs (they are within
// -127..127, so negation is exact); vpmaddubsw makes exact int16 pair sums
// (at most 2 * 62 * 127), and vpmaddwd weights each pair by its unit's 2 ls + 1
// into int32 lanes. The loop over blocks is the avx512 level's
// (matmul_iq_x86-inl.h).
#include "kernels/matmul_kernels.h"

#if defined(__x86_64__)
#include <immintrin.h>

#include <cmath>
#include <cstring>

#include "base/fp16.h"
#include "kernels/iq_sign_bits.h"
#include "quant/iq_blocks.h"
#include "quant/iq_grids.h"

namespace frugal::kernels {
namespace iq_avx2 {
namespace {
#define FRUGAL_TARGET __attribute__((target("avx2,fma,f16c")))

using quant::QK_K;

// 32 values of a block: magnitudes (unsigned bytes), +-1 per value, and the
// int16 weight of each pair of values.
struct Chunk {
  __m256i magnitude;
  __m256i sign;
  __m256i unit_scale;
};

#include "kernels/bit_bytes_x86-inl.h"

// Bit i of 32 sign bits as byte i: -1 where set, else 1.
FRUGAL_TARGET inline __m256i spread_signs(uint32_t bits) { return _mm256_or_si256(bit_bytes32(bits), _mm256_set1_epi8(1)); }

// One 32-value unit's scale, or two 16-value units' (low and high 128 bits).
FRUGAL_TARGET inline __m256i scales32(int s) { return _mm256_set1_epi16(static_cast<int16_t>(2 * s + 1)); }
FRUGAL_TARGET inline __m256i scales16(uint8_t two) {
  return _mm256_setr_m128i(_mm_set1_epi16(static_cast<int16_t>(2 * (two & 15) + 1)),
                           _mm_set1_epi16(static_cast<int16_t>(2 * (two >> 4) + 1)));
}

FRUGAL_TARGET inline __m256i grid64(uint64_t e0, uint64_t e1, uint64_t e2, uint64_t e3) {
  return _mm256_setr_epi64x(static_cast<int64_t>(e0), static_cast<int64_t>(e1), static_cast<int64_t>(e2),
                            static_cast<int64_t>(e3));
}

// IQ2_XXS unit k: four grid-index bytes, then a word of sign indices and the scale.
FRUGAL_TARGET inline Chunk chunk(const quant::BlockIQ2_XXS& b, int k) {
  const auto* q = reinterpret_cast<const uint8_t*>(b.qs) + 8 * k;
  const uint32_t aux = iq_load_u32(q + 4);
  const auto& g = quant::kIQ2XXSGrid;
  return {grid64(g[q[0]], g[q[1]], g[q[2]], g[q[3]]), spread_signs(static_cast<uint32_t>(iq_signs32(aux))),
          scales32(static_cast<int>(aux >> 28))};
}

// IQ3_XXS unit k: eight 4-value points, the sign and scale word after all indices.
FRUGAL_TARGET inline Chunk chunk(const quant::BlockIQ3_XXS& b, int k) {
  const uint8_t* q = b.qs + 8 * k;
  const uint32_t aux = iq_load_u32(b.qs + QK_K / 4 + 4 * k);
  const auto& g = quant::kIQ3XXSGrid;
  auto e = [&](int j) { return static_cast<int32_t>(g[q[j]]); };
  return {_mm256_setr_epi32(e(0), e(1), e(2), e(3), e(4), e(5), e(6), e(7)),
          spread_signs(static_cast<uint32_t>(iq_signs32(aux))), scales32(static_cast<int>(aux >> 28))};
}

// IQ2_XS values 32k..32k+31: four u16 of a 9-bit index and a 7-bit sign index; two 16-value scales.
FRUGAL_TARGET inline Chunk chunk(const quant::BlockIQ2_XS& b, int k) {
  const uint16_t* q = b.qs + 4 * k;
  const auto& g = quant::kIQ2XSGrid;
  uint32_t neg = 0;
  for (int j = 0; j < 4; ++j) neg |= uint32_t{kIqSignBytes[q[j] >> 9]} << (8 * j);
  return {grid64(g[q[0] & 511], g[q[1] & 511], g[q[2] & 511], g[q[3] & 511]), spread_signs(neg),
          scales16(b.scales[k])};
}

// IQ2_S values 32k..32k+31: 10-bit indices (2 bits each in qh[k]), stored sign bytes.
FRUGAL_TARGET inline Chunk chunk(const quant::BlockIQ2_S& b, int k) {
  const auto& g = quant::kIQ2SGrid;
  auto e = [&](int l) { return g[b.qs[4 * k + l] | ((b.qh[k] >> (2 * l)) & 3u) << 8]; };
  return {grid64(e(0), e(1), e(2), e(3)), spread_signs(iq_load_u32(b.qs + QK_K / 8 + 4 * k)),
          scales16(b.scales[k])};
}

// IQ3_S values 32k..32k+31: eight 9-bit indices (the 9th bits in qh[k]), stored sign bytes.
FRUGAL_TARGET inline Chunk chunk(const quant::BlockIQ3_S& b, int k) {
  const auto& g = quant::kIQ3SGrid;
  auto e = [&](int m) { return static_cast<int32_t>(g[b.qs[8 * k + m] | ((b.qh[k] >> m) & 1u) << 8]); };
  return {_mm256_setr_epi32(e(0), e(1), e(2), e(3), e(4), e(5), e(6), e(7)),
          spread_signs(iq_load_u32(b.signs + 4 * k)), scales32((b.scales[k / 2] >> (4 * (k % 2))) & 15)};
}

// IQ1_S: grid values g of -1, 0, 1 plus a shift of +-1/8 per 32 values. The
// scalar kernel's integer per unit, (2 ls + 1) (8 sum g q + delta sum q), is
// here 8 (2 ls + 1) sum (g + 1) q + (2 ls + 1) (delta - 8) sum q: g + 1 is
// unsigned (0..2) for vpmaddubsw, and the sum of the activations comes from a
// second vpmaddubsw against ones, weighted by the unit's shift factor.
struct ShiftChunk {
  __m256i magnitude;   // g + 1
  __m256i unit_scale;  // 8 (2 ls + 1)
  __m256i shift;       // (2 ls + 1) (delta - 8)
};
FRUGAL_TARGET inline ShiftChunk chunk(const quant::BlockIQ1_S& b, int k) {
  const auto& g = quant::kIQ1SGrid;
  auto e = [&](int l) { return g[b.qs[4 * k + l] | ((b.qh[k] >> (3 * l)) & 7u) << 8]; };
  const int m = 2 * ((b.qh[k] >> 12) & 7) + 1, delta = b.qh[k] & 0x8000 ? -1 : 1;
  return {_mm256_add_epi8(grid64(e(0), e(1), e(2), e(3)), _mm256_set1_epi8(1)),
          _mm256_set1_epi16(static_cast<int16_t>(8 * m)), _mm256_set1_epi16(static_cast<int16_t>(m * (delta - 8)))};
}

// IQ1_M values 32k..32k+31: the same per group of 8, each group with its own
// shift sign (the 4th bit of its qh nibble), a 3-bit scale per 16 values
// (packed four to a u16 scale word: units 2k and 2k + 1 share word k / 2).
// Always inlined, the grid words read into general registers and the
// shifts made in vector registers from the qh word: GCC had kept it out of
// line, so each chunk came back through the stack (three 256-bit stores and
// loads and a vzeroupper per call), and the grid and shift words went
// through small arrays whose 256-bit loads waited on the 64-bit stores
// before them. frugal bench tg256 on the bundled model in IQ1_M, one
// thread: 753 tokens per second before, 2,620 after (IQ1_S: 3,000).
FRUGAL_TARGET inline __attribute__((always_inline)) ShiftChunk chunk(const quant::BlockIQ1_M& b, int k) {
  uint16_t word, qh;
  std::memcpy(&word, b.scales + 2 * (k / 2), 2);
  std::memcpy(&qh, b.qh + 2 * k, 2);  // the nibbles of groups 4k..4k+3
  const int m0 = 2 * ((word >> (3 * ((2 * k) % 4))) & 7) + 1, m1 = 2 * ((word >> (3 * ((2 * k + 1) % 4))) & 7) + 1;
  auto e = [&](int h) { return quant::kIQ1SGrid[b.qs[4 * k + h] | ((qh >> (4 * h)) & 7u) << 8]; };
  // Int16 lanes 4h..4h+3 hold group h's pairs: (2 ls + 1) (delta - 8), delta
  // -1 where bit 4h + 3 of qh is set, so delta - 8 = -9, or -7 where it is clear.
  const __m256i mult = _mm256_setr_m128i(_mm_set1_epi16(static_cast<int16_t>(m0)), _mm_set1_epi16(static_cast<int16_t>(m1)));
  const __m256i sign_bit = _mm256_setr_epi16(8, 8, 8, 8, 0x80, 0x80, 0x80, 0x80, 0x800, 0x800, 0x800, 0x800,
                                             static_cast<int16_t>(0x8000), static_cast<int16_t>(0x8000),
                                             static_cast<int16_t>(0x8000), static_cast<int16_t>(0x8000));
  const __m256i clear = _mm256_cmpeq_epi16(_mm256_and_si256(_mm256_set1_epi16(static_cast<int16_t>(qh)), sign_bit),
                                           _mm256_setzero_si256());  // -1 where delta = +1
  const __m256i delta_less_8 = _mm256_sub_epi16(_mm256_set1_epi16(-9), _mm256_add_epi16(clear, clear));
  return {_mm256_add_epi8(grid64(e(0), e(1), e(2), e(3)), _mm256_set1_epi8(1)), _mm256_slli_epi16(mult, 3),
          _mm256_mullo_epi16(mult, delta_less_8)};
}

// What the shared loop needs: 32 values a chunk, eight int32 lanes per row.
constexpr int kChunkValues = 32;
using Acc = __m256i;
FRUGAL_TARGET inline Acc acc_zero() { return _mm256_setzero_si256(); }
FRUGAL_TARGET inline Acc accumulate(Acc sum, const Chunk& c, const int8_t* a) {
  const __m256i av = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a));
  const __m256i pairs = _mm256_maddubs_epi16(c.magnitude, _mm256_sign_epi8(av, c.sign));
  return _mm256_add_epi32(sum, _mm256_madd_epi16(pairs, c.unit_scale));
}
FRUGAL_TARGET inline Acc accumulate(Acc sum, const ShiftChunk& c, const int8_t* a) {
  const __m256i av = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a));
  sum = _mm256_add_epi32(sum, _mm256_madd_epi16(_mm256_maddubs_epi16(c.magnitude, av), c.unit_scale));
  const __m256i q_pairs = _mm256_maddubs_epi16(_mm256_set1_epi8(1), av);
  return _mm256_add_epi32(sum, _mm256_madd_epi16(q_pairs, c.shift));
}
FRUGAL_TARGET inline int32_t lane_total(Acc s) {
  __m128i q = _mm_add_epi32(_mm256_castsi256_si128(s), _mm256_extracti128_si256(s, 1));
  q = _mm_add_epi32(q, _mm_shuffle_epi32(q, 0x4E));
  return _mm_cvtsi128_si32(_mm_add_epi32(q, _mm_shuffle_epi32(q, 0xB1)));
}

#define FRUGAL_IQ1_S 1
#include "kernels/matmul_iq_x86-inl.h"
#undef FRUGAL_IQ1_S
#undef FRUGAL_TARGET

}  // namespace
}  // namespace iq_avx2

const TypeKernel* iq_avx2_kernel(TensorType t) { return iq_avx2::level_iq_kernel(t); }

}  // namespace frugal::kernels

#else
namespace frugal::kernels {
const TypeKernel* iq_avx2_kernel(TensorType) { return nullptr; }
}  // namespace frugal::kernels
#endif
