// Prefill tiles of 8 outputs for the k-quants at the avx2 level (no VNNI),
// included by matmul_avx2.cc inside its namespace after matmul_x86-inl.h.
//
// Without vpdpbusd a row kernel needs two multiplies per 32 products
// (vpmaddubsw to int16 pairs, vpmaddwd with the sub-block's scale to int32).
// The tile keeps 8 weight rows in the lanes of a register, as the avx512
// tile does: lane k of q[g] holds row k's codes 4g..4g+3 of a sub-block, and
// each activation word of 4 codes is broadcast. The k-quants' codes are
// small and unsigned (Q4_K 0..15, Q5_K 0..31, Q6_K 0..63 before its -32),
// so vpmaddubsw takes them as they are, and its int16 results of several
// words add up in int16 without overflow (with |a| <= 127: Q4_K 8 words,
// Q5_K 4, Q6_K 2) before one vpmaddwd applies the scale: 8 vpmaddubsw and
// 1-4 vpmaddwd per 32 values of 8 rows, instead of 16 of each.
//
// The integer sums are exactly the row kernels' (I = sum of scale x codes .
// activations, the Q6_K offset and the Q4_K/Q5_K minima from the
// activations' 16-value sums), assembled the canonical way per block, so a
// row comes out the same bits through a tile or a row kernel.

struct alignas(32) KTileSub {
  __m256i q[8];          // lane k of q[g]: row k's codes 4g..4g+3 (unsigned)
  __m256i sc_lo, sc_hi;  // lane k: row k's scale of values 0..15 / 16..31, in both int16 halves
};
struct alignas(32) KTileBlock {
  __m256 d, dmin;    // per row
  __m256i pair[8];   // lane k: row k's (minimum 2p, 2p + 1) for Q4_K/Q5_K (p < 4), (scale 2p, 2p + 1) for Q6_K
};

// Lane k = (lo of row k) | (hi of row k) << 16.
FRUGAL_TARGET inline __m256i int16_pairs(const int lo[8], const int hi[8]) {
  alignas(32) int32_t v[8];
  for (int k = 0; k < 8; ++k) v[k] = static_cast<int32_t>((static_cast<uint32_t>(lo[k]) & 0xFFFF) |
                                                          (static_cast<uint32_t>(hi[k]) << 16));
  return _mm256_load_si256(reinterpret_cast<const __m256i*>(v));
}

template <class Block>
struct KTileFormat {
  // Q4_K and Q5_K: 8 sub-blocks of 32 values with one scale and one minimum.
  static constexpr bool kQ6 = false;
  static constexpr int kWordsInInt16 = sizeof(Block) == sizeof(quant::BlockQ4_K) ? 8 : 4;
  FRUGAL_TARGET static void prepare(const Block* const rows[8], int64_t b, KTileSub* sub, KTileBlock& blk) {
    int sc[8][8], mn[8][8];  // [sub-block][row]
    alignas(32) float d[8], dmin[8];
    __m256i codes[8][8];     // [row][sub-block]
    for (int k = 0; k < 8; ++k) {
      const Block& wk = rows[k][b];
      alignas(16) uint8_t sm[16];
      _mm_store_si128(reinterpret_cast<__m128i*>(sm), q4k_scales_mins(wk.scales));
      for (int j = 0; j < 8; ++j) {
        sc[j][k] = sm[j];
        mn[j][k] = sm[8 + j];
      }
      d[k] = half_to_f32(wk.d);
      dmin[k] = half_to_f32(wk.dmin);
      unpack_codes(wk, codes[k]);
    }
    for (int j = 0; j < 8; ++j) {
      const __m256i v[8] = {codes[0][j], codes[1][j], codes[2][j], codes[3][j],
                            codes[4][j], codes[5][j], codes[6][j], codes[7][j]};
      transpose8x8(v, sub[j].q);
      sub[j].sc_lo = sub[j].sc_hi = int16_pairs(sc[j], sc[j]);
    }
    for (int p = 0; p < 4; ++p) blk.pair[p] = int16_pairs(mn[2 * p], mn[2 * p + 1]);
    blk.d = _mm256_load_ps(d);
    blk.dmin = _mm256_load_ps(dmin);
  }
};

template <>
struct KTileFormat<quant::BlockQ6_K> {
  static constexpr bool kQ6 = true;
  static constexpr int kWordsInInt16 = 2;
  FRUGAL_TARGET static void prepare(const quant::BlockQ6_K* const rows[8], int64_t b, KTileSub* sub,
                                    KTileBlock& blk) {
    int sc[16][8];  // [16-value group][row]
    alignas(32) float d[8];
    __m256i codes[8][8];
    for (int k = 0; k < 8; ++k) {
      const quant::BlockQ6_K& wk = rows[k][b];
      for (int i = 0; i < 16; ++i) sc[i][k] = wk.scales[i];
      d[k] = half_to_f32(wk.d);
      unpack_codes(wk, codes[k]);  // 0..63: the -32 comes from the activation sums
    }
    for (int j = 0; j < 8; ++j) {
      const __m256i v[8] = {codes[0][j], codes[1][j], codes[2][j], codes[3][j],
                            codes[4][j], codes[5][j], codes[6][j], codes[7][j]};
      transpose8x8(v, sub[j].q);
      sub[j].sc_lo = int16_pairs(sc[2 * j], sc[2 * j]);
      sub[j].sc_hi = int16_pairs(sc[2 * j + 1], sc[2 * j + 1]);
    }
    for (int p = 0; p < 8; ++p) blk.pair[p] = int16_pairs(sc[2 * p], sc[2 * p + 1]);
    blk.d = _mm256_load_ps(d);
    blk.dmin = _mm256_setzero_ps();
  }
};

