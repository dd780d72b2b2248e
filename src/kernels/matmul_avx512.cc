// The kernels at the avx512 level: the same code as avx2 (matmul_x86-inl.h)
// with vpdpbusd/vpdpwssd (AVX512_VNNI on 256-bit registers) for the int8 dot products,
// and, where the CPU has AVX512_BF16, vdpbf16ps for bf16 weights.
#include "kernels/matmul_kernels.h"

#if defined(__x86_64__)
#include <immintrin.h>

#include <algorithm>
#include <cstring>
#include <type_traits>
#include <vector>

#include "base/fp16.h"
#include "kernels/block_unpack.h"
#include "kernels/quantize_activations.h"

namespace frugal::kernels {
namespace avx512 {
namespace {
#define FRUGAL_TARGET __attribute__((target("avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")))
#define FRUGAL_VNNI 1
#include "kernels/matmul_x86-inl.h"
#include "kernels/encode_x86-inl.h"

// --- Q4_K decode on 512-bit registers ---------------------------------------
// The four-row decode kernel (rows4) spends nearly all of a decode step in
// its per-block sums. With 512-bit registers one register holds the codes of
// two sub-blocks: 64 bytes of qs give sub-blocks (0, 2) in their low nibbles
// and (1, 3) in their high ones, so a block takes 4 vpmaddubsw + 4 vpdpwssd
// where the 256-bit sums take 8 + 8. The activations are paired the same way
// (the same for the four rows: loaded once). The integer sums I and M are the
// same integers as Q45KSums<BlockQ4_K>, so the results are the same bits.
// (The zero-masked forms with a full mask are the plain instructions: GCC 12's
// unmasked intrinsics start from an undefined register and warn about it.)
FRUGAL_TARGET inline __m512i join256(__m256i lo, __m256i hi) {
  return _mm512_maskz_inserti64x4(0xFF, _mm512_castsi256_si512(lo), hi, 1);
}
FRUGAL_TARGET inline __m512i pair256(const int8_t* lo, const int8_t* hi) { return join256(load32(lo), load32(hi)); }
// int16 lane k0..k3 of a 128-bit lane broadcast over 128-bit lane 0..3.
FRUGAL_TARGET inline __m512i lane16_mask512(int k0, int k1, int k2, int k3) {
  return join256(lane16_mask(k0, k1), lane16_mask(k2, k3));
}
FRUGAL_TARGET inline __m512i broadcast128(__m128i v) { return _mm512_maskz_broadcast_i32x4(0xFFFF, v); }
// The 8 int32 lanes of the two 256-bit halves added (an exact integer sum).
FRUGAL_TARGET inline __m256i add_halves(__m512i s) {
  return _mm256_add_epi32(_mm512_maskz_extracti64x4_epi64(0xF, s, 0), _mm512_maskz_extracti64x4_epi64(0xF, s, 1));
}

struct Q4KSums512 {
  using Block = quant::BlockQ4_K;
  using Act = BlockQ8_K;
  static constexpr int64_t kValues = QK_K;
  static constexpr bool kMin = true;
  template <int R>
  FRUGAL_TARGET static void sums(const Block& wk, const Act* const a[R], __m256i I[R], __m256i M[R]) {
    const __m128i sm = q4k_scales_mins(wk.scales);
    const __m256i sc16 = _mm256_cvtepu8_epi16(sm);  // 8 scales, then 8 minima, as int16
    const __m512i sc = broadcast128(_mm256_castsi256_si128(sc16));
    const __m128i mn8 = _mm_unpackhi_epi64(sm, sm);
    const __m256i mins16 = _mm256_cvtepu8_epi16(_mm_unpacklo_epi8(mn8, mn8));
    const __m512i m4 = _mm512_set1_epi8(0x0F);
    __m512i s0[R], s1[R];
    _Pragma("GCC unroll 4") for (int r = 0; r < R; ++r) s0[r] = s1[r] = _mm512_setzero_si512();
#pragma GCC unroll 2
    for (int h = 0; h < 2; ++h) {  // sub-blocks 4h .. 4h + 3
      const __m512i bytes = _mm512_loadu_si512(wk.qs + 64 * h);
      const __m512i q_even = _mm512_and_si512(bytes, m4);                      // 4h, 4h + 2
      const __m512i q_odd = _mm512_and_si512(_mm512_srli_epi16(bytes, 4), m4);  // 4h + 1, 4h + 3
      const __m512i c_even = _mm512_shuffle_epi8(sc, lane16_mask512(4 * h, 4 * h, 4 * h + 2, 4 * h + 2));
      const __m512i c_odd = _mm512_shuffle_epi8(sc, lane16_mask512(4 * h + 1, 4 * h + 1, 4 * h + 3, 4 * h + 3));
      _Pragma("GCC unroll 4") for (int r = 0; r < R; ++r) {
        const int8_t* aq = a[r]->qs + 128 * h;
        s0[r] = _mm512_dpwssd_epi32(s0[r], _mm512_maddubs_epi16(q_even, pair256(aq, aq + 64)), c_even);
        s1[r] = _mm512_dpwssd_epi32(s1[r], _mm512_maddubs_epi16(q_odd, pair256(aq + 32, aq + 96)), c_odd);
      }
    }
    _Pragma("GCC unroll 4") for (int r = 0; r < R; ++r) {
      I[r] = add_halves(_mm512_add_epi32(s0[r], s1[r]));
      M[r] = _mm256_madd_epi16(mins16, load32(a[r]->bsums));
    }
  }
  static constexpr size_t kScaleOffset = 0, kDLane = 0;  // d, then dmin
};

// Q6_K the same way: the 64 bytes ql[64h..] give sub-blocks (4h, 4h + 1) in
// their low nibbles and (4h + 2, 4h + 3) in their high ones, with the 2-bit
// fields of qh[32h..] above them (fields 0 and 1 for the first pair, 2 and 3
// for the second); the matching activations are 64 contiguous bytes. Each
// 128-bit lane is 16 values with one int8 scale.
struct Q6KSums512 {
  using Block = quant::BlockQ6_K;
  using Act = BlockQ8_K;
  static constexpr int64_t kValues = QK_K;
  static constexpr bool kMin = false;
  template <int R>
  FRUGAL_TARGET static void sums(const Block& wk, const Act* const a[R], __m256i I[R], __m256i*) {
    const __m256i sc16 = _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(wk.scales)));
    const __m512i m4 = _mm512_set1_epi8(0x0F), m3 = _mm512_set1_epi8(3);
    __m512i s0[R], s1[R];
    _Pragma("GCC unroll 4") for (int r = 0; r < R; ++r) s0[r] = s1[r] = _mm512_setzero_si512();
#pragma GCC unroll 2
    for (int h = 0; h < 2; ++h) {
      const __m512i sc = broadcast128(h ? _mm256_extracti128_si256(sc16, 1) : _mm256_castsi256_si128(sc16));
      const __m512i ql = _mm512_loadu_si512(wk.ql + 64 * h);
      const __m256i qh = load32(wk.qh + 32 * h);
      const __m512i qh2 = join256(qh, _mm256_srli_epi16(qh, 2));
      const __m512i q_lo = _mm512_or_si512(_mm512_and_si512(ql, m4),
                                           _mm512_slli_epi16(_mm512_and_si512(qh2, m3), 4));
      const __m512i q_hi = _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi16(ql, 4), m4),
                                           _mm512_slli_epi16(_mm512_and_si512(_mm512_srli_epi16(qh2, 4), m3), 4));
      const __m512i c_lo = _mm512_shuffle_epi8(sc, lane16_mask512(0, 1, 2, 3));
      const __m512i c_hi = _mm512_shuffle_epi8(sc, lane16_mask512(4, 5, 6, 7));
      _Pragma("GCC unroll 4") for (int r = 0; r < R; ++r) {
        const int8_t* aq = a[r]->qs + 128 * h;
        s0[r] = _mm512_dpwssd_epi32(s0[r], _mm512_maddubs_epi16(q_lo, _mm512_loadu_si512(aq)), c_lo);
        s1[r] = _mm512_dpwssd_epi32(s1[r], _mm512_maddubs_epi16(q_hi, _mm512_loadu_si512(aq + 64)), c_hi);
      }
    }
    // The -32 offset: 32 * sum_k sc_k * sum16(a)_k.
    _Pragma("GCC unroll 4") for (int r = 0; r < R; ++r) {
      I[r] = _mm256_sub_epi32(add_halves(_mm512_add_epi32(s0[r], s1[r])),
                              _mm256_slli_epi32(_mm256_madd_epi16(sc16, load32(a[r]->bsums)), 5));
    }
  }
  static constexpr size_t kScaleOffset = 206, kDLane = 1;  // the last two scales, then d
};

