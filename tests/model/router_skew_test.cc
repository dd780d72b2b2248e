// frugal synth --router-skew: the targets follow Zipf's law within the cap,
// the calibrated biases meet them on fresh router noise, and a model written
// with them routes its tokens that way through the forward pass (first
// layer: the stream is still close to the embeddings there).
#include "model/config_overrides.h"
#include "model/router_skew.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>

#include "base/error.h"
#include "model/forward.h"
#include "model/forward_test_model.h"
#include "model/model.h"
#include "model/presets.h"
#include "model/synth.h"

namespace frugal::model {
namespace {

ModelConfig skew_config() {
  ModelConfig c = find_preset("llama", "tiny").config;
  ConfigOverrides o;
  o.n_embd = 256;
  o.n_expert = 32;
  o.n_expert_used = 4;
  o.n_layer = 2;
  o.n_ctx = 1024;
  apply_overrides(c, o);
  return c;
}

// Least-squares slope of log(share) against log(rank + 1), over the experts
// whose share is below the cap.
double zipf_slope(const std::vector<double>& share, const std::vector<int>& rank) {
  double sx = 0, sy = 0, sxx = 0, sxy = 0, n = 0;
  for (size_t e = 0; e < share.size(); ++e) {
    if (share[e] <= 0 || share[e] > 0.9) continue;
    const double x = std::log(rank[e] + 1.0), y = std::log(share[e]);
    sx += x, sy += y, sxx += x * x, sxy += x * y, n += 1;
  }
  return (n * sxy - sx * sy) / (n * sxx - sx * sx);
}

TEST(RouterSkew, TargetsFollowZipfUnderTheCap) {
  const std::vector<int> rank = skew_ranking(64, 7, 3);
  std::vector<int> sorted = rank;
  std::sort(sorted.begin(), sorted.end());
  for (int i = 0; i < 64; ++i) ASSERT_EQ(sorted[i], i) << "a ranking is a permutation";
  EXPECT_NE(rank, skew_ranking(64, 7, 4)) << "each layer ranks its experts its own way";
  for (double s : {0.0, 0.5, 1.0, 2.0}) {
    const std::vector<double> f = skew_targets(rank, 8, s);
    EXPECT_NEAR(std::accumulate(f.begin(), f.end(), 0.0), 8.0, 1e-9);
    for (size_t e = 0; e < f.size(); ++e) EXPECT_LE(f[e], 0.98 + 1e-12);
    if (s == 0) {
      for (double v : f) EXPECT_NEAR(v, 8.0 / 64, 1e-12);
    } else {
      EXPECT_NEAR(zipf_slope(f, rank), -s, 1e-9);
    }
  }
}

TEST(RouterSkew, CalibratedBiasesMeetTheTargetsOnFreshNoise) {
  const ModelConfig c = skew_config();
  const double s = 1.0;
  const std::vector<float> bias = router_skew_biases(c, s, 5, 0);
  const std::vector<int> rank = skew_ranking(c.n_expert, 5, 0);
  const std::vector<double> want = skew_targets(rank, c.n_expert_used, s);
  const double x0 = skew_normed_value(c), sigma = std::sqrt(1.0 - x0 * x0 / double(c.n_embd));
  std::mt19937_64 rng(12345);  // not the calibration's noise
  std::normal_distribution<double> normal(0.0, sigma);
  std::vector<double> got(size_t(c.n_expert), 0.0), logit(size_t(c.n_expert));
  std::vector<int> idx(size_t(c.n_expert));
  constexpr int kTokens = 20000;
  for (int t = 0; t < kTokens; ++t) {
    for (int64_t e = 0; e < c.n_expert; ++e) logit[e] = bias[e] + normal(rng);
    std::iota(idx.begin(), idx.end(), 0);
    std::partial_sort(idx.begin(), idx.begin() + c.n_expert_used, idx.end(),
                      [&](int a, int b) { return logit[a] > logit[b]; });
    for (int64_t i = 0; i < c.n_expert_used; ++i) got[idx[i]] += 1.0 / kTokens;
  }
  for (int64_t e = 0; e < c.n_expert; ++e) {
    EXPECT_NEAR(got[e], want[e], 0.15 * want[e] + 0.01) << "expert " << e << " rank " << rank[e];
  }
  EXPECT_NEAR(zipf_slope(got, rank), -s, 0.15);
  EXPECT_EQ(router_skew_biases(c, 0.0, 5, 0), std::vector<float>(size_t(c.n_expert), 0.0f));
}

// The share of a layer's top-k choices each expert got over the rows run.
std::vector<double> first_layer_shares(const ModelConfig& c, const std::string& path, int64_t n_rows) {
  const auto model = Model::load(path);
  Forward fwd(*model);
  testing::OneSequenceKv kv(model->config(), n_rows);
  std::mt19937 rng(3);
  std::vector<BatchRow> rows;
  for (int32_t i = 0; i < n_rows; ++i) rows.push_back({0, i, int32_t(rng() % 256), i + 1 == n_rows});
  std::vector<float> logits;
  for (int64_t b = 0; b < n_rows; b += 128)
    fwd.run(std::span<const BatchRow>(rows).subspan(size_t(b), size_t(std::min<int64_t>(128, n_rows - b))), kv,
            nullptr, logits);
  const std::vector<uint64_t>& hits = fwd.expert_rows();
  EXPECT_EQ(hits.size(), size_t(c.n_layer * c.n_expert));
  std::vector<double> share(size_t(c.n_expert));
  for (int64_t e = 0; e < c.n_expert; ++e) share[e] = double(hits[e]) / double(n_rows);
  return share;
}

TEST(RouterSkew, ASkewedModelRoutesItsTokensByTheLaw) {
  const ModelConfig c = skew_config();
  testing::TempModel skewed("router_skew"), uniform("router_uniform");
  SynthOptions opts;
  opts.type = "f32";
  opts.seed = 9;
  opts.progress_label = "";
  opts.router_skew = 1.0;
  write_synth_model(c, gguf::Metadata{}, opts, skewed.path);
  opts.router_skew = 0;
  write_synth_model(c, gguf::Metadata{}, opts, uniform.path);
  EXPECT_THROW(
      [&] {
        SynthOptions bad = opts;
        bad.router_skew = -1;
        write_synth_model(c, gguf::Metadata{}, bad, uniform.path);
      }(),
      Error);

  const int64_t n_rows = 1024;
  const std::vector<int> rank = skew_ranking(c.n_expert, 9, 0);
  const std::vector<double> s1 = first_layer_shares(c, skewed.path, n_rows);
  const std::vector<double> s0 = first_layer_shares(c, uniform.path, n_rows);
  // Skewed: the most popular quarter of the experts takes most of the
  // choices and the slope is near -1; unskewed: neither.
  auto top_quarter = [&](const std::vector<double>& share) {
    double t = 0;
    for (int64_t e = 0; e < c.n_expert; ++e)
      if (rank[e] < c.n_expert / 4) t += share[e];
    return t / double(c.n_expert_used);
  };
  const double want_top = [&] {
    const std::vector<double> f = skew_targets(rank, c.n_expert_used, 1.0);
    double t = 0;
    for (int64_t e = 0; e < c.n_expert; ++e)
      if (rank[e] < c.n_expert / 4) t += f[e];
    return t / double(c.n_expert_used);
  }();
  EXPECT_NEAR(top_quarter(s1), want_top, 0.12);
  EXPECT_NEAR(zipf_slope(s1, rank), -1.0, 0.35);
  EXPECT_NEAR(top_quarter(s0), 0.25, 0.12);
  EXPECT_GT(zipf_slope(s0, rank), -0.35);
}

}  // namespace
}  // namespace frugal::model
