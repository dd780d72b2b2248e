#include "kernels/attention.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

#include "base/error.h"
#include "base/fp16.h"
#include "kernels/cpu_features.h"
#include "kernels/ops.h"
#include "kernels/vec_math.h"
#include "quant/quant.h"

// The flash block update is compiled for AVX-512, AVX2 and baseline x86,
// chosen at load time from what the CPU reports (GCC function multiversioning).
// Clones by instruction set, not "arch=": GCC resolves an "arch=haswell" clone
// with a CPU-model test, which an AMD CPU never passes, so AMD machines ran
// the SSE2 baseline (found on a Zen 3: attention 16% of a 512-token prefill).
// GCC contracts a * b + c into one fused multiply-add where the target has
// it (C++ defaults to -ffp-contract=fast), so the AVX-512 clone rounds
// differently from the others: results may differ between machines, never
// between calls on one.
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define FRUGAL_FLOAT_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define FRUGAL_FLOAT_CLONES
#endif
#define FRUGAL_INLINE inline __attribute__((always_inline))

// vec_math.h's 32-byte vectors pass between always-inlined functions only,
// never across an ABI boundary: GCC's note about the AVX ABI does not apply.
#pragma GCC diagnostic ignored "-Wpsabi"

namespace frugal::kernels {

const char* cache_type_name(CacheType t) {
  switch (t) {
    case CacheType::kF32: return "f32";
    case CacheType::kF16: return "f16";
    case CacheType::kQ8_0: return "q8_0";
  }
  return "?";
}

int64_t cache_row_stride(CacheType t, int64_t width) {
  return t == CacheType::kQ8_0 ? (width + 31) / 32 * 32 : width;
}

size_t cache_bytes(CacheType t, int64_t n) {
  switch (t) {
    case CacheType::kF32: return static_cast<size_t>(n) * 4;
    case CacheType::kF16: return static_cast<size_t>(n) * 2;
    case CacheType::kQ8_0: return static_cast<size_t>(n / 32) * 34;
  }
  return 0;
}

void* cache_at(CacheType t, void* base, int64_t i) { return static_cast<uint8_t*>(base) + cache_bytes(t, i); }
const void* cache_at(CacheType t, const void* base, int64_t i) {
  return static_cast<const uint8_t*>(base) + cache_bytes(t, i);
}

void cache_store(CacheType t, void* dst, const float* src, int64_t n) {
  switch (t) {
    case CacheType::kF32:
      std::memcpy(dst, src, static_cast<size_t>(n) * sizeof(float));
      return;
    case CacheType::kF16: {
      uint16_t* d = static_cast<uint16_t*>(dst);
      for (int64_t i = 0; i < n; ++i) d[i] = f32_to_fp16(src[i]);
      return;
    }
    case CacheType::kQ8_0: {
      const int64_t whole = n / 32 * 32;
      if (whole > 0) quant::quantize_row(TensorType::Q8_0, src, dst, whole);
      if (whole < n) {
        float last[32] = {};
        std::copy(src + whole, src + n, last);
        quant::quantize_row(TensorType::Q8_0, last, cache_at(t, dst, whole), 32);
      }
      return;
    }
  }
}

namespace detail {

// f16 -> f32 with the CPU's conversion instruction (F16C) where it has one:
// exact, like the scalar fp16_to_f32, eight values at a time.
#if defined(__x86_64__) && defined(__GNUC__)
__attribute__((target("avx,f16c"))) void f16_to_f32_f16c(const uint16_t* s, float* d, int64_t n) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    _mm256_storeu_ps(d + i, _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(s + i))));
  for (; i < n; ++i) d[i] = fp16_to_f32(s[i]);
}
const bool kHasF16c = cpu_has_f16c();
#else
const bool kHasF16c = false;
void f16_to_f32_f16c(const uint16_t*, float*, int64_t) {}
#endif

