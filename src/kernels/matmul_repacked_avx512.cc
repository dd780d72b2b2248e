// Kernels for the row-interleaved types (quant/repack.h) at the avx512 level:
// one call multiplies a 16-row group with 1-8 activation rows.
//
// Each 64-byte load holds the same four values of all 16 rows (one 32-bit
// lane a row); vpdpbusd with the activation's four int8 codes broadcast
// multiplies them with the codes as unsigned bytes, so row k's sums build up
// in lane k with no horizontal reduction. A sub-block's sum is multiplied by
// its integer scale in its lane (vpmulld), the minima (Q4_K) by the
// activation's sub-block sums (vpdpwssd), and the float step is the one of
// the four-row kernels: acc = fma(float(I), d * da, acc), then
// acc = fnma(float(M), dmin * da, acc), block by block. I and M are the same
// integers as those kernels' sums, so the outputs are the same bits as the
// base type's kernels on the unpacked rows (tests/kernels/repacked_test.cc).
// (The zero-masked forms with a full mask are the plain instructions: GCC
// 12 warns about its unmasked intrinsics of these.)
#include "kernels/matmul_kernels.h"

#if defined(__x86_64__)
#include <immintrin.h>

#include "kernels/quantize_activations.h"
#include "quant/repack.h"

namespace frugal::kernels {
namespace avx512_repacked {
namespace {
#define FRUGAL_TARGET __attribute__((target("avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")))

using quant::BlockQ5_0_R16;
using quant::BlockQ8_0_R16;
using quant::BlockQ4_K_R16;
using quant::BlockQ5_K_R16;
using quant::BlockQ6_K_R16;
using quant::BlockQ8_K;

FRUGAL_TARGET inline __m512i load64(const void* p) { return _mm512_loadu_si512(p); }
// Four int8 codes of an activation, broadcast to every 32-bit lane.
FRUGAL_TARGET inline __m512i quad(const int8_t* p) {
  int32_t v;
  __builtin_memcpy(&v, p, 4);
  return _mm512_set1_epi32(v);
}
// Byte s of every 32-bit lane, zero-extended.
FRUGAL_TARGET inline __m512i lane_byte(__m512i v, int s) {
  return s == 3 ? _mm512_maskz_srli_epi32(0xFFFF, v, 24) : _mm512_and_si512(_mm512_maskz_srli_epi32(0xFFFF, v, 8 * s), _mm512_set1_epi32(0xFF));
}
// Two int16 values as one 32-bit lane, broadcast.
FRUGAL_TARGET inline __m512i pair16(int lo, int hi) {
  return _mm512_set1_epi32(static_cast<int32_t>((static_cast<uint32_t>(lo) & 0xFFFF) | static_cast<uint32_t>(hi) << 16));
}
FRUGAL_TARGET inline __m512 halves(const uint16_t* p) {
  return _mm512_maskz_cvtph_ps(0xFFFF, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
}

// No software prefetch: the kernels read each group front to back, one
// stream a thread, and leave it to the hardware's prefetchers. Earlier
// versions asked for the bytes 18 KiB ahead (prefetcht0, all of a
// super-block's lines at its start, or an eighth per sub-block with four
// rows), measured against prefetcht1 on the Zen 4 and Zen 5 hosts of
// docs/BENCHMARKS.md runs 15-19 but never against none with the weights in
// 2 MiB pages. On the Zen 4 host of run 20, against none (builds alternated,
// 3 rounds, OLMoE-shape file): batch 1 28-30 against 38-59 tok/s, 4
// sequences 37-51 against 70-84.

// The eight sub-blocks of a super-block, unrolled by how many accumulator
// rows are live. With few (decoding: 1-2 activation rows of one group) all
// eight are unrolled, so the loads of a whole super-block are in flight at
// once: from memory that is 7-10% faster than two at a time (384 MiB, two
// threads, one row). With more, unrolled eight times GCC hoisted the loads
// and spilled a register for every second vpdpbusd; two at a time, 64 rows
// x 2048x512 from cache, one thread, take 0.21 instead of 0.23-0.25 ms
// (Q6_K: 0.23 instead of 0.32), and 4 rows from memory are 8-14% faster.
#define FRUGAL_LAMBDA __attribute__((always_inline, target("avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")))
// Q6_K_R16 with one activation row takes them four at a time: from memory
// (384 MiB at 2,048 inputs, variants alternated in one process, medians of
// 7) one thread 26-27 GB/s against 19.5-20 fully unrolled and 22-23 two at
// a time, two threads 23-32 against 19-28; at two rows fully unrolled stays
// (20.4 against 18.7 GB/s), and Q4_K_R16 measured the same all three ways.
template <int Live, class F, bool kQ6 = false>
FRUGAL_TARGET inline __attribute__((always_inline)) void for_sub_blocks(F&& f) {
  if constexpr (kQ6 && Live == 1) {
#pragma GCC unroll 4
    for (int j = 0; j < 8; ++j) f(j);
  } else if constexpr (Live <= 2) {
#pragma GCC unroll 8
    for (int j = 0; j < 8; ++j) f(j);
  } else {
#pragma GCC unroll 2
    for (int j = 0; j < 8; ++j) f(j);
  }
}

// The codes of nibbles(j)[t] (lo: values 32j + 4t.., hi: 32j + 16 + 4t..) as
// the low nibbles give them (Q4_K), or with each fifth bit added as 16
// (Q5_K: one masked byte add a vector, the mask read straight from qh).
FRUGAL_TARGET inline void add_fifth_bits(const BlockQ4_K_R16&, int, int, __m512i&, __m512i&) {}
FRUGAL_TARGET inline void add_fifth_bits(const BlockQ5_K_R16& g, int j, int t, __m512i& lo, __m512i& hi) {
  const __m512i k16 = _mm512_set1_epi8(16);
  uint64_t m_lo, m_hi;
  __builtin_memcpy(&m_lo, g.sub[j].qh[t], 8);
  __builtin_memcpy(&m_hi, g.sub[j].qh[t] + 8, 8);
  lo = _mm512_mask_add_epi8(lo, _cvtu64_mask64(m_lo), lo, k16);
  hi = _mm512_mask_add_epi8(hi, _cvtu64_mask64(m_hi), hi, k16);
}

// Q4_K and Q5_K (Group: their 16-row blocks), G consecutive groups (32 rows
// for G = 2) at once: each activation broadcast then serves G weight vectors.
template <class Group, int R, int G>
FRUGAL_TARGET void q45k_run(const Group* w, const BlockQ8_K* const a[R], int64_t nb, float* y, int64_t ldy) {
  const __m512i m4 = _mm512_set1_epi8(0x0F), m6 = _mm512_set1_epi8(0x3F), m30 = _mm512_set1_epi8(0x30);
  const __m512i even16 = _mm512_set1_epi32(0x00FF00FF);
  __m512 acc[G][R];
  _Pragma("GCC unroll 2") for (int gi = 0; gi < G; ++gi)
      _Pragma("GCC unroll 8") for (int r = 0; r < R; ++r) acc[gi][r] = _mm512_setzero_ps();
  for (int64_t b = 0; b < nb; ++b) {
    // The packed 6-bit scales and minima of the 16 rows (see Q4_K's layout):
    // bytes 0-3 of a lane are sub-blocks 0-3 (sc_lo, mn_lo) or 4-7 (sc_hi, mn_hi).
    __m512i sc_lo[G], sc_hi[G];
    const Group* g[G];
    _Pragma("GCC unroll 2") for (int gi = 0; gi < G; ++gi) {
      g[gi] = w + gi * nb + b;
      const __m512i A = load64(g[gi]->scales[0]), C = load64(g[gi]->scales[2]);
      sc_lo[gi] = _mm512_and_si512(A, m6);
      sc_hi[gi] = _mm512_or_si512(_mm512_and_si512(C, m4), _mm512_and_si512(_mm512_srli_epi16(A, 2), m30));
    }
    __m512i I[G][R];
    _Pragma("GCC unroll 2") for (int gi = 0; gi < G; ++gi)
        _Pragma("GCC unroll 8") for (int r = 0; r < R; ++r) I[gi][r] = _mm512_setzero_si512();
    auto sub_block = [&](int j) FRUGAL_LAMBDA {
      __m512i s[G][R];
      _Pragma("GCC unroll 2") for (int gi = 0; gi < G; ++gi)
          _Pragma("GCC unroll 8") for (int r = 0; r < R; ++r) s[gi][r] = _mm512_setzero_si512();
#pragma GCC unroll 4
      for (int t = 0; t < 4; ++t) {  // values 32j + 4t.. (low nibbles) and 32j + 16 + 4t.. (high)
        __m512i lo[G], hi[G];
        _Pragma("GCC unroll 2") for (int gi = 0; gi < G; ++gi) {
          const __m512i v = load64(g[gi]->nibbles(j)[t]);
          lo[gi] = _mm512_and_si512(v, m4);
          hi[gi] = _mm512_and_si512(_mm512_srli_epi16(v, 4), m4);
          add_fifth_bits(*g[gi], j, t, lo[gi], hi[gi]);
        }
        _Pragma("GCC unroll 8") for (int r = 0; r < R; ++r) {
          const int8_t* aq = a[r][b].qs + 32 * j + 4 * t;
          const __m512i alo = quad(aq), ahi = quad(aq + 16);
          _Pragma("GCC unroll 2") for (int gi = 0; gi < G; ++gi) {
            s[gi][r] = _mm512_dpbusd_epi32(s[gi][r], lo[gi], alo);
            s[gi][r] = _mm512_dpbusd_epi32(s[gi][r], hi[gi], ahi);
          }
        }
      }
      _Pragma("GCC unroll 2") for (int gi = 0; gi < G; ++gi) {
        const __m512i sc = lane_byte(j < 4 ? sc_lo[gi] : sc_hi[gi], j % 4);
        _Pragma("GCC unroll 8") for (int r = 0; r < R; ++r)
            I[gi][r] = _mm512_add_epi32(I[gi][r], _mm512_mullo_epi32(s[gi][r], sc));
      }
    };
    for_sub_blocks<R * G>(sub_block);
    // M = sum_j mn_j * (sum of the activation's sub-block j), on int16 pairs:
    // the even lanes' minima (0, 2), the odd ones' (1, 3), and so on.
    int bs[R][8];
    _Pragma("GCC unroll 8") for (int r = 0; r < R; ++r)
        for (int j = 0; j < 8; ++j) bs[r][j] = a[r][b].bsums[2 * j] + a[r][b].bsums[2 * j + 1];
    _Pragma("GCC unroll 2") for (int gi = 0; gi < G; ++gi) {
      const __m512i B = load64(g[gi]->scales[1]), C = load64(g[gi]->scales[2]);
      const __m512i mn_lo = _mm512_and_si512(B, m6);
      const __m512i mn_hi = _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi16(C, 4), m4),
                                            _mm512_and_si512(_mm512_srli_epi16(B, 2), m30));
      const __m512i me_lo = _mm512_and_si512(mn_lo, even16), mo_lo = _mm512_srli_epi16(mn_lo, 8);
      const __m512i me_hi = _mm512_and_si512(mn_hi, even16), mo_hi = _mm512_srli_epi16(mn_hi, 8);
      const __m512 d = halves(g[gi]->d), dmin = halves(g[gi]->dmin);
      _Pragma("GCC unroll 8") for (int r = 0; r < R; ++r) {
        const int* sr = bs[r];
        __m512i M = _mm512_madd_epi16(me_lo, pair16(sr[0], sr[2]));
        M = _mm512_dpwssd_epi32(M, mo_lo, pair16(sr[1], sr[3]));
        M = _mm512_dpwssd_epi32(M, me_hi, pair16(sr[4], sr[6]));
        M = _mm512_dpwssd_epi32(M, mo_hi, pair16(sr[5], sr[7]));
        const __m512 da = _mm512_set1_ps(a[r][b].d);
        acc[gi][r] = _mm512_fmadd_ps(_mm512_maskz_cvtepi32_ps(0xFFFF, I[gi][r]), _mm512_mul_ps(d, da), acc[gi][r]);
        acc[gi][r] = _mm512_fnmadd_ps(_mm512_maskz_cvtepi32_ps(0xFFFF, M), _mm512_mul_ps(dmin, da), acc[gi][r]);
      }
    }
  }
  _Pragma("GCC unroll 2") for (int gi = 0; gi < G; ++gi)
      _Pragma("GCC unroll 8") for (int r = 0; r < R; ++r) _mm512_storeu_ps(y + r * ldy + 16 * gi, acc[gi][r]);
}

// The top two bits of quad q (q < 4) of a qh vector, moved to bits 4-5.
FRUGAL_TARGET inline __m512i high_bits(__m512i h, int q) {
  const __m512i m30 = _mm512_set1_epi8(0x30);
  switch (q) {
    case 0: return _mm512_and_si512(_mm512_slli_epi16(h, 4), m30);
    case 1: return _mm512_and_si512(_mm512_slli_epi16(h, 2), m30);
    case 2: return _mm512_and_si512(h, m30);
    default: return _mm512_and_si512(_mm512_srli_epi16(h, 2), m30);
  }
}

template <int R>
FRUGAL_TARGET void q6k_run(const BlockQ6_K_R16* w, const BlockQ8_K* const a[R], int64_t nb, float* y, int64_t ldy) {
  const __m512i m4 = _mm512_set1_epi8(0x0F);
  __m512 acc[R];
  _Pragma("GCC unroll 8") for (int r = 0; r < R; ++r) acc[r] = _mm512_setzero_ps();
  for (int64_t b = 0; b < nb; ++b) {
    const BlockQ6_K_R16& g = w[b];
    __m512i I[R];
    _Pragma("GCC unroll 8") for (int r = 0; r < R; ++r) I[r] = _mm512_setzero_si512();
    auto sub_block = [&](int j) FRUGAL_LAMBDA {
      const __m512i h0 = load64(g.sub[j].qh[0]), h1 = load64(g.sub[j].qh[1]);
      __m512i q[8];  // q[t]: values 32j + 4t .. 32j + 4t + 3 of each row (codes 0-63)
#pragma GCC unroll 4
      for (int t = 0; t < 4; ++t) {
        const __m512i v = load64(g.sub[j].ql[t]);
        q[t] = _mm512_or_si512(_mm512_and_si512(v, m4), high_bits(h0, t));
        q[t + 4] = _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi16(v, 4), m4), high_bits(h1, t));
      }
      const __m512i sc0 = _mm512_maskz_cvtepi8_epi32(0xFFFF, _mm_loadu_si128(reinterpret_cast<const __m128i*>(g.scales[2 * j])));
      const __m512i sc1 =
          _mm512_maskz_cvtepi8_epi32(0xFFFF, _mm_loadu_si128(reinterpret_cast<const __m128i*>(g.scales[2 * j + 1])));
      _Pragma("GCC unroll 8") for (int r = 0; r < R; ++r) {
        const BlockQ8_K& ab = a[r][b];
        const int8_t* aq = ab.qs + 32 * j;
        // Starting from -32 * (the activations' sum) takes the codes' offset off.
        __m512i s0 = _mm512_set1_epi32(-32 * ab.bsums[2 * j]), s1 = _mm512_set1_epi32(-32 * ab.bsums[2 * j + 1]);
#pragma GCC unroll 4
        for (int t = 0; t < 4; ++t) {
          s0 = _mm512_dpbusd_epi32(s0, q[t], quad(aq + 4 * t));
          s1 = _mm512_dpbusd_epi32(s1, q[t + 4], quad(aq + 16 + 4 * t));
        }
        I[r] = _mm512_add_epi32(I[r], _mm512_add_epi32(_mm512_mullo_epi32(s0, sc0), _mm512_mullo_epi32(s1, sc1)));
      }
    };
    for_sub_blocks<R, decltype(sub_block)&, true>(sub_block);
    const __m512 d = halves(g.d);
    _Pragma("GCC unroll 8") for (int r = 0; r < R; ++r) {
      const __m512 da = _mm512_set1_ps(a[r][b].d);
      acc[r] = _mm512_fmadd_ps(_mm512_maskz_cvtepi32_ps(0xFFFF, I[r]), _mm512_mul_ps(d, da), acc[r]);
    }
  }
  _Pragma("GCC unroll 8") for (int r = 0; r < R; ++r) _mm512_storeu_ps(y + r * ldy, acc[r]);
}

