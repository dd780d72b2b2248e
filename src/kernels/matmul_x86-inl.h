// The x86 SIMD kernels, written once and compiled twice: matmul_avx2.cc and
// matmul_avx512.cc include this file inside their own namespace after
// defining
//   FRUGAL_TARGET  __attribute__((target(...))) for every function here
//   FRUGAL_VNNI    1: int8 dot products with vpdpbusd and vpdpwssd (AVX512_VNNI on 256-bit
//                  registers); 0: with vpmaddubsw + vpmaddwd (AVX2)
// and including <immintrin.h>, <cstring>, base/fp16.h, kernels/block_unpack.h,
// kernels/matmul_kernels.h and kernels/quantize_activations.h.
//
// This file: the shared helpers, the row kernels over 1-4 activation rows,
// and the level's table of kernels by weight type. The four-row decode
// kernels are in matmul_rows4_x86-inl.h (included below), the activation
// encoding in encode_x86-inl.h.
//
// Every kernel computes what its scalar twin in matmul_scalar.cc computes:
// the same integer sums per block, scaled the same way. Registers are 256
// bits wide at both levels (a 32-value block fills one exactly), except the
// avx512 level's 512-bit Q4_K/Q6_K decode sums in matmul_avx512.cc.
//
// Integer products: weights unsigned (u8) times activations signed (s8).
// Signed weights (Q8_0, Q4_0 after its -8, the IQ4 code books) go in as
// |w| with the activation given w's sign (vpsignb), which also keeps the
// AVX2 pairwise sums below vpmaddubsw's int16 saturation (2*128*127 < 32768).

#define FRUGAL_UNROLL _Pragma("GCC unroll 4")

using quant::BlockQ8_K;
using quant::QK_K;

template <class Act>
FRUGAL_TARGET inline const Act* act_row(const void* act, size_t stride, int r) {
  return reinterpret_cast<const Act*>(static_cast<const uint8_t*>(act) + r * stride);
}

FRUGAL_TARGET inline float half_to_f32(uint16_t h) { return _cvtsh_ss(h); }

FRUGAL_TARGET inline float hsum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

// The canonical float assembly, shared by the row kernels, the prefill tiles
// and the scalar twins, so that a row's result is the same bits whichever
// kernel computes it (batch, chunked and one-token-at-a-time passes agree
// exactly): per block, the exact integer sum I (and minima sum M), then
// acc = fma(float(I), d * da, acc) [acc = fma(-float(M), dmin * da, acc)],
// blocks in order. The row kernels keep their activation rows in the lanes
// of one 128-bit accumulator.

// The sums of R (<= 4) int32 vectors, in lanes 0..R-1 (exact).
template <int R>
FRUGAL_TARGET inline __m128i hsum_rows(const __m256i v[R]) {
  if constexpr (R == 1) {
    __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v[0]), _mm256_extracti128_si256(v[0], 1));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4E));
    return _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xB1));
  } else {
    const __m256i z = _mm256_setzero_si256();
    const __m256i h = _mm256_hadd_epi32(_mm256_hadd_epi32(v[0], v[1]),
                                        _mm256_hadd_epi32(R > 2 ? v[2] : z, R > 3 ? v[3] : z));
    return _mm_add_epi32(_mm256_castsi256_si128(h), _mm256_extracti128_si256(h, 1));
  }
}

// The activation scales of rows 0..R-1 of block b, in lanes (built in
// registers: a vector load of 4 scalar stores would stall on forwarding).
template <class Act, int R>
FRUGAL_TARGET inline __m128 act_scales(const void* act, size_t stride, int64_t b) {
  const float d0 = act_row<Act>(act, stride, 0)[b].d;
  if constexpr (R == 1) return _mm_set1_ps(d0);
  return _mm_setr_ps(d0, R > 1 ? act_row<Act>(act, stride, 1)[b].d : 0.0f,
                     R > 2 ? act_row<Act>(act, stride, 2)[b].d : 0.0f, R > 3 ? act_row<Act>(act, stride, 3)[b].d : 0.0f);
}

template <int R>
FRUGAL_TARGET inline void store_rows(__m128 acc, float* y, int64_t ys) {
  alignas(16) float out[4];
  _mm_store_ps(out, acc);
  for (int r = 0; r < R; ++r) y[r * ys] = out[r];
}

// acc (8 x int32) += the sums of 4 adjacent u8 * s8 products.
FRUGAL_TARGET inline __m256i dot_u8s8(__m256i acc, __m256i u, __m256i s) {
#if FRUGAL_VNNI
  return _mm256_dpbusd_epi32(acc, u, s);
#else
  return _mm256_add_epi32(acc, _mm256_madd_epi16(_mm256_maddubs_epi16(u, s), _mm256_set1_epi16(1)));
#endif
}

// A per-lane integer scale (8 x int32 in int16 range) copied into both
// int16 halves of each lane, the form vpmaddwd / vpdpwssd want.
FRUGAL_TARGET inline __m256i prep_scale(__m256i s32) {
  return _mm256_or_si256(_mm256_and_si256(s32, _mm256_set1_epi32(0xFFFF)), _mm256_slli_epi32(s32, 16));
}