// --- prefill tiles of 8 outputs ----------------------------------------------
// The 8 weight rows of a tile are unpacked to signed int8 codes once and
// transposed so that 32-bit lane k of vector g holds row k's codes 4g..4g+3
// of a 32-value sub-block; vpdpbusd with the activation's 4 codes broadcast
// then multiplies them for all 8 outputs at once: 8 instructions per
// sub-block and activation row for 8 outputs, where the row kernels need 8
// per output. vpdpbusd wants one unsigned operand, so the activations go in
// as a + 128 (a xor 0x80) and 128 * sum(codes), known from the tile, is
// taken off. The integer sums are the scalar twin's; only f32 rounding
// differs. Each type says how its block becomes sub-blocks of signed codes
// with f32 multipliers (one per 16 values) and, for Q4_K/Q5_K, minima that
// multiply the activations' sums.

// One weight block as kSub sub-blocks of 32 signed codes with integer
// scales for values 0..15 (lo) and 16..31 (hi), integer minima (kMin), and
// the block's f32 scale d (and dmin): value = d * sc * code - dmin * mn.
// The integer sum I = sum_j (sc_lo,j P_lo,j + sc_hi,j P_hi,j) is exact, so it
// equals the row kernels' (see the canonical assembly in matmul_x86-inl.h).
template <int kSubBlocks, bool kMinima, bool kScaled>
struct Unpacked {
  static constexpr int kSub = kSubBlocks;
  static constexpr bool kMin = kMinima, kScale = kScaled;
  __m256i q[kSubBlocks];
  int32_t lo[kSubBlocks], hi[kSubBlocks], mn[kSubBlocks];
  float d, dmin;
};
using Unpacked32 = Unpacked<1, false, false>;