// The signed codes of values 4t .. 4t + 3 of the 16 rows of a 32-value block.
FRUGAL_TARGET inline __m512i signed_quad(const BlockQ8_0_R16& g, int t) { return load64(g.qs[t]); }
// Q5_0: the nibble (low for t < 4, high after) with the fifth bit, bit t of
// each byte of qh, moved to bit 4; minus 16.
FRUGAL_TARGET inline __m512i signed_quad(const BlockQ5_0_R16& g, int t) {
  const __m512i m4 = _mm512_set1_epi8(0x0F), m10 = _mm512_set1_epi8(0x10);
  const __m512i v = load64(g.qs[t % 4]);
  const __m512i nib = t < 4 ? _mm512_and_si512(v, m4) : _mm512_and_si512(_mm512_srli_epi16(v, 4), m4);
  const __m512i h = load64(g.qh);
  const __m512i fifth = t <= 4 ? _mm512_and_si512(_mm512_slli_epi16(h, 4 - t), m10)
                               : _mm512_and_si512(_mm512_srli_epi16(h, t - 4), m10);
  return _mm512_sub_epi8(_mm512_or_si512(nib, fifth), m10);
}

// Q8_0 and Q5_0: the codes are signed on both sides, and vpdpbusd takes one
// side unsigned, so the activation's codes go in with 128 added (a + 128 as
// unsigned bytes, XOR 0x80) and 128 x (the sum of each row's codes in the
// block), from the same instruction over a vector of 128s, comes off:
// sum (a + 128) w - 128 sum w = sum a w, the exact integer of the base
// types' own kernels, then acc = fma(float(I), d * da, acc) block by block
// as theirs. G consecutive groups at once (prompt-sized calls): each
// broadcast then serves G weight vectors.
template <class Group, int R, int G>
FRUGAL_TARGET void block32_run(const Group* w, const ActBlock32* const a[R], int64_t nb, float* y, int64_t ldy) {
  const __m512i k128 = _mm512_set1_epi8(static_cast<char>(0x80));
  const __m256i flip = _mm256_set1_epi8(static_cast<char>(0x80));
  alignas(32) int8_t shifted[R][32];  // this block's activation codes + 128, for the broadcasts
  __m512 acc[G][R];
  _Pragma("GCC unroll 2") for (int gi = 0; gi < G; ++gi)
      _Pragma("GCC unroll 8") for (int r = 0; r < R; ++r) acc[gi][r] = _mm512_setzero_ps();
  for (int64_t b = 0; b < nb; ++b) {
    const Group* g[G];
    _Pragma("GCC unroll 2") for (int gi = 0; gi < G; ++gi) {
      g[gi] = w + gi * nb + b;
    }
    _Pragma("GCC unroll 8") for (int r = 0; r < R; ++r) {
      const __m256i q = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a[r][b].qs));
      _mm256_store_si256(reinterpret_cast<__m256i*>(shifted[r]), _mm256_xor_si256(q, flip));
    }
    __m512i offset[G], s[G][R];
    _Pragma("GCC unroll 2") for (int gi = 0; gi < G; ++gi) {
      offset[gi] = _mm512_setzero_si512();
      _Pragma("GCC unroll 8") for (int r = 0; r < R; ++r) s[gi][r] = _mm512_setzero_si512();
    }
