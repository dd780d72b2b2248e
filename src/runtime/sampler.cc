#include "runtime/sampler.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <unordered_map>

#include "base/error.h"
#include "kernels/ops.h"
#include "base/mix64.h"

namespace frugal::runtime {

// ---- Rng --------------------------------------------------------------------

namespace {
uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
}  // namespace

Rng::Rng(uint64_t seed) {
  for (uint64_t& w : s_) w = splitmix64_next(seed);
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

namespace {
// Highest logit first, lower id first among equals: a deterministic order.
bool higher(const std::pair<int32_t, float>& a, const std::pair<int32_t, float>& b) {
  return a.second > b.second || (a.second == b.second && a.first < b.first);
}
}  // namespace

std::vector<std::pair<int32_t, float>> Sampler::filter(std::span<const float> penalised) const {
  std::vector<std::pair<int32_t, float>> c;  // (token, logit)
  c.reserve(penalised.size());
  for (size_t i = 0; i < penalised.size(); ++i)
    if (penalised[i] > -std::numeric_limits<float>::infinity() && !std::isnan(penalised[i]))
      c.emplace_back(static_cast<int32_t>(i), penalised[i]);
  if (c.empty()) fail("sampler: every token is banned (all logits are -inf or NaN)");
  if (params_.top_k > 0 && static_cast<size_t>(params_.top_k) < c.size()) {
    std::nth_element(c.begin(), c.begin() + params_.top_k - 1, c.end(), higher);
    c.resize(static_cast<size_t>(params_.top_k));
  }

  // Top-p and min-p both keep a most-likely prefix of the sorted candidates,
  // judged on the probabilities at temperature 1 over what top-k left (llama.cpp's
  // order); the result is the shorter prefix. Min-p needs no order, so it
  // filters first; top-p then sorts only as far as its mass reaches: a whole
  // vocabulary (top-k 0) is rarely sorted in full.
  float max_logit = c.front().second;
  for (const auto& e : c) max_logit = std::max(max_logit, e.second);
  double sum = 0;
  for (const auto& e : c) sum += std::exp(static_cast<double>(e.second) - max_logit);
  if (params_.min_p > 0.0f) {
    // p >= min_p * p_max  <=>  exp(l - max) >= min_p (p_max = 1 / sum).
    std::erase_if(c, [&](const auto& e) { return std::exp(static_cast<double>(e.second) - max_logit) < params_.min_p; });
  }
  size_t sorted = 0, keep = c.size();
  if (params_.top_p < 1.0f) {
    double cum = 0;
    // Rounds of 64, 512, 4096, ... best; past half the candidates, all of them.
    auto next = [&c](size_t m) { return m * 8 >= c.size() / 2 ? c.size() : m * 8; };
    for (size_t m = std::min<size_t>(c.size(), 64);; m = next(m)) {
      // The next m - sorted best in order: a selection, then a sort of those only.
      const auto first = c.begin() + static_cast<std::ptrdiff_t>(sorted), mid = c.begin() + static_cast<std::ptrdiff_t>(m);
      if (mid != c.end()) std::nth_element(first, mid - 1, c.end(), higher);
      std::sort(first, mid, higher);
      for (; sorted < m; ++sorted) {
        cum += std::exp(static_cast<double>(c[sorted].second) - max_logit) / sum;
        if (cum >= params_.top_p) break;
      }
      if (sorted < m) {
        keep = sorted + 1;
        break;
      }
      if (m == c.size()) break;
    }
  }
  c.resize(keep);
  return c;
}

std::vector<std::pair<int32_t, float>> Sampler::candidates(std::span<const float> penalised) const {
  std::vector<std::pair<int32_t, float>> c = filter(penalised);
  std::sort(c.begin(), c.end(), higher);
  // The temperature, then probabilities over what is kept.
  const double inv_temp = params_.temperature > 0 ? 1.0 / params_.temperature : 1.0;
  const double top = c.front().second;
  double z = 0;
  std::vector<double> q(c.size());
  for (size_t i = 0; i < c.size(); ++i) z += q[i] = std::exp((c[i].second - top) * inv_temp);
  for (size_t i = 0; i < c.size(); ++i) c[i].second = static_cast<float>(q[i] / z);
  return c;
}

int32_t Sampler::sample(const float* logits, std::span<const int32_t> history, const std::vector<uint8_t>* allowed) {
  scratch_.assign(logits, logits + n_vocab_);
  apply_penalties(scratch_, history);
  if (allowed)
    for (size_t i = 0; i < scratch_.size(); ++i)
      if (!(*allowed)[i]) scratch_[i] = -std::numeric_limits<float>::infinity();
  if (params_.temperature <= 0) {
    const auto best = static_cast<int32_t>(kernels::argmax(scratch_.data(), n_vocab_));
    if (best < 0 || scratch_[static_cast<size_t>(best)] == -std::numeric_limits<float>::infinity())
      fail("sampler: every token is banned (all logits are -inf or NaN)");
    return best;
  }
  // The draw walks the kept tokens in id order: that order does not depend on
  // how the standard library's partial sorts arrange equal-ranked entries, so
  // a seed gives the same token everywhere, and nothing is sorted in full.
  // A few kept tokens are put in id order by a sort; many by a pass over the
  // vocabulary.
  std::vector<std::pair<int32_t, float>> c = filter(scratch_);
  const bool dense = c.size() > static_cast<size_t>(n_vocab_) / 16;
  if (dense) {
    scratch_.assign(static_cast<size_t>(n_vocab_), -std::numeric_limits<float>::infinity());
    for (const auto& [id, logit] : c) scratch_[static_cast<size_t>(id)] = logit;
    c.clear();
    for (int32_t id = 0; id < n_vocab_; ++id)
      if (scratch_[static_cast<size_t>(id)] > -std::numeric_limits<float>::infinity())
        c.emplace_back(id, scratch_[static_cast<size_t>(id)]);
  } else {
    std::sort(c.begin(), c.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  }
  const double inv_temp = 1.0 / params_.temperature;
  float top = c.front().second;
  for (const auto& e : c) top = std::max(top, e.second);
  weights_.resize(c.size());
  double z = 0;
  for (size_t i = 0; i < c.size(); ++i) z += weights_[i] = std::exp((static_cast<double>(c[i].second) - top) * inv_temp);
  const double target = rng_.uniform() * z;
  double cum = 0;
  for (size_t i = 0; i < c.size(); ++i) {
    cum += weights_[i];
    if (target < cum) return c[i].first;
  }
  return c.back().first;  // rounding left the target just above the last cumulative sum
}

// ---- Log-probabilities ------------------------------------------------------

TokenLogprob token_logprob(std::span<const float> logits, int32_t id, int n_top) {
  FRUGAL_CHECK(id >= 0 && static_cast<size_t>(id) < logits.size());
  // log p_i = l_i - max - log(sum exp(l_j - max)), in double for the sum.
  float top = -std::numeric_limits<float>::infinity();
  for (float l : logits)
    if (l > top) top = l;
  double z = 0;
  for (float l : logits) z += std::exp(static_cast<double>(l) - top);
  const double log_z = std::log(z) + top;
  auto lp = [&](float l) { return std::isnan(l) ? -std::numeric_limits<float>::infinity() : static_cast<float>(l - log_z); };
  TokenLogprob out{.id = id, .logprob = lp(logits[static_cast<size_t>(id)]), .top = {}};
  if (n_top <= 0) return out;
  std::vector<std::pair<int32_t, float>> all;
  all.reserve(logits.size());
  for (size_t i = 0; i < logits.size(); ++i) all.emplace_back(static_cast<int32_t>(i), logits[i]);
  const size_t k = std::min(all.size(), static_cast<size_t>(n_top));
  std::partial_sort(all.begin(), all.begin() + static_cast<std::ptrdiff_t>(k), all.end(), higher);
  for (size_t i = 0; i < k; ++i) out.top.emplace_back(all[i].first, lp(all[i].second));
  return out;
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
