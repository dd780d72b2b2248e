// Fine-tuning data: conversations rendered through the model's chat template
// with the loss on the assistant turns only, plain text, bad lines refused
// with their line number, and a data-parallel rank's share of the lines.
#include <gtest/gtest.h>

#include "base/error.h"
#include "finetune/sft_data.h"
#include "model/synth.h"

namespace frugal::finetune {
namespace {

// A byte-level vocabulary and a ChatML-style template.
gguf::Metadata chat_metadata() {
  gguf::Metadata md;
  model::add_byte_tokenizer(300, md);
  md.set("tokenizer.chat_template",
         gguf::Value::make_string("{% for m in messages %}<{{ m.role }}>{{ m.content }}</s>\n{% endfor %}"
                                  "{% if add_generation_prompt %}<assistant>{% endif %}"));
  return md;
}

std::string text_of(const tokenizer::Tokenizer& tok, const SftExample& ex, bool targets) {
  std::vector<int32_t> ids;
  for (size_t i = 0; i < ex.tokens.size(); ++i)
    if (ex.target[i] == (targets ? 1 : 0)) ids.push_back(ex.tokens[i]);
  return tok.decode(ids);
}

TEST(SftData, LossOnAssistantTurnsOnly) {
  const gguf::Metadata md = chat_metadata();
  const auto tok = tokenizer::Tokenizer::from_metadata(md);
  const std::string data =
      R"({"messages": [{"role": "user", "content": "2+2?"}, {"role": "assistant", "content": "4"},)"
      R"( {"role": "user", "content": "3+3?"}, {"role": "assistant", "content": "6"}]})"
      "\n\n"
      R"({"text": "hello"})"
      "\n";
  const auto ex = parse_sft_jsonl(data, "d.jsonl", tok, md);
  ASSERT_EQ(ex.size(), 2u);
  EXPECT_EQ(ex[0].line, 1);
  EXPECT_EQ(text_of(tok, ex[0], true), "4</s>\n6</s>\n");
  EXPECT_EQ(ex[1].line, 3);
  EXPECT_EQ(tok.decode(ex[1].tokens), "<|bos|>hello");
  EXPECT_EQ(text_of(tok, ex[1], true), "hello");
}

TEST(SftData, BadLinesNameTheirLine) {
  const gguf::Metadata md = chat_metadata();
  const auto tok = tokenizer::Tokenizer::from_metadata(md);
  auto expect_error = [&](const std::string& data, const std::string& want) {
    try {
      parse_sft_jsonl(data, "d.jsonl", tok, md);
      ADD_FAILURE() << "no error for " << data;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(want), std::string::npos) << e.what();
    }
  };
  expect_error("{\"text\": \"ok\"}\n{\"text\": \"broken\"\n", "d.jsonl:2: not valid JSON");
  expect_error("{\"text\": 3}\n", "d.jsonl:1: \"text\" must be a string");
  expect_error("{\"prompt\": \"x\"}\n", "d.jsonl:1: each line must be an object with either");
  expect_error("{\"messages\": [{\"role\": \"user\", \"content\": \"hi\"}]}\n", "d.jsonl:1: the conversation has no "
               "assistant message");
  expect_error("{\"messages\": [{\"role\": \"user\"}]}\n", "d.jsonl:1: message 1 must be an object");
  expect_error("\n\n", "d.jsonl: no examples");
}

// A data-parallel rank's share: it reads example j (blank lines not
// counted) when j mod n is its own; of the others it keeps the line and the
// hash, the same as a whole read's, and their mistakes are their readers'.
TEST(SftData, ASharePerRankReadsItsOwnLines) {
  const gguf::Metadata md = chat_metadata();
  const auto tok = tokenizer::Tokenizer::from_metadata(md);
  const std::string data = "{\"text\": \"zero\"}\n\n{\"text\": \"one\"}\n{\"text\": \"two\"}\n{\"text\": 4}\n";
  const std::string good = data.substr(0, data.rfind("{\"text\": 4}"));
  const auto whole = parse_sft_jsonl(good, "d.jsonl", tok, md);
  ASSERT_EQ(whole.size(), 3u);
  for (int share = 0; share < 2; ++share) {
    const auto part = parse_sft_jsonl(good, "d.jsonl", tok, md, share, 2);
    ASSERT_EQ(part.size(), whole.size());
    for (size_t j = 0; j < part.size(); ++j) {
      EXPECT_EQ(is_read(part[j]), static_cast<int>(j % 2) == share) << "example " << j << ", share " << share;
      EXPECT_EQ(part[j].line, whole[j].line);
      EXPECT_EQ(part[j].text_hash, whole[j].text_hash);
      if (is_read(part[j])) {
        EXPECT_EQ(part[j].tokens, whole[j].tokens);
      }
    }
  }
  EXPECT_NE(whole[0].text_hash, whole[1].text_hash);
  // Line 5, example 3: share 1's to read and report, not share 0's.
  EXPECT_EQ(parse_sft_jsonl(data, "d.jsonl", tok, md, 0, 2).size(), 4u);
  try {
    parse_sft_jsonl(data, "d.jsonl", tok, md, 1, 2);
    ADD_FAILURE() << "share 1 read line 5 without an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("d.jsonl:5: \"text\" must be a string"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace frugal::finetune