// acc += scale[lane] * (sum of 4 adjacent u8 * s8 products in that lane):
// vpmaddubsw to int16 pairs (the callers' codes keep them below its
// saturation), then vpmaddwd with the scale, fused with the add into
// vpdpwssd where there is VNNI (cheaper than vpdpbusd + vpmulld on Intel).
FRUGAL_TARGET inline __m256i dot_u8s8_scaled(__m256i acc, __m256i u, __m256i s, __m256i scale) {
#if FRUGAL_VNNI
  return _mm256_dpwssd_epi32(acc, _mm256_maddubs_epi16(u, s), scale);
#else
  return _mm256_add_epi32(acc, _mm256_madd_epi16(_mm256_maddubs_epi16(u, s), scale));
#endif
}

// An empty asm that the value must pass through: GCC otherwise reassociates
// a long chain of integer vector additions into a tree, keeping every
// product live at once, which spills them to the stack (32 stores a block in
// the Q4_K kernel over 4 activation rows). The sums are exact either way.
FRUGAL_TARGET inline void accumulate_in_order(__m256i& v) { __asm__("" : "+x"(v)); }

FRUGAL_TARGET inline __m256i scale_pair(int lo, int hi) {
  return prep_scale(_mm256_set_m128i(_mm_set1_epi32(hi), _mm_set1_epi32(lo)));
}

#include "kernels/bit_bytes_x86-inl.h"

// 16 bytes of packed nibbles -> 32 bytes: low nibbles first, then high.
FRUGAL_TARGET inline __m256i nibbles32(const uint8_t* qs) {
  const __m128i x = _mm_loadu_si128(reinterpret_cast<const __m128i*>(qs));
  return _mm256_and_si256(_mm256_set_m128i(_mm_srli_epi16(x, 4), x), _mm256_set1_epi8(0x0F));
}

FRUGAL_TARGET inline __m256i iq4_codebook() {
  return _mm256_broadcastsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(quant::kIQ4NLValues)));
}

FRUGAL_TARGET inline __m256i load32(const void* p) { return _mm256_loadu_si256(static_cast<const __m256i*>(p)); }

// Decode streams each weight row once, in short runs (an expert's slice of
// rows), where the hardware prefetcher starts late: the row kernels ask for
// the lines kPrefetchBytes ahead of the block they start, covering its size.
constexpr int64_t kPrefetchBytes = 1024;
template <size_t kBytes>
FRUGAL_TARGET inline void prefetch_block_ahead(const void* block) {
  const char* p = static_cast<const char*>(block) + kPrefetchBytes;
#pragma GCC unroll 8
  for (size_t off = 0; off < kBytes + 63; off += 64) _mm_prefetch(p + off, _MM_HINT_T0);
}

// The 32 signed weights of a block.
FRUGAL_TARGET inline __m256i weights_s8(const quant::BlockQ8_0& b) { return load32(b.qs); }
FRUGAL_TARGET inline __m256i weights_s8(const quant::BlockQ4_0& b) {
  return _mm256_sub_epi8(nibbles32(b.qs), _mm256_set1_epi8(8));
}
// Q5_0: bit i of qh is the fifth bit of value i (value i < 16 in the low
// nibble of qs[i], value i >= 16 in the high nibble of qs[i - 16]), codes
// 0..31 less 16.
FRUGAL_TARGET inline __m256i weights_s8(const quant::BlockQ5_0& b) {
  uint32_t qh;
  __builtin_memcpy(&qh, b.qh, 4);
  const __m256i high = _mm256_and_si256(bit_bytes32(qh), _mm256_set1_epi8(0x10));
  return _mm256_sub_epi8(_mm256_or_si256(nibbles32(b.qs), high), _mm256_set1_epi8(16));
}
FRUGAL_TARGET inline __m256i weights_s8(const quant::BlockIQ4_NL& b) {
  return _mm256_shuffle_epi8(iq4_codebook(), nibbles32(b.qs));
}