template <class Block>
FRUGAL_TARGET inline void unpack_32(const Block& b, Unpacked32& u) {
  u.q[0] = weights_s8(b);
  u.d = half_to_f32(b.d);
}
FRUGAL_TARGET inline void unpack_block(const quant::BlockQ8_0& b, Unpacked32& u) { unpack_32(b, u); }
FRUGAL_TARGET inline void unpack_block(const quant::BlockQ4_0& b, Unpacked32& u) { unpack_32(b, u); }
FRUGAL_TARGET inline void unpack_block(const quant::BlockQ5_0& b, Unpacked32& u) { unpack_32(b, u); }
FRUGAL_TARGET inline void unpack_block(const quant::BlockIQ4_NL& b, Unpacked32& u) { unpack_32(b, u); }

template <class Block>
FRUGAL_TARGET inline void unpack_q45k(const Block& b, Unpacked<8, true, true>& u) {
  unpack_codes(b, u.q);
  uint8_t sc[8], mn[8];
  unpack_q4k_scales(b.scales, sc, mn);
  for (int j = 0; j < 8; ++j) {
    u.lo[j] = u.hi[j] = sc[j];
    u.mn[j] = mn[j];
  }
  u.d = half_to_f32(b.d);
  u.dmin = half_to_f32(b.dmin);
}
FRUGAL_TARGET inline void unpack_block(const quant::BlockQ4_K& b, Unpacked<8, true, true>& u) { unpack_q45k(b, u); }
FRUGAL_TARGET inline void unpack_block(const quant::BlockQ5_K& b, Unpacked<8, true, true>& u) { unpack_q45k(b, u); }

FRUGAL_TARGET inline void unpack_block(const quant::BlockQ6_K& b, Unpacked<8, false, true>& u) {
  unpack_codes(b, u.q);
  for (int j = 0; j < 8; ++j) {
    u.q[j] = _mm256_sub_epi8(u.q[j], _mm256_set1_epi8(32));
    u.lo[j] = b.scales[2 * j];
    u.hi[j] = b.scales[2 * j + 1];
  }
  u.d = half_to_f32(b.d);
}

FRUGAL_TARGET inline void unpack_block(const quant::BlockIQ4_XS& b, Unpacked<8, false, true>& u) {
  unpack_codes(b, u.q);
  for (int j = 0; j < 8; ++j) u.lo[j] = u.hi[j] = iq4xs_scale(b, j);
  u.d = half_to_f32(b.d);
}

// Per block type: its unpacked form, its activation blocks, and whether a
// sub-block has one integer scale for its 32 values (then the two halves'
// dot products add up before one multiply) or one per 16 (Q6_K).
template <class Block> struct TileOf;
template <class U_, class Act_, bool kOneScale_>
struct TileFormat {
  using U = U_;
  using Act = Act_;
  static constexpr bool kOneScale = kOneScale_;
};
template <> struct TileOf<quant::BlockQ8_0> : TileFormat<Unpacked32, ActBlock32, true> {};
template <> struct TileOf<quant::BlockQ4_0> : TileFormat<Unpacked32, ActBlock32, true> {};
template <> struct TileOf<quant::BlockQ5_0> : TileFormat<Unpacked32, ActBlock32, true> {};
template <> struct TileOf<quant::BlockIQ4_NL> : TileFormat<Unpacked32, ActBlock32, true> {};
template <> struct TileOf<quant::BlockQ4_K> : TileFormat<Unpacked<8, true, true>, BlockQ8_K, true> {};
template <> struct TileOf<quant::BlockQ5_K> : TileFormat<Unpacked<8, true, true>, BlockQ8_K, true> {};
template <> struct TileOf<quant::BlockQ6_K> : TileFormat<Unpacked<8, false, true>, BlockQ8_K, false> {};
template <> struct TileOf<quant::BlockIQ4_XS> : TileFormat<Unpacked<8, false, true>, BlockQ8_K, true> {};

