// The scheduler without HTTP: a full queue refuses new work, stop() ends
// queued and running completions with an error, bad prompts are refused
// before they are queued.
#include "server/scheduler.h"

#include <gtest/gtest.h>

#include "base/error.h"
#include "server/server_fixture.h"

namespace frugal::server {
namespace {

struct Loaded {
  std::unique_ptr<model::Model> model = model::Model::load(testing::default_model_path());
  tokenizer::Tokenizer tok = tokenizer::Tokenizer::from_metadata(model->file().metadata());
  std::unique_ptr<runtime::Engine> engine;
  Metrics metrics;
  explicit Loaded(int parallel) {
    runtime::EngineOptions eo;
    eo.n_seq_max = parallel;
    engine = std::make_unique<runtime::Engine>(*model, eo);
  }
};

runtime::GenerateParams long_run() {
  runtime::GenerateParams p;
  p.n_predict = -1;  // until the context is full
  p.stop_at_end_of_generation = false;
  p.sampling.temperature = 0;
  return p;
}

std::string drain(Job& job) {
  std::string text;
  for (Job::Chunk c; !c.done;) {
    c = job.take(std::chrono::milliseconds(200));
    text += c.text;
  }
  return text;
}

TEST(Scheduler, AFullQueueRefusesNewRequests) {
  Loaded s(1);
  Scheduler sch(*s.engine, s.tok, {16, 1}, s.metrics);
  const std::vector<int32_t> prompt = s.tok.encode("Hello", true, true);
  auto first = sch.submit(prompt, long_run());  // the queue was empty: accepted
  int refused = 0;
  std::vector<std::shared_ptr<Job>> accepted;
  for (int i = 0; i < 2; ++i) {
    try {
      accepted.push_back(sch.submit(prompt, long_run()));
    } catch (const QueueFull&) {
      ++refused;
    }
  }
  // One slot and room for one waiting: of the two later requests at least one is refused.
  EXPECT_GE(refused, 1);
  sch.stop();
  drain(*first);  // ended by the stop or by a full context, whichever came first
  for (auto& j : accepted) {
    drain(*j);
    EXPECT_EQ(j->error(), "the server is shutting down");
  }
}

TEST(Scheduler, StopEndsRunningCompletionsWithAnError) {
  Loaded s(2);
  Scheduler sch(*s.engine, s.tok, {16, 8}, s.metrics);
  auto job = sch.submit(s.tok.encode("Once", true, true), long_run());
  while (job->take(std::chrono::milliseconds(200)).text.empty()) {
  }
  sch.stop();
  drain(*job);
  EXPECT_EQ(job->error(), "the server is shutting down");
  EXPECT_THROW(sch.submit(s.tok.encode("Again", true, true), long_run()), Error);
}

TEST(Scheduler, BadPromptsAndSettingsAreRefusedBeforeQueueing) {
  Loaded s(2);
  EXPECT_THROW(Scheduler(*s.engine, s.tok, {1, 8}, s.metrics), Error);  // a batch smaller than the slots
  Scheduler sch(*s.engine, s.tok, {16, 8}, s.metrics);
  EXPECT_THROW(sch.submit(std::vector<int32_t>{}, long_run()), Error);
  EXPECT_THROW(sch.submit(std::vector<int32_t>{s.engine->n_vocab()}, long_run()), Error);
  EXPECT_THROW(sch.submit(std::vector<int32_t>(static_cast<size_t>(s.engine->n_ctx()), 1), long_run()), Error);
  runtime::GenerateParams bad = long_run();
  bad.sampling.top_p = 2;
  EXPECT_THROW(sch.submit(std::vector<int32_t>{1, 2}, bad), Error);
  EXPECT_EQ(s.metrics.requests_total, 0u);
}

TEST(Scheduler, ACompletionRunsToAFullContext) {
  Loaded s(1);
  Scheduler sch(*s.engine, s.tok, {8, 8}, s.metrics);  // prompts longer than a batch go in chunks
  const std::vector<int32_t> prompt = s.tok.encode("A long time ago in a galaxy far, far away", true, true);
  ASSERT_GT(prompt.size(), 8u);
  auto job = sch.submit(prompt, long_run());
  drain(*job);
  EXPECT_TRUE(job->error().empty());
  EXPECT_EQ(job->stats().stop, runtime::StopReason::kContextFull);
  EXPECT_EQ(job->stats().n_prompt + job->stats().n_generated, s.engine->n_ctx() + 1);
}

}  // namespace
}  // namespace frugal::server