// q8_0 blocks -> f32: d * q. AVX2 where the CPU has it (GCC turns a
// portable int8 -> float vector conversion into scalar instructions).
void q8_0_to_f32_scalar(const uint8_t* src, float* dst, int64_t n_blocks) {
  for (int64_t b = 0; b < n_blocks; ++b) {
    const uint8_t* blk = src + b * 34;
    uint16_t dh;
    std::memcpy(&dh, blk, 2);
    const float d = fp16_to_f32(dh);
    const int8_t* q = reinterpret_cast<const int8_t*>(blk + 2);
    for (int i = 0; i < 32; ++i) dst[b * 32 + i] = d * static_cast<float>(q[i]);
  }
}
#if defined(__x86_64__) && defined(__GNUC__)
__attribute__((target("avx2,f16c"))) void q8_0_to_f32_avx2(const uint8_t* src, float* dst, int64_t n_blocks) {
  for (int64_t b = 0; b < n_blocks; ++b) {
    const uint8_t* blk = src + b * 34;
    uint16_t dh;
    std::memcpy(&dh, blk, 2);
    const __m256 d = _mm256_set1_ps(fp16_to_f32(dh));
    for (int i = 0; i < 32; i += 8) {
      const __m128i q = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(blk + 2 + i));
      _mm256_storeu_ps(dst + b * 32 + i, _mm256_mul_ps(d, _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(q))));
    }
  }
}
const bool kHasAvx2 = __builtin_cpu_supports("avx2");
#else
const bool kHasAvx2 = false;
void q8_0_to_f32_avx2(const uint8_t* src, float* dst, int64_t n_blocks) { q8_0_to_f32_scalar(src, dst, n_blocks); }
#endif

}  // namespace detail

void cache_load(CacheType t, const void* src, float* dst, int64_t n) {
  switch (t) {
    case CacheType::kF32:
      std::memcpy(dst, src, static_cast<size_t>(n) * sizeof(float));
      return;
    case CacheType::kF16: {
      const uint16_t* s = static_cast<const uint16_t*>(src);
      if (detail::kHasF16c) {
        detail::f16_to_f32_f16c(s, dst, n);
      } else {
        for (int64_t i = 0; i < n; ++i) dst[i] = fp16_to_f32(s[i]);
      }
      return;
    }
    case CacheType::kQ8_0:
      if (detail::kHasAvx2) {
        detail::q8_0_to_f32_avx2(static_cast<const uint8_t*>(src), dst, cache_row_stride(t, n) / 32);
      } else {
        detail::q8_0_to_f32_scalar(static_cast<const uint8_t*>(src), dst, cache_row_stride(t, n) / 32);
      }
      return;
  }
}

void attend(const float* q, int64_t dk, const AttentionRows& rows, int64_t dv, float scale, float* scores,
            float* out) {
  std::vector<float> row(static_cast<size_t>(cache_row_stride(rows.type, std::max(dk, dv))));
  for (int64_t j = 0; j < rows.n; ++j) {
    cache_load(rows.type, cache_at(rows.type, rows.k, j * rows.k_stride), row.data(), dk);
    scores[j] = dot(q, row.data(), dk) * scale;
  }
  softmax(scores, rows.n);
  for (int64_t i = 0; i < dv; ++i) out[i] = 0;
  for (int64_t j = 0; j < rows.n; ++j) {
    cache_load(rows.type, cache_at(rows.type, rows.v, j * rows.v_stride), row.data(), dv);
    axpy(scores[j], row.data(), out, dv);
  }
}

void attend_reference(const float* q, int64_t dk, const AttentionRows& rows, int64_t dv, float scale, float* out) {
  std::vector<float> row(static_cast<size_t>(cache_row_stride(rows.type, std::max(dk, dv))));
  std::vector<double> s(static_cast<size_t>(rows.n));
  double mx = -INFINITY;
  for (int64_t j = 0; j < rows.n; ++j) {
    cache_load(rows.type, cache_at(rows.type, rows.k, j * rows.k_stride), row.data(), dk);
    double acc = 0;
    for (int64_t i = 0; i < dk; ++i) acc += static_cast<double>(q[i]) * row[i];
    s[j] = acc * scale;
    mx = std::max(mx, s[j]);
  }
  double sum = 0;
  for (auto& x : s) sum += (x = std::exp(x - mx));
  std::vector<double> acc(static_cast<size_t>(dv), 0.0);
  for (int64_t j = 0; j < rows.n; ++j) {
    cache_load(rows.type, cache_at(rows.type, rows.v, j * rows.v_stride), row.data(), dv);
    for (int64_t i = 0; i < dv; ++i) acc[i] += s[j] / sum * row[i];
  }
  for (int64_t i = 0; i < dv; ++i) out[i] = static_cast<float>(acc[i]);
}

