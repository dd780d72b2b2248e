#include "kernels/gemm_bf16.h"

#include <immintrin.h>

#include <algorithm>
#include <vector>

#include "base/fp16.h"
#include "kernels/cpu_features.h"

namespace frugal::kernels {
namespace {

constexpr int64_t kMr = 8;        // rows of a tile
constexpr int64_t kNr = 32;       // columns of a tile: two vectors of 16 f32
constexpr int64_t kKc = 256;      // pairs of k a tile sums before the next tile (32 KB of a B panel)
constexpr int64_t kRowTask = 128;  // rows of one task: tasks are (row chunk, panel)

// pairs[x] = bf16(lo[x]) | bf16(hi[x]) << 16 for x < count; hi may be null
// (zero halves). Rounded to nearest even as f32_to_bf16 does, NaN kept quiet.
void pairs_scalar(const float* lo, const float* hi, int64_t count, uint32_t* pairs) {
  for (int64_t x = 0; x < count; ++x)
    pairs[x] = f32_to_bf16(lo[x]) | (hi ? static_cast<uint32_t>(f32_to_bf16(hi[x])) << 16 : 0u);
}

#define FRUGAL_PACK_TARGET __attribute__((target("avx512f,avx512bw,avx512vl")))
// Shifts through the zero-masking form: g++ 12 warns of the plain form's
// undefined pass-through operand once inlined (-Wmaybe-uninitialized).
FRUGAL_PACK_TARGET inline __m512i shift_right16(__m512i x) { return _mm512_maskz_srli_epi32(0xFFFF, x, 16); }
FRUGAL_PACK_TARGET inline __m512i bf16_lanes(__m512 v) {  // f32_to_bf16 of 16 lanes, in each lane's low half
  const __m512i x = _mm512_castps_si512(v);
  const __m512i odd = _mm512_and_si512(shift_right16(x), _mm512_set1_epi32(1));
  const __m512i rounded = shift_right16(_mm512_add_epi32(x, _mm512_add_epi32(_mm512_set1_epi32(0x7fff), odd)));
  const __m512i nan = _mm512_or_si512(shift_right16(x), _mm512_set1_epi32(0x40));
  const __mmask16 is_nan =
      _mm512_cmpgt_epu32_mask(_mm512_and_si512(x, _mm512_set1_epi32(0x7fffffff)), _mm512_set1_epi32(0x7f800000));
  return _mm512_and_si512(_mm512_mask_blend_epi32(is_nan, rounded, nan), _mm512_set1_epi32(0xffff));
}
FRUGAL_PACK_TARGET void pairs_avx512(const float* lo, const float* hi, int64_t count, uint32_t* pairs) {
  int64_t x = 0;
  for (; x + 16 <= count; x += 16) {
    __m512i v = bf16_lanes(_mm512_loadu_ps(lo + x));
    if (hi) v = _mm512_or_si512(v, _mm512_maskz_slli_epi32(0xFFFF, bf16_lanes(_mm512_loadu_ps(hi + x)), 16));
    _mm512_storeu_si512(pairs + x, v);
  }
  pairs_scalar(lo + x, hi ? hi + x : nullptr, count - x, pairs + x);
}
FRUGAL_PACK_TARGET void halves_avx512(const float* src, int64_t count, uint16_t* out) {
  int64_t x = 0;
  for (; x + 16 <= count; x += 16)
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + x), _mm512_maskz_cvtepi32_epi16(0xFFFF, bf16_lanes(_mm512_loadu_ps(src + x))));
  for (; x < count; ++x) out[x] = f32_to_bf16(src[x]);
}
#undef FRUGAL_PACK_TARGET

void halves_scalar(const float* src, int64_t count, uint16_t* out) {
  for (int64_t x = 0; x < count; ++x) out[x] = f32_to_bf16(src[x]);
}

// The conversions packing uses: two rows into pairs, or one row into bf16 values.
struct Convert {
  void (*pairs)(const float* lo, const float* hi, int64_t count, uint32_t* pairs);
  void (*halves)(const float* src, int64_t count, uint16_t* out);
};
constexpr Convert kConvertScalar{.pairs = pairs_scalar, .halves = halves_scalar};
constexpr Convert kConvertAvx512{.pairs = pairs_avx512, .halves = halves_avx512};