// The codes of a 256-value super-block as 8 vectors of 32, in value order,
// as the format stores them before any offset: Q4_K 0..15, Q5_K 0..31,
// Q6_K 0..63 (the -32 is applied by the caller), IQ4_XS the code book's
// signed values. Shared by the row kernels and the prefill tiles.
// unpack_pair gives sub-blocks 2p and 2p + 1 alone: the kernels over several
// activation rows unpack a pair just before its dot products, so that the
// eight code vectors are never live at once (which spilled to the stack).
FRUGAL_TARGET inline void unpack_pair(const quant::BlockQ4_K& b, int p, __m256i& q0, __m256i& q1) {
  const __m256i m4 = _mm256_set1_epi8(0x0F);
  const __m256i bytes = load32(b.qs + 32 * p);
  q0 = _mm256_and_si256(bytes, m4);
  q1 = _mm256_and_si256(_mm256_srli_epi16(bytes, 4), m4);
}
FRUGAL_TARGET inline void unpack_pair(const quant::BlockQ5_K& b, int p, __m256i& q0, __m256i& q1) {
  const __m256i m4 = _mm256_set1_epi8(0x0F), one = _mm256_set1_epi8(1);
  const __m256i qh = load32(b.qh), bytes = load32(b.qs + 32 * p);
  const __m256i hi_lo = _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 2 * p), one), 4);
  const __m256i hi_hi = _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 2 * p + 1), one), 4);
  q0 = _mm256_or_si256(_mm256_and_si256(bytes, m4), hi_lo);
  q1 = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(bytes, 4), m4), hi_hi);
}
FRUGAL_TARGET inline void unpack_pair(const quant::BlockQ6_K& b, int p, __m256i& q0, __m256i& q1) {
  // Half h = p / 2 of the block: sub-blocks 4h..4h+3 take the low nibbles of
  // ql[64h..64h+31], of ql[64h+32..], then their high nibbles, with 2-bit
  // fields 0, 1, 2, 3 of qh[32h..32h+31] above them.
  const __m256i m4 = _mm256_set1_epi8(0x0F), m3 = _mm256_set1_epi8(3);
  const int half = p / 2, shift = 4 * (p % 2);
  const __m256i ql0 = load32(b.ql + 64 * half), ql1 = load32(b.ql + 64 * half + 32);
  const __m256i qh = load32(b.qh + 32 * half);
  q0 = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(ql0, shift), m4),
                       _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 2 * (p % 2) * 2), m3), 4));
  q1 = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(ql1, shift), m4),
                       _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 2 * (p % 2) * 2 + 2), m3), 4));
}
template <class Block>
FRUGAL_TARGET inline void unpack_codes(const Block& b, __m256i q[8]) {
#pragma GCC unroll 4
  for (int p = 0; p < 4; ++p) unpack_pair(b, p, q[2 * p], q[2 * p + 1]);
}
FRUGAL_TARGET inline void unpack_codes(const quant::BlockIQ4_XS& b, __m256i q[8]) {
  const __m256i table = iq4_codebook();
#pragma GCC unroll 8
  for (int j = 0; j < 8; ++j) q[j] = _mm256_shuffle_epi8(table, nibbles32(b.qs + 16 * j));
}

// Calls K::run<R> with R = n_act, so that the per-row accumulators are
// compile-time arrays that live in registers.
template <class K>
FRUGAL_TARGET void by_rows(const void* w, const void* act, size_t stride, int n_act, int64_t n_in, float* y,
                           int64_t ys) {
  switch (n_act) {
    case 1: return K::template run<1>(w, act, stride, n_in, y, ys);
    case 2: return K::template run<2>(w, act, stride, n_in, y, ys);
    case 3: return K::template run<3>(w, act, stride, n_in, y, ys);
    default: return K::template run<4>(w, act, stride, n_in, y, ys);
  }
}
static_assert(kMaxActRows == 4);

// --- 32-value blocks with one scale: Q8_0, Q4_0, Q5_0, IQ4_NL -------------------
template <class Block>
struct Block32 {
  template <int R>
  FRUGAL_TARGET static void run(const void* w, const void* act, size_t stride, int64_t n_in, float* y, int64_t ys) {
    const auto* wb = static_cast<const Block*>(w);
    __m128 acc = _mm_setzero_ps();
    for (int64_t b = 0; b < n_in / 32; ++b) {
      const __m256i wq = weights_s8(wb[b]);
      const __m256i wabs = _mm256_sign_epi8(wq, wq);
      __m256i p[R];
      FRUGAL_UNROLL for (int r = 0; r < R; ++r) {
        const ActBlock32& a = act_row<ActBlock32>(act, stride, r)[b];
        p[r] = dot_u8s8(_mm256_setzero_si256(), wabs, _mm256_sign_epi8(load32(a.qs), wq));
      }
      const __m128 scale = _mm_mul_ps(_mm_set1_ps(half_to_f32(wb[b].d)), act_scales<ActBlock32, R>(act, stride, b));
      acc = _mm_fmadd_ps(_mm_cvtepi32_ps(hsum_rows<R>(p)), scale, acc);
    }
    store_rows<R>(acc, y, ys);
  }
};

// --- Q4_K and Q5_K ----------------------------------------------------------
// dot = da * (d * sum_j sc_j * (q . a)_j - dmin * sum_j m_j * sum(a)_j),
// the minima term from the activation's per-16 sums with one vpmaddwd.
//
// Decode runs these with one activation row, so the work per weight byte
// decides the speed: the 6-bit scales are unpacked with a few 32-bit word
// operations (as unpack_q4k_scales, all eight at once), each sub-block's
// scale is one byte shuffle of a register, the loops over sub-blocks are
// unrolled so the codes stay in registers, and one row's two horizontal
// sums (codes and minima) share their reductions.