namespace {

// The eight-lane vectors of vec_math.h, always inlined into the flash block
// (never passed across an ABI boundary, so GCC's note about the AVX ABI does
// not apply).
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wpsabi"
using vec::load8;
using vec::store8;
using vec::v8f;

// s[j] = q . K_j for j in [j_begin, j_end): sixteen-lane partial sums over
// the dimensions in order, keys four at a time (one load of q serves four
// rows), summed across lanes by vec::hsum16's tree. A key's score is the
// same bits in a group of four or alone (vec_math.h), so it never depends
// on where the query's range starts or ends.
FRUGAL_INLINE void dots16(const float* q, const float* K, int64_t ks, int64_t j_begin, int64_t j_end, int64_t dk,
                          float* s) {
  using vec::v16f;
  const int64_t d16 = dk / 16 * 16, rest = dk - d16;
  int64_t j = j_begin;
  for (; j + 4 <= j_end; j += 4) {
    const float* k0 = K + j * ks;
    const float *k1 = k0 + ks, *k2 = k1 + ks, *k3 = k2 + ks;
    v16f a0 = {}, a1 = {}, a2 = {}, a3 = {};
    for (int64_t d = 0; d < d16; d += 16) {
      const v16f qv = vec::load16(q + d);
      a0 += qv * vec::load16(k0 + d);
      a1 += qv * vec::load16(k1 + d);
      a2 += qv * vec::load16(k2 + d);
      a3 += qv * vec::load16(k3 + d);
    }
    if (rest) {
      const v16f qv = vec::load16_part(q + d16, rest);
      a0 += qv * vec::load16_part(k0 + d16, rest);
      a1 += qv * vec::load16_part(k1 + d16, rest);
      a2 += qv * vec::load16_part(k2 + d16, rest);
      a3 += qv * vec::load16_part(k3 + d16, rest);
    }
    vec::hsum16x4(a0, a1, a2, a3, s + j);
  }
  for (; j < j_end; ++j) {
    const float* k0 = K + j * ks;
    v16f a0 = {};
    for (int64_t d = 0; d < d16; d += 16) a0 += vec::load16(q + d) * vec::load16(k0 + d);
    if (rest) a0 += vec::load16_part(q + d16, rest) * vec::load16_part(k0 + d16, rest);
    s[j] = vec::hsum16(a0);
  }
}

FRUGAL_INLINE void axpy8(float p, const float* x, float* y, int64_t n) {
  const v8f pv = {p, p, p, p, p, p, p, p};
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) store8(y + i, load8(y + i) + pv * load8(x + i));
  for (; i < n; ++i) y[i] += p * x[i];
}

}  // namespace

