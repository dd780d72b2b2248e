// The MXFP4 kernels of one x86 level, compiled twice by
// matmul_mxfp4_x86.cc inside its own namespace after defining
//   FRUGAL_TARGET  __attribute__((target(...))) for every function here
//   FRUGAL_VNNI    1: int8 dot products with vpdpbusd; 0: vpmaddubsw + vpmaddwd
// and including <immintrin.h>, kernels/matmul_kernels.h,
// kernels/quantize_activations.h and quant/blocks.h.

FRUGAL_TARGET inline __m256i weights_s8(const quant::BlockMXFP4& b) {
  const __m128i table = _mm_loadu_si128(reinterpret_cast<const __m128i*>(quant::kMXFP4Values));
  const __m128i bytes = _mm_loadu_si128(reinterpret_cast<const __m128i*>(b.qs));
  const __m128i m4 = _mm_set1_epi8(0x0F);
  const __m128i lo = _mm_shuffle_epi8(table, _mm_and_si128(bytes, m4));
  const __m128i hi = _mm_shuffle_epi8(table, _mm_and_si128(_mm_srli_epi16(bytes, 4), m4));
  return _mm256_set_m128i(hi, lo);
}

// Eight int32 partial sums of |w| * (a with w's sign).
FRUGAL_TARGET inline __m256i dot32(__m256i wq, const int8_t* a) {
  const __m256i av = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a));
  const __m256i wabs = _mm256_sign_epi8(wq, wq), as = _mm256_sign_epi8(av, wq);
  if constexpr (FRUGAL_VNNI) {
    return _mm256_dpbusd_epi32(_mm256_setzero_si256(), wabs, as);
  } else {
    return _mm256_madd_epi16(_mm256_maddubs_epi16(wabs, as), _mm256_set1_epi16(1));
  }
}

// The whole sums of four vectors in lanes 0..3 (exact).
FRUGAL_TARGET inline __m128i hsum4(__m256i p0, __m256i p1, __m256i p2, __m256i p3) {
  const __m256i h = _mm256_hadd_epi32(_mm256_hadd_epi32(p0, p1), _mm256_hadd_epi32(p2, p3));
  return _mm_add_epi32(_mm256_castsi256_si128(h), _mm256_extracti128_si256(h, 1));
}

// mxfp4_scale of four bytes at once, the same bits: (e - 1) << 23 for
// e >= 2, the subnormals 2^-128 and 2^-127 for e = 0 and 1.
FRUGAL_TARGET inline __m128 scales4(uint8_t e0, uint8_t e1, uint8_t e2, uint8_t e3) {
  const __m128i e = _mm_setr_epi32(e0, e1, e2, e3);
  const __m128i normal = _mm_slli_epi32(_mm_sub_epi32(e, _mm_set1_epi32(1)), 23);
  const __m128i subnormal = _mm_sllv_epi32(_mm_set1_epi32(0x00200000), e);
  return _mm_castsi128_ps(_mm_blendv_epi8(normal, subnormal, _mm_cmplt_epi32(e, _mm_set1_epi32(2))));
}

FRUGAL_TARGET inline const ActBlock32* act_row(const void* act, size_t stride, int r) {
  return reinterpret_cast<const ActBlock32*>(static_cast<const uint8_t*>(act) + r * stride);
}

// One weight row times R activation rows (lanes 0..R-1 of one accumulator).
template <int R>
FRUGAL_TARGET void dot_rows(const void* w, const void* act, size_t stride, int64_t n_in, float* y, int64_t ys) {
  const auto* wb = static_cast<const quant::BlockMXFP4*>(w);
  const ActBlock32* a[4];
  for (int r = 0; r < 4; ++r) a[r] = act_row(act, stride, r < R ? r : 0);
  __m128 acc = _mm_setzero_ps();
  const __m256i z = _mm256_setzero_si256();
  for (int64_t b = 0; b < n_in / 32; ++b) {
    const __m256i wq = weights_s8(wb[b]);
    const __m256i p0 = dot32(wq, a[0][b].qs);
    const __m256i p1 = R > 1 ? dot32(wq, a[1][b].qs) : z;
    const __m256i p2 = R > 2 ? dot32(wq, a[2][b].qs) : z;
    const __m256i p3 = R > 3 ? dot32(wq, a[3][b].qs) : z;
    const __m128 da = _mm_setr_ps(a[0][b].d, R > 1 ? a[1][b].d : 0.0f, R > 2 ? a[2][b].d : 0.0f,
                                  R > 3 ? a[3][b].d : 0.0f);
    const __m128 scale = _mm_mul_ps(_mm_set1_ps(quant::mxfp4_scale(wb[b].e)), da);
    acc = _mm_fmadd_ps(_mm_cvtepi32_ps(hsum4(p0, p1, p2, p3)), scale, acc);
  }
  alignas(16) float out[4];
  _mm_store_ps(out, acc);
  for (int r = 0; r < R; ++r) y[r * ys] = out[r];
}