// The integer and float lanes of a tile: 8 weight rows on 256-bit
// registers, or 16 on 512-bit ones. With 16 rows each broadcast activation
// word and each vpdpbusd serve twice the outputs, which halves the loads
// that bound the 8-row loop; the arithmetic per output is the same, so a row
// gets the same bits either way. (The zero-masked 512-bit forms with a full
// mask are the plain instructions; see join256.)
template <int W>
struct Lanes;
template <>
struct Lanes<8> {
  using I = __m256i;
  using F = __m256;
  FRUGAL_TARGET static I zero() { return _mm256_setzero_si256(); }
  FRUGAL_TARGET static I load(const int32_t* p) { return _mm256_load_si256(reinterpret_cast<const I*>(p)); }
  FRUGAL_TARGET static F load(const float* p) { return _mm256_load_ps(p); }
  FRUGAL_TARGET static I add(I a, I b) { return _mm256_add_epi32(a, b); }
  FRUGAL_TARGET static I mullo(I a, I b) { return _mm256_mullo_epi32(a, b); }
  FRUGAL_TARGET static I madd16(I a, int32_t b) { return _mm256_madd_epi16(a, _mm256_set1_epi32(b)); }
  FRUGAL_TARGET static I dpbusd(I acc, int32_t a, I q) { return _mm256_dpbusd_epi32(acc, _mm256_set1_epi32(a), q); }
  FRUGAL_TARGET static I dpbusd(I acc, I a, I q) { return _mm256_dpbusd_epi32(acc, a, q); }
  FRUGAL_TARGET static I neg_shl7(I a) { return _mm256_sub_epi32(zero(), _mm256_slli_epi32(a, 7)); }
  FRUGAL_TARGET static I ones8() { return _mm256_set1_epi8(1); }
  FRUGAL_TARGET static F fzero() { return _mm256_setzero_ps(); }
  FRUGAL_TARGET static F fma(I i, F d, float da, F acc) {
    return _mm256_fmadd_ps(_mm256_cvtepi32_ps(i), _mm256_mul_ps(d, _mm256_set1_ps(da)), acc);
  }
  FRUGAL_TARGET static F fnma(I i, F d, float da, F acc) {
    return _mm256_fnmadd_ps(_mm256_cvtepi32_ps(i), _mm256_mul_ps(d, _mm256_set1_ps(da)), acc);
  }
  FRUGAL_TARGET static void store(float* y, F v) { _mm256_storeu_ps(y, v); }
  // Lane k of q[g]: row k's word g of the sub-block (rows' codes in v[k]).
  FRUGAL_TARGET static void interleave(const __m256i v[8], I q[8]) { transpose8x8(v, q); }
};
template <>
struct Lanes<16> {
  using I = __m512i;
  using F = __m512;
  FRUGAL_TARGET static I zero() { return _mm512_setzero_si512(); }
  FRUGAL_TARGET static I load(const int32_t* p) { return _mm512_load_si512(p); }
  FRUGAL_TARGET static F load(const float* p) { return _mm512_load_ps(p); }
  FRUGAL_TARGET static I add(I a, I b) { return _mm512_add_epi32(a, b); }
  FRUGAL_TARGET static I mullo(I a, I b) { return _mm512_mullo_epi32(a, b); }
  FRUGAL_TARGET static I madd16(I a, int32_t b) { return _mm512_madd_epi16(a, _mm512_set1_epi32(b)); }
  FRUGAL_TARGET static I dpbusd(I acc, int32_t a, I q) { return _mm512_dpbusd_epi32(acc, _mm512_set1_epi32(a), q); }
  FRUGAL_TARGET static I dpbusd(I acc, I a, I q) { return _mm512_dpbusd_epi32(acc, a, q); }
  FRUGAL_TARGET static I neg_shl7(I a) { return _mm512_sub_epi32(zero(), _mm512_maskz_slli_epi32(0xFFFF, a, 7)); }
  FRUGAL_TARGET static I ones8() { return _mm512_set1_epi8(1); }
  FRUGAL_TARGET static F fzero() { return _mm512_setzero_ps(); }
  FRUGAL_TARGET static F fma(I i, F d, float da, F acc) {
    return _mm512_fmadd_ps(_mm512_maskz_cvtepi32_ps(0xFFFF, i), _mm512_mul_ps(d, _mm512_set1_ps(da)), acc);
  }
  FRUGAL_TARGET static F fnma(I i, F d, float da, F acc) {
    return _mm512_fnmadd_ps(_mm512_maskz_cvtepi32_ps(0xFFFF, i), _mm512_mul_ps(d, _mm512_set1_ps(da)), acc);
  }
  FRUGAL_TARGET static void store(float* y, F v) { _mm512_storeu_ps(y, v); }
  FRUGAL_TARGET static void interleave(const __m256i v[16], I q[8]) {
    __m256i lo[8], hi[8];
    transpose8x8(v, lo);
    transpose8x8(v + 8, hi);
#pragma GCC unroll 8
    for (int g = 0; g < 8; ++g) q[g] = join256(lo[g], hi[g]);
  }
};

