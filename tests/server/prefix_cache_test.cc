// Prefix caching in the server: greedy answers after a reused prefix are the
// answers of a server without the cache, for a shared prefix that ends
// mid-block, under eviction in a pool too small for the prompts, and for
// concurrent requests pinning the same blocks; usage's
// prompt_tokens_details.cached_tokens in whole and streamed answers of both
// endpoints; the /metrics gauges.
#include <gtest/gtest.h>

#include <thread>

#include "runtime/prefix_cache.h"
#include "server/scheduler.h"
#include "server/server_fixture.h"

namespace frugal::server {
namespace {

using testing::json;
using testing::ServerFixture;

// A scheduler over the default model, with a prefix cache of `blocks` blocks (0: off).
struct Served {
  std::unique_ptr<model::Model> model = model::Model::load(testing::default_model_path());
  tokenizer::Tokenizer tok = tokenizer::Tokenizer::from_metadata(model->file().metadata());
  std::unique_ptr<runtime::Engine> engine;
  Metrics metrics;
  std::unique_ptr<Scheduler> scheduler;
  Served(int parallel, int blocks) {
    runtime::EngineOptions eo;
    eo.n_seq_max = parallel;
    eo.prefix_blocks = blocks;
    engine = std::make_unique<runtime::Engine>(*model, eo);
    scheduler = std::make_unique<Scheduler>(*engine, tok, SchedulerOptions{512, 64}, metrics);
  }
  std::vector<int32_t> encode(const std::string& s) const { return tok.encode(s, tok.add_bos_default(), true); }
};

struct Answer {
  std::string text;
  int reused = 0;
};

Answer finish(Job& job) {
  Answer a;
  for (Job::Chunk c; !c.done;) {
    c = job.take(std::chrono::milliseconds(200));
    a.text += c.text;
  }
  EXPECT_EQ(job.error(), "");
  a.reused = job.stats().n_reused;
  return a;
}

Answer ask(Served& s, const std::string& prompt, int n = 12) {
  runtime::GenerateParams p;
  p.n_predict = n;
  p.sampling.temperature = 0;
  return finish(*s.scheduler->submit(s.encode(prompt), p));
}

const std::string kStory =
    "Once upon a time there was a little girl who lived in a village near the forest. Whenever she went "
    "out, the little girl wore a red riding cloak, so everyone in the village called her";

TEST(PrefixCacheServe, AReusedPrefixEndingMidBlockGivesTheColdAnswer) {
  Served cold(1, 0), warm(1, 64);
  const std::vector<std::string> prompts = {kStory, kStory + " Little Red", kStory.substr(0, 120) + " and then",
                                            kStory};
  for (const std::string& p : prompts) {
    SCOPED_TRACE(p);
    const Answer want = ask(cold, p), got = ask(warm, p);
    EXPECT_EQ(got.text, want.text);
    EXPECT_EQ(want.reused, 0);
    EXPECT_EQ(got.reused % 16, 0);
    EXPECT_LT(got.reused, static_cast<int>(warm.encode(p).size()));
  }
  // The first prompt computed everything; each later one found whole blocks
  // of it, the shared part that ends mid-block included.
  EXPECT_EQ(ask(warm, kStory + " Little Red").reused, static_cast<int>(warm.encode(kStory).size()) / 16 * 16);
  const int shared = static_cast<int>(warm.encode(kStory.substr(0, 120)).size());
  EXPECT_GE(shared % 16, 1) << "the shared part should end mid-block";
  EXPECT_GE(ask(warm, kStory.substr(0, 120) + " and then").reused, (shared - 1) / 16 * 16);
  EXPECT_GT(warm.metrics.prompt_tokens_cached_total.load(), 0u);
  EXPECT_EQ(cold.metrics.prompt_tokens_cached_total.load(), 0u);
  EXPECT_EQ(cold.metrics.kv_blocks_total.load(), 0);
  EXPECT_EQ(warm.metrics.kv_blocks_total.load(), 64);
}

TEST(PrefixCacheServe, EvictionInATinyPoolKeepsAnswersRight) {
  // Four blocks: less than one prompt with its answer. Every block is taken
  // and given back many times over.
  Served cold(1, 0), warm(1, 4);
  const std::vector<std::string> stems = {kStory.substr(0, 90), kStory.substr(0, 60) + " but", "A different tale, of",
                                          kStory.substr(0, 150)};
  int reused = 0;
  for (int round = 0; round < 3; ++round)
    for (const std::string& p : stems) {
      SCOPED_TRACE(p);
      const Answer got = ask(warm, p, 10);
      EXPECT_EQ(got.text, ask(cold, p, 10).text);
      reused += got.reused;
      EXPECT_LE(warm.engine->prefix_cache()->n_used(), 4);
    }
  EXPECT_GT(reused, 0);
  EXPECT_EQ(warm.engine->prefix_cache()->n_pinned(), 0);
  EXPECT_EQ(warm.metrics.kv_blocks_used.load(), warm.engine->prefix_cache()->n_used());
}

TEST(PrefixCacheServe, ConcurrentRequestsShareBlocksAndGetTheirOwnAnswers) {
  Served cold(4, 0), warm(4, 128);
  const std::vector<std::string> tails = {" Little", " the", " a name", " Red Riding Hood.", " nothing", " Mary",
                                          " her", " \"Red\""};
  ask(warm, kStory, 4);  // caches the shared part
  runtime::GenerateParams p;
  p.n_predict = 16;
  p.sampling.temperature = 0;
  std::vector<std::shared_ptr<Job>> jobs;
  for (const std::string& t : tails) jobs.push_back(warm.scheduler->submit(warm.encode(kStory + t), p));
  const int shared = static_cast<int>(warm.encode(kStory).size()) / 16 * 16;
  for (size_t i = 0; i < tails.size(); ++i) {
    SCOPED_TRACE(tails[i]);
    const Answer got = finish(*jobs[i]);
    EXPECT_EQ(got.text, ask(cold, kStory + tails[i], 16).text);
    EXPECT_GE(got.reused, shared);
  }
  // All blocks are given back: nothing is pinned once the requests end.
  const runtime::PrefixCache* pc = warm.engine->prefix_cache();
  EXPECT_GT(pc->n_used(), 0);
  EXPECT_EQ(pc->n_pinned(), 0);
}

TEST(PrefixCacheServe, UsageReportsCachedTokensWholeAndStreamed) {
  ServerFixture f(2, 64, 8u << 20, testing::default_model_path(), nullptr, 64);
  const json req = {{"prompt", kStory}, {"max_tokens", 8}, {"temperature", 0}};
  const size_t n_prompt = f.tok->encode(kStory, f.tok->add_bos_default(), true).size();
  auto [s1, first] = f.post("/v1/completions", req);
  ASSERT_EQ(s1, 200) << first.dump();
  EXPECT_EQ(first["usage"]["prompt_tokens_details"]["cached_tokens"], 0);
  auto [s2, again] = f.post("/v1/completions", req);
  ASSERT_EQ(s2, 200) << again.dump();
  EXPECT_EQ(again["usage"]["prompt_tokens_details"]["cached_tokens"], (n_prompt - 1) / 16 * 16);
  EXPECT_EQ(again["choices"][0]["text"], first["choices"][0]["text"]);

  json sreq = req;
  sreq["stream"] = true;
  sreq["stream_options"] = {{"include_usage", true}};
  const std::vector<std::string> events = f.stream("/v1/completions", sreq);
  ASSERT_GE(events.size(), 2u);
  EXPECT_EQ(json::parse(events[events.size() - 2])["usage"], again["usage"]);

  // Chat: a second turn's prompt starts with the first turn's.
  const json msgs = json::array({{{"role", "system"}, {"content", kStory}}, {{"role", "user"}, {"content", "Who?"}}});
  const json creq = {{"messages", msgs}, {"max_tokens", 8}, {"temperature", 0}};
  auto [s3, chat] = f.post("/v1/chat/completions", creq);
  ASSERT_EQ(s3, 200) << chat.dump();
  json sc = creq;
  sc["stream"] = true;
  sc["stream_options"] = {{"include_usage", true}};
  const std::vector<std::string> cev = f.stream("/v1/chat/completions", sc);
  ASSERT_GE(cev.size(), 2u);
  const json usage = json::parse(cev[cev.size() - 2])["usage"];
  EXPECT_GT(usage["prompt_tokens_details"]["cached_tokens"].get<int>(), 0);
  EXPECT_EQ(usage["prompt_tokens"], chat["usage"]["prompt_tokens"]);

  EXPECT_EQ(f.metric("kv_blocks_total"), 64u);
  EXPECT_GT(f.metric("kv_blocks_used"), 0u);
  EXPECT_GT(f.metric("prompt_tokens_cached_total"), 0u);
  EXPECT_EQ(f.metric("prompt_tokens_requested_total"),
            f.metric("prompt_tokens_total") + f.metric("prompt_tokens_cached_total"));
}

}  // namespace
}  // namespace frugal::server
