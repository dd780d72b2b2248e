// The sampler on hand-built logits: each option changes exactly what it
// should, draws follow the distribution, the same seed gives the same draws;
// stop strings are held back across chunks and never shown.
#include "runtime/sampler.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <random>

#include "base/error.h"

namespace frugal::runtime {
namespace {

SamplingParams plain(float temp = 1.0f) {
  SamplingParams p;
  p.temperature = temp;
  p.top_k = 0;
  p.top_p = 1.0f;
  p.min_p = 0.0f;
  return p;
}

uint64_t fresh_seed() {
  const uint64_t s = std::random_device{}();
  std::printf("sampler test seed %llu\n", static_cast<unsigned long long>(s));
  return s;
}

// The generator is fixed by its published definition (splitmix64 seeding,
// xoshiro256**), so a seed means the same draws on every machine and library.
// These values come from a separate Python derivation of both algorithms.
TEST(Rng, KnownAnswersForXoshiro256StarStarSeededBySplitmix64) {
  Rng zero(0), answer(42);
  for (uint64_t want : {0x99ec5f36cb75f2b4ull, 0xbf6e1f784956452aull, 0x1a5f849d4933e6e0ull, 0x6aa594f1262d2d2cull})
    EXPECT_EQ(zero.next(), want);
  for (uint64_t want : {0x15780b2e0c2ec716ull, 0x6104d9866d113a7eull, 0xae17533239e499a1ull, 0xecb8ad4703b360a1ull})
    EXPECT_EQ(answer.next(), want);
  Rng u(7);
  for (int i = 0; i < 1000; ++i) {
    const double x = u.uniform();
    ASSERT_GE(x, 0.0);
    ASSERT_LT(x, 1.0);
  }
}

TEST(Sampler, GreedyTakesTheArgmaxLowestIdOnTies) {
  const std::vector<float> logits = {0.5f, 3.0f, -1.0f, 3.0f, 2.9f};
  Sampler s(plain(0.0f), 5);
  EXPECT_EQ(s.sample(logits.data(), {}), 1);
}

TEST(Sampler, TopKNeverReturnsATokenOutsideTheK) {
  const std::vector<float> logits = {1.0f, 0.9f, 0.8f, 0.7f, 0.6f, 0.5f};
  SamplingParams p = plain();
  p.top_k = 2;
  p.seed = fresh_seed();
  Sampler s(p, 6);
  std::map<int32_t, int> seen;
  for (int i = 0; i < 10000; ++i) ++seen[s.sample(logits.data(), {})];
  EXPECT_EQ(seen.size(), 2u);
  EXPECT_GT(seen[0], 0);
  EXPECT_GT(seen[1], 0);
}

TEST(Sampler, TopPKeepsTheSmallestSetReachingP) {
  // Probabilities 0.5, 0.25, 0.125, 0.125.
  const std::vector<float> logits = {std::log(0.5f), std::log(0.25f), std::log(0.125f), std::log(0.125f)};
  SamplingParams p = plain();
  p.top_p = 0.7f;
  Sampler s(p, 4);
  auto c = s.candidates(logits);
  ASSERT_EQ(c.size(), 2u);
  EXPECT_EQ(c[0].first, 0);
  EXPECT_EQ(c[1].first, 1);
  EXPECT_NEAR(c[0].second, 2.0 / 3, 1e-6);
  p.top_p = 0.75f;  // reached exactly at two tokens
  EXPECT_EQ(Sampler(p, 4).candidates(logits).size(), 2u);
  p.top_p = 0.76f;
  EXPECT_EQ(Sampler(p, 4).candidates(logits).size(), 3u);
}

TEST(Sampler, TopPOverALargeVocabularyCutsWhereAFullSortWould) {
  // 20000 tokens, logits in a shuffled order: top-p sorts in rounds, and must
  // keep exactly the prefix a full sort gives, for cuts inside every round.
  const int n = 20000;
  std::vector<float> logits(n);
  std::mt19937 shuffle(fresh_seed() & 0xffffffff);
  std::vector<int> perm(n);
  for (int i = 0; i < n; ++i) perm[size_t(i)] = i;
  std::shuffle(perm.begin(), perm.end(), shuffle);
  for (int i = 0; i < n; ++i) logits[size_t(perm[size_t(i)])] = -0.0005f * float(i);  // perm[i] is the i-th best
  double z = 0;
  for (float l : logits) z += std::exp(double(l));
  for (float top_p : {0.001f, 0.01f, 0.1f, 0.5f, 0.9f, 0.999f}) {
    SamplingParams p = plain();
    p.top_p = top_p;
    size_t want = 0;
    double cum = 0;
    while (want < size_t(n)) {
      cum += std::exp(double(logits[size_t(perm[want])])) / z;
      ++want;
      if (cum >= top_p) break;
    }
    const auto c = Sampler(p, n).candidates(logits);
    ASSERT_EQ(c.size(), want) << "top-p " << top_p;
    for (size_t i = 0; i < c.size(); ++i) ASSERT_EQ(c[i].first, perm[i]) << "top-p " << top_p << " rank " << i;
  }
}

TEST(Sampler, MinPDropsTokensBelowTheFractionOfTheBest) {
  const std::vector<float> logits = {std::log(0.5f), std::log(0.3f), std::log(0.15f), std::log(0.05f)};
  SamplingParams p = plain();
  p.min_p = 0.29f;  // floor 0.145: keeps 0.5, 0.3, 0.15
  auto c = Sampler(p, 4).candidates(logits);
  ASSERT_EQ(c.size(), 3u);
  EXPECT_EQ(c[2].first, 2);
  p.min_p = 0.31f;
  EXPECT_EQ(Sampler(p, 4).candidates(logits).size(), 2u);
}

TEST(Sampler, DrawsFollowSoftmaxAtTheTemperature) {
  const std::vector<float> logits = {1.0f, 0.0f, -0.5f, 2.0f};
  for (float temp : {0.5f, 1.0f, 2.0f}) {
    SamplingParams p = plain(temp);
    p.seed = fresh_seed();
    Sampler s(p, 4);
    const int n = 40000;
    std::vector<int> count(4);
    for (int i = 0; i < n; ++i) ++count[static_cast<size_t>(s.sample(logits.data(), {}))];
    double z = 0;
    for (float l : logits) z += std::exp(l / temp);
    for (size_t i = 0; i < 4; ++i) {
      const double want = std::exp(logits[i] / temp) / z;
      const double sd = std::sqrt(want * (1 - want) / n);
      EXPECT_NEAR(count[i] / double(n), want, 5 * sd) << "temp " << temp << " token " << i;
    }
  }
}

TEST(Sampler, DrawsFollowTheFilteredRenormalisedCandidates) {
  // top-k 3 then temperature 0.7: draws follow the candidates' probabilities,
  // which are softmax(logits / 0.7) over the three best only.
  const std::vector<float> logits = {0.3f, 1.2f, -0.4f, 0.9f, 0.1f};
  SamplingParams p = plain(0.7f);
  p.top_k = 3;
  p.seed = fresh_seed();
  Sampler s(p, 5);
  const auto c = s.candidates(logits);
  ASSERT_EQ(c.size(), 3u);
  double z = std::exp(1.2 / 0.7) + std::exp(0.9 / 0.7) + std::exp(0.3 / 0.7);
  EXPECT_NEAR(c[0].second, std::exp(1.2 / 0.7) / z, 1e-6);
  const int n = 30000;
  std::map<int32_t, int> count;
  for (int i = 0; i < n; ++i) ++count[s.sample(logits.data(), {})];
  EXPECT_EQ(count.size(), 3u);
  for (const auto& [id, prob] : c) {
    const double sd = std::sqrt(prob * (1 - prob) / n);
    EXPECT_NEAR(count[id] / double(n), prob, 5 * sd) << "token " << id;
  }
}

TEST(Sampler, SameSeedSameDrawsOtherSeedOtherDraws) {
  std::vector<float> logits(100);
  for (size_t i = 0; i < logits.size(); ++i) logits[i] = std::sin(float(i));
  SamplingParams p = plain();
  p.seed = 42;
  Sampler a(p, 100), b(p, 100);
  p.seed = 43;
  Sampler c(p, 100);
  std::vector<int32_t> da, db, dc;
  for (int i = 0; i < 50; ++i) {
    da.push_back(a.sample(logits.data(), {}));
    db.push_back(b.sample(logits.data(), {}));
    dc.push_back(c.sample(logits.data(), {}));
  }
  EXPECT_EQ(da, db);
  EXPECT_NE(da, dc);
}

TEST(Sampler, PenaltiesChangeExactlyTheSeenTokens) {
  SamplingParams p = plain();
  p.repeat_penalty = 2.0f;
  p.presence_penalty = 0.5f;
  p.frequency_penalty = 0.25f;
  p.repeat_last_n = 3;
  Sampler s(p, 5);
  std::vector<float> logits = {1.0f, -1.0f, 2.0f, 0.5f, 4.0f};
  // Token 4 is outside the window of the last 3; 1 appears twice, 2 once.
  const std::vector<int32_t> history = {4, 1, 2, 1};
  s.apply_penalties(logits, history);
  EXPECT_FLOAT_EQ(logits[0], 1.0f);
  EXPECT_FLOAT_EQ(logits[1], -1.0f * 2 - 0.5f - 2 * 0.25f);
  EXPECT_FLOAT_EQ(logits[2], 2.0f / 2 - 0.5f - 0.25f);
  EXPECT_FLOAT_EQ(logits[3], 0.5f);
  EXPECT_FLOAT_EQ(logits[4], 4.0f);
}

TEST(Sampler, LogitBiasAddsAndMinusInfinityBans) {
  SamplingParams p = plain(0.0f);
  p.logit_bias = {{2, -std::numeric_limits<float>::infinity()}, {0, 1.5f}};
  Sampler s(p, 3);
  const std::vector<float> logits = {0.0f, 1.0f, 5.0f};
  EXPECT_EQ(s.sample(logits.data(), {}), 0);  // 2 banned, 0 lifted to 1.5 > 1
  p.temperature = 1.0f;
  p.seed = fresh_seed();
  Sampler t(p, 3);
  for (int i = 0; i < 2000; ++i) EXPECT_NE(t.sample(logits.data(), {}), 2);
}

TEST(Sampler, BadParametersAreErrors) {
  SamplingParams p = plain();
  p.top_p = 1.5f;
  EXPECT_THROW(Sampler(p, 4), Error);
  p = plain();
  p.min_p = -0.1f;
  EXPECT_THROW(Sampler(p, 4), Error);
  p = plain();
  p.repeat_penalty = 0;
  EXPECT_THROW(Sampler(p, 4), Error);
  p = plain();
  p.logit_bias = {{4, 1.0f}};
  EXPECT_THROW(Sampler(p, 4), Error);
  p = plain(0.0f);
  p.logit_bias = {{0, -INFINITY}, {1, -INFINITY}};
  Sampler s(p, 2);
  const std::vector<float> logits = {1.0f, 2.0f};
  EXPECT_THROW(s.sample(logits.data(), {}), Error);
}

TEST(StopMatcher, HoldsBackPossibleStartsAndCutsAtTheStop) {
  StopMatcher m({"</s>", "STOP"});
  auto r = m.push("Hello <");
  EXPECT_EQ(r.emit, "Hello ");
  EXPECT_FALSE(r.stopped);
  r = m.push("/");
  EXPECT_EQ(r.emit, "");
  r = m.push("x more ST");
  EXPECT_EQ(r.emit, "</x more ");
  r = m.push("OP and after");
  EXPECT_EQ(r.emit, "");
  EXPECT_TRUE(r.stopped);
  EXPECT_TRUE(m.push("anything").stopped);
  EXPECT_EQ(m.flush(), "");
}

TEST(StopMatcher, EarliestStopWinsAndFlushReturnsTheTail) {
  StopMatcher m({"bc", "ab"});
  auto r = m.push("xxabc");
  EXPECT_EQ(r.emit, "xx");
  EXPECT_TRUE(r.stopped);
  StopMatcher n({"end"});
  EXPECT_EQ(n.push("the en").emit, "the ");
  EXPECT_EQ(n.flush(), "en");
}

TEST(StopMatcher, ByteByByteWithAnOverlappingPrefix) {
  // "aab" inside "xaaab": after "aa" the matcher must still find the stop
  // starting one byte later, and show only "xa".
  StopMatcher m({"aab"});
  std::string shown;
  bool stopped = false;
  for (char ch : std::string("xaaab tail")) {
    auto r = m.push(std::string_view(&ch, 1));
    shown += r.emit;
    stopped = stopped || r.stopped;
  }
  EXPECT_TRUE(stopped);
  EXPECT_EQ(shown, "xa");
  EXPECT_EQ(m.flush(), "");
}

TEST(StopMatcher, WorksOnUtf8AndWithoutStops) {
  StopMatcher m({"。"});  // three bytes: E3 80 82
  const std::string stop = "。";
  auto r = m.push("日本" + stop.substr(0, 1));
  EXPECT_EQ(r.emit, "日本");
  r = m.push(stop.substr(1) + "後");
  EXPECT_TRUE(r.stopped);
  EXPECT_EQ(r.emit, "");
  StopMatcher none({});
  EXPECT_EQ(none.push("abc").emit, "abc");
}

}  // namespace
}  // namespace frugal::runtime