// One 32-value sub-block of the W rows of a tile, and one block's scales.
template <int W>
struct alignas(64) TileSub {
  typename Lanes<W>::I q[8];                  // interleaved codes
  typename Lanes<W>::I offset_lo, offset_hi;  // -128 * sum of codes 0..15 / 16..31, per row
  typename Lanes<W>::I lo, hi;                // integer scales, per row (hi: types with one per 16 values)
};
template <int W>
struct alignas(64) TileScale {
  typename Lanes<W>::F d, dmin;
  typename Lanes<W>::I mn_pair[4];  // lane k: row k's minima of sub-blocks 2p and 2p + 1, as two int16
};

FRUGAL_TARGET inline const int8_t* act_codes(const ActBlock32& a, int) { return a.qs; }
FRUGAL_TARGET inline const int8_t* act_codes(const BlockQ8_K& a, int j) { return a.qs + 32 * j; }
// The activation sums of sub-blocks 2p and 2p + 1 as two int16 in one word
// (|sum| <= 32 * 127 fits), the other operand of vpmaddwd with mn_pair[p].
FRUGAL_TARGET inline int32_t act_sum_pair(const BlockQ8_K& a, int p) {
  const auto sum32 = [&](int j) { return static_cast<uint32_t>(a.bsums[2 * j] + a.bsums[2 * j + 1]) & 0xFFFF; };
  return static_cast<int32_t>(sum32(2 * p) | (sum32(2 * p + 1) << 16));
}

// The activations a tile call shares: codes as vpdpbusd's unsigned operand
// (a xor 0x80) and, for types with minima, the sub-block sum pairs.
struct TileActs {
  const uint8_t* flipped;  // row r at r * n_in
  const int32_t* pairs;    // row r, block b at (r * nb + b) * 4
};

// Unpacks W weight rows (from wt, row stride w_stride) into the tile.
template <class Block, int W>
FRUGAL_TARGET void prepare_tile(const uint8_t* wt, size_t w_stride, int64_t nb, TileSub<W>* tile,
                                TileScale<W>* scales) {
  using U = typename TileOf<Block>::U;
  using V = Lanes<W>;
  constexpr int S = U::kSub;
  for (int64_t b = 0; b < nb; ++b) {
    U u[W];
    for (int k = 0; k < W; ++k) unpack_block(reinterpret_cast<const Block*>(wt + k * w_stride)[b], u[k]);
    alignas(64) float f[W];
    alignas(64) int32_t lanes[W];
    for (int k = 0; k < W; ++k) f[k] = u[k].d;
    scales[b].d = V::load(f);
    if constexpr (U::kMin) {
      for (int k = 0; k < W; ++k) f[k] = u[k].dmin;
      scales[b].dmin = V::load(f);
      for (int p = 0; p < S / 2; ++p) {
        for (int k = 0; k < W; ++k) {
          lanes[k] = static_cast<int32_t>((static_cast<uint32_t>(u[k].mn[2 * p]) & 0xFFFF) |
                                          (static_cast<uint32_t>(u[k].mn[2 * p + 1]) << 16));
        }
        scales[b].mn_pair[p] = V::load(lanes);
      }
    }
    for (int j = 0; j < S; ++j) {
      TileSub<W>& t = tile[b * S + j];
      __m256i v[W];
      for (int k = 0; k < W; ++k) v[k] = u[k].q[j];
      V::interleave(v, t.q);
      typename V::I sum_lo = V::zero(), sum_hi = V::zero();
#pragma GCC unroll 4
      for (int g = 0; g < 4; ++g) {
        sum_lo = V::dpbusd(sum_lo, V::ones8(), t.q[g]);
        sum_hi = V::dpbusd(sum_hi, V::ones8(), t.q[g + 4]);
      }
      t.offset_lo = V::neg_shl7(sum_lo);
      t.offset_hi = V::neg_shl7(sum_hi);
      if constexpr (U::kScale) {
        for (int k = 0; k < W; ++k) lanes[k] = u[k].lo[j];
        t.lo = V::load(lanes);
        if constexpr (!TileOf<Block>::kOneScale) {
          for (int k = 0; k < W; ++k) lanes[k] = u[k].hi[j];
          t.hi = V::load(lanes);
        }
      }
    }
  }
}

