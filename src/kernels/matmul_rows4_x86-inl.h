// The x86 decode kernels over four weight rows and one to four activation
// rows (rows4), and the per-block integer sums of each type that they use.
// Included by matmul_x86-inl.h (which see for FRUGAL_TARGET, FRUGAL_VNNI and
// the helpers used here) before its tables; the avx512 level adds 512-bit
// sums for Q4_K and Q6_K in matmul_avx512.cc.

// --- Four weight rows times one activation row (decode) ---------------------
// With a single activation row the row kernels above spend most of each block
// reducing its integer vector to one number and waiting on the loop-carried
// float chain, with too little independent work to hide either (the Q4_K row
// kernel ran at a third of its arithmetic peak). Four consecutive weight rows
// at once reduce their four blocks in one hsum_rows<4> and keep the four
// accumulators in the lanes of one register. Each lane does exactly what the
// row kernel does for its row: the same exact integer sums per block, then
// acc = fma(float(I), d * da, acc) [acc = fnma(float(M), dmin * da, acc)],
// blocks in order, so the results are the same bits.
//
// Batched decoding gives an expert a few rows a step (16 sequences, 64
// experts, top-8: 2 rows on average), so the kernel takes up to four
// activation rows: each weight block is unpacked once (codes, scales) and
// multiplied with every row, where the row kernel over R rows re-derives the
// scale operands per row and reduces one weight row at a time. Each (weight
// row, activation row) pair still gets exactly the one-row result.
//
// A block type's `sums<R>` gives the block's integer vectors for R activation
// blocks (lanes that add up to I, and to M where the format has minima);
// kScaleOffset/kDLane say where its fp16 weight scales are.
template <class B>
struct Q45KSums {
  using Block = B;
  using Act = BlockQ8_K;
  static constexpr int64_t kValues = QK_K;
  static constexpr bool kMin = true;
  template <int R>
  FRUGAL_TARGET static void sums(const Block& wk, const Act* const a[R], __m256i I[R], __m256i M[R]) {
    const __m128i sm = q4k_scales_mins(wk.scales);
    const __m256i sc16 = _mm256_cvtepu8_epi16(sm);
    const __m256i sc = _mm256_permute2x128_si256(sc16, sc16, 0x00);
    const __m128i mn8 = _mm_unpackhi_epi64(sm, sm);
    const __m256i mins16 = _mm256_cvtepu8_epi16(_mm_unpacklo_epi8(mn8, mn8));
    __m256i s0[R], s1[R];
    FRUGAL_UNROLL for (int r = 0; r < R; ++r) s0[r] = s1[r] = _mm256_setzero_si256();
#pragma GCC unroll 8
    for (int j = 0; j < 8; j += 2) {
      __m256i q[2];
      unpack_pair(wk, j / 2, q[0], q[1]);
      const __m256i c0 = _mm256_shuffle_epi8(sc, lane16_mask(j, j));
      const __m256i c1 = _mm256_shuffle_epi8(sc, lane16_mask(j + 1, j + 1));
      FRUGAL_UNROLL for (int r = 0; r < R; ++r) {
        s0[r] = dot_u8s8_scaled(s0[r], q[0], load32(a[r]->qs + 32 * j), c0);
        s1[r] = dot_u8s8_scaled(s1[r], q[1], load32(a[r]->qs + 32 * j + 32), c1);
        accumulate_in_order(s0[r]);
        accumulate_in_order(s1[r]);
      }
    }
    FRUGAL_UNROLL for (int r = 0; r < R; ++r) {
      I[r] = _mm256_add_epi32(s0[r], s1[r]);
      M[r] = _mm256_madd_epi16(mins16, load32(a[r]->bsums));
    }
  }
  static constexpr size_t kScaleOffset = 0, kDLane = 0;  // d, then dmin
};

struct Q6KSums {
  using Block = quant::BlockQ6_K;
  using Act = BlockQ8_K;
  static constexpr int64_t kValues = QK_K;
  static constexpr bool kMin = false;
  template <int R>
  FRUGAL_TARGET static void sums(const Block& wk, const Act* const a[R], __m256i I[R], __m256i*) {
    const __m256i sc16 = _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(wk.scales)));
    const __m256i sc_lo = _mm256_permute2x128_si256(sc16, sc16, 0x00);
    const __m256i sc_hi = _mm256_permute2x128_si256(sc16, sc16, 0x11);
    __m256i s0[R], s1[R];
    FRUGAL_UNROLL for (int r = 0; r < R; ++r) s0[r] = s1[r] = _mm256_setzero_si256();