// The 8 scales (bytes 0..7) and 8 minima (bytes 8..15) of a Q4_K/Q5_K
// super-block: the same values as unpack_q4k_scales.
// In vector registers: building the vector from general registers (vmovd,
// vpinsrd) would load the one port that both this and the fp16 scale loads
// need, which limited the decode kernels (llvm-mca, Zen 3). The 16-byte load
// reads 4 bytes past the scales, which the codes that follow them hold.
FRUGAL_TARGET inline __m128i q4k_scales_mins(const uint8_t* q) {
  const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(q));  // u0 u1 u2 -
  // Lanes: sc_lo = u0 & 0x3F.., sc_hi = (u2 & 0x0F..) | ((u0 >> 2) & 0x30..),
  //        mn_lo = u1 & 0x3F.., mn_hi = ((u2 >> 4) & 0x0F..) | ((u1 >> 2) & 0x30..).
  const __m128i lo = _mm_and_si128(_mm_srlv_epi32(_mm_shuffle_epi32(v, _MM_SHUFFLE(2, 1, 2, 0)), _mm_setr_epi32(0, 0, 0, 4)),
                                   _mm_setr_epi32(0x3F3F3F3F, 0x0F0F0F0F, 0x3F3F3F3F, 0x0F0F0F0F));
  const __m128i hi = _mm_and_si128(_mm_srli_epi32(_mm_shuffle_epi32(v, _MM_SHUFFLE(1, 1, 0, 0)), 2),
                                   _mm_setr_epi32(0, 0x30303030, 0, 0x30303030));
  return _mm_or_si128(lo, hi);
}

// Byte-shuffle masks that broadcast int16 lane `lo` of a 128-bit half to the
// low half and lane `hi` to the high half of a 256-bit register.
FRUGAL_TARGET inline __m256i lane16_mask(int lo, int hi) {
  return _mm256_setr_epi8(
      static_cast<char>(2 * lo), static_cast<char>(2 * lo + 1), static_cast<char>(2 * lo), static_cast<char>(2 * lo + 1),
      static_cast<char>(2 * lo), static_cast<char>(2 * lo + 1), static_cast<char>(2 * lo), static_cast<char>(2 * lo + 1),
      static_cast<char>(2 * lo), static_cast<char>(2 * lo + 1), static_cast<char>(2 * lo), static_cast<char>(2 * lo + 1),
      static_cast<char>(2 * lo), static_cast<char>(2 * lo + 1), static_cast<char>(2 * lo), static_cast<char>(2 * lo + 1),
      static_cast<char>(2 * hi), static_cast<char>(2 * hi + 1), static_cast<char>(2 * hi), static_cast<char>(2 * hi + 1),
      static_cast<char>(2 * hi), static_cast<char>(2 * hi + 1), static_cast<char>(2 * hi), static_cast<char>(2 * hi + 1),
      static_cast<char>(2 * hi), static_cast<char>(2 * hi + 1), static_cast<char>(2 * hi), static_cast<char>(2 * hi + 1),
      static_cast<char>(2 * hi), static_cast<char>(2 * hi + 1), static_cast<char>(2 * hi), static_cast<char>(2 * hi + 1));
}

// acc += float(I) * dI - float(M) * dM, lane by lane, for R rows: the
// canonical assembly (fma of I, then fnma of M). For one row the two
// horizontal sums share their steps.
template <int R>
FRUGAL_TARGET inline __m128 assemble_im(__m128 acc, const __m256i isum[R], const __m256i msum[R], __m128 dI,
                                        __m128 dM) {
  if constexpr (R == 1) {
    const __m256i h = _mm256_hadd_epi32(isum[0], msum[0]);  // i01 i23 m01 m23 | i45 i67 m45 m67
    __m128i s = _mm_add_epi32(_mm256_castsi256_si128(h), _mm256_extracti128_si256(h, 1));
    s = _mm_hadd_epi32(s, s);  // I M I M
    const __m128 f = _mm_cvtepi32_ps(s);
    acc = _mm_fmadd_ps(f, dI, acc);
    return _mm_fnmadd_ps(_mm_movehdup_ps(f), dM, acc);
  } else {
    acc = _mm_fmadd_ps(_mm_cvtepi32_ps(hsum_rows<R>(isum)), dI, acc);
    return _mm_fnmadd_ps(_mm_cvtepi32_ps(hsum_rows<R>(msum)), dM, acc);
  }
}

