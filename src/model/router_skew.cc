#include "model/router_skew.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>

#include "base/mix64.h"

namespace frugal::model {

float skew_embedding_value(const ModelConfig& cfg, float embedding_std) {
  return embedding_std * static_cast<float>(std::sqrt(static_cast<double>(cfg.n_embd - 1)));
}

double skew_normed_value(const ModelConfig& cfg) {
  const double n = static_cast<double>(cfg.n_embd);
  return std::sqrt(n * n / (2 * n - 1));
}

std::vector<int> skew_ranking(int64_t n_expert, uint64_t seed, int layer) {
  std::vector<int> order(static_cast<size_t>(n_expert));
  std::iota(order.begin(), order.end(), 0);
  std::mt19937_64 rng(mix64(seed * 0x9e3779b97f4a7c15ULL + static_cast<uint64_t>(layer) + 1));
  for (size_t i = order.size(); i > 1; --i) std::swap(order[i - 1], order[rng() % i]);  // Fisher-Yates
  std::vector<int> rank(order.size());
  for (size_t r = 0; r < order.size(); ++r) rank[static_cast<size_t>(order[r])] = static_cast<int>(r);
  return rank;
}

std::vector<double> skew_targets(const std::vector<int>& rank, int64_t k, double s) {
  const size_t n = rank.size();
  std::vector<double> z(n), f(n, 0.0);
  for (size_t e = 0; e < n; ++e) z[e] = std::pow(static_cast<double>(rank[e] + 1), -s);
  // Water-filling: an expert cannot be chosen more than once per token, so
  // shares above the cap are held there and the rest is spread by z.
  constexpr double kCap = 0.98;
  std::vector<bool> capped(n, false);
  for (bool changed = true; changed;) {
    changed = false;
    double left = static_cast<double>(k), zsum = 0;
    for (size_t e = 0; e < n; ++e) capped[e] ? left -= kCap : zsum += z[e];
    for (size_t e = 0; e < n; ++e) {
      f[e] = capped[e] ? kCap : left * z[e] / zsum;
      if (!capped[e] && f[e] > kCap) capped[e] = changed = true;
    }
  }
  return f;
}

std::vector<float> router_skew_biases(const ModelConfig& cfg, double s, uint64_t seed, int layer) {
  const int64_t n = cfg.n_expert, k = cfg.n_expert_used;
  std::vector<float> bias(static_cast<size_t>(n), 0.0f);
  if (s <= 0 || n < 2 || k < 1 || k >= n) return bias;
  const std::vector<double> target = skew_targets(skew_ranking(n, seed, layer), k, s);
  const double x0 = skew_normed_value(cfg);
  const double sigma = std::sqrt(std::max(0.05, 1.0 - x0 * x0 / static_cast<double>(cfg.n_embd)));

  // Fixed noise samples (deterministic), then a fixed-point iteration on the
  // log shares: b += (log target - log measured) * step.
  constexpr int kSamples = 4096, kIters = 80;
  std::mt19937_64 rng(mix64(seed + 0x51e7ULL * static_cast<uint64_t>(layer + 1)));
  std::normal_distribution<double> normal(0.0, sigma);
  std::vector<double> noise(static_cast<size_t>(kSamples * n));
  for (double& v : noise) v = normal(rng);
  std::vector<double> b(static_cast<size_t>(n), 0.0), logit(static_cast<size_t>(n));
  std::vector<int> idx(static_cast<size_t>(n));
  std::vector<double> count(static_cast<size_t>(n));
  for (int it = 0; it < kIters; ++it) {
    std::fill(count.begin(), count.end(), 0.0);
    for (int t = 0; t < kSamples; ++t) {
      for (int64_t e = 0; e < n; ++e) logit[e] = b[e] + noise[static_cast<size_t>(t * n + e)];
      std::iota(idx.begin(), idx.end(), 0);
      std::nth_element(idx.begin(), idx.begin() + k, idx.end(), [&](int x, int y) { return logit[x] > logit[y]; });
      for (int64_t i = 0; i < k; ++i) count[static_cast<size_t>(idx[i])] += 1.0;
    }
    for (int64_t e = 0; e < n; ++e) {
      const double got = (count[e] + 0.5) / kSamples;
      b[e] += 0.7 * sigma * (std::log(target[e]) - std::log(got));
    }
    const double mean = std::accumulate(b.begin(), b.end(), 0.0) / static_cast<double>(n);
    for (double& v : b) v -= mean;  // only differences matter; keep them centred
  }
  for (int64_t e = 0; e < n; ++e) bias[e] = static_cast<float>(b[e]);
  return bias;
}

}  // namespace frugal::model