namespace detail {

// One block of positions [j0, j0 + nb) (f32 rows K, V with strides ks, vs)
// for every query: scores, running max m, running sum l, output rescaled
// and accumulated.
FRUGAL_FLOAT_CLONES void flash_block(const AttentionQuery* qs, int64_t n_q, const float* K, int64_t ks,
                                     const float* V, int64_t vs, int64_t j0, int64_t nb, int64_t dk, int64_t dv,
                                     float scale, float* m, float* l, float* s) {
  for (int64_t i = 0; i < n_q; ++i) {
    const AttentionQuery& qq = qs[i];
    const int64_t cnt = std::min(nb, qq.n - j0);
    if (cnt <= 0 || qq.first >= j0 + nb) continue;
    // Positions before the query's window weigh 0 (exp(-inf)).
    const int64_t skip = std::max<int64_t>(0, qq.first - j0);
    float bm = -INFINITY;
    for (int64_t j = 0; j < skip; ++j) s[j] = -INFINITY;
    dots16(qq.q, K, ks, skip, cnt, dk, s);
    for (int64_t j = skip; j < cnt; ++j) {
      s[j] *= scale;
      bm = std::max(bm, s[j]);
    }
    const float m_new = std::max(m[i], bm);
    const float corr = std::exp(m[i] - m_new);  // 0 on the first block (m = -inf)
    float sum = l[i] * corr;
    // The exponentials eight at a time (the tail padded: the same bits for a
    // position wherever the block ends), then summed in position order.
    const v8f mv = {m_new, m_new, m_new, m_new, m_new, m_new, m_new, m_new};
    int64_t j8 = 0;
    for (; j8 + 8 <= cnt; j8 += 8) store8(s + j8, vec::exp8(load8(s + j8) - mv));
    if (j8 < cnt) vec::store_part(s + j8, vec::exp8(vec::load_part(s + j8, cnt - j8, 0.0f) - mv), cnt - j8);
    for (int64_t j = 0; j < cnt; ++j) sum += s[j];
    // out = out * corr + sum_j p_j V_j, 128 (then 64) output values at a
    // time held in registers over the whole block (one load and store of out
    // per block, not one per position), positions in order for every value.
    // The loops over registers carry unroll pragmas: rolled, GCC kept the
    // accumulators in memory and the block was bound by store forwarding.
    int64_t c = 0;
    for (; c + 128 <= dv; c += 128) {
      using vec::v16f;
      v16f acc[8];
      const v16f cv = vec::splat16(corr);
#pragma GCC unroll 8
      for (int u = 0; u < 8; ++u) acc[u] = vec::load16(qq.out + c + 16 * u) * cv;
      for (int64_t j = 0; j < cnt; ++j) {
        const v16f pv = vec::splat16(s[j]);
        const float* vr = V + j * vs + c;
#pragma GCC unroll 8
        for (int u = 0; u < 8; ++u) acc[u] = acc[u] + pv * vec::load16(vr + 16 * u);
      }
#pragma GCC unroll 8
      for (int u = 0; u < 8; ++u) vec::store16(qq.out + c + 16 * u, acc[u]);
    }
    for (; c + 64 <= dv; c += 64) {
      v8f acc[8];
      const v8f cv = {corr, corr, corr, corr, corr, corr, corr, corr};
#pragma GCC unroll 8
      for (int u = 0; u < 8; ++u) acc[u] = load8(qq.out + c + 8 * u) * cv;
      for (int64_t j = 0; j < cnt; ++j) {
        const float pj = s[j];
        const v8f pv = {pj, pj, pj, pj, pj, pj, pj, pj};
        const float* vr = V + j * vs + c;
#pragma GCC unroll 8
        for (int u = 0; u < 8; ++u) acc[u] = acc[u] + pv * load8(vr + 8 * u);
      }
#pragma GCC unroll 8
      for (int u = 0; u < 8; ++u) store8(qq.out + c + 8 * u, acc[u]);
    }
    if (c < dv) {  // the rest of the values (head sizes not a multiple of 64)
      for (int64_t t = c; t < dv; ++t) qq.out[t] *= corr;
      for (int64_t j = 0; j < cnt; ++j) axpy8(s[j], V + j * vs + c, qq.out + c, dv - c);
    }
    l[i] = sum;
    m[i] = m_new;
  }
}

}  // namespace detail
#pragma GCC diagnostic pop

namespace {
void prefetch_bytes(const void* p, size_t n) {
  const char* c = static_cast<const char*>(p);
  for (size_t off = 0; off < n; off += 64) __builtin_prefetch(c + off);
}
}  // namespace

size_t flash_scratch_floats(int64_t n_queries, int64_t dk, int64_t dv) {
  const int64_t dkp = cache_row_stride(CacheType::kQ8_0, dk), dvp = cache_row_stride(CacheType::kQ8_0, dv);
  return static_cast<size_t>(kFlashBlock * (dkp + dvp) + kFlashBlock + 2 * n_queries);
}