template <class Block>
struct Q45K {
  template <int R>
  FRUGAL_TARGET static void run(const void* w, const void* act, size_t stride, int64_t n_in, float* y, int64_t ys) {
    // Few rows: two accumulator chains (even and odd sub-blocks) halve the
    // latency of the integer sums; the sum is the same integer.
    constexpr bool kSplit = R <= 2;
    const auto* wb = static_cast<const Block*>(w);
    __m256i mask[8];
    FRUGAL_UNROLL for (int j = 0; j < 8; ++j) mask[j] = lane16_mask(j, j);
    __m128 acc = _mm_setzero_ps();
    for (int64_t b = 0; b < n_in / QK_K; ++b) {
      prefetch_block_ahead<sizeof(Block)>(wb + b);
      const __m128i sm = q4k_scales_mins(wb[b].scales);
      // The int16 scales 0..7 in both 128-bit halves.
      const __m256i sc16 = _mm256_cvtepu8_epi16(sm);
      const __m256i sc = _mm256_permute2x128_si256(sc16, sc16, 0x00);
      const __m128i mn8 = _mm_unpackhi_epi64(sm, sm);
      const __m256i mins16 = _mm256_cvtepu8_epi16(_mm_unpacklo_epi8(mn8, mn8));  // m0 m0 m1 m1 ...
      __m256i isum[R], isum2[R], msum[R];
      FRUGAL_UNROLL for (int r = 0; r < R; ++r) isum[r] = isum2[r] = _mm256_setzero_si256();
      __m256i q[2];
#pragma GCC unroll 8
      for (int j = 0; j < 8; ++j) {
        if (j % 2 == 0) unpack_pair(wb[b], j / 2, q[0], q[1]);
        const __m256i scale = _mm256_shuffle_epi8(sc, mask[j]);  // scale j in every int16 lane
        FRUGAL_UNROLL for (int r = 0; r < R; ++r) {
          const BlockQ8_K& a = act_row<BlockQ8_K>(act, stride, r)[b];
          __m256i& sum = kSplit && (j & 1) ? isum2[r] : isum[r];
          sum = dot_u8s8_scaled(sum, q[j % 2], load32(a.qs + 32 * j), scale);
          accumulate_in_order(sum);
        }
      }
      if constexpr (kSplit) {
        FRUGAL_UNROLL for (int r = 0; r < R; ++r) isum[r] = _mm256_add_epi32(isum[r], isum2[r]);
      }
      FRUGAL_UNROLL for (int r = 0; r < R; ++r) {
        msum[r] = _mm256_madd_epi16(mins16, load32(act_row<BlockQ8_K>(act, stride, r)[b].bsums));
      }
      const __m128 da = act_scales<BlockQ8_K, R>(act, stride, b);
      const __m128 d = _mm_mul_ps(_mm_set1_ps(half_to_f32(wb[b].d)), da);
      const __m128 dmin = _mm_mul_ps(_mm_set1_ps(half_to_f32(wb[b].dmin)), da);
      acc = assemble_im<R>(acc, isum, msum, d, dmin);
    }
    store_rows<R>(acc, y, ys);
  }
};

// --- Q6_K: value = d * sc[e / 16] * (q - 32), q in 0..63 ------------------
struct Q6K {
  template <int R>
  FRUGAL_TARGET static void run(const void* w, const void* act, size_t stride, int64_t n_in, float* y, int64_t ys) {
    // Few rows: two accumulator chains (even and odd sub-blocks) halve the
    // latency of the integer sums; the sum is the same integer.
    constexpr bool kSplit = R <= 2;
    const auto* wb = static_cast<const quant::BlockQ6_K*>(w);
    // Sub-block j of 32 values takes scale 2j (values 0..15, low half) and
    // 2j + 1 (values 16..31, high half); k = j % 4 within a group of 8 scales.
    const __m256i mask[4] = {lane16_mask(0, 1), lane16_mask(2, 3), lane16_mask(4, 5), lane16_mask(6, 7)};
    __m128 acc = _mm_setzero_ps();
    for (int64_t b = 0; b < n_in / QK_K; ++b) {
      const quant::BlockQ6_K& wk = wb[b];
      prefetch_block_ahead<sizeof(quant::BlockQ6_K)>(&wk);
      const __m256i sc16 = _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(wk.scales)));
      const __m256i sc_lo = _mm256_permute2x128_si256(sc16, sc16, 0x00);  // scales 0..7 in both halves
      const __m256i sc_hi = _mm256_permute2x128_si256(sc16, sc16, 0x11);  // scales 8..15
      __m256i isum[R], isum2[R];
      FRUGAL_UNROLL for (int r = 0; r < R; ++r) isum[r] = isum2[r] = _mm256_setzero_si256();
      __m256i q[2];
#pragma GCC unroll 8
      for (int j = 0; j < 8; ++j) {
        if (j % 2 == 0) unpack_pair(wk, j / 2, q[0], q[1]);
        const __m256i scale = _mm256_shuffle_epi8(j < 4 ? sc_lo : sc_hi, mask[j % 4]);
        FRUGAL_UNROLL for (int r = 0; r < R; ++r) {
          const BlockQ8_K& a = act_row<BlockQ8_K>(act, stride, r)[b];
          __m256i& sum = kSplit && (j & 1) ? isum2[r] : isum[r];
          sum = dot_u8s8_scaled(sum, q[j % 2], load32(a.qs + 32 * j), scale);
          accumulate_in_order(sum);
        }
      }
      if constexpr (kSplit) {
        FRUGAL_UNROLL for (int r = 0; r < R; ++r) isum[r] = _mm256_add_epi32(isum[r], isum2[r]);
      }
      // The -32 offset: 32 * sum_k sc_k * sum16(a)_k.
      FRUGAL_UNROLL for (int r = 0; r < R; ++r) {
        const BlockQ8_K& a = act_row<BlockQ8_K>(act, stride, r)[b];
        isum[r] = _mm256_sub_epi32(isum[r], _mm256_slli_epi32(_mm256_madd_epi16(sc16, load32(a.bsums)), 5));
      }
      const __m128 d = _mm_mul_ps(_mm_set1_ps(half_to_f32(wk.d)), act_scales<BlockQ8_K, R>(act, stride, b));
      acc = _mm_fmadd_ps(_mm_cvtepi32_ps(hsum_rows<R>(isum)), d, acc);
    }
    store_rows<R>(acc, y, ys);
  }
};