// A's rows as bf16 pairs: ap[i * k2 + q] holds A(i, 2q) (low half) and
// A(i, 2q + 1) (high half); zero past k and in the rows that pad m to kMr.
void pack_a(const Convert& cv, const StridedMatrix& a, int64_t m, int64_t k, int64_t k2, std::vector<uint32_t>& ap) {
  const int64_t mp = (m + kMr - 1) / kMr * kMr;
  ap.assign(static_cast<size_t>(mp * k2), 0u);
  if (a.col == 1) {  // rows in memory: a row's bf16 values in order are its pairs
    for (int64_t i = 0; i < m; ++i) cv.halves(a.data + i * a.row, k, reinterpret_cast<uint16_t*>(ap.data() + i * k2));
    return;
  }
  // Columns in memory (a transpose): two source rows t, t + 1 make pair q of every row i.
  std::vector<uint32_t> col(static_cast<size_t>(m));
  for (int64_t q = 0; q < k2; ++q) {
    const float* lo = a.data + 2 * q * a.col;
    if (a.row == 1) {
      cv.pairs(lo, 2 * q + 1 < k ? lo + a.col : nullptr, m, col.data());
    } else {
      for (int64_t i = 0; i < m; ++i)
        pairs_scalar(lo + i * a.row, 2 * q + 1 < k ? lo + a.col + i * a.row : nullptr, 1, &col[static_cast<size_t>(i)]);
    }
    for (int64_t i = 0; i < m; ++i) ap[static_cast<size_t>(i * k2 + q)] = col[static_cast<size_t>(i)];
  }
}

// B in panels of kNr columns: as uint32 pairs, bp[(p * k2 + q) * kNr + j]
// holds B(p kNr + j, 2q) and B(p kNr + j, 2q + 1); zero past n and past k.
void pack_b(const Convert& cv, const StridedMatrix& b, int64_t n, int64_t k, int64_t k2, std::vector<uint32_t>& bp) {
  const int64_t panels = (n + kNr - 1) / kNr;
  bp.assign(static_cast<size_t>(panels * k2 * kNr), 0u);
  if (b.row == 1) {  // columns in memory: rows t, t + 1 give pair q of a panel's 32 columns at once
    for (int64_t q = 0; q < k2; ++q) {
      const float* lo = b.data + 2 * q * b.col;
      const float* hi = 2 * q + 1 < k ? lo + b.col : nullptr;
      for (int64_t p = 0; p < panels; ++p)
        cv.pairs(lo + p * kNr, hi ? hi + p * kNr : nullptr, std::min(kNr, n - p * kNr),
              bp.data() + (p * k2 + q) * kNr);
    }
    return;
  }
  std::vector<uint32_t> row(static_cast<size_t>(k2));
  for (int64_t j = 0; j < n; ++j) {  // rows in memory (or any strides): row j's pairs, then spread over q
    const float* src = b.data + j * b.row;
    for (int64_t q = 0; q < k2; ++q)
      pairs_scalar(src + 2 * q * b.col, 2 * q + 1 < k ? src + (2 * q + 1) * b.col : nullptr, 1,
                   &row[static_cast<size_t>(q)]);
    uint32_t* panel = bp.data() + (j / kNr) * k2 * kNr + j % kNr;
    for (int64_t q = 0; q < k2; ++q) panel[q * kNr] = row[static_cast<size_t>(q)];
  }
}

// One tile: rows x cols (at most kMr x kNr) of C from nq pairs of packed A
// (row stride as) and of one packed panel of B; adds into C or assigns.
using TileKernel = void (*)(const uint32_t* a, int64_t as, const uint32_t* b, int64_t nq, float* c, int64_t ldc,
                            int64_t rows, int64_t cols, bool add);

void tile_scalar(const uint32_t* a, int64_t as, const uint32_t* b, int64_t nq, float* c, int64_t ldc, int64_t rows,
                 int64_t cols, bool add) {
  float acc[kMr][kNr] = {};
  for (int64_t q = 0; q < nq; ++q)
    for (int64_t r = 0; r < kMr; ++r) {
      const uint32_t pair = a[r * as + q];
      const float lo = bf16_to_f32(static_cast<uint16_t>(pair)), hi = bf16_to_f32(static_cast<uint16_t>(pair >> 16));
      for (int64_t j = 0; j < kNr; ++j) {
        const uint32_t bj = b[q * kNr + j];
        acc[r][j] += lo * bf16_to_f32(static_cast<uint16_t>(bj)) + hi * bf16_to_f32(static_cast<uint16_t>(bj >> 16));
      }
    }
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t j = 0; j < cols; ++j) c[r * ldc + j] = (add ? c[r * ldc + j] : 0.0f) + acc[r][j];
}

#define FRUGAL_BF16_TARGET __attribute__((target("avx512f,avx512bw,avx512vl,avx512bf16")))

