// apply_chat_template / render_chat_template: the template from the GGUF
// metadata with bos/eos text filled in from the vocabulary, tool calls passed
// through as JSON, extra variables, and the plain fallback without a template.
#include "tokenizer/chat_template.h"

#include <gtest/gtest.h>

#include "base/error.h"
#include "tokenizer/tokenizer.h"

namespace frugal::tokenizer {
namespace {

using json = nlohmann::ordered_json;

gguf::Metadata vocab_with(const std::string& tmpl) {
  gguf::Metadata md;
  md.set("tokenizer.ggml.tokens", gguf::Value::make_string_array({"<s>", "</s>", "x"}));
  md.set("tokenizer.ggml.bos_token_id", gguf::Value::make_u32(0));
  md.set("tokenizer.ggml.eos_token_id", gguf::Value::make_u32(1));
  if (!tmpl.empty()) md.set("tokenizer.chat_template", gguf::Value::make_string(tmpl));
  return md;
}

TEST(ChatTemplate, BosAndEosComeFromTheVocabulary) {
  gguf::Metadata md = vocab_with("{{ bos_token }}{% for m in messages %}[{{ m.role }}:{{ m.content }}]{% endfor %}{{ eos_token }}");
  EXPECT_EQ(apply_chat_template(md, {{"user", "hi", ""}}, false), "<s>[user:hi]</s>");
  // Values given in the context win over the vocabulary's.
  EXPECT_EQ(render_chat_template(md, {{"messages", json::array()}, {"bos_token", "B"}}), "B</s>");
}

TEST(ChatTemplate, ToolCallsAndExtraVariables) {
  gguf::Metadata md = vocab_with(
      "{% for m in messages %}{% if m.tool_calls %}{{ m.tool_calls[0].function.name }}({{ m.tool_calls[0].function.arguments }})"
      "|{{ m.content is none }}{% else %}{{ m.content }}{% endif %};{% endfor %}{% if enable_thinking is false %}no-think{% endif %}");
  std::vector<ChatMessage> msgs = {
      {"user", "weather?", ""},
      {"assistant", "", R"([{"type": "function", "function": {"name": "get_weather", "arguments": "{\"city\": \"Oslo\"}"}}])"},
  };
  EXPECT_EQ(apply_chat_template(md, msgs, false), "weather?;get_weather({\"city\": \"Oslo\"})|true;");
  json ctx = {{"messages", json::array({{{"role", "user"}, {"content", "a"}}})}, {"enable_thinking", false}};
  EXPECT_EQ(render_chat_template(md, ctx), "a;no-think");
  msgs[1].tool_calls_json = "[{not json";
  EXPECT_THROW(apply_chat_template(md, msgs, false), Error);
}

TEST(ChatTemplate, PlainFallbackWithoutATemplate) {
  gguf::Metadata md = vocab_with("");
  std::vector<ChatMessage> msgs = {{"system", "Be brief.", ""}, {"user", "Hi", ""}};
  EXPECT_EQ(apply_chat_template(md, msgs, true), "system: Be brief.\nuser: Hi\nassistant: ");
  EXPECT_EQ(apply_chat_template(md, msgs, false), "system: Be brief.\nuser: Hi\n");
}

TEST(ChatTemplate, ABrokenTemplateIsAnErrorNotAnEmptyPrompt) {
  gguf::Metadata md = vocab_with("{% for m in messages %}{{ m.content }}");  // no endfor
  EXPECT_THROW(apply_chat_template(md, {{"user", "hi", ""}}, true), Error);
  gguf::Metadata raising = vocab_with("{{ raise_exception('Conversation roles must alternate') }}");
  try {
    apply_chat_template(raising, {{"user", "hi", ""}}, true);
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("Conversation roles must alternate"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace frugal::tokenizer