// --- Q2_K and Q3_K: sixteen sub-blocks of 16, 2-bit codes (Q3_K: and a third
// bit above them) ----------------------------------------------------------
// Values 32j..32j+31 (j = 4h + p): bits 2p..2p+1 of qs[32h..32h+31], and for
// Q3_K bit j of hmask[0..31]; codes 0..3 (Q2_K), 0..7 (Q3_K, the -4 applied
// from the activation sums as Q6_K's -32).
FRUGAL_TARGET inline __m256i two_bit_codes(const uint8_t* qs, int j) {
  return _mm256_and_si256(_mm256_srli_epi16(load32(qs + 32 * (j / 4)), 2 * (j % 4)), _mm256_set1_epi8(3));
}

// Q3_K's sixteen scales, bias removed (-32..31), as int16 (unpack_q3k_scales).
FRUGAL_TARGET inline __m256i q3k_scales16(const uint8_t* q) {
  const __m128i v = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(q));
  const __m128i low = _mm_and_si128(_mm_unpacklo_epi64(v, _mm_srli_epi16(v, 4)), _mm_set1_epi8(0x0F));
  uint32_t top;
  __builtin_memcpy(&top, q + 8, 4);
  // Byte 4g + k: bits 2g..2g+1 of byte 8 + k.
  const __m128i high = _mm_and_si128(_mm_srlv_epi32(_mm_set1_epi32(static_cast<int>(top)), _mm_setr_epi32(0, 2, 4, 6)),
                                     _mm_set1_epi8(3));
  const __m128i sc = _mm_sub_epi8(_mm_or_si128(low, _mm_slli_epi16(high, 4)), _mm_set1_epi8(32));
  return _mm256_cvtepi8_epi16(sc);
}

template <bool kQ3>
struct Q23K {
  using Block = std::conditional_t<kQ3, quant::BlockQ3_K, quant::BlockQ2_K>;
  template <int R>
  FRUGAL_TARGET static void run(const void* w, const void* act, size_t stride, int64_t n_in, float* y, int64_t ys) {
    constexpr bool kSplit = R <= 2;
    const auto* wb = static_cast<const Block*>(w);
    const __m256i mask[4] = {lane16_mask(0, 1), lane16_mask(2, 3), lane16_mask(4, 5), lane16_mask(6, 7)};
    __m128 acc = _mm_setzero_ps();
    for (int64_t b = 0; b < n_in / QK_K; ++b) {
      const Block& wk = wb[b];
      prefetch_block_ahead<sizeof(Block)>(&wk);
      __m256i sc16, mins16, hmask;
      if constexpr (kQ3) {
        sc16 = q3k_scales16(wk.scales);
        hmask = load32(wk.hmask);
      } else {
        const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(wk.scales));
        const __m128i m4 = _mm_set1_epi8(0x0F);
        sc16 = _mm256_cvtepu8_epi16(_mm_and_si128(v, m4));
        mins16 = _mm256_cvtepu8_epi16(_mm_and_si128(_mm_srli_epi16(v, 4), m4));
      }
      const __m256i sc_lo = _mm256_permute2x128_si256(sc16, sc16, 0x00);  // scales 0..7 in both halves
      const __m256i sc_hi = _mm256_permute2x128_si256(sc16, sc16, 0x11);  // scales 8..15
      __m256i isum[R], isum2[R];
      FRUGAL_UNROLL for (int r = 0; r < R; ++r) isum[r] = isum2[r] = _mm256_setzero_si256();
#pragma GCC unroll 8
      for (int j = 0; j < 8; ++j) {
        __m256i q = two_bit_codes(wk.qs, j);
        if constexpr (kQ3) {
          q = _mm256_or_si256(q, _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(hmask, j), _mm256_set1_epi8(1)), 2));
        }
        const __m256i scale = _mm256_shuffle_epi8(j < 4 ? sc_lo : sc_hi, mask[j % 4]);
        FRUGAL_UNROLL for (int r = 0; r < R; ++r) {
          const BlockQ8_K& a = act_row<BlockQ8_K>(act, stride, r)[b];
          __m256i& sum = kSplit && (j & 1) ? isum2[r] : isum[r];
          sum = dot_u8s8_scaled(sum, q, load32(a.qs + 32 * j), scale);
          accumulate_in_order(sum);
        }
      }
      if constexpr (kSplit) {
        FRUGAL_UNROLL for (int r = 0; r < R; ++r) isum[r] = _mm256_add_epi32(isum[r], isum2[r]);
      }
      const __m128 da = act_scales<BlockQ8_K, R>(act, stride, b);
      const __m128 d = _mm_mul_ps(_mm_set1_ps(half_to_f32(wk.d)), da);
      if constexpr (kQ3) {
        // The -4 offset: 4 * sum_k sc_k * sum16(a)_k.
        FRUGAL_UNROLL for (int r = 0; r < R; ++r) {
          const BlockQ8_K& a = act_row<BlockQ8_K>(act, stride, r)[b];
          isum[r] = _mm256_sub_epi32(isum[r], _mm256_slli_epi32(_mm256_madd_epi16(sc16, load32(a.bsums)), 2));
        }
        acc = _mm_fmadd_ps(_mm_cvtepi32_ps(hsum_rows<R>(isum)), d, acc);
      } else {
        __m256i msum[R];
        FRUGAL_UNROLL for (int r = 0; r < R; ++r) {
          msum[r] = _mm256_madd_epi16(mins16, load32(act_row<BlockQ8_K>(act, stride, r)[b].bsums));
        }
        const __m128 dmin = _mm_mul_ps(_mm_set1_ps(half_to_f32(wk.dmin)), da);
        acc = assemble_im<R>(acc, isum, msum, d, dmin);
      }
    }
    store_rows<R>(acc, y, ys);
  }
};

