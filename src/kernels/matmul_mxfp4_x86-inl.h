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

const TypeKernel kMXFP4{.act = ActFormat::kQ8_32, .dot = dot, .dot4 = dot4};
