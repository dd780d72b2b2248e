// The harmony parser on answers as gpt-oss writes them: reasoning then an
// answer, tool calls, text outside the format; streamed in pieces of every
// size it gives what it gives on the whole text.
#include <gtest/gtest.h>

#include <random>
#include <string>

#include "tokenizer/harmony.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/vocab_fixtures.h"

namespace frugal::tokenizer {
namespace {

const std::string kAnswer =
    "<|channel|>analysis<|message|>User asks 2+2. Compare a<b and |x|.<|end|>"
    "<|start|>assistant<|channel|>final<|message|>2 + 2 = 4 <- four<|return|>";

TEST(Harmony, SplitsReasoningFromTheAnswer) {
  const HarmonyAnswer a = parse_harmony(kAnswer);
  EXPECT_EQ(a.analysis, "User asks 2+2. Compare a<b and |x|.");
  EXPECT_EQ(a.final_text, "2 + 2 = 4 <- four");
  EXPECT_TRUE(a.tool_calls.empty());
}

TEST(Harmony, StreamedInPiecesOfAnySizeGivesTheSameChannels) {
  std::mt19937 rng(3);
  for (int trial = 0; trial < 200; ++trial) {
    HarmonyParser p;
    std::string analysis, final_text;
    int ends = 0;
    auto take = [&](const std::vector<HarmonyPiece>& pieces) {
      for (const HarmonyPiece& piece : pieces) {
        (piece.channel == "analysis" ? analysis : final_text) += piece.text;
        ends += piece.end;
      }
    };
    for (size_t i = 0; i < kAnswer.size();) {
      const size_t n = std::min<size_t>(kAnswer.size() - i, 1 + rng() % (trial < 20 ? 1 : 12));
      take(p.feed(std::string_view(kAnswer).substr(i, n)));
      i += n;
    }
    EXPECT_TRUE(p.done());
    take(p.finish());
    EXPECT_EQ(analysis, "User asks 2+2. Compare a<b and |x|.") << trial;
    EXPECT_EQ(final_text, "2 + 2 = 4 <- four") << trial;
    EXPECT_EQ(ends, 2) << trial;
  }
}

TEST(Harmony, ToolCallsNameTheirRecipient) {
  const HarmonyAnswer a = parse_harmony(
      "<|channel|>analysis<|message|>Need the weather.<|end|>"
      "<|start|>assistant<|channel|>commentary to=functions.get_weather <|constrain|>json<|message|>"
      "{\"city\":\"Paris\"}<|call|>");
  EXPECT_EQ(a.analysis, "Need the weather.");
  EXPECT_EQ(a.final_text, "");
  ASSERT_EQ(a.tool_calls.size(), 1u);
  EXPECT_EQ(a.tool_calls[0].recipient, "functions.get_weather");
  EXPECT_EQ(a.tool_calls[0].channel, "commentary");
  EXPECT_EQ(a.tool_calls[0].text, "{\"city\":\"Paris\"}");
}

TEST(Harmony, TextOutsideTheFormatIsTheAnswer) {
  EXPECT_EQ(parse_harmony("Just an answer.").final_text, "Just an answer.");
  EXPECT_EQ(parse_harmony("<").final_text, "<");
  EXPECT_EQ(parse_harmony("<|chan").final_text, "<|chan");
  // A stream cut inside a message keeps what it has; text after the end is dropped.
  EXPECT_EQ(parse_harmony("<|channel|>final<|message|>half an ans").final_text, "half an ans");
  EXPECT_EQ(parse_harmony("<|channel|>final<|message|>done<|return|>trailing").final_text, "done");
  // A header never finished gives nothing.
  EXPECT_EQ(parse_harmony("<|channel|>analysis").analysis, "");
}

// A vocabulary speaks harmony when <|channel|> and <|message|> are its own
// special tokens; spelled out in bytes they are text.
TEST(Harmony, VocabulariesWithTheMarkersSpeakIt) {
  for (bool with_markers : {false, true}) {
    gguf::Metadata md;
    std::vector<testing::VocabEntry> tokens = testing::gpt2_byte_tokens();
    if (with_markers)
      for (const char* m : {"<|channel|>", "<|message|>", "<|return|>"}) tokens.push_back({m, TokenType::CONTROL});
    testing::set_vocab(md, "gpt2", tokens);
    md.erase("tokenizer.ggml.scores");
    md.set("tokenizer.ggml.merges", gguf::Value::make_string_array({}));
    md.set("tokenizer.ggml.pre", gguf::Value::make_string("default"));
    EXPECT_EQ(speaks_harmony(Tokenizer::from_metadata(md)), with_markers);
  }
  EXPECT_EQ(harmony_stops().front(), "<|return|>");
}

}  // namespace
}  // namespace frugal::tokenizer