// --- IQ4_XS: value = d * scale_j * codebook[q] in sub-block j of 32 -------
struct IQ4XS {
  template <int R>
  FRUGAL_TARGET static void run(const void* w, const void* act, size_t stride, int64_t n_in, float* y, int64_t ys) {
    const auto* wb = static_cast<const quant::BlockIQ4_XS*>(w);
    __m128 acc = _mm_setzero_ps();
    for (int64_t b = 0; b < n_in / QK_K; ++b) {
      __m256i isum[R];
      FRUGAL_UNROLL for (int r = 0; r < R; ++r) isum[r] = _mm256_setzero_si256();
      __m256i q[8];
      unpack_codes(wb[b], q);
      for (int j = 0; j < 8; ++j) {
        const __m256i wq = q[j];
        const __m256i wabs = _mm256_sign_epi8(wq, wq);
        const __m256i scale = prep_scale(_mm256_set1_epi32(iq4xs_scale(wb[b], j)));
        FRUGAL_UNROLL for (int r = 0; r < R; ++r) {
          const BlockQ8_K& a = act_row<BlockQ8_K>(act, stride, r)[b];
          isum[r] = dot_u8s8_scaled(isum[r], wabs, _mm256_sign_epi8(load32(a.qs + 32 * j), wq), scale);
          accumulate_in_order(isum[r]);
        }
      }
      const __m128 d = _mm_mul_ps(_mm_set1_ps(half_to_f32(wb[b].d)), act_scales<BlockQ8_K, R>(act, stride, b));
      acc = _mm_fmadd_ps(_mm_cvtepi32_ps(hsum_rows<R>(isum)), d, acc);
    }
    store_rows<R>(acc, y, ys);
  }
};

// --- float weights: f32, f16 (vcvtph2ps), bf16 (widened by a shift) -------
// Loaders of 8 values as f32 and of one value (for the tail of a row whose
// length is not a multiple of 8).
struct LoadF32 {
  FRUGAL_TARGET static __m256 v8(const void* p, int64_t i) { return _mm256_loadu_ps(static_cast<const float*>(p) + i); }
  FRUGAL_TARGET static float one(const void* p, int64_t i) { return static_cast<const float*>(p)[i]; }
};
struct LoadF16 {
  FRUGAL_TARGET static __m256 v8(const void* p, int64_t i) {
    return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(static_cast<const uint16_t*>(p) + i)));
  }
  FRUGAL_TARGET static float one(const void* p, int64_t i) { return half_to_f32(static_cast<const uint16_t*>(p)[i]); }
};
struct LoadBF16 {
  FRUGAL_TARGET static __m256 v8(const void* p, int64_t i) {
    const __m128i h = _mm_loadu_si128(reinterpret_cast<const __m128i*>(static_cast<const uint16_t*>(p) + i));
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
  }
  FRUGAL_TARGET static float one(const void* p, int64_t i) { return bf16_to_f32(static_cast<const uint16_t*>(p)[i]); }
};

template <class LoadW, class LoadA>
struct FloatDot {
  template <int R>
  FRUGAL_TARGET static void run(const void* w, const void* act, size_t stride, int64_t n, float* y, int64_t ys) {
    __m256 acc0[R], acc1[R];
    FRUGAL_UNROLL for (int r = 0; r < R; ++r) acc0[r] = acc1[r] = _mm256_setzero_ps();
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
      const __m256 w0 = LoadW::v8(w, i), w1 = LoadW::v8(w, i + 8);
      FRUGAL_UNROLL for (int r = 0; r < R; ++r) {
        const void* a = act_row<uint8_t>(act, stride, r);
        acc0[r] = _mm256_fmadd_ps(w0, LoadA::v8(a, i), acc0[r]);
        acc1[r] = _mm256_fmadd_ps(w1, LoadA::v8(a, i + 8), acc1[r]);
      }
    }
    for (; i + 8 <= n; i += 8) {
      const __m256 w0 = LoadW::v8(w, i);
      FRUGAL_UNROLL for (int r = 0; r < R; ++r) {
        acc0[r] = _mm256_fmadd_ps(w0, LoadA::v8(act_row<uint8_t>(act, stride, r), i), acc0[r]);
      }
    }
    FRUGAL_UNROLL for (int r = 0; r < R; ++r) {
      const void* a = act_row<uint8_t>(act, stride, r);
      float tail = 0;
      for (int64_t t = i; t < n; ++t) tail += LoadW::one(w, t) * LoadA::one(a, t);
      y[r * ys] = hsum(_mm256_add_ps(acc0[r], acc1[r])) + tail;
    }
  }
};