#pragma GCC unroll 8
    for (int t = 0; t < 8; ++t) {
      __m512i v[G];
      _Pragma("GCC unroll 2") for (int gi = 0; gi < G; ++gi) {
        v[gi] = signed_quad(*g[gi], t);
        offset[gi] = _mm512_dpbusd_epi32(offset[gi], k128, v[gi]);
      }
      _Pragma("GCC unroll 8") for (int r = 0; r < R; ++r) {
        const __m512i aq = quad(shifted[r] + 4 * t);
        _Pragma("GCC unroll 2") for (int gi = 0; gi < G; ++gi) s[gi][r] = _mm512_dpbusd_epi32(s[gi][r], aq, v[gi]);
      }
    }
    _Pragma("GCC unroll 2") for (int gi = 0; gi < G; ++gi) {
      const __m512 d = halves(g[gi]->d);
      _Pragma("GCC unroll 8") for (int r = 0; r < R; ++r) {
        const __m512i I = _mm512_sub_epi32(s[gi][r], offset[gi]);
        const __m512 da = _mm512_set1_ps(a[r][b].d);
        acc[gi][r] = _mm512_fmadd_ps(_mm512_maskz_cvtepi32_ps(0xFFFF, I), _mm512_mul_ps(d, da), acc[gi][r]);
      }
    }
  }
  _Pragma("GCC unroll 2") for (int gi = 0; gi < G; ++gi)
      _Pragma("GCC unroll 8") for (int r = 0; r < R; ++r) _mm512_storeu_ps(y + r * ldy + 16 * gi, acc[gi][r]);
}