FRUGAL_TARGET void dot(const void* w, const void* act, size_t stride, int n_act, int64_t n_in, float* y, int64_t ys) {
  switch (n_act) {
    case 1: return dot_rows<1>(w, act, stride, n_in, y, ys);
    case 2: return dot_rows<2>(w, act, stride, n_in, y, ys);
    case 3: return dot_rows<3>(w, act, stride, n_in, y, ys);
    default: return dot_rows<4>(w, act, stride, n_in, y, ys);
  }
}

// Decode: four weight rows (lanes 0..3) times each of R activation rows, so
// an activation block is loaded once for the four rows. The next four rows
// (contiguous bytes) are fetched ahead, a block's share each block, as the
// hardware prefetcher does not follow four interleaved streams.
template <int R>
FRUGAL_TARGET void dot4_rows(const void* w, size_t w_stride, const void* act, size_t stride, int64_t n_in, float* y,
                             int64_t ldy) {
  const quant::BlockMXFP4* wr[4];
  for (int k = 0; k < 4; ++k)
    wr[k] = reinterpret_cast<const quant::BlockMXFP4*>(static_cast<const uint8_t*>(w) + k * w_stride);
  const ActBlock32* ar[R];
  for (int r = 0; r < R; ++r) ar[r] = act_row(act, stride, r);
  __m128 acc[R];
  for (int r = 0; r < R; ++r) acc[r] = _mm_setzero_ps();
  for (int64_t b = 0; b < n_in / 32; ++b) {
    {
      const char* next = static_cast<const char*>(w) + 4 * w_stride + b * 4 * sizeof(quant::BlockMXFP4);
      _mm_prefetch(next, _MM_HINT_T0);
      _mm_prefetch(next + 64, _MM_HINT_T0);
    }
    const __m256i w0 = weights_s8(wr[0][b]), w1 = weights_s8(wr[1][b]);
    const __m256i w2 = weights_s8(wr[2][b]), w3 = weights_s8(wr[3][b]);
    const __m128 dw = scales4(wr[0][b].e, wr[1][b].e, wr[2][b].e, wr[3][b].e);
#pragma GCC unroll 4
    for (int r = 0; r < R; ++r) {
      const ActBlock32& a = ar[r][b];
      const __m128i s = hsum4(dot32(w0, a.qs), dot32(w1, a.qs), dot32(w2, a.qs), dot32(w3, a.qs));
      acc[r] = _mm_fmadd_ps(_mm_cvtepi32_ps(s), _mm_mul_ps(dw, _mm_set1_ps(a.d)), acc[r]);
    }
  }
  for (int r = 0; r < R; ++r) _mm_storeu_ps(y + r * ldy, acc[r]);
}

FRUGAL_TARGET void dot4(const void* w, size_t w_stride, const void* act, size_t stride, int n_act, int64_t n_in,
                        float* y, int64_t ldy) {
  switch (n_act) {
    case 1: return dot4_rows<1>(w, w_stride, act, stride, n_in, y, ldy);
    case 2: return dot4_rows<2>(w, w_stride, act, stride, n_in, y, ldy);
    case 3: return dot4_rows<3>(w, w_stride, act, stride, n_in, y, ldy);
    default: return dot4_rows<4>(w, w_stride, act, stride, n_in, y, ldy);
  }
}

// Prefill: tiles of 8 weight rows times every activation row, with no
// horizontal sums. Each tile's blocks are unpacked once into 8 vectors per
// block whose 32-bit lane k holds weight row k's 4 values of one group (an
// 8 x 8 transpose of 4-byte words), each value plus 16 so that it is
// unsigned (4..28) for vpmaddubsw / vpdpbusd; an activation's 4 bytes of a
// group broadcast to all lanes then give the 8 rows' partial sums in one
// instruction. Sum (w + 16) a - 16 sum a is the block's exact integer sum
// (no int16 saturation: 2 * 28 * 127 < 32768), so each output is assembled
// as in the scalar twin: the same bits.
FRUGAL_TARGET inline __m256i dot4bytes(__m256i acc, __m256i w_u8, __m256i a_s8) {
  if constexpr (FRUGAL_VNNI) {
    return _mm256_dpbusd_epi32(acc, w_u8, a_s8);
  } else {
    return _mm256_add_epi32(acc, _mm256_madd_epi16(_mm256_maddubs_epi16(w_u8, a_s8), _mm256_set1_epi16(1)));
  }
}

