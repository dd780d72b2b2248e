// GET /metrics after real requests: time to first token counts one per
// completion that sampled a token, inter-token latency one per later token,
// whether streamed or not; the prompt-token counter grows by the prompts
// read; and time to first token includes the wait for a slot.
#include <gtest/gtest.h>

#include <chrono>
#include <future>

#include "server/server_fixture.h"

namespace frugal::server {
namespace {

using testing::json;
using testing::ServerFixture;

// One series' value ("frugal_x_count", "frugal_x_bucket{le=\"+Inf\"}") from /metrics.
double series(const ServerFixture& f, const std::string& key) {
  auto res = f.client().Get("/metrics");
  if (!res) return -1;
  const std::string text = "\n" + res->body;
  const size_t at = text.find("\n" + key + " ");
  return at == std::string::npos ? -1 : std::stod(text.substr(at + key.size() + 2));
}

const std::string kTtft = "frugal_time_to_first_token_seconds";
const std::string kItl = "frugal_inter_token_latency_seconds";

TEST(LatencyMetrics, CountsGrowByRequestsAndTokens) {
  ServerFixture f(2);
  EXPECT_EQ(series(f, kTtft + "_count"), 0);
  EXPECT_EQ(series(f, kItl + "_count"), 0);
  const std::vector<std::string> prompts = {"The meaning of life is", "Never trust", "A man who", "Love is"};
  const int k = 6;
  int prompt_tokens = 0;
  for (size_t i = 0; i < prompts.size(); ++i) {
    const json req = {{"prompt", prompts[i]}, {"max_tokens", k}, {"temperature", 0}, {"ignore_eos", true}};
    if (i % 2 == 0) {
      auto [status, body] = f.post("/v1/completions", req);
      ASSERT_EQ(status, 200) << body.dump();
      EXPECT_EQ(body["usage"]["completion_tokens"], k);
      prompt_tokens += body["usage"]["prompt_tokens"].get<int>();
    } else {
      json streamed = req;
      streamed["stream"] = true;
      streamed["stream_options"] = {{"include_usage", true}};
      const std::vector<std::string> events = f.stream("/v1/completions", streamed);
      ASSERT_GE(events.size(), 2u);
      const json usage = json::parse(events[events.size() - 2])["usage"];
      EXPECT_EQ(usage["completion_tokens"], k);
      prompt_tokens += usage["prompt_tokens"].get<int>();
    }
  }
  const double n = static_cast<double>(prompts.size());
  EXPECT_EQ(series(f, kTtft + "_count"), n);
  EXPECT_EQ(series(f, kTtft + "_bucket{le=\"+Inf\"}"), n);
  EXPECT_EQ(series(f, kItl + "_count"), n * (k - 1));
  EXPECT_EQ(series(f, kItl + "_bucket{le=\"+Inf\"}"), n * (k - 1));
  EXPECT_GT(series(f, kTtft + "_sum"), 0);
  EXPECT_GT(series(f, kItl + "_sum"), 0);
  EXPECT_EQ(series(f, "frugal_prompt_tokens_total"), prompt_tokens);
  EXPECT_EQ(series(f, "frugal_generated_tokens_total"), n * k);

  // max_tokens 0 samples nothing: no first token to time.
  auto [status, body] = f.post("/v1/completions", json{{"prompt", "x"}, {"max_tokens", 0}});
  EXPECT_EQ(status, 200) << body.dump();
  EXPECT_EQ(series(f, kTtft + "_count"), n);
  // A refused request is not timed either.
  EXPECT_EQ(f.post("/v1/completions", json{{"prompt", "x"}, {"top_p", 2}}).first, 400);
  EXPECT_EQ(series(f, kTtft + "_count"), n);
}

TEST(LatencyMetrics, TimeToFirstTokenIncludesTheWaitForASlot) {
  // One slot: the second request waits for the whole of the first.
  ServerFixture f(1);
  using Clock = std::chrono::steady_clock;
  auto long_one = std::async(std::launch::async, [&] {
    return f.post("/v1/completions",
                  json{{"prompt", "The meaning of life is"}, {"max_tokens", 100}, {"temperature", 0}, {"ignore_eos", true}});
  });
  for (int i = 0; i < 500 && f.metric("requests_running") != 1; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(2));
  const auto sent = Clock::now();
  auto [status, body] = f.post("/v1/completions", json{{"prompt", "Love is"}, {"max_tokens", 1}});
  EXPECT_EQ(status, 200) << body.dump();
  EXPECT_EQ(long_one.get().first, 200);
  const double waited = std::chrono::duration<double>(Clock::now() - sent).count();
  // Both first tokens together took at least the second's wait behind the
  // first (the second's answer came right after its first token), and at
  // most everything since the first was sent.
  const double ttft_sum = series(f, kTtft + "_sum");
  EXPECT_EQ(series(f, kTtft + "_count"), 2);
  EXPECT_EQ(series(f, kItl + "_count"), 99);
  EXPECT_GT(ttft_sum, 0.5 * waited) << "waited " << waited;
  EXPECT_LT(ttft_sum, 2 * waited + 1) << "waited " << waited;
}

}  // namespace
}  // namespace frugal::server