// The int16 sums of words [g0, g0 + n) of a sub-block: sum over g of
// vpmaddubsw(codes g, activation word g broadcast).
template <int kN>
FRUGAL_TARGET inline __m256i words_int16(const KTileSub& t, const int8_t* a, int g0) {
  __m256i p = _mm256_setzero_si256();
#pragma GCC unroll 8
  for (int g = g0; g < g0 + kN; ++g) {
    int32_t word;
    std::memcpy(&word, a + 4 * g, 4);
    p = _mm256_add_epi16(p, _mm256_maddubs_epi16(t.q[g], _mm256_set1_epi32(word)));
  }
  return p;
}

// Both int16 halves of a 32-bit lane: (x, y) in every lane.
FRUGAL_TARGET inline __m256i bcast_int16_pair(int x, int y) {
  return _mm256_set1_epi32(static_cast<int32_t>((static_cast<uint32_t>(x) & 0xFFFF) | (static_cast<uint32_t>(y) << 16)));
}

template <class Block>
FRUGAL_TARGET void gemm_tile_k8(const void* w, size_t w_stride, const void* act, size_t act_stride, int64_t n_rows,
                                int64_t n_in, float* y, int64_t ldy) {
  using F = KTileFormat<Block>;
  const int64_t nb = n_in / QK_K;
  KTileSub* sub = scratch<KTileSub>(static_cast<size_t>(nb * 8));
  KTileBlock* blk = scratch<KTileBlock>(static_cast<size_t>(nb));
  const Block* rows[8];
  for (int k = 0; k < 8; ++k) rows[k] = reinterpret_cast<const Block*>(static_cast<const uint8_t*>(w) + k * w_stride);
  for (int64_t b = 0; b < nb; ++b) F::prepare(rows, b, sub + 8 * b, blk[b]);

  for (int64_t r = 0; r < n_rows; ++r) {
    const BlockQ8_K* a = act_row<BlockQ8_K>(act, act_stride, static_cast<int>(r));
    __m256 acc = _mm256_setzero_ps();
    for (int64_t b = 0; b < nb; ++b) {
      const BlockQ8_K& ab = a[b];
      __m256i isum = _mm256_setzero_si256();
#pragma GCC unroll 8
      for (int j = 0; j < 8; ++j) {
        const KTileSub& t = sub[8 * b + j];
        const int8_t* aq = ab.qs + 32 * j;
        if constexpr (F::kWordsInInt16 == 8) {
          const __m256i p = words_int16<8>(t, aq, 0);
          isum = _mm256_add_epi32(isum, _mm256_madd_epi16(p, t.sc_lo));
        } else if constexpr (F::kWordsInInt16 == 4) {
          isum = _mm256_add_epi32(isum, _mm256_madd_epi16(words_int16<4>(t, aq, 0), t.sc_lo));
          isum = _mm256_add_epi32(isum, _mm256_madd_epi16(words_int16<4>(t, aq, 4), t.sc_hi));
        } else {
          isum = _mm256_add_epi32(isum, _mm256_madd_epi16(words_int16<2>(t, aq, 0), t.sc_lo));
          isum = _mm256_add_epi32(isum, _mm256_madd_epi16(words_int16<2>(t, aq, 2), t.sc_lo));
          isum = _mm256_add_epi32(isum, _mm256_madd_epi16(words_int16<2>(t, aq, 4), t.sc_hi));
          isum = _mm256_add_epi32(isum, _mm256_madd_epi16(words_int16<2>(t, aq, 6), t.sc_hi));
        }
        accumulate_in_order(isum);
      }
      const KTileBlock& kb = blk[b];
      const __m256 da = _mm256_set1_ps(ab.d);
      if constexpr (F::kQ6) {
        // I -= 32 * sum_i sc_i * bsums_i (the codes' offset), pairs of 16-value groups.
        __m256i corr = _mm256_setzero_si256();
#pragma GCC unroll 8
        for (int p = 0; p < 8; ++p)
          corr = _mm256_add_epi32(corr, _mm256_madd_epi16(kb.pair[p], bcast_int16_pair(ab.bsums[2 * p], ab.bsums[2 * p + 1])));
        isum = _mm256_sub_epi32(isum, _mm256_slli_epi32(corr, 5));
        acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(isum), _mm256_mul_ps(kb.d, da), acc);
      } else {
        // M = sum_j min_j * (bsums_2j + bsums_2j+1), pairs of sub-blocks.
        __m256i msum = _mm256_setzero_si256();
#pragma GCC unroll 4
        for (int p = 0; p < 4; ++p) {
          const int s0 = ab.bsums[4 * p] + ab.bsums[4 * p + 1], s1 = ab.bsums[4 * p + 2] + ab.bsums[4 * p + 3];
          msum = _mm256_add_epi32(msum, _mm256_madd_epi16(kb.pair[p], bcast_int16_pair(s0, s1)));
        }
        acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(isum), _mm256_mul_ps(kb.d, da), acc);
        acc = _mm256_fnmadd_ps(_mm256_cvtepi32_ps(msum), _mm256_mul_ps(kb.dmin, da), acc);
      }
    }
    _mm256_storeu_ps(y + r * ldy, acc);
  }
}

// The tiles of n_out weight rows one after another (the activations need no
// preparation here: vpmaddubsw takes the signed codes as they are).
template <class Block>
FRUGAL_TARGET void gemm_tile_k(const void* w, size_t w_stride, int64_t n_out, const void* act, size_t act_stride,
                               int64_t n_rows, int64_t n_in, float* y, int64_t ldy) {
  for (int64_t o = 0; o < n_out; o += kGemmTile) {
    gemm_tile_k8<Block>(static_cast<const uint8_t*>(w) + o * w_stride, w_stride, act, act_stride, n_rows, n_in, y + o,
                        ldy);
  }
}