// y[r * ldy + k] for the tile's W rows k and every activation row r, four
// activation rows at a time (each activation word broadcast once for the W
// outputs).
template <class Block, int W>
FRUGAL_TARGET void multiply_tile(const TileSub<W>* tile, const TileScale<W>* scales, const TileActs& x,
                                 const void* act, size_t act_stride, int64_t n_rows, int64_t n_in, float* y,
                                 int64_t ldy) {
  using U = typename TileOf<Block>::U;
  using Act = typename TileOf<Block>::Act;
  using V = Lanes<W>;
  using I = typename V::I;
  constexpr int S = U::kSub, R = 4;
  const int64_t nb = n_in / (32 * S);
  for (int64_t r0 = 0; r0 < n_rows; r0 += R) {
    const int n = static_cast<int>(std::min<int64_t>(R, n_rows - r0));
    const Act* a[R];
    const uint8_t* fr[R];  // row r's flipped codes
    const int32_t* pr[R];  // and sub-block sum pairs
    // A short last group repeats its last row (computed, not stored).
#pragma GCC unroll 4
    for (int r = 0; r < R; ++r) {
      const int64_t row = r0 + std::min(r, n - 1);
      a[r] = act_row<Act>(act, act_stride, static_cast<int>(row));
      fr[r] = x.flipped + row * n_in;
      pr[r] = x.pairs + row * nb * 4;
    }
    typename V::F acc[R];
#pragma GCC unroll 4
    for (int r = 0; r < R; ++r) acc[r] = V::fzero();
    for (int64_t b = 0; b < nb; ++b) {
      I isum[R], msum[R];
#pragma GCC unroll 4
      for (int r = 0; r < R; ++r) isum[r] = msum[r] = V::zero();
      for (int j = 0; j < S; ++j) {
        const TileSub<W>& t = tile[b * S + j];
        const int64_t at = 32 * (b * S + j);
        I p[R][2];
#pragma GCC unroll 4
        for (int r = 0; r < R; ++r) {
          p[r][0] = t.offset_lo;
          p[r][1] = t.offset_hi;
        }
#pragma GCC unroll 8
        for (int g = 0; g < 8; ++g) {
          const I q = t.q[g];
#pragma GCC unroll 4
          for (int r = 0; r < R; ++r) {
            int32_t word;
            std::memcpy(&word, fr[r] + at + 4 * g, 4);
            p[r][g / 4] = V::dpbusd(p[r][g / 4], word, q);
          }
        }
#pragma GCC unroll 4
        for (int r = 0; r < R; ++r) {
          if constexpr (U::kScale && TileOf<Block>::kOneScale) {
            isum[r] = V::add(isum[r], V::mullo(V::add(p[r][0], p[r][1]), t.lo));
          } else if constexpr (U::kScale) {
            isum[r] = V::add(isum[r], V::add(V::mullo(p[r][0], t.lo), V::mullo(p[r][1], t.hi)));
          } else {
            isum[r] = V::add(p[r][0], p[r][1]);
          }
        }
      }
      if constexpr (U::kMin) {
        // M = sum_j mn_j * sum_j(a): four vpmaddwd over sub-block pairs.
#pragma GCC unroll 4
        for (int r = 0; r < R; ++r) {
#pragma GCC unroll 4
          for (int q = 0; q < S / 2; ++q) msum[r] = V::add(msum[r], V::madd16(scales[b].mn_pair[q], pr[r][b * 4 + q]));
        }
      }
#pragma GCC unroll 4
      for (int r = 0; r < R; ++r) {
        acc[r] = V::fma(isum[r], scales[b].d, a[r][b].d, acc[r]);
        if constexpr (U::kMin) acc[r] = V::fnma(msum[r], scales[b].dmin, a[r][b].d, acc[r]);
      }
    }
    for (int r = 0; r < n; ++r) V::store(y + (r0 + r) * ldy, acc[r]);
  }
}