// v[k]: 8 dwords of row k -> out[g]: dword g of every row (lane k = row k).
FRUGAL_TARGET inline void transpose8x8(const __m256i v[8], __m256i out[8]) {
  __m256i t[8], u[8];
  for (int i = 0; i < 8; i += 2) {
    t[i] = _mm256_unpacklo_epi32(v[i], v[i + 1]);
    t[i + 1] = _mm256_unpackhi_epi32(v[i], v[i + 1]);
  }
  for (int i = 0; i < 8; i += 4) {
    u[i] = _mm256_unpacklo_epi64(t[i], t[i + 2]);
    u[i + 1] = _mm256_unpackhi_epi64(t[i], t[i + 2]);
    u[i + 2] = _mm256_unpacklo_epi64(t[i + 1], t[i + 3]);
    u[i + 3] = _mm256_unpackhi_epi64(t[i + 1], t[i + 3]);
  }
  for (int g = 0; g < 4; ++g) {
    out[g] = _mm256_permute2x128_si256(u[g], u[g + 4], 0x20);
    out[g + 4] = _mm256_permute2x128_si256(u[g], u[g + 4], 0x31);
  }
}

FRUGAL_TARGET void gemm_tile(const void* w, size_t w_stride, int64_t n_out, const void* act, size_t act_stride,
                             int64_t n_rows, int64_t n_in, float* y, int64_t ldy) {
  const int64_t nb = n_in / 32;
  thread_local std::vector<uint8_t> tile;  // per block 8 vectors of 32 bytes
  thread_local std::vector<float> scales;  // per block the 8 rows' scales
  thread_local std::vector<int32_t> act_sums;
  tile.resize(static_cast<size_t>(nb * 8 * 32));
  scales.resize(static_cast<size_t>(nb * 8));
  act_sums.resize(static_cast<size_t>(n_rows * nb));
  // Each activation block's sum times 16, once per call.
  for (int64_t r = 0; r < n_rows; ++r) {
    const ActBlock32* a = act_row(act, act_stride, static_cast<int>(r));
    for (int64_t b = 0; b < nb; ++b) {
      int32_t sum = 0;
      for (int i = 0; i < 32; ++i) sum += a[b].qs[i];
      act_sums[static_cast<size_t>(r * nb + b)] = 16 * sum;
    }
  }
  const __m256i offset = _mm256_set1_epi8(16);
  for (int64_t o0 = 0; o0 + 8 <= n_out; o0 += 8) {
    const quant::BlockMXFP4* wr[8];
    for (int k = 0; k < 8; ++k)
      wr[k] = reinterpret_cast<const quant::BlockMXFP4*>(static_cast<const uint8_t*>(w) + (o0 + k) * w_stride);
    for (int64_t b = 0; b < nb; ++b) {
      __m256i v[8];
      for (int k = 0; k < 8; ++k) v[k] = _mm256_add_epi8(weights_s8(wr[k][b]), offset);
      __m256i t[8];
      transpose8x8(v, t);
      for (int g = 0; g < 8; ++g)
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(&tile[static_cast<size_t>((b * 8 + g) * 32)]), t[g]);
      _mm_storeu_ps(&scales[static_cast<size_t>(b * 8)], scales4(wr[0][b].e, wr[1][b].e, wr[2][b].e, wr[3][b].e));
      _mm_storeu_ps(&scales[static_cast<size_t>(b * 8 + 4)], scales4(wr[4][b].e, wr[5][b].e, wr[6][b].e, wr[7][b].e));
    }
    for (int64_t r = 0; r < n_rows; ++r) {
      const ActBlock32* a = act_row(act, act_stride, static_cast<int>(r));
      const int32_t* sums = &act_sums[static_cast<size_t>(r * nb)];
      __m256 acc = _mm256_setzero_ps();
      for (int64_t b = 0; b < nb; ++b) {
        const uint8_t* t = &tile[static_cast<size_t>(b * 8 * 32)];
        __m256i s = _mm256_setzero_si256();
#pragma GCC unroll 8
        for (int g = 0; g < 8; ++g) {
          int32_t word;
          std::memcpy(&word, a[b].qs + 4 * g, 4);
          s = dot4bytes(s, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(t + 32 * g)), _mm256_set1_epi32(word));
        }
        s = _mm256_sub_epi32(s, _mm256_set1_epi32(sums[b]));
        const __m256 dw = _mm256_loadu_ps(&scales[static_cast<size_t>(b * 8)]);
        acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(s), _mm256_mul_ps(dw, _mm256_set1_ps(a[b].d)), acc);
      }
      _mm256_storeu_ps(y + r * ldy + o0, acc);
    }
  }
}

const TypeKernel kMXFP4{
    .act = ActFormat::kQ8_32, .dot = dot, .gemm_tile = gemm_tile, .gemm_min_rows = 8, .dot4 = dot4};