// Lane k of out[g] = 32-bit word g of v[k]: an 8 x 8 transpose.
FRUGAL_TARGET inline void transpose8x8(const __m256i v[8], __m256i out[8]) {
  __m256i t[8], u[8];
#pragma GCC unroll 4
  for (int i = 0; i < 8; i += 2) {
    t[i] = _mm256_unpacklo_epi32(v[i], v[i + 1]);
    t[i + 1] = _mm256_unpackhi_epi32(v[i], v[i + 1]);
  }
#pragma GCC unroll 2
  for (int i = 0; i < 8; i += 4) {
    u[i] = _mm256_unpacklo_epi64(t[i], t[i + 2]);
    u[i + 1] = _mm256_unpackhi_epi64(t[i], t[i + 2]);
    u[i + 2] = _mm256_unpacklo_epi64(t[i + 1], t[i + 3]);
    u[i + 3] = _mm256_unpackhi_epi64(t[i + 1], t[i + 3]);
  }
#pragma GCC unroll 4
  for (int g = 0; g < 4; ++g) {
    out[g] = _mm256_permute2x128_si256(u[g], u[g + 4], 0x20);
    out[g + 4] = _mm256_permute2x128_si256(u[g], u[g + 4], 0x31);
  }
}

// Per-thread scratch of the prefill tiles.
template <class T>
T* scratch(size_t n) {
  thread_local std::vector<T> buffer;
  if (buffer.size() < n) buffer.resize(n);
  return buffer.data();
}

#include "kernels/matmul_rows4_x86-inl.h"

const TypeKernel kQ8_0{ActFormat::kQ8_32, by_rows<Block32<quant::BlockQ8_0>>, nullptr, 0,
                       rows4<Block32Sums<quant::BlockQ8_0>>};
const TypeKernel kQ4_0{ActFormat::kQ8_32, by_rows<Block32<quant::BlockQ4_0>>, nullptr, 0,
                       rows4<Block32Sums<quant::BlockQ4_0>>};
const TypeKernel kQ5_0{ActFormat::kQ8_32, by_rows<Block32<quant::BlockQ5_0>>, nullptr, 0,
                       rows4<Block32Sums<quant::BlockQ5_0>>};
const TypeKernel kIQ4_NL{ActFormat::kQ8_32, by_rows<Block32<quant::BlockIQ4_NL>>, nullptr, 0,
                         rows4<Block32Sums<quant::BlockIQ4_NL>>};
const TypeKernel kQ2_K{ActFormat::kQ8_K, by_rows<Q23K<false>>};
const TypeKernel kQ3_K{ActFormat::kQ8_K, by_rows<Q23K<true>>};
const TypeKernel kQ4_K{ActFormat::kQ8_K, by_rows<Q45K<quant::BlockQ4_K>>, nullptr, 0,
                       rows4<Q45KSums<quant::BlockQ4_K>>};
const TypeKernel kQ5_K{ActFormat::kQ8_K, by_rows<Q45K<quant::BlockQ5_K>>, nullptr, 0,
                       rows4<Q45KSums<quant::BlockQ5_K>>};
const TypeKernel kQ6_K{ActFormat::kQ8_K, by_rows<Q6K>, nullptr, 0, rows4<Q6KSums>};
const TypeKernel kIQ4_XS{ActFormat::kQ8_K, by_rows<IQ4XS>, nullptr, 0, rows4<IQ4XSSums>};
const TypeKernel kF32{ActFormat::kF32, by_rows<FloatDot<LoadF32, LoadF32>>};
const TypeKernel kF16{ActFormat::kF32, by_rows<FloatDot<LoadF16, LoadF32>>};
const TypeKernel kBF16{ActFormat::kBF16, by_rows<FloatDot<LoadBF16, LoadBF16>>};

// The table of this level, by weight type.
inline const TypeKernel* level_kernel(TensorType t) {
  switch (t) {
    case TensorType::Q8_0: return &kQ8_0;
    case TensorType::Q4_0: return &kQ4_0;
    case TensorType::Q5_0: return &kQ5_0;
    case TensorType::IQ4_NL: return &kIQ4_NL;
    case TensorType::Q2_K: return &kQ2_K;
    case TensorType::Q3_K: return &kQ3_K;
    case TensorType::Q4_K: return &kQ4_K;
    case TensorType::Q5_K: return &kQ5_K;
    case TensorType::Q6_K: return &kQ6_K;
    case TensorType::IQ4_XS: return &kIQ4_XS;
    case TensorType::F32: return &kF32;
    case TensorType::F16: return &kF16;
    case TensorType::BF16: return &kBF16;
    default: return nullptr;
  }
}

#undef FRUGAL_UNROLL