template <class Block>
FRUGAL_TARGET void gemm_tile(const void* w, size_t w_stride, int64_t n_out, const void* act, size_t act_stride,
                             int64_t n_rows, int64_t n_in, float* y, int64_t ldy) {
  using U = typename TileOf<Block>::U;
  using Act = typename TileOf<Block>::Act;
  constexpr int S = U::kSub;
  const int64_t nb = n_in / (32 * S), n_sub = nb * S;
  uint8_t* flipped = scratch<uint8_t>(static_cast<size_t>(n_rows * n_in));
  int32_t* pairs = scratch<int32_t>(static_cast<size_t>(n_rows * nb * 4));
  const __m256i flip = _mm256_set1_epi8(static_cast<char>(0x80));

  // The activations as vpdpbusd's unsigned operand (and their sub-block sums),
  // once for every tile of the call: done per tile, this loop took a fifth of
  // a prompt's time in the tiles (perf, pp512).
  for (int64_t r = 0; r < n_rows; ++r) {
    const Act* ar = act_row<Act>(act, act_stride, static_cast<int>(r));
    for (int64_t b = 0; b < nb; ++b) {
      for (int j = 0; j < S; ++j) {
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(flipped + r * n_in + 32 * (b * S + j)),
                            _mm256_xor_si256(load32(act_codes(ar[b], j)), flip));
      }
      if constexpr (U::kMin) {
        for (int p = 0; p < S / 2; ++p) pairs[(r * nb + b) * 4 + p] = act_sum_pair(ar[b], p);
      }
    }
  }
  const TileActs x{flipped, pairs};

  // Tiles of 16 weight rows, and one of 8 for an odd number of 8s.
  const auto* wb = static_cast<const uint8_t*>(w);
  int64_t o = 0;
  if (n_out >= 16) {
    TileSub<16>* tile = scratch<TileSub<16>>(static_cast<size_t>(n_sub));
    TileScale<16>* scales = scratch<TileScale<16>>(static_cast<size_t>(nb));
    for (; o + 16 <= n_out; o += 16) {
      prepare_tile<Block, 16>(wb + o * w_stride, w_stride, nb, tile, scales);
      multiply_tile<Block, 16>(tile, scales, x, act, act_stride, n_rows, n_in, y + o, ldy);
    }
  }
  if (o < n_out) {
    TileSub<8>* tile = scratch<TileSub<8>>(static_cast<size_t>(n_sub));
    TileScale<8>* scales = scratch<TileScale<8>>(static_cast<size_t>(nb));
    prepare_tile<Block, 8>(wb + o * w_stride, w_stride, nb, tile, scales);
    multiply_tile<Block, 8>(tile, scales, x, act, act_stride, n_rows, n_in, y + o, ldy);
  }
}

// Rows from which the tiles (16 weight rows on 512-bit registers) beat the
// four-row kernels over 4 activation rows, from frugal_microbench gemm2 ..
// gemm32 with the tile forced and not (CPU time, one thread): Q8_0/Q4_0 149
// against 124 GFLOP/s at 4 rows; IQ4_XS 167 against 150 at 8; Q5_K 192
// against 178 at 12; Q6_K 272 against 254 at 16; Q4_K 246 against 262 at 16,
// 292 against 247 at 24.
const TypeKernel kQ8_0Gemm{ActFormat::kQ8_32, by_rows<Block32<quant::BlockQ8_0>>, gemm_tile<quant::BlockQ8_0>, 4,
                           rows4<Block32Sums<quant::BlockQ8_0>>};
const TypeKernel kQ4_0Gemm{ActFormat::kQ8_32, by_rows<Block32<quant::BlockQ4_0>>, gemm_tile<quant::BlockQ4_0>, 4,
                           rows4<Block32Sums<quant::BlockQ4_0>>};
const TypeKernel kQ5_0Gemm{ActFormat::kQ8_32, by_rows<Block32<quant::BlockQ5_0>>, gemm_tile<quant::BlockQ5_0>, 4,
                           rows4<Block32Sums<quant::BlockQ5_0>>};
const TypeKernel kIQ4_NLGemm{ActFormat::kQ8_32, by_rows<Block32<quant::BlockIQ4_NL>>,
                             gemm_tile<quant::BlockIQ4_NL>, 4, rows4<Block32Sums<quant::BlockIQ4_NL>>};
const TypeKernel kQ4_KGemm{ActFormat::kQ8_K, by_rows<Q45K<quant::BlockQ4_K>>, gemm_tile<quant::BlockQ4_K>, 20,
                           rows4<Q4KSums512>};
const TypeKernel kQ5_KGemm{ActFormat::kQ8_K, by_rows<Q45K<quant::BlockQ5_K>>, gemm_tile<quant::BlockQ5_K>, 12,
                           rows4<Q45KSums<quant::BlockQ5_K>>};
