#include "runtime/sampler.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <unordered_map>

#include "base/error.h"

namespace frugal::runtime {

// ---- Rng --------------------------------------------------------------------

namespace {
uint64_t splitmix64(uint64_t& x) {
  uint64_t z = (x += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}
uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
}  // namespace

Rng::Rng(uint64_t seed) {
  for (uint64_t& w : s_) w = splitmix64(seed);
}

uint64_t Rng::next() {
  const uint64_t result = rotl(s_[1] * 5, 7) * 9;
  const uint64_t t = s_[1] << 17;
  s_[2] ^= s_[0];
  s_[3] ^= s_[1];
  s_[1] ^= s_[2];
  s_[0] ^= s_[3];
  s_[2] ^= t;
  s_[3] = rotl(s_[3], 45);
  return result;
}

double Rng::uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }

// ---- Sampler ----------------------------------------------------------------

void check_sampling_params(const SamplingParams& p) {
  if (!std::isfinite(p.temperature)) fail("sampler: temperature must be a finite number");
  if (!(p.top_p >= 0 && p.top_p <= 1)) fail("sampler: top-p must be in [0, 1] (got ", p.top_p, ")");
  if (!(p.min_p >= 0 && p.min_p <= 1)) fail("sampler: min-p must be in [0, 1] (got ", p.min_p, ")");
  if (!(p.repeat_penalty > 0) || !std::isfinite(p.repeat_penalty))
    fail("sampler: repeat penalty must be positive (got ", p.repeat_penalty, ")");
  if (!std::isfinite(p.presence_penalty) || !std::isfinite(p.frequency_penalty))
    fail("sampler: presence and frequency penalties must be finite numbers");
}

Sampler::Sampler(SamplingParams params, int32_t n_vocab) : params_(std::move(params)), n_vocab_(n_vocab), rng_(params_.seed) {
  if (n_vocab_ <= 0) fail("sampler: the vocabulary is empty");
  check_sampling_params(params_);
  for (const auto& [id, bias] : params_.logit_bias) {
    if (id < 0 || id >= n_vocab_) fail("sampler: logit bias for token ", id, " outside the vocabulary of ", n_vocab_);
    if (std::isnan(bias)) fail("sampler: logit bias for token ", id, " is not a number");
  }
}

void Sampler::apply_penalties(std::vector<float>& logits, std::span<const int32_t> history) const {
  for (const auto& [id, bias] : params_.logit_bias) logits[static_cast<size_t>(id)] += bias;
  const bool any = params_.repeat_penalty != 1.0f || params_.presence_penalty != 0 || params_.frequency_penalty != 0;
  if (!any || params_.repeat_last_n == 0 || history.empty()) return;
  const size_t window = params_.repeat_last_n < 0 ? history.size()
                                                  : std::min(history.size(), static_cast<size_t>(params_.repeat_last_n));
  std::unordered_map<int32_t, int> counts;
  for (int32_t id : history.subspan(history.size() - window))
    if (id >= 0 && id < n_vocab_) ++counts[id];
  for (const auto& [id, count] : counts) {
    float& l = logits[static_cast<size_t>(id)];
    // llama.cpp's repetition penalty: shrink positive logits, push negative ones further down.
    l = l > 0 ? l / params_.repeat_penalty : l * params_.repeat_penalty;
    // OpenAI's penalties: once for presence, once per occurrence for frequency.
    l -= params_.presence_penalty + static_cast<float>(count) * params_.frequency_penalty;
  }
}

std::vector<std::pair<int32_t, float>> Sampler::candidates(std::span<const float> penalised) const {
  std::vector<std::pair<int32_t, float>> c;  // (token, logit), then (token, probability)
  c.reserve(penalised.size());
  for (size_t i = 0; i < penalised.size(); ++i)
    if (penalised[i] > -std::numeric_limits<float>::infinity() && !std::isnan(penalised[i]))
      c.emplace_back(static_cast<int32_t>(i), penalised[i]);
  if (c.empty()) fail("sampler: every token is banned (all logits are -inf or NaN)");
  // Highest logit first, lower id first among equals: a deterministic order.
  auto higher = [](const auto& a, const auto& b) { return a.second > b.second || (a.second == b.second && a.first < b.first); };
  if (params_.top_k > 0 && static_cast<size_t>(params_.top_k) < c.size()) {
    std::nth_element(c.begin(), c.begin() + params_.top_k - 1, c.end(), higher);
    c.resize(static_cast<size_t>(params_.top_k));
  }
  std::sort(c.begin(), c.end(), higher);

  // Probabilities at temperature 1 for top-p and min-p (llama.cpp's order).
  auto softmax = [&c](double inv_temp) {
    const double max = c.front().second;
    double sum = 0;
    std::vector<double> p(c.size());
    for (size_t i = 0; i < c.size(); ++i) sum += p[i] = std::exp((c[i].second - max) * inv_temp);
    for (double& x : p) x /= sum;
    return p;
  };
  std::vector<double> p = softmax(1.0);
  size_t keep = c.size();
  if (params_.top_p < 1.0f) {
    double cum = 0;
    for (size_t i = 0; i < c.size(); ++i) {
      cum += p[i];
      if (cum >= params_.top_p) {
        keep = i + 1;
        break;
      }
    }
  }
  if (params_.min_p > 0.0f) {
    const double floor = params_.min_p * p[0];
    size_t n = 1;
    while (n < keep && p[n] >= floor) ++n;
    keep = n;
  }
  c.resize(keep);

  const double temp = params_.temperature > 0 ? params_.temperature : 1.0;
  p = softmax(1.0 / temp);
  for (size_t i = 0; i < c.size(); ++i) c[i].second = static_cast<float>(p[i]);
  return c;
}

int32_t Sampler::sample(const float* logits, std::span<const int32_t> history) {
  scratch_.assign(logits, logits + n_vocab_);
  apply_penalties(scratch_, history);
  if (params_.temperature <= 0) {
    int32_t best = -1;
    for (int32_t i = 0; i < n_vocab_; ++i)
      if (!std::isnan(scratch_[static_cast<size_t>(i)]) && (best < 0 || scratch_[static_cast<size_t>(i)] > scratch_[static_cast<size_t>(best)]))
        best = i;
    if (best < 0 || scratch_[static_cast<size_t>(best)] == -std::numeric_limits<float>::infinity())
      fail("sampler: every token is banned (all logits are -inf or NaN)");
    return best;
  }
  const auto c = candidates(scratch_);
  double u = rng_.uniform(), cum = 0;
  for (const auto& [id, prob] : c) {
    cum += prob;
    if (u < cum) return id;
  }
  return c.back().first;  // rounding left u just above the last cumulative sum
}

// ---- StopMatcher ------------------------------------------------------------

StopMatcher::StopMatcher(std::vector<std::string> stops) : stops_(std::move(stops)) {
  std::erase_if(stops_, [](const std::string& s) { return s.empty(); });
}

StopMatcher::Result StopMatcher::push(std::string_view text) {
  Result r;
  if (stopped_) {
    r.stopped = true;
    return r;
  }
  held_ += text;
  // The earliest complete stop string ends the text there.
  size_t first = std::string::npos;
  for (const auto& s : stops_) first = std::min(first, held_.find(s));
  if (first != std::string::npos) {
    r.emit = held_.substr(0, first);
    held_.clear();
    stopped_ = r.stopped = true;
    return r;
  }
  // Hold back the longest tail that is a proper prefix of some stop string.
  size_t hold = 0;
  for (const auto& s : stops_)
    for (size_t n = std::min(s.size() - 1, held_.size()); n > hold; --n)
      if (held_.compare(held_.size() - n, n, s, 0, n) == 0) {
        hold = n;
        break;
      }
  r.emit = held_.substr(0, held_.size() - hold);
  held_.erase(0, held_.size() - hold);
  return r;
}

std::string StopMatcher::flush() {
  std::string out = stopped_ ? std::string() : std::move(held_);
  held_.clear();
  return out;
}

}  // namespace frugal::runtime
