// Fine-tuning data: conversations rendered through the model's chat template
// with the loss on the assistant turns only, plain text, and bad lines
// refused with their line number.
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

}  // namespace
}  // namespace frugal::finetune
