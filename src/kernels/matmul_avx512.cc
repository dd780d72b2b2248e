// The kernels at the avx512 level: the same code as avx2 (matmul_x86-inl.h)
// with vpdpbusd (AVX512_VNNI on 256-bit registers) for the int8 dot products,
// and, where the CPU has AVX512_BF16, vdpbf16ps for bf16 weights.
#include "kernels/matmul_kernels.h"

#if defined(__x86_64__)
#include <immintrin.h>

#include <cstring>

#include "base/fp16.h"
#include "kernels/block_unpack.h"
#include "kernels/quantize_activations.h"

namespace frugal::kernels {
namespace avx512 {
namespace {
#define FRUGAL_TARGET __attribute__((target("avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")))
#define FRUGAL_VNNI 1
#include "kernels/matmul_x86-inl.h"
#undef FRUGAL_VNNI
#undef FRUGAL_TARGET

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
    for (int r = 0; r < R; ++r) acc0[r] = acc1[r] = _mm256_setzero_ps();
    int64_t i = 0;
    for (; i + 32 <= n; i += 32) {
      const __m256bh w0 = (__m256bh)_mm256_loadu_si256(reinterpret_cast<const __m256i*>(wp + i));
      const __m256bh w1 = (__m256bh)_mm256_loadu_si256(reinterpret_cast<const __m256i*>(wp + i + 16));
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

}  // namespace
}  // namespace avx512

const TypeKernel* avx512_kernel(TensorType t) {
  if (t == TensorType::BF16 && cpu_has_avx512_bf16()) return &avx512::kBF16Dot;
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
