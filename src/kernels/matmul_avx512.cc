// The kernels at the avx512 level: the same code as avx2 (matmul_x86-inl.h)
// with vpdpbusd (AVX512_VNNI on 256-bit registers) for the int8 dot products,
// and, where the CPU has AVX512_BF16, vdpbf16ps for bf16 weights.
#include "kernels/matmul_kernels.h"

#if defined(__x86_64__)
#include <immintrin.h>

#include <algorithm>
#include <cstring>
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

// --- prefill tiles of 8 outputs for the 32-value block types --------------
// The 8 weight rows of a tile are unpacked to signed int8 and transposed so
// that 32-bit lane k of vector g holds row k's values 4g..4g+3; then
// vpdpbusd with the activation's 4 values 4g..4g+3 broadcast multiplies them
// for all 8 outputs at once: 8 instructions per block and activation row for
// 8 outputs, instead of one block's worth per output. vpdpbusd wants one
// unsigned operand, so the activations go in as a + 128 (a xor 0x80) and
// 128 * sum(q) per block and output, known from the tile, is taken off.
// The integer sums are those of the scalar twin; only f32 rounding differs.

// Lane k of the result = 32-bit word g of v[k]: an 8 x 8 transpose.
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

// One block of a tile: 8 interleaved code vectors, the 8 rows' scales and
// -128 * (sum of each row's codes).
struct alignas(32) TileBlock {
  __m256i q[8];
  __m256 scale;
  __m256i offset;
};

// Per-thread scratch: the tile, and the activation codes of 4 rows as a + 128.
TileBlock* tile_buffer(size_t n_blocks) {
  thread_local std::vector<TileBlock> buffer;
  if (buffer.size() < n_blocks) buffer.resize(n_blocks);
  return buffer.data();
}
uint8_t* flipped_buffer(size_t n) {
  thread_local std::vector<uint8_t> buffer;
  if (buffer.size() < n) buffer.resize(n);
  return buffer.data();
}

template <class Block>
FRUGAL_TARGET void gemm_tile32(const void* w, size_t w_stride, const void* act, size_t act_stride, int64_t n_rows,
                               int64_t n_in, float* y, int64_t ldy) {
  constexpr int R = 4;
  const int64_t nb = n_in / 32;
  TileBlock* tile = tile_buffer(static_cast<size_t>(nb));
  uint8_t* flipped = flipped_buffer(static_cast<size_t>(R * n_in));
  const __m256i ones = _mm256_set1_epi8(1), flip = _mm256_set1_epi8(static_cast<char>(0x80));
  for (int64_t b = 0; b < nb; ++b) {
    __m256i v[8];
    alignas(16) uint16_t d[8];
    #pragma GCC unroll 8
    for (int k = 0; k < 8; ++k) {
      const Block& blk = reinterpret_cast<const Block*>(static_cast<const uint8_t*>(w) + k * w_stride)[b];
      v[k] = weights_s8(blk);
      d[k] = blk.d;
    }
    transpose8x8(v, tile[b].q);
    tile[b].scale = _mm256_cvtph_ps(_mm_load_si128(reinterpret_cast<const __m128i*>(d)));
    // sum(q) per output lane: vpdpbusd of 1s with the signed codes.
    __m256i sum = _mm256_setzero_si256();
    #pragma GCC unroll 8
    for (int g = 0; g < 8; ++g) sum = _mm256_dpbusd_epi32(sum, ones, tile[b].q[g]);
    tile[b].offset = _mm256_sub_epi32(_mm256_setzero_si256(), _mm256_slli_epi32(sum, 7));
  }
  for (int64_t r0 = 0; r0 < n_rows; r0 += R) {
    const int n = static_cast<int>(std::min<int64_t>(R, n_rows - r0));
    const ActBlock32* a[R];
    // A short last group repeats its last row (computed, not stored).
    #pragma GCC unroll 8
    for (int r = 0; r < R; ++r) a[r] = act_row<ActBlock32>(act, act_stride, static_cast<int>(r0 + std::min(r, n - 1)));
    #pragma GCC unroll 8
    for (int r = 0; r < R; ++r) {
      for (int64_t b = 0; b < nb; ++b) {
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(flipped + r * n_in + 32 * b),
                            _mm256_xor_si256(load32(a[r][b].qs), flip));
      }
    }
    __m256 acc[R];
    #pragma GCC unroll 8
    for (int r = 0; r < R; ++r) acc[r] = _mm256_setzero_ps();
    for (int64_t b = 0; b < nb; ++b) {
      const TileBlock& t = tile[b];
      __m256i p[R][2];
      #pragma GCC unroll 8
      for (int r = 0; r < R; ++r) {
        p[r][0] = t.offset;
        p[r][1] = _mm256_setzero_si256();
      }
      #pragma GCC unroll 8
      for (int g = 0; g < 8; ++g) {
        const __m256i q = t.q[g];
        #pragma GCC unroll 8
        for (int r = 0; r < R; ++r) {
          int32_t word;
          std::memcpy(&word, flipped + r * n_in + 32 * b + 4 * g, 4);
          p[r][g & 1] = _mm256_dpbusd_epi32(p[r][g & 1], _mm256_set1_epi32(word), q);
        }
      }
      #pragma GCC unroll 8
      for (int r = 0; r < R; ++r) {
        const __m256 s = _mm256_mul_ps(t.scale, _mm256_set1_ps(a[r][b].d));
        acc[r] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_add_epi32(p[r][0], p[r][1])), s, acc[r]);
      }
    }
    for (int r = 0; r < n; ++r) _mm256_storeu_ps(y + (r0 + r) * ldy, acc[r]);
  }
}

const TypeKernel kQ8_0Gemm{ActFormat::kQ8_32, by_rows<Block32<quant::BlockQ8_0>>, gemm_tile32<quant::BlockQ8_0>};
const TypeKernel kQ4_0Gemm{ActFormat::kQ8_32, by_rows<Block32<quant::BlockQ4_0>>, gemm_tile32<quant::BlockQ4_0>};
const TypeKernel kIQ4_NLGemm{ActFormat::kQ8_32, by_rows<Block32<quant::BlockIQ4_NL>>,
                             gemm_tile32<quant::BlockIQ4_NL>};

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
#undef FRUGAL_VNNI
#undef FRUGAL_TARGET

}  // namespace
}  // namespace avx512

const TypeKernel* avx512_kernel(TensorType t) {
  if (t == TensorType::BF16 && cpu_has_avx512_bf16()) return &avx512::kBF16Dot;
  if (t == TensorType::Q8_0) return &avx512::kQ8_0Gemm;
  if (t == TensorType::Q4_0) return &avx512::kQ4_0Gemm;
  if (t == TensorType::IQ4_NL) return &avx512::kIQ4_NLGemm;
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
