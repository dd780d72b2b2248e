// Chat bodies of a harmony model's answers (gpt-oss): the analysis channel as
// "reasoning_content" beside "content", whole and in streamed deltas, and
// no such field for other models.
#include <gtest/gtest.h>

#include "server/openai_response.h"

namespace frugal::server {
namespace {

const ResponseHeader kChat{true, "chatcmpl-x", 1, "m"};

TEST(ReasoningBody, WholeAnswerCarriesReasoningBesideContent) {
  runtime::GenerateStats s;
  const json j = completion_body(kChat, {{"4", "stop", nullptr, "2+2 is 4."}}, s);
  const json& m = j["choices"][0]["message"];
  EXPECT_EQ(m["content"], "4");
  EXPECT_EQ(m["reasoning_content"], "2+2 is 4.");
  const json plain = completion_body(kChat, {{"4", "stop", nullptr, ""}}, s);
  EXPECT_FALSE(plain["choices"][0]["message"].contains("reasoning_content"));
}

TEST(ReasoningBody, DeltasCarryWhicheverChannelMoved) {
  const json r = chunk_body(kChat, 0, {"", nullptr, nullptr, "thinking"});
  EXPECT_EQ(r["choices"][0]["delta"], json({{"reasoning_content", "thinking"}}));
  const json c = chunk_body(kChat, 0, {"answer", nullptr, nullptr, ""});
  EXPECT_EQ(c["choices"][0]["delta"], json({{"content", "answer"}}));
  const json both = chunk_body(kChat, 0, {"a", nullptr, nullptr, "t"});
  EXPECT_EQ(both["choices"][0]["delta"], json({{"reasoning_content", "t"}, {"content", "a"}}));
  const json last = chunk_body(kChat, 0, {"", "stop", nullptr, ""});
  EXPECT_EQ(last["choices"][0]["delta"], json::object());
  EXPECT_EQ(last["choices"][0]["finish_reason"], "stop");
}

}  // namespace
}  // namespace frugal::server
