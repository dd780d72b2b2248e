// Dot kernels of the lattice types IQ2_XXS, IQ2_XS, IQ2_S, IQ3_XXS and IQ3_S
// at the avx512 level, against Q8_K activations: the same integer sums as their scalar
// twins (matmul_iq_scalar.cc), so the same bits.
//
// A block is taken 64 values at a time. The grid points of its eight groups
// (table lookups) make one vector of unsigned magnitudes (at most 62); the
// eight sign bytes (stored, or from 7-bit indices) make one 64-bit mask,
// under which the activations are negated (they are within -127..127, so
// negation is exact); vpmaddubsw then
// gives exact int16 pair sums (at most 2 * 62 * 127), and vpdpwssd weights
// each pair by its unit's 2 ls + 1 and adds it to int32 lanes. The lanes'
// total is the block's integer sum, scaled as the scalar kernel scales it.
// The magnitudes, masks and scales of a block are decoded once for all the
// activation rows of a call (the loop over blocks: matmul_iq_x86-inl.h).
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
namespace iq_avx512 {
namespace {
#define FRUGAL_TARGET __attribute__((target("avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")))

using quant::BlockQ8_K;
using quant::QK_K;

// 64 values of a block: magnitudes (unsigned bytes), the values to negate
// (bit i for value i), and the int16 weight of each pair of values.
struct Chunk {
  __m512i magnitude;
  __mmask64 negative;
  __m512i unit_scale;
};

// int16 m0 in the low 256 bits, m1 in the high (32-value units).
FRUGAL_TARGET inline __m512i unit_scales(int m0, int m1) {
  return _mm512_maskz_inserti64x4(0xFF, _mm512_set1_epi16(static_cast<int16_t>(m0)),
                                  _mm256_set1_epi16(static_cast<int16_t>(m1)), 1);
}

// 16-value units (IQ2_XS, IQ2_S): two bytes of two 4-bit scales each, as
// 2 s + 1 in every int16 lane of the unit's 128-bit lane.
FRUGAL_TARGET inline __m512i scales_of16(const uint8_t* two_bytes) {
  auto pair = [](int s) {
    const int m = 2 * s + 1;
    return m | m << 16;
  };
  const int m0 = pair(two_bytes[0] & 15), m1 = pair(two_bytes[0] >> 4);
  const int m2 = pair(two_bytes[1] & 15), m3 = pair(two_bytes[1] >> 4);
  return _mm512_set_epi32(m3, m3, m3, m3, m2, m2, m2, m2, m1, m1, m1, m1, m0, m0, m0, m0);
}

// IQ2_XXS: per 32 values four grid-index bytes, then a word of four sign
// indices and the scale; units 2k and 2k + 1.
FRUGAL_TARGET inline Chunk chunk(const quant::BlockIQ2_XXS& b, int k) {
  const auto* q = reinterpret_cast<const uint8_t*>(b.qs) + 16 * k;
  const uint32_t aux0 = iq_load_u32(q + 4), aux1 = iq_load_u32(q + 12);
  const auto& g = quant::kIQ2XXSGrid;
  return {_mm512_set_epi64(static_cast<int64_t>(g[q[11]]), static_cast<int64_t>(g[q[10]]),
                           static_cast<int64_t>(g[q[9]]), static_cast<int64_t>(g[q[8]]),
                           static_cast<int64_t>(g[q[3]]), static_cast<int64_t>(g[q[2]]),
                           static_cast<int64_t>(g[q[1]]), static_cast<int64_t>(g[q[0]])),
          iq_signs32(aux0) | iq_signs32(aux1) << 32,
          unit_scales(2 * static_cast<int>(aux0 >> 28) + 1, 2 * static_cast<int>(aux1 >> 28) + 1)};
}

// IQ3_XXS: 64 grid-index bytes (a 4-value point each), then a word of sign
// indices and the scale per 32 values; units 2k and 2k + 1.
FRUGAL_TARGET inline Chunk chunk(const quant::BlockIQ3_XXS& b, int k) {
  const uint8_t* q = b.qs + 16 * k;
  const uint32_t aux0 = iq_load_u32(b.qs + QK_K / 4 + 8 * k), aux1 = iq_load_u32(b.qs + QK_K / 4 + 8 * k + 4);
  // Sixteen 32-bit entries: one vpgatherdd (5% faster than sixteen loads
  // and inserts here; the 64-bit entries of the IQ2 grids are faster loaded
  // one by one, by 15-25%). The zero-masked forms with a full mask are the
  // plain instructions (GCC 12's unmasked ones warn, as in matmul_avx512.cc).
  const __m512i idx = _mm512_maskz_cvtepu8_epi32(0xFFFF, _mm_loadu_si128(reinterpret_cast<const __m128i*>(q)));
  return {_mm512_mask_i32gather_epi32(_mm512_setzero_si512(), 0xFFFF, idx, quant::kIQ3XXSGrid.data(), 4),
          iq_signs32(aux0) | iq_signs32(aux1) << 32,
          unit_scales(2 * static_cast<int>(aux0 >> 28) + 1, 2 * static_cast<int>(aux1 >> 28) + 1)};
}

// IQ2_XS: per 8 values a u16 of a 9-bit grid index and a 7-bit sign index;
// per 16 values a 4-bit scale (two to a byte): units 4k .. 4k + 3.
FRUGAL_TARGET inline Chunk chunk(const quant::BlockIQ2_XS& b, int k) {
  const uint16_t* q = b.qs + 8 * k;
  const auto& g = quant::kIQ2XSGrid;
  uint64_t neg = 0;
  for (int j = 0; j < 8; ++j) neg |= uint64_t{kIqSignBytes[q[j] >> 9]} << (8 * j);
  auto e = [&](int j) { return static_cast<int64_t>(g[q[j] & 511]); };
  return {_mm512_set_epi64(e(7), e(6), e(5), e(4), e(3), e(2), e(1), e(0)), neg, scales_of16(b.scales + 2 * k)};
}

// The total of 16 int32 lanes (exact). The zero-masked extracts are the
// plain ones: GCC 12's unmasked forms start from an undefined register and warn.
FRUGAL_TARGET inline int32_t lane_total(__m512i s) {
  const __m256i h =
      _mm256_add_epi32(_mm512_maskz_extracti64x4_epi64(0xF, s, 0), _mm512_maskz_extracti64x4_epi64(0xF, s, 1));
  __m128i q = _mm_add_epi32(_mm256_castsi256_si128(h), _mm256_extracti128_si256(h, 1));
  q = _mm_add_epi32(q, _mm_shuffle_epi32(q, 0x4E));
  return _mm_cvtsi128_si32(_mm_add_epi32(q, _mm_shuffle_epi32(q, 0xB1)));
}

// IQ2_S: per 8 values a 10-bit grid index (8 bits in qs, 2 in qh) and an
// explicit sign byte (qs[32..63]); the scales as IQ2_XS.
FRUGAL_TARGET inline Chunk chunk(const quant::BlockIQ2_S& b, int k) {
  const auto& g = quant::kIQ2SGrid;
  auto e = [&](int j) {
    const int ib = 2 * k + j / 4, l = j % 4;
    return static_cast<int64_t>(g[b.qs[8 * k + j] | ((b.qh[ib] >> (2 * l)) & 3u) << 8]);
  };
  uint64_t neg;
  std::memcpy(&neg, b.qs + QK_K / 8 + 8 * k, 8);
  return {_mm512_set_epi64(e(7), e(6), e(5), e(4), e(3), e(2), e(1), e(0)), neg, scales_of16(b.scales + 2 * k)};
}

// IQ3_S: per 4 values a 9-bit grid index (8 bits in qs, the 9th a bit of
// qh: 16 of them for the 16 points here, added as 256 under a mask), an
// explicit sign byte per 8 values, a 4-bit scale per 32 (two to a byte).
FRUGAL_TARGET inline Chunk chunk(const quant::BlockIQ3_S& b, int k) {
  const __m128i low8 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(b.qs + 16 * k));
  const __m512i low = _mm512_maskz_cvtepu8_epi32(0xFFFF, low8);
  const auto high = static_cast<__mmask16>(b.qh[2 * k] | b.qh[2 * k + 1] << 8);
  const __m512i idx = _mm512_mask_add_epi32(low, high, low, _mm512_set1_epi32(256));
  uint64_t neg;
  std::memcpy(&neg, b.signs + 8 * k, 8);
  return {_mm512_mask_i32gather_epi32(_mm512_setzero_si512(), 0xFFFF, idx, quant::kIQ3SGrid.data(), 4), neg,
          unit_scales(2 * (b.scales[k] & 15) + 1, 2 * (b.scales[k] >> 4) + 1)};
}

// What the shared loop (matmul_iq_x86-inl.h) needs: 64 values a chunk,
// int32 lanes of one 512-bit register per activation row.
constexpr int kChunkValues = 64;
using Acc = __m512i;
FRUGAL_TARGET inline Acc acc_zero() { return _mm512_setzero_si512(); }
FRUGAL_TARGET inline Acc accumulate(Acc sum, const Chunk& c, const int8_t* a) {
  const __m512i av = _mm512_loadu_si512(a);
  const __m512i signed_av = _mm512_mask_sub_epi8(av, c.negative, _mm512_setzero_si512(), av);
  return _mm512_dpwssd_epi32(sum, _mm512_maddubs_epi16(c.magnitude, signed_av), c.unit_scale);
}

#define FRUGAL_IQ1_S 0
#include "kernels/matmul_iq_x86-inl.h"
#undef FRUGAL_IQ1_S
#undef FRUGAL_TARGET

}  // namespace
}  // namespace iq_avx512

const TypeKernel* iq_avx512_kernel(TensorType t) {
  // IQ1_S, IQ1_M: the avx2 kernels. A 512-bit IQ1_S one (two 32-value units a
  // chunk) ran at half their speed here (8 MiB, one row: 5.3 ms against 2.8).
  if (t == TensorType::IQ1_S || t == TensorType::IQ1_M) return iq_avx2_kernel(t);
  return iq_avx512::level_iq_kernel(t);
}

}  // namespace frugal::kernels

#else
namespace frugal::kernels {
const TypeKernel* iq_avx512_kernel(TensorType) { return nullptr; }
}  // namespace frugal::kernels
#endif
