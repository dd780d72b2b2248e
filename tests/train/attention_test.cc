// Training's tiled attention (train/attention.h) against a double-precision
// reference that holds the whole softmax: the output, the log-denominator
// and the three gradients, on sequences that cross the 32-query and 64-key
// tiles unevenly, with grouped heads, a window, chunks and sink logits, on
// one thread and on a pool (the same bits).
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "base/mix64.h"
#include "train/attention.h"

namespace frugal::train {
namespace {

std::vector<float> random_values(size_t n, uint64_t seed, double scale = 1.0) {
  std::vector<float> v(n);
  for (size_t i = 0; i < n; ++i)
    v[i] = static_cast<float>(scale * (static_cast<double>(mix64(seed * 0x9E3779B97F4A7C15ull + i) >> 11) / 0x1p53 * 2.0 - 1.0));
  return v;
}

struct Reference {
  std::vector<double> out, lse, d_q, d_k, d_v;
};

// softmax(q k^T scale + mask) v with the sink in the denominator, and its
// backward for the upstream gradient d_out.
Reference reference(const AttentionShape& s, const AttentionMask& mask, const std::vector<float>& q,
                    const std::vector<float>& k, const std::vector<float>& v, const float* sinks,
                    const std::vector<float>& d_out) {
  const int64_t hd = s.head_dim, group = s.n_head / s.n_head_kv, qs = s.n_head * hd, ks = s.n_head_kv * hd;
  Reference r{std::vector<double>(q.size()), std::vector<double>(size_t(s.n_seq * s.n_head * s.t)),
              std::vector<double>(q.size()), std::vector<double>(k.size()), std::vector<double>(v.size())};
  std::vector<double> p(size_t(s.t)), dp(size_t(s.t));
  for (int64_t b = 0; b < s.n_seq; ++b)
    for (int64_t h = 0; h < s.n_head; ++h) {
      const int64_t hk = h / group;
      for (int64_t i = 0; i < s.t; ++i) {
        const int64_t qi = (b * s.t + i) * qs + h * hd, first = mask.first_key(i);
        double mx = sinks ? sinks[h] : -INFINITY;
        for (int64_t j = first; j <= i; ++j) {
          double dot = 0;
          for (int64_t e = 0; e < hd; ++e) dot += double(q[size_t(qi + e)]) * k[size_t((b * s.t + j) * ks + hk * hd + e)];
          p[size_t(j)] = dot * s.scale;
          mx = std::max(mx, p[size_t(j)]);
        }
        double den = sinks ? std::exp(sinks[h] - mx) : 0.0;
        for (int64_t j = first; j <= i; ++j) den += p[size_t(j)] = std::exp(p[size_t(j)] - mx);
        r.lse[size_t((b * s.n_head + h) * s.t + i)] = mx + std::log(den);
        double dsum = 0;
        for (int64_t j = first; j <= i; ++j) {
          p[size_t(j)] /= den;
          double d = 0;
          for (int64_t e = 0; e < hd; ++e) {
            const double vj = v[size_t((b * s.t + j) * ks + hk * hd + e)];
            r.out[size_t(qi + e)] += p[size_t(j)] * vj;
            d += double(d_out[size_t(qi + e)]) * vj;
          }
          dp[size_t(j)] = d;
          dsum += p[size_t(j)] * d;
        }
        for (int64_t j = first; j <= i; ++j) {
          const double ds = p[size_t(j)] * (dp[size_t(j)] - dsum) * s.scale;
          const int64_t kj = (b * s.t + j) * ks + hk * hd;
          for (int64_t e = 0; e < hd; ++e) {
            r.d_q[size_t(qi + e)] += ds * k[size_t(kj + e)];
            r.d_k[size_t(kj + e)] += ds * q[size_t(qi + e)];
            r.d_v[size_t(kj + e)] += p[size_t(j)] * d_out[size_t(qi + e)];
          }
        }
      }
    }
  return r;
}

void expect_close(const std::vector<float>& got, const std::vector<double>& want, const char* what) {
  ASSERT_EQ(got.size(), want.size());
  double scale = 0;
  for (double w : want) scale = std::max(scale, std::abs(w));
  for (size_t i = 0; i < got.size(); ++i) ASSERT_NEAR(got[i], want[i], 1e-5 * (scale + 1.0)) << what << " element " << i;
}

void check(const AttentionShape& s, const AttentionMask& mask, bool sinks) {
  SCOPED_TRACE(testing::Message() << "t " << s.t << " heads " << s.n_head << "/" << s.n_head_kv << " hd " << s.head_dim
                                  << " window " << mask.window << " chunk " << mask.chunk << " sinks " << sinks);
  const size_t nq = size_t(s.n_seq * s.t * s.n_head * s.head_dim), nk = size_t(s.n_seq * s.t * s.n_head_kv * s.head_dim);
  const auto q = random_values(nq, 1, 2.0), k = random_values(nk, 2, 2.0), v = random_values(nk, 3),
             d_out = random_values(nq, 4), sink = random_values(size_t(s.n_head), 5, 3.0);
  const Reference want = reference(s, mask, q, k, v, sinks ? sink.data() : nullptr, d_out);
  ThreadPool pool(3);
  std::vector<float> first_d_q;
  for (ThreadPool* p : {static_cast<ThreadPool*>(nullptr), &pool}) {
    std::vector<float> out(nq), lse(want.lse.size()), d_q(nq, 0.0f), d_k(nk, 0.0f), d_v(nk, 0.0f);
    attention_forward(s, q.data(), k.data(), v.data(), lse.data(), out.data(), p, mask, sinks ? sink.data() : nullptr);
    attention_backward(s, d_out.data(), q.data(), k.data(), v.data(), out.data(), lse.data(), d_q.data(), d_k.data(),
                       d_v.data(), p, mask);
    expect_close(out, want.out, "out");
    expect_close(lse, want.lse, "lse");
    expect_close(d_q, want.d_q, "d_q");
    expect_close(d_k, want.d_k, "d_k");
    expect_close(d_v, want.d_v, "d_v");
    if (p == nullptr) first_d_q = d_q;
    else EXPECT_EQ(d_q, first_d_q) << "the pool changed the bits";
  }
}

TEST(TrainAttention, MatchesTheWholeSoftmax) {
  const float s16 = 1.0f / 4.0f, s24 = 1.0f / std::sqrt(24.0f);
  check({.n_seq = 2, .t = 1, .n_head = 2, .n_head_kv = 1, .head_dim = 16, .scale = s16}, {}, false);
  check({.n_seq = 2, .t = 97, .n_head = 4, .n_head_kv = 2, .head_dim = 16, .scale = s16}, {}, false);
  check({.n_seq = 1, .t = 150, .n_head = 2, .n_head_kv = 2, .head_dim = 24, .scale = s24}, {}, true);
  // gpt-oss: a window that ends inside a key tile; llama4: chunks across tiles.
  check({.n_seq = 1, .t = 130, .n_head = 4, .n_head_kv = 1, .head_dim = 16, .scale = s16}, {.window = 40}, true);
  check({.n_seq = 2, .t = 100, .n_head = 2, .n_head_kv = 1, .head_dim = 12, .scale = s16}, {.chunk = 48}, false);
  // Head widths off the 8-lane vectors (MLA's latent + rope widths are any).
  check({.n_seq = 1, .t = 70, .n_head = 3, .n_head_kv = 3, .head_dim = 13, .scale = s16}, {}, false);
}

}  // namespace
}  // namespace frugal::train
