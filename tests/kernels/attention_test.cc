// Flash attention against the double-precision definition on random caches
// of every cache type, odd head sizes, query lengths that start, straddle
// and end cache blocks, several heads per cache row, and latent attention's
// values-inside-keys layout.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "kernels/attention.h"

namespace frugal::kernels {
namespace {

std::vector<float> randn(size_t n, uint32_t seed, float scale = 1.0f) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> d(0.0f, scale);
  std::vector<float> v(n);
  for (float& x : v) x = d(rng);
  return v;
}

// n_pos rows of n_heads heads of `width` values each, stored as `type`;
// head h of row j starts at element j * row + h * head.
struct Cache {
  CacheType type;
  int64_t head, row;
  std::vector<uint8_t> bytes;
  Cache(CacheType t, int64_t n_pos, int64_t n_heads, int64_t width, uint32_t seed)
      : type(t), head(cache_row_stride(t, width)), row(n_heads * cache_row_stride(t, width)) {
    bytes.resize(cache_bytes(t, n_pos * row));
    const auto f = randn(static_cast<size_t>(n_pos * n_heads * width), seed, 1.5f);
    for (int64_t j = 0; j < n_pos; ++j)
      for (int64_t h = 0; h < n_heads; ++h)
        cache_store(t, cache_at(t, bytes.data(), j * row + h * head), f.data() + (j * n_heads + h) * width, width);
  }
  const void* at_head(int64_t h) const { return cache_at(type, bytes.data(), h * head); }
};

TEST(Attention, CacheRowsRoundTrip) {
  for (CacheType t : {CacheType::kF32, CacheType::kF16, CacheType::kQ8_0}) {
    for (int64_t n : {1, 31, 32, 45, 128}) {
      const auto x = randn(static_cast<size_t>(n), 3 + n);
      std::vector<uint8_t> buf(cache_bytes(t, cache_row_stride(t, n)));
      cache_store(t, buf.data(), x.data(), n);
      std::vector<float> y(static_cast<size_t>(cache_row_stride(CacheType::kQ8_0, n)), 99.0f);
      cache_load(t, buf.data(), y.data(), n);
      float amax = 0;
      for (float v : x) amax = std::max(amax, std::abs(v));
      const float tol = t == CacheType::kF32 ? 0 : t == CacheType::kF16 ? 1e-3f * amax : amax / 127;
      for (int64_t i = 0; i < n; ++i) EXPECT_NEAR(y[i], x[i], tol) << cache_type_name(t) << " n " << n;
      for (int64_t i = n; i < cache_row_stride(t, n); ++i) EXPECT_EQ(y[i], 0.0f) << "q8_0 padding";
    }
  }
  EXPECT_EQ(cache_row_stride(CacheType::kQ8_0, 80), 96);
  EXPECT_EQ(cache_bytes(CacheType::kQ8_0, 96), 3u * 34u);
}

TEST(Attention, FlashMatchesReferenceForEveryCacheType) {
  const int64_t n_pos = 203, n_heads = 3;
  for (CacheType t : {CacheType::kF32, CacheType::kF16, CacheType::kQ8_0}) {
    for (auto [dk, dv] : {std::pair<int64_t, int64_t>{40, 24}, {37, 53}, {64, 64}, {7, 3}, {128, 128}, {200, 136}}) {
      const Cache K(t, n_pos, n_heads, dk, 11 + dk), V(t, n_pos, n_heads, dv, 12 + dv);
      AttentionRows rows;
      rows.type = t;
      rows.k = K.at_head(2);  // a later head: the head offset is honoured
      rows.v = V.at_head(1);
      rows.k_stride = K.row;
      rows.v_stride = V.row;
      // Lengths: empty, one, within, at and across block edges, the whole cache.
      const std::vector<int64_t> lengths = {0, 1, 2, 63, 64, 65, 128, 130, 202, 203};
      const int64_t nq = static_cast<int64_t>(lengths.size());
      const auto q = randn(static_cast<size_t>(nq * dk), 5 + dk);
      std::vector<float> out(static_cast<size_t>(nq * dv), 42.0f);
      std::vector<AttentionQuery> qs;
      for (int64_t i = 0; i < nq; ++i) qs.push_back({q.data() + i * dk, out.data() + i * dv, lengths[i]});
      std::vector<float> scratch(flash_scratch_floats(nq, dk, dv));
      attend_flash(qs, dk, rows, dv, 0.3f, scratch.data());
      for (int64_t i = 0; i < nq; ++i) {
        std::vector<float> want(static_cast<size_t>(dv), 0.0f), naive(static_cast<size_t>(dv), 0.0f);
        if (lengths[i] > 0) {
          AttentionRows r = rows;
          r.n = lengths[i];
          attend_reference(q.data() + i * dk, dk, r, dv, 0.3f, want.data());
          std::vector<float> scores(static_cast<size_t>(r.n));
          attend(q.data() + i * dk, dk, r, dv, 0.3f, scores.data(), naive.data());
        }
        for (int64_t c = 0; c < dv; ++c) {
          ASSERT_NEAR(out[i * dv + c], want[c], 2e-5f * (1 + std::abs(want[c])))
              << cache_type_name(t) << " dk " << dk << " dv " << dv << " length " << lengths[i] << " col " << c;
          ASSERT_NEAR(naive[c], want[c], 2e-5f * (1 + std::abs(want[c])));
        }
      }
      // A query alone gives bit for bit what it gave among the others.
      for (int64_t i = 0; i < nq; ++i) {
        std::vector<float> alone(static_cast<size_t>(dv));
        const AttentionQuery one{q.data() + i * dk, alone.data(), lengths[i]};
        attend_flash({&one, 1}, dk, rows, dv, 0.3f, scratch.data());
        for (int64_t c = 0; c < dv; ++c) ASSERT_EQ(alone[c], out[i * dv + c]) << "length " << lengths[i];
      }
    }
  }
}

TEST(Attention, FlashWithValuesInsideKeys) {
  // Latent attention: the value is the first dv entries of the key row.
  const int64_t n_pos = 150, dk = 80, dv = 64;
  for (CacheType t : {CacheType::kF32, CacheType::kF16, CacheType::kQ8_0}) {
    const Cache K(t, n_pos, 1, dk, 21);
    AttentionRows rows;
    rows.type = t;
    rows.k = rows.v = K.at_head(0);
    rows.k_stride = rows.v_stride = K.row;
    const auto q = randn(4 * dk, 22);
    std::vector<float> out(4 * dv);
    std::vector<AttentionQuery> qs;
    for (int64_t i = 0; i < 4; ++i) qs.push_back({q.data() + i * dk, out.data() + i * dv, 147 + i});
    std::vector<float> scratch(flash_scratch_floats(4, dk, dv));
    attend_flash(qs, dk, rows, dv, 0.1f, scratch.data());
    for (int64_t i = 0; i < 4; ++i) {
      AttentionRows r = rows;
      r.n = 147 + i;
      std::vector<float> want(dv);
      attend_reference(q.data() + i * dk, dk, r, dv, 0.1f, want.data());
      for (int64_t c = 0; c < dv; ++c) ASSERT_NEAR(out[i * dv + c], want[c], 2e-5f * (1 + std::abs(want[c])));
    }
  }
}

TEST(Attention, FlashIsStableForLargeScores) {
  // Scores in the hundreds: the running max keeps exp() finite.
  const int64_t n_pos = 100, d = 16;
  const Cache K(CacheType::kF32, n_pos, 1, d, 31), V(CacheType::kF32, n_pos, 1, d, 32);
  AttentionRows rows{CacheType::kF32, K.at_head(0), V.at_head(0), K.row, V.row, n_pos};
  const auto q = randn(d, 33, 40.0f);
  std::vector<float> out(d), want(d), scratch(flash_scratch_floats(1, d, d));
  const AttentionQuery one{q.data(), out.data(), n_pos};
  attend_flash({&one, 1}, d, rows, d, 1.0f, scratch.data());
  attend_reference(q.data(), d, rows, d, 1.0f, want.data());
  for (int64_t c = 0; c < d; ++c) {
    ASSERT_TRUE(std::isfinite(out[c]));
    ASSERT_NEAR(out[c], want[c], 1e-4f * (1 + std::abs(want[c])));
  }
}

}  // namespace
}  // namespace frugal::kernels