// A Rows16Fn over Run<R>::run(w, a, nb, n_groups, y, ldy): R = n_act as a
// compile-time count; Act is the activation block of kValues values.
template <class Group, class Act, int64_t kValues, template <int> class Run>
FRUGAL_TARGET void rows16(const void* w, const void* act, size_t act_stride, int n_act, int n_groups, int64_t n_in,
                          float* y, int64_t ldy) {
  const auto* g = static_cast<const Group*>(w);
  const int64_t nb = n_in / kValues;
  const Act* a[kMaxActRows16];
  for (int r = 0; r < n_act; ++r)
    a[r] = reinterpret_cast<const Act*>(static_cast<const uint8_t*>(act) + r * act_stride);
  switch (n_act) {
    case 1: return Run<1>::run(g, a, nb, n_groups, y, ldy);
    case 2: return Run<2>::run(g, a, nb, n_groups, y, ldy);
    case 3: return Run<3>::run(g, a, nb, n_groups, y, ldy);
    case 4: return Run<4>::run(g, a, nb, n_groups, y, ldy);
    case 5: return Run<5>::run(g, a, nb, n_groups, y, ldy);
    case 6: return Run<6>::run(g, a, nb, n_groups, y, ldy);
    case 7: return Run<7>::run(g, a, nb, n_groups, y, ldy);
    default: return Run<8>::run(g, a, nb, n_groups, y, ldy);
  }
}
// Two groups in one pass for prompt-sized calls (5-8 activation rows: each
// broadcast then serves twice the weights; 64 rows x 2048x512 from cache,
// one thread, 0.28 -> 0.24 ms), one at a time for decoding (1-4 rows), where
// the weights come from memory and two at once measured slower: OLMoE shape,
// 2 threads, 4 sequences 57-65 against 65-71 tok/s, 16 sequences 94-100
// against 109-113.
// (groups_run: q45k_run or block32_run, by the activation's block.)
template <class Group, int R, int G>
FRUGAL_TARGET inline void groups_run(const Group* w, const BlockQ8_K* const* a, int64_t nb, float* y, int64_t ldy) {
  q45k_run<Group, R, G>(w, a, nb, y, ldy);
}
template <class Group, int R, int G>
FRUGAL_TARGET inline void groups_run(const Group* w, const ActBlock32* const* a, int64_t nb, float* y, int64_t ldy) {
  block32_run<Group, R, G>(w, a, nb, y, ldy);
}
template <class Group, class Act>
struct OneOrTwoGroups {
  template <int R>
  struct Run {
    FRUGAL_TARGET static void run(const Group* w, const Act* const* a, int64_t nb, int n_groups, float* y,
                                  int64_t ldy) {
      if (n_groups == 2 && R > 4) return groups_run<Group, R, 2>(w, a, nb, y, ldy);
      for (int gi = 0; gi < n_groups; ++gi) groups_run<Group, R, 1>(w + gi * nb, a, nb, y + 16 * gi, ldy);
    }
  };
};
template <int R>
struct Q6K {
  FRUGAL_TARGET static void run(const BlockQ6_K_R16* w, const BlockQ8_K* const* a, int64_t nb, int n_groups,
                                float* y, int64_t ldy) {
    for (int gi = 0; gi < n_groups; ++gi) q6k_run<R>(w + gi * nb, a, nb, y + 16 * gi, ldy);
  }
};