// Each pair of A broadcast to all lanes; vdpbf16ps adds, per column, the two
// products of that pair with the column's pair of B (exact products, f32 sums).
FRUGAL_BF16_TARGET void tile_avx512(const uint32_t* a, int64_t as, const uint32_t* b, int64_t nq, float* c,
                                    int64_t ldc, int64_t rows, int64_t cols, bool add) {
  __m512 c0[kMr], c1[kMr];
#pragma GCC unroll 8
  for (int64_t r = 0; r < kMr; ++r) c0[r] = c1[r] = _mm512_setzero_ps();
  for (int64_t q = 0; q < nq; ++q) {
    const __m512bh b0 = (__m512bh)_mm512_loadu_si512(b + q * kNr);
    const __m512bh b1 = (__m512bh)_mm512_loadu_si512(b + q * kNr + 16);
#pragma GCC unroll 8
    for (int64_t r = 0; r < kMr; ++r) {
      const __m512bh ar = (__m512bh)_mm512_set1_epi32(static_cast<int>(a[r * as + q]));
      c0[r] = _mm512_dpbf16_ps(c0[r], ar, b0);
      c1[r] = _mm512_dpbf16_ps(c1[r], ar, b1);
    }
  }
  const __mmask16 m0 = cols >= 16 ? __mmask16(0xFFFF) : __mmask16((1u << cols) - 1);
  const __mmask16 m1 = cols >= 32 ? __mmask16(0xFFFF) : cols <= 16 ? __mmask16(0) : __mmask16((1u << (cols - 16)) - 1);
  for (int64_t r = 0; r < rows; ++r) {
    float* cr = c + r * ldc;
    __m512 v0 = c0[r], v1 = c1[r];
    if (add) {
      v0 = _mm512_add_ps(v0, _mm512_maskz_loadu_ps(m0, cr));
      v1 = _mm512_add_ps(v1, _mm512_maskz_loadu_ps(m1, cr + 16));
    }
    _mm512_mask_storeu_ps(cr, m0, v0);
    _mm512_mask_storeu_ps(cr + 16, m1, v1);
  }
}
#undef FRUGAL_BF16_TARGET

void run(TileKernel tile, const Convert& cv, const StridedMatrix& a, const StridedMatrix& b, float* c, int64_t ldc, int64_t m, int64_t n,
         int64_t k, bool accumulate, ThreadPool* pool) {
  if (m <= 0 || n <= 0) return;
  if (k <= 0) {
    if (!accumulate)
      for (int64_t i = 0; i < m; ++i) std::fill(c + i * ldc, c + i * ldc + n, 0.0f);
    return;
  }
  const int64_t k2 = (k + 1) / 2, panels = (n + kNr - 1) / kNr, row_chunks = (m + kRowTask - 1) / kRowTask;
  // Per calling thread; the pool's workers only read them while this call waits.
  thread_local std::vector<uint32_t> ap;
  thread_local std::vector<uint32_t> bp;
  pack_a(cv, a, m, k, k2, ap);
  pack_b(cv, b, n, k, k2, bp);
  const uint32_t* apd = ap.data();
  const uint32_t* bpd = bp.data();
  auto task = [&](int64_t t) {
    const int64_t p = t % panels, i_begin = (t / panels) * kRowTask, i_end = std::min(m, i_begin + kRowTask);
    const int64_t j0 = p * kNr, cols = std::min(kNr, n - j0);
    const uint32_t* panel = bpd + p * k2 * kNr;
    for (int64_t q0 = 0; q0 < k2; q0 += kKc) {
      const int64_t nq = std::min(kKc, k2 - q0);
      for (int64_t i = i_begin; i < i_end; i += kMr)
        tile(apd + i * k2 + q0, k2, panel + q0 * kNr, nq, c + i * ldc + j0, ldc, std::min(kMr, i_end - i), cols,
             accumulate || q0 > 0);
    }
  };
  const int64_t n_tasks = panels * row_chunks;
  if (pool && n_tasks > 1) pool->run(n_tasks, [&](int64_t t, int) { task(t); });
  else
    for (int64_t t = 0; t < n_tasks; ++t) task(t);
}

}  // namespace

void gemm_bf16(const StridedMatrix& a, const StridedMatrix& b, float* c, int64_t ldc, int64_t m, int64_t n, int64_t k,
               bool accumulate, ThreadPool* pool) {
  if (cpu_has_avx512_bf16()) run(tile_avx512, kConvertAvx512, a, b, c, ldc, m, n, k, accumulate, pool);
  else run(tile_scalar, kConvertScalar, a, b, c, ldc, m, n, k, accumulate, pool);
}

void gemm_bf16_scalar(const StridedMatrix& a, const StridedMatrix& b, float* c, int64_t ldc, int64_t m, int64_t n,
                      int64_t k, bool accumulate) {
  run(tile_scalar, kConvertScalar, a, b, c, ldc, m, n, k, accumulate, nullptr);
}

}  // namespace frugal::kernels