const TypeKernel kQ6_KGemm{ActFormat::kQ8_K, by_rows<Q6K>, gemm_tile<quant::BlockQ6_K>, 16, rows4<Q6KSums512>};
const TypeKernel kIQ4_XSGemm{ActFormat::kQ8_K, by_rows<IQ4XS>, gemm_tile<quant::BlockIQ4_XS>, 8, rows4<IQ4XSSums>};

#define FRUGAL_BF16_TARGET \
  __attribute__((target("avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni,avx512bf16")))

// bf16 weights times bf16 activations: vdpbf16ps multiplies 16 pairs and
// adds them into 8 f32 lanes (products of bf16 values are exact in f32).
struct BF16Dot {
  template <int R>
  FRUGAL_BF16_TARGET static void run(const void* w, const void* act, size_t stride, int64_t n, float* y,
                                     int64_t ys) {
    const auto* wp = static_cast<const uint16_t*>(w);
    __m256 acc0[R], acc1[R];
#pragma GCC unroll 4
    for (int r = 0; r < R; ++r) acc0[r] = acc1[r] = _mm256_setzero_ps();
    int64_t i = 0;
    for (; i + 32 <= n; i += 32) {
      const __m256bh w0 = (__m256bh)_mm256_loadu_si256(reinterpret_cast<const __m256i*>(wp + i));
      const __m256bh w1 = (__m256bh)_mm256_loadu_si256(reinterpret_cast<const __m256i*>(wp + i + 16));
#pragma GCC unroll 4
      for (int r = 0; r < R; ++r) {
        const uint16_t* a = act_row<uint16_t>(act, stride, r);
        acc0[r] = _mm256_dpbf16_ps(acc0[r], w0, (__m256bh)_mm256_loadu_si256(reinterpret_cast<const __m256i*>(a + i)));
        acc1[r] = _mm256_dpbf16_ps(acc1[r], w1,
                                   (__m256bh)_mm256_loadu_si256(reinterpret_cast<const __m256i*>(a + i + 16)));
      }
    }
    for (int r = 0; r < R; ++r) {
      const uint16_t* a = act_row<uint16_t>(act, stride, r);
      float tail = 0;
      for (int64_t t = i; t < n; ++t) tail += bf16_to_f32(wp[t]) * bf16_to_f32(a[t]);
      y[r * ys] = hsum(_mm256_add_ps(acc0[r], acc1[r])) + tail;
    }
  }
};
const TypeKernel kBF16Dot{ActFormat::kBF16, by_rows<BF16Dot>};
#undef FRUGAL_BF16_TARGET
#undef FRUGAL_VNNI
#undef FRUGAL_TARGET

}  // namespace
}  // namespace avx512

const TypeKernel* avx512_kernel(TensorType t) {
  if (t == TensorType::BF16 && cpu_has_avx512_bf16()) return &avx512::kBF16Dot;
  switch (t) {
    case TensorType::Q8_0: return &avx512::kQ8_0Gemm;
    case TensorType::Q4_0: return &avx512::kQ4_0Gemm;
    case TensorType::Q5_0: return &avx512::kQ5_0Gemm;
    case TensorType::IQ4_NL: return &avx512::kIQ4_NLGemm;
    case TensorType::Q4_K: return &avx512::kQ4_KGemm;
    case TensorType::Q5_K: return &avx512::kQ5_KGemm;
    case TensorType::Q6_K: return &avx512::kQ6_KGemm;
    case TensorType::IQ4_XS: return &avx512::kIQ4_XSGemm;
    case TensorType::MXFP4: return mxfp4_kernel(SimdLevel::kAvx512);
    case TensorType::IQ2_XXS: case TensorType::IQ2_XS: case TensorType::IQ3_XXS: case TensorType::IQ2_S:
    case TensorType::IQ3_S: case TensorType::IQ1_S: case TensorType::IQ1_M: return iq_avx512_kernel(t);
    case TensorType::Q5_0_R16: case TensorType::Q8_0_R16: case TensorType::Q4_K_R16: case TensorType::Q5_K_R16:
    case TensorType::Q6_K_R16:
      return avx512_repacked_kernel(t);
    default: break;
  }
  return avx512::level_kernel(t);
}
EncodeFn avx512_encoder() { return avx512::encode_row; }

}  // namespace frugal::kernels

#else
namespace frugal::kernels {
const TypeKernel* avx512_kernel(TensorType) { return nullptr; }
EncodeFn avx512_encoder() { return nullptr; }
}  // namespace frugal::kernels
#endif