using Q50Groups = OneOrTwoGroups<BlockQ5_0_R16, ActBlock32>;
using Q80Groups = OneOrTwoGroups<BlockQ8_0_R16, ActBlock32>;
using Q4KGroups = OneOrTwoGroups<BlockQ4_K_R16, BlockQ8_K>;
using Q5KGroups = OneOrTwoGroups<BlockQ5_K_R16, BlockQ8_K>;
const TypeKernel kQ5_0_R16{.act = ActFormat::kQ8_32, .dot16 = rows16<BlockQ5_0_R16, ActBlock32, 32, Q50Groups::Run>};
const TypeKernel kQ8_0_R16{.act = ActFormat::kQ8_32, .dot16 = rows16<BlockQ8_0_R16, ActBlock32, 32, Q80Groups::Run>};
const TypeKernel kQ4_K_R16{.act = ActFormat::kQ8_K, .dot16 = rows16<BlockQ4_K_R16, BlockQ8_K, quant::QK_K, Q4KGroups::Run>};
const TypeKernel kQ5_K_R16{.act = ActFormat::kQ8_K, .dot16 = rows16<BlockQ5_K_R16, BlockQ8_K, quant::QK_K, Q5KGroups::Run>};
const TypeKernel kQ6_K_R16{.act = ActFormat::kQ8_K, .dot16 = rows16<BlockQ6_K_R16, BlockQ8_K, quant::QK_K, Q6K>};

#undef FRUGAL_TARGET
}  // namespace
}  // namespace avx512_repacked

const TypeKernel* avx512_repacked_kernel(TensorType t) {
  switch (t) {
    case TensorType::Q5_0_R16: return &avx512_repacked::kQ5_0_R16;
    case TensorType::Q8_0_R16: return &avx512_repacked::kQ8_0_R16;
    case TensorType::Q4_K_R16: return &avx512_repacked::kQ4_K_R16;
    case TensorType::Q5_K_R16: return &avx512_repacked::kQ5_K_R16;
    case TensorType::Q6_K_R16: return &avx512_repacked::kQ6_K_R16;
    default: return nullptr;
  }
}

}  // namespace frugal::kernels

#else
namespace frugal::kernels {
const TypeKernel* avx512_repacked_kernel(TensorType) { return nullptr; }
}  // namespace frugal::kernels
#endif