#pragma GCC unroll 8
    for (int j = 0; j < 8; j += 2) {
      const __m256i half = j < 4 ? sc_lo : sc_hi;
      __m256i q[2];
      unpack_pair(wk, j / 2, q[0], q[1]);
      const __m256i c0 = _mm256_shuffle_epi8(half, lane16_mask(2 * (j % 4), 2 * (j % 4) + 1));
      const __m256i c1 = _mm256_shuffle_epi8(half, lane16_mask(2 * ((j + 1) % 4), 2 * ((j + 1) % 4) + 1));
      FRUGAL_UNROLL for (int r = 0; r < R; ++r) {
        s0[r] = dot_u8s8_scaled(s0[r], q[0], load32(a[r]->qs + 32 * j), c0);
        s1[r] = dot_u8s8_scaled(s1[r], q[1], load32(a[r]->qs + 32 * j + 32), c1);
        accumulate_in_order(s0[r]);
        accumulate_in_order(s1[r]);
      }
    }
    // The -32 offset: 32 * sum_k sc_k * sum16(a)_k.
    FRUGAL_UNROLL for (int r = 0; r < R; ++r) {
      I[r] = _mm256_sub_epi32(_mm256_add_epi32(s0[r], s1[r]),
                              _mm256_slli_epi32(_mm256_madd_epi16(sc16, load32(a[r]->bsums)), 5));
    }
  }
  static constexpr size_t kScaleOffset = 206, kDLane = 1;  // the last two scales, then d
};

template <class B>
struct Block32Sums {
  using Block = B;
  using Act = ActBlock32;
  static constexpr int64_t kValues = 32;
  static constexpr bool kMin = false;
  template <int R>
  FRUGAL_TARGET static void sums(const Block& wk, const Act* const a[R], __m256i I[R], __m256i*) {
    const __m256i wq = weights_s8(wk);
    const __m256i wabs = _mm256_sign_epi8(wq, wq);
    FRUGAL_UNROLL for (int r = 0; r < R; ++r) {
      I[r] = dot_u8s8(_mm256_setzero_si256(), wabs, _mm256_sign_epi8(load32(a[r]->qs), wq));
    }
  }
  static constexpr size_t kScaleOffset = 0, kDLane = 0;  // d, then the next field
};

struct IQ4XSSums {
  using Block = quant::BlockIQ4_XS;
  using Act = BlockQ8_K;
  static constexpr int64_t kValues = QK_K;
  static constexpr bool kMin = false;
  template <int R>
  FRUGAL_TARGET static void sums(const Block& wk, const Act* const a[R], __m256i I[R], __m256i*) {
    __m256i q[8];
    unpack_codes(wk, q);
    __m256i s0[R], s1[R];
    FRUGAL_UNROLL for (int r = 0; r < R; ++r) s0[r] = s1[r] = _mm256_setzero_si256();
#pragma GCC unroll 8
    for (int j = 0; j < 8; ++j) {
      const __m256i wabs = _mm256_sign_epi8(q[j], q[j]);
      const __m256i scale = prep_scale(_mm256_set1_epi32(iq4xs_scale(wk, j)));
      FRUGAL_UNROLL for (int r = 0; r < R; ++r) {
        __m256i& s = j & 1 ? s1[r] : s0[r];
        s = dot_u8s8_scaled(s, wabs, _mm256_sign_epi8(load32(a[r]->qs + 32 * j), q[j]), scale);
        accumulate_in_order(s);
      }
    }
    FRUGAL_UNROLL for (int r = 0; r < R; ++r) I[r] = _mm256_add_epi32(s0[r], s1[r]);
  }
  static constexpr size_t kScaleOffset = 0, kDLane = 0;  // d, then the next field
};

