// The x86 activation encoding, written once and compiled at each level:
// included by matmul_avx2.cc and matmul_avx512.cc after matmul_x86-inl.h,
// inside their namespace, with FRUGAL_TARGET defined.

// --- activation encoding (the twins of quantize_activations.cc) ----------
// Same arithmetic as the scalar code: the scale max|x| / 127 and its inverse
// computed in scalar f32, x * inverse rounded to nearest even (vcvtps2dq
// under the default rounding mode, like nearbyint), so the codes are equal.

FRUGAL_TARGET inline float abs_max(const float* x, int n) {
  const __m256 sign = _mm256_set1_ps(-0.0f);
  __m256 m = _mm256_setzero_ps();
  for (int i = 0; i < n; i += 8) m = _mm256_max_ps(m, _mm256_andnot_ps(sign, _mm256_loadu_ps(x + i)));
  __m128 s = _mm_max_ps(_mm256_castps256_ps128(m), _mm256_extractf128_ps(m, 1));
  s = _mm_max_ps(s, _mm_movehl_ps(s, s));
  s = _mm_max_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

// 32 floats times id, rounded, as 32 int8 in order.
FRUGAL_TARGET inline __m256i quantize32(const float* x, __m256 id) {
  const __m256i i0 = _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(x), id));
  const __m256i i1 = _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(x + 8), id));
  const __m256i i2 = _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(x + 16), id));
  const __m256i i3 = _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(x + 24), id));
  // The packs work within 128-bit halves; the permutation restores order.
  const __m256i p = _mm256_packs_epi16(_mm256_packs_epi32(i0, i1), _mm256_packs_epi32(i2, i3));
  return _mm256_permutevar8x32_epi32(p, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
}

FRUGAL_TARGET inline float inverse_step(float d) { return d > 0 ? 1.0f / d : 0.0f; }

FRUGAL_TARGET void encode_row(ActFormat f, const float* x, void* dst, int64_t n) {
  if (f == ActFormat::kQ8_32) {
    auto* y = static_cast<ActBlock32*>(dst);
    for (int64_t b = 0; b < n / 32; ++b) {
      const float d = abs_max(x + 32 * b, 32) / 127.0f;
      y[b].d = d;
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(y[b].qs), quantize32(x + 32 * b, _mm256_set1_ps(inverse_step(d))));
    }
  } else if (f == ActFormat::kQ8_K) {
    auto* y = static_cast<BlockQ8_K*>(dst);
    for (int64_t b = 0; b < n / QK_K; ++b) {
      const float* xb = x + QK_K * b;
      const float d = abs_max(xb, QK_K) / 127.0f;
      const __m256 id = _mm256_set1_ps(inverse_step(d));
      y[b].d = d;
      for (int j = 0; j < QK_K / 32; ++j) {
        const __m256i q = quantize32(xb + 32 * j, id);
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(y[b].qs + 32 * j), q);
        // Sums of 8 bytes each as (q + 128) with vpsadbw, then of 16.
        alignas(32) int64_t s[4];
        _mm256_store_si256(reinterpret_cast<__m256i*>(s),
                           _mm256_sad_epu8(_mm256_xor_si256(q, _mm256_set1_epi8(static_cast<char>(0x80))),
                                           _mm256_setzero_si256()));
        y[b].bsums[2 * j] = static_cast<int16_t>(s[0] + s[1] - 16 * 128);
        y[b].bsums[2 * j + 1] = static_cast<int16_t>(s[2] + s[3] - 16 * 128);
      }
    }
  } else {
    encode_act_row(f, x, dst, n);
  }
}
