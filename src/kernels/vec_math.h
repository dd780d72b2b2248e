// Eight-lane float vectors (GCC/Clang vector extensions) and the exponential
// on them, for the element-wise parts of a layer that a scalar libm call per
// value made slow (the softmax of attention scores, SiLU in SwiGLU: 7% and
// more of a 512-token prompt).
//
// One AVX register, or two SSE registers on the baseline build; the
// functions are always inlined, so a caller compiled for AVX-512 or AVX2
// (target_clones) gets them in its own instruction set. Each lane's
// arithmetic is a fixed sequence of operations, so every lane computes the
// same bits for the same input: a value's result never depends on its
// neighbours or on where a loop's vector part ends (callers pad the tail
// into a vector). Where the target has FMA, GCC may fuse a multiply and an
// add (C++ defaults to -ffp-contract=fast): results can differ between
// machines, never between calls on one.
#pragma once
#include <cstdint>
#include <cstring>
#include <limits>

#define FRUGAL_VEC_INLINE inline __attribute__((always_inline))

namespace frugal::kernels::vec {

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wpsabi"
typedef float v8f __attribute__((vector_size(32)));
typedef int32_t v8i __attribute__((vector_size(32)));

FRUGAL_VEC_INLINE v8f splat(float x) { return v8f{x, x, x, x, x, x, x, x}; }

FRUGAL_VEC_INLINE v8f load8(const float* p) {
  v8f v;
  std::memcpy(&v, p, sizeof(v));
  return v;
}
FRUGAL_VEC_INLINE void store8(float* p, const v8f& v) { std::memcpy(p, &v, sizeof(v)); }

// n < 8 values into a vector (the rest `fill`), and back.
FRUGAL_VEC_INLINE v8f load_part(const float* p, int64_t n, float fill) {
  float t[8] = {fill, fill, fill, fill, fill, fill, fill, fill};
  for (int64_t i = 0; i < n; ++i) t[i] = p[i];
  return load8(t);
}
FRUGAL_VEC_INLINE void store_part(float* p, const v8f& v, int64_t n) {
  float t[8];
  store8(t, v);
  for (int64_t i = 0; i < n; ++i) p[i] = t[i];
}

FRUGAL_VEC_INLINE v8f pow2i(v8i e) {  // 2^e for -126 <= e <= 127
  const v8i bits = (e + 127) << 23;
  v8f f;
  std::memcpy(&f, &bits, sizeof(f));
  return f;
}

// e^x within 2 ulp of the exact value over the whole float range: x = n ln2
// + r with |r| <= ln2 / 2 (ln2 in two parts, so n ln2 is exact), e^r by a
// degree-7 polynomial (Cephes' expf coefficients), times 2^n in two steps so
// that n = 128 does not overflow the exponent. Below -87.34 (where e^x is
// subnormal) it is 0, above 88.72 +inf, NaN stays NaN.
FRUGAL_VEC_INLINE v8f exp8(v8f x) {
  const float lo = -87.3365447f, hi = 88.7228394f;
  v8f xc = x < splat(lo) ? splat(lo) : x;
  xc = xc > splat(hi) ? splat(hi) : xc;
  // Round to nearest by the 1.5 * 2^23 trick (exact for |x log2 e| < 2^22).
  const v8f n = (xc * splat(1.44269504f) + splat(12582912.0f)) - splat(12582912.0f);
  v8f r = xc - n * splat(0.693359375f);
  r = r - n * splat(-2.12194440e-4f);
  v8f p = splat(1.9875691500e-4f);
  p = p * r + splat(1.3981999507e-3f);
  p = p * r + splat(8.3334519073e-3f);
  p = p * r + splat(4.1665795894e-2f);
  p = p * r + splat(1.6666665459e-1f);
  p = p * r + splat(5.0000001201e-1f);
  p = p * (r * r) + r + splat(1.0f);
  const v8i ni = __builtin_convertvector(n, v8i);
  const v8i n1 = ni >> 1;
  v8f y = p * pow2i(n1) * pow2i(ni - n1);
  y = x < splat(lo) ? splat(0.0f) : y;
  y = x > splat(hi) ? splat(std::numeric_limits<float>::infinity()) : y;
  return y;
}

// Sixteen-lane vectors: one AVX-512 register, two AVX or four SSE ones.
typedef float v16f __attribute__((vector_size(64)));

FRUGAL_VEC_INLINE v16f load16(const float* p) {
  v16f v;
  std::memcpy(&v, p, sizeof(v));
  return v;
}
FRUGAL_VEC_INLINE void store16(float* p, const v16f& v) { std::memcpy(p, &v, sizeof(v)); }
FRUGAL_VEC_INLINE v16f splat16(float x) { return v16f{x, x, x, x, x, x, x, x, x, x, x, x, x, x, x, x}; }
FRUGAL_VEC_INLINE v16f load16_part(const float* p, int64_t n) {  // n < 16, the rest 0
  float t[16] = {};
  for (int64_t i = 0; i < n; ++i) t[i] = p[i];
  return load16(t);
}

// The sum of a vector's lanes by halving: lanes (l, l + 8), then (l, l + 4),
// (l, l + 2), (0, 1). hsum16x4 sums four vectors at once by the same tree
// (each of its adds is one of hsum16's adds for one of the four), so a
// value comes out the same bits whichever of the two summed it.
FRUGAL_VEC_INLINE float hsum16(v16f v) {
  float t[16];
  std::memcpy(t, &v, sizeof(t));
  float h[8], q[4];
  for (int l = 0; l < 8; ++l) h[l] = t[l] + t[l + 8];
  for (int l = 0; l < 4; ++l) q[l] = h[l] + h[l + 4];
  return (q[0] + q[2]) + (q[1] + q[3]);
}
FRUGAL_VEC_INLINE void hsum16x4(v16f a0, v16f a1, v16f a2, v16f a3, float* out) {
  // Halves: lanes 0-7 the first vector's l + (l + 8), lanes 8-15 the second's.
  // (__builtin_shufflevector: GCC 12 and Clang both have it.)
  const v16f b01 = __builtin_shufflevector(a0, a1, 0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23) +
                   __builtin_shufflevector(a0, a1, 8, 9, 10, 11, 12, 13, 14, 15, 24, 25, 26, 27, 28, 29, 30, 31);
  const v16f b23 = __builtin_shufflevector(a2, a3, 0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23) +
                   __builtin_shufflevector(a2, a3, 8, 9, 10, 11, 12, 13, 14, 15, 24, 25, 26, 27, 28, 29, 30, 31);
  // Quarters: lanes 4t..4t+3 vector t's h[l] + h[l + 4].
  const v16f c = __builtin_shufflevector(b01, b23, 0, 1, 2, 3, 8, 9, 10, 11, 16, 17, 18, 19, 24, 25, 26, 27) +
                 __builtin_shufflevector(b01, b23, 4, 5, 6, 7, 12, 13, 14, 15, 20, 21, 22, 23, 28, 29, 30, 31);
  float t[16];
  std::memcpy(t, &c, sizeof(t));
  for (int k = 0; k < 4; ++k) out[k] = (t[4 * k] + t[4 * k + 2]) + (t[4 * k + 1] + t[4 * k + 3]);
}

// silu(g) * u lane by lane, with silu(g) = g / (1 + e^-g).
FRUGAL_VEC_INLINE v8f swiglu8(v8f g, v8f u) { return g / (splat(1.0f) + exp8(-g)) * u; }

#pragma GCC diagnostic pop

}  // namespace frugal::kernels::vec
