#include "train/attention.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <vector>

#include "kernels/vec_math.h"

// The block loops are compiled for AVX-512, AVX2 and baseline x86 and chosen
// at load time (GCC function multiversioning), as kernels/attention.cc's are;
// their innermost loops run along a contiguous row (of keys or of a head's
// values), so they vectorise without reordering any sum.
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define FRUGAL_TRAIN_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define FRUGAL_TRAIN_CLONES
#endif
#pragma GCC diagnostic ignored "-Wpsabi"  // vec_math's vectors stay inside always-inlined code

namespace frugal::train {
namespace {

constexpr int64_t kBq = 32;  // query rows of a tile
constexpr int64_t kBk = 64;  // key rows of a tile (a multiple of 8: whole vectors of exp)

size_t sz(int64_t n) { return static_cast<size_t>(n); }

// One head's rows of a sequence: row r's head vector at p + r * stride.
struct Rows {
  const float* p;
  int64_t stride;
  const float* row(int64_t r) const { return p + r * stride; }
};

// kt (hd x kBk) = rows j0 .. j0 + nk of x, transposed; columns from nk on zero.
void transpose_block(Rows x, int64_t j0, int64_t nk, int64_t hd, float* kt) {
  std::fill(kt, kt + hd * kBk, 0.0f);
  for (int64_t j = 0; j < nk; ++j) {
    const float* xr = x.row(j0 + j);
    for (int64_t e = 0; e < hd; ++e) kt[e * kBk + j] = xr[e];
  }
}

// s (nq x kBk) = scale * a (nq rows) . kt: every column, the padding included.
// (A local accumulator: with the output row itself GCC cannot rule out that
// it overlaps kt, and leaves the loop scalar.)
FRUGAL_TRAIN_CLONES void dots(Rows a, int64_t i0, int64_t nq, const float* __restrict kt, int64_t hd, float scale,
                              float* __restrict s) {
  for (int64_t r = 0; r < nq; ++r) {
    float acc[kBk] = {};
    const float* ar = a.row(i0 + r);
    for (int64_t e = 0; e < hd; ++e) {
      const float x = ar[e];
      const float* kr = kt + e * kBk;
      for (int64_t j = 0; j < kBk; ++j) acc[j] += x * kr[j];
    }
    float* sr = s + r * kBk;
    for (int64_t j = 0; j < kBk; ++j) sr[j] = acc[j] * scale;
  }
}

// p[j] = exp(s[j] - shift) for the block's columns lo..hi (inclusive), 0 elsewhere.
FRUGAL_TRAIN_CLONES void exps(const float* s, int64_t lo, int64_t hi, float shift, float* p) {
  namespace vec = kernels::vec;
  for (int64_t j = 0; j < kBk; j += 8) {
    const vec::v8f e = vec::exp8(vec::load8(s + j) - vec::splat(shift));
    vec::store8(p + j, e);
  }
  std::fill(p, p + lo, 0.0f);
  std::fill(p + hi + 1, p + kBk, 0.0f);
}

// y[e] += sum over j of w[j] x_j[e], for x's rows j0 + j, j in lo..hi.
// y[e] += sum over u in first..last of coef[u * coef_stride] x_u[e], the
// sum for 8 values of e at a time kept in a register across every u (y is
// loaded and stored once): P.V and dS.K by query row, P^T.dO and dS^T.Q by
// key row. y never overlaps x's rows.
FRUGAL_TRAIN_CLONES void weighted_sum(const float* coef, int64_t coef_stride, Rows x, int64_t first, int64_t last,
                                      int64_t hd, float* __restrict y) {
  namespace vec = kernels::vec;
  int64_t e0 = 0;
  for (; e0 + 8 <= hd; e0 += 8) {
    vec::v8f acc = vec::load8(y + e0);
    for (int64_t u = first; u <= last; ++u) acc += vec::splat(coef[u * coef_stride]) * vec::load8(x.row(u) + e0);
    vec::store8(y + e0, acc);
  }
  for (; e0 < hd; ++e0) {
    float acc = y[e0];
    for (int64_t u = first; u <= last; ++u) acc += coef[u * coef_stride] * x.row(u)[e0];
    y[e0] = acc;
  }
}

FRUGAL_TRAIN_CLONES void scale_row(float* y, int64_t hd, float f) {
  for (int64_t e = 0; e < hd; ++e) y[e] *= f;
}

// The keys row i of a tile sees, as the tile's columns lo..hi; hi < lo when none.
struct Span {
  int64_t lo, hi;
};
Span visible(const AttentionMask& mask, int64_t i, int64_t j0, int64_t nk) {
  return {std::max(mask.first_key(i), j0) - j0, std::min(i, j0 + nk - 1) - j0};
}

// Per thread: a tile's scores, probabilities and transposed keys/values.
struct Scratch {
  std::vector<float> kt, vt, s, p, dp, acc;
  explicit Scratch(int64_t hd)
      : kt(sz(hd * kBk)), vt(sz(hd * kBk)), s(sz(kBq * kBk)), p(sz(kBq * kBk)), dp(sz(kBq * kBk)), acc(sz(kBq * hd)) {}
};

// One sequence and query head: out rows and lse, a tile of queries at a time.
void forward_head(const AttentionShape& sh, Rows q, Rows k, Rows v, float* lse, float* out, int64_t out_stride,
                  const AttentionMask& mask, float sink, bool has_sink, Scratch& w) {
  const int64_t hd = sh.head_dim, t = sh.t;
  float m[kBq], l[kBq];
  for (int64_t i0 = 0; i0 < t; i0 += kBq) {
    const int64_t nq = std::min(kBq, t - i0);
    for (int64_t r = 0; r < nq; ++r) {
      m[r] = has_sink ? sink : -INFINITY;  // the sink: exp(sink - m) = 1 in the denominator
      l[r] = has_sink ? 1.0f : 0.0f;
    }
    std::fill(w.acc.begin(), w.acc.end(), 0.0f);
    const int64_t j_end = i0 + nq;
    for (int64_t j0 = mask.first_key(i0); j0 < j_end; j0 += kBk) {
      const int64_t nk = std::min(kBk, j_end - j0);
      transpose_block(k, j0, nk, hd, w.kt.data());
      dots(q, i0, nq, w.kt.data(), hd, sh.scale, w.s.data());
      for (int64_t r = 0; r < nq; ++r) {
        const Span span = visible(mask, i0 + r, j0, nk);
        if (span.hi < span.lo) continue;
        const float* sr = w.s.data() + r * kBk;
        float mx = m[r];
        for (int64_t j = span.lo; j <= span.hi; ++j) mx = std::max(mx, sr[j]);
        float* pr = w.p.data() + r * kBk;
        exps(sr, span.lo, span.hi, mx, pr);
        const float factor = std::exp(m[r] - mx);  // 0 while m is -inf
        float sum = 0.0f;
        for (int64_t j = span.lo; j <= span.hi; ++j) sum += pr[j];
        l[r] = l[r] * factor + sum;
        float* ar = w.acc.data() + r * hd;
        scale_row(ar, hd, factor);
        weighted_sum(pr, 1, Rows{v.row(j0), v.stride}, span.lo, span.hi, hd, ar);
        m[r] = mx;
      }
    }
    for (int64_t r = 0; r < nq; ++r) {
      float* o = out + (i0 + r) * out_stride;
      const float inv = 1.0f / l[r];
      for (int64_t e = 0; e < hd; ++e) o[e] = w.acc[sz(r * hd + e)] * inv;
      lse[i0 + r] = m[r] + std::log(l[r]);
    }
  }
}

// One sequence and query head's part of the backward: d_q of the head, and
// its share of d_k, d_v (of the kv head it reads).
void backward_head(const AttentionShape& sh, Rows d_out, Rows q, Rows k, Rows v, Rows out, const float* lse,
                   float* d_q, float* d_k, float* d_v, int64_t q_stride, int64_t kv_stride, const AttentionMask& mask,
                   Scratch& w) {
  const int64_t hd = sh.head_dim, t = sh.t;
  float dsum[kBq];
  for (int64_t i0 = 0; i0 < t; i0 += kBq) {
    const int64_t nq = std::min(kBq, t - i0);
    for (int64_t r = 0; r < nq; ++r) {
      const float* dor = d_out.row(i0 + r);
      const float* orow = out.row(i0 + r);
      float d = 0.0f;
      for (int64_t e = 0; e < hd; ++e) d += dor[e] * orow[e];
      dsum[r] = d;
    }
    const int64_t j_end = i0 + nq;
    for (int64_t j0 = mask.first_key(i0); j0 < j_end; j0 += kBk) {
      const int64_t nk = std::min(kBk, j_end - j0);
      transpose_block(k, j0, nk, hd, w.kt.data());
      transpose_block(v, j0, nk, hd, w.vt.data());
      dots(q, i0, nq, w.kt.data(), hd, sh.scale, w.s.data());
      dots(d_out, i0, nq, w.vt.data(), hd, 1.0f, w.dp.data());
      // Each row's probabilities and scores' gradient (in place of dp), then
      // d_q by query row, d_v and d_k by key row.
      for (int64_t r = 0; r < nq; ++r) {
        const Span span = visible(mask, i0 + r, j0, nk);
        float* pr = w.p.data() + r * kBk;
        float* dsr = w.dp.data() + r * kBk;
        if (span.hi < span.lo) {
          std::fill(pr, pr + kBk, 0.0f);
          std::fill(dsr, dsr + kBk, 0.0f);
          continue;
        }
        exps(w.s.data() + r * kBk, span.lo, span.hi, lse[i0 + r], pr);
        for (int64_t j = 0; j < kBk; ++j) dsr[j] = pr[j] * (dsr[j] - dsum[r]) * sh.scale;
        weighted_sum(dsr, 1, Rows{k.row(j0), k.stride}, span.lo, span.hi, hd, d_q + (i0 + r) * q_stride);
      }
      // Key j is seen by the tile's rows from j0 + j - i0 on (rows above see
      // it with probability 0): sum over every row, zeros included.
      const Rows dor{d_out.row(i0), d_out.stride}, qr{q.row(i0), q.stride};
      for (int64_t j = 0; j < nk; ++j) {
        weighted_sum(w.p.data() + j, kBk, dor, 0, nq - 1, hd, d_v + (j0 + j) * kv_stride);
        weighted_sum(w.dp.data() + j, kBk, qr, 0, nq - 1, hd, d_k + (j0 + j) * kv_stride);
      }
    }
  }
}

void run_tasks(ThreadPool* pool, int64_t n, const std::function<void(int64_t, int)>& fn) {
  if (pool) pool->run(n, fn);
  else
    for (int64_t t = 0; t < n; ++t) fn(t, 0);
}

}  // namespace

void attention_forward(const AttentionShape& s, const float* q, const float* k, const float* v, float* lse,
                       float* out, ThreadPool* pool, AttentionMask mask, const float* sinks) {
  const int64_t hd = s.head_dim, group = s.n_head / s.n_head_kv;
  const int64_t qs = s.n_head * hd, kvs = s.n_head_kv * hd;
  const int n_threads = pool ? pool->size() : 1;
  std::vector<Scratch> scratch(sz(n_threads), Scratch(hd));
  run_tasks(pool, s.n_seq * s.n_head, [&](int64_t task, int thread) {
    const int64_t b = task / s.n_head, h = task % s.n_head, hk = h / group, row0 = b * s.t;
    forward_head(s, Rows{q + row0 * qs + h * hd, qs}, Rows{k + row0 * kvs + hk * hd, kvs},
                 Rows{v + row0 * kvs + hk * hd, kvs}, lse + task * s.t, out + row0 * qs + h * hd, qs, mask,
                 sinks ? sinks[h] : 0.0f, sinks != nullptr, scratch[sz(thread)]);
  });
}

void attention_backward(const AttentionShape& s, const float* d_out, const float* q, const float* k, const float* v,
                        const float* out, const float* lse, float* d_q, float* d_k, float* d_v, ThreadPool* pool,
                        AttentionMask mask) {
  const int64_t hd = s.head_dim, group = s.n_head / s.n_head_kv;
  const int64_t qs = s.n_head * hd, kvs = s.n_head_kv * hd;
  const int n_threads = pool ? pool->size() : 1;
  std::vector<Scratch> scratch(sz(n_threads), Scratch(hd));
  // One task per (sequence, kv head): the query heads sharing a kv head add
  // into the same d_k/d_v rows, so they run in one task, in order.
  run_tasks(pool, s.n_seq * s.n_head_kv, [&](int64_t task, int thread) {
    const int64_t b = task / s.n_head_kv, hk = task % s.n_head_kv, row0 = b * s.t;
    for (int64_t h = hk * group; h < (hk + 1) * group; ++h) {
      const int64_t qo = row0 * qs + h * hd, ko = row0 * kvs + hk * hd;
      backward_head(s, Rows{d_out + qo, qs}, Rows{q + qo, qs}, Rows{k + ko, kvs}, Rows{v + ko, kvs},
                    Rows{out + qo, qs}, lse + (b * s.n_head + h) * s.t, d_q + qo, d_k + ko, d_v + ko, qs, kvs, mask,
                    scratch[sz(thread)]);
    }
  });
}

}  // namespace frugal::train