void attend_flash(std::span<const AttentionQuery> queries, int64_t dk, const AttentionRows& rows, int64_t dv,
                  float scale, float* scratch) {
  const int64_t n_q = static_cast<int64_t>(queries.size());
  const int64_t dkp = cache_row_stride(CacheType::kQ8_0, dk), dvp = cache_row_stride(CacheType::kQ8_0, dv);
  float* kb = scratch;
  float* vb = kb + kFlashBlock * dkp;
  float* s = vb + kFlashBlock * dvp;
  float* m = s + kFlashBlock;
  float* l = m + n_q;
  int64_t n_max = 0, first_min = INT64_MAX;
  for (int64_t i = 0; i < n_q; ++i) {
    n_max = std::max(n_max, queries[i].n);
    first_min = std::min(first_min, queries[i].first);
    m[i] = -INFINITY;
    l[i] = 0;
    std::fill(queries[i].out, queries[i].out + dv, 0.0f);
  }
  const bool direct = rows.type == CacheType::kF32;
  // Latent attention: the value is the head of the key row; convert once.
  const bool values_in_keys = rows.v == rows.k && rows.v_stride == rows.k_stride && dv <= dk;
  // Blocks start at multiples of kFlashBlock whichever queries share the
  // call, so a query's sums do not depend on its company.
  for (int64_t j0 = std::max<int64_t>(0, first_min) / kFlashBlock * kFlashBlock; j0 < n_max; j0 += kFlashBlock) {
    const int64_t nb = std::min(kFlashBlock, n_max - j0);
    const float *K, *V;
    int64_t ks, vs;
    if (direct) {
      K = static_cast<const float*>(rows.k) + j0 * rows.k_stride;
      V = static_cast<const float*>(rows.v) + j0 * rows.v_stride;
      ks = rows.k_stride;
      vs = rows.v_stride;
    } else {
      // Ask for every row of the block before converting any: the rows are a
      // head's slice of each position (strided by the whole row), which the
      // weights streamed since the last step have evicted from every cache,
      // and whose stride the hardware prefetchers do not follow. One miss at a
      // time, the block's conversion was 5% of a decode step (OLMoE shape,
      // 2 threads, f16 cache, 64 positions).
      const size_t k_bytes = cache_bytes(rows.type, cache_row_stride(rows.type, dk));
      const size_t v_bytes = cache_bytes(rows.type, cache_row_stride(rows.type, dv));
      for (int64_t j = 0; j < nb; ++j) {
        prefetch_bytes(cache_at(rows.type, rows.k, (j0 + j) * rows.k_stride), k_bytes);
        if (!values_in_keys) prefetch_bytes(cache_at(rows.type, rows.v, (j0 + j) * rows.v_stride), v_bytes);
      }
      for (int64_t j = 0; j < nb; ++j) {
        cache_load(rows.type, cache_at(rows.type, rows.k, (j0 + j) * rows.k_stride), kb + j * dkp, dk);
        if (!values_in_keys)
          cache_load(rows.type, cache_at(rows.type, rows.v, (j0 + j) * rows.v_stride), vb + j * dvp, dv);
      }
      K = kb;
      V = values_in_keys ? kb : vb;
      ks = dkp;
      vs = values_in_keys ? dkp : dvp;
    }
    detail::flash_block(queries.data(), n_q, K, ks, V, vs, j0, nb, dk, dv, scale, m, l, s);
  }
  for (int64_t i = 0; i < n_q; ++i) {
    const float sink = queries[i].sink;
    if (sink > -INFINITY && l[i] > 0) {
      // The sink joins the sum under the larger of the two maxima.
      const float m_new = std::max(m[i], sink);
      const float corr = std::exp(m[i] - m_new);
      l[i] = l[i] * corr + std::exp(sink - m_new);
      for (int64_t c = 0; c < dv; ++c) queries[i].out[c] *= corr;
    }
    if (l[i] <= 0) continue;
    const float inv = 1.0f / l[i];
    for (int64_t c = 0; c < dv; ++c) queries[i].out[c] *= inv;
  }
}

}  // namespace frugal::kernels