// The fp16 weight scales of block b of four rows as 8 floats: the 4 bytes at
// kScaleOffset of each row's block, row k's two halves in lanes 2k and 2k+1
// (memory loads and shuffles only: see q4k_scales_mins).
template <class S>
FRUGAL_TARGET inline __m256 scale_words4(const typename S::Block* const wr[4], int64_t b) {
  auto word = [&](int k) { return _mm_loadu_si32(reinterpret_cast<const uint8_t*>(wr[k] + b) + S::kScaleOffset); };
  const __m128i w01 = _mm_unpacklo_epi32(word(0), word(1)), w23 = _mm_unpacklo_epi32(word(2), word(3));
  return _mm256_cvtph_ps(_mm_unpacklo_epi64(w01, w23));
}

template <class S, int R>
FRUGAL_TARGET void rows4_run(const void* w, size_t w_stride, const void* act, size_t act_stride, int64_t n_in,
                             float* y, int64_t ldy) {
  using Block = typename S::Block;
  using Act = typename S::Act;
  const Block* wr[4];
  for (int k = 0; k < 4; ++k) wr[k] = reinterpret_cast<const Block*>(static_cast<const uint8_t*>(w) + k * w_stride);
  const Act* ar[R];
  FRUGAL_UNROLL for (int r = 0; r < R; ++r) ar[r] = act_row<Act>(act, act_stride, r);
  constexpr int L = static_cast<int>(S::kDLane);
  const __m256i d_first = _mm256_setr_epi32(L, L + 2, L + 4, L + 6, 1 - L, 3 - L, 5 - L, 7 - L);
  __m128 acc[R];
  FRUGAL_UNROLL for (int r = 0; r < R; ++r) acc[r] = _mm_setzero_ps();
  for (int64_t b = 0; b < n_in / S::kValues; ++b) {
    // The four rows are read as four short interleaved streams, which the
    // hardware prefetcher does not follow: the next four rows (contiguous
    // bytes) are fetched in order, a 4-block share of them each block, so
    // they are in cache when the next call starts.
    {
      const char* next = static_cast<const char*>(w) + 4 * w_stride + b * 4 * sizeof(Block);
#pragma GCC unroll 16
      for (size_t off = 0; off < 4 * sizeof(Block); off += 64) _mm_prefetch(next + off, _MM_HINT_T0);
    }
    const Act* ab[R];
    FRUGAL_UNROLL for (int r = 0; r < R; ++r) ab[r] = ar[r] + b;
    __m256i I[R][4], M[R][4];  // [activation row][weight row]
    FRUGAL_UNROLL for (int k = 0; k < 4; ++k) {
      __m256i Ik[R], Mk[R];
      S::template sums<R>(wr[k][b], ab, Ik, Mk);
      FRUGAL_UNROLL for (int r = 0; r < R; ++r) {
        I[r][k] = Ik[r];
        if constexpr (S::kMin) M[r][k] = Mk[r];
      }
    }
    const __m256 dd = _mm256_permutevar8x32_ps(scale_words4<S>(wr, b), d_first);  // d of rows 0-3, other half
    FRUGAL_UNROLL for (int r = 0; r < R; ++r) {
      const __m128 da = _mm_set1_ps(ab[r]->d);
      acc[r] = _mm_fmadd_ps(_mm_cvtepi32_ps(hsum_rows<4>(I[r])), _mm_mul_ps(_mm256_castps256_ps128(dd), da), acc[r]);
      if constexpr (S::kMin) {
        const __m128 dmin = _mm256_extractf128_ps(dd, 1);
        acc[r] = _mm_fnmadd_ps(_mm_cvtepi32_ps(hsum_rows<4>(M[r])), _mm_mul_ps(dmin, da), acc[r]);
      }
    }
  }
  FRUGAL_UNROLL for (int r = 0; r < R; ++r) _mm_storeu_ps(y + r * ldy, acc[r]);
}

// Calls rows4_run<S, R> with R = n_act (compile-time accumulator arrays).
template <class S>
FRUGAL_TARGET void rows4(const void* w, size_t w_stride, const void* act, size_t act_stride, int n_act, int64_t n_in,
                         float* y, int64_t ldy) {
  switch (n_act) {
    case 1: return rows4_run<S, 1>(w, w_stride, act, act_stride, n_in, y, ldy);
    case 2: return rows4_run<S, 2>(w, w_stride, act, act_stride, n_in, y, ldy);
    case 3: return rows4_run<S, 3>(w, w_stride, act, act_stride, n_in, y, ldy);
    default: return rows4_run<S, 4>(w, w_stride, act, act_stride, n_in, y, ldy);
  }
}
