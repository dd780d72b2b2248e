// The tool fields of a chat request reach the chat template: the tools in
// its context (as Hugging Face's apply_chat_template passes them), an
// assistant message's calls and a tool message's result, rendered by a
// Hermes-style template (the shape of Qwen's) that the server reads calls
// back from.
#include <gtest/gtest.h>

#include "model/model.h"
#include "server/openai_request.h"
#include "server/server_fixture.h"
#include "server/tool_calls.h"

namespace frugal::server::testing {
namespace {

constexpr const char* kHermesTemplate = R"({%- if tools %}<|im_start|>system
# Tools
<tools>{% for t in tools %}
{{ t | tojson }}{% endfor %}
</tools>
For each call write <tool_call>{"name": ..., "arguments": ...}</tool_call><|im_end|>
{% endif %}{%- for m in messages %}{%- if m.role == 'tool' %}<|im_start|>user
<tool_response>{{ m.content }}</tool_response><|im_end|>
{% elif m.tool_calls %}<|im_start|>assistant
{% for c in m.tool_calls %}<tool_call>
{"name": "{{ c.function.name }}", "arguments": {{ c.function.arguments }}}
</tool_call>{% endfor %}<|im_end|>
{% else %}<|im_start|>{{ m.role }}
{{ m.content }}<|im_end|>
{% endif %}{%- endfor %}{% if add_generation_prompt %}<|im_start|>assistant
{% endif %})";

TEST(ToolRequest, ToolsCallsAndResultsReachTheTemplate) {
  const auto model = model::Model::load(default_model_path());
  gguf::Metadata md = model->file().metadata();
  md.set("tokenizer.chat_template", gguf::Value::make_string(kHermesTemplate));
  const tokenizer::Tokenizer tok = tokenizer::Tokenizer::from_metadata(md);
  const json body = {
      {"messages", json::array({json{{"role", "user"}, {"content", "Weather in Paris?"}},
                                json{{"role", "assistant"}, {"content", nullptr},
                                     {"tool_calls", {{{"id", "call_1"}, {"type", "function"},
                                                      {"function", {{"name", "get_weather"}, {"arguments", "{\"city\":\"Paris\"}"}}}}}}},
                                json{{"role", "tool"}, {"tool_call_id", "call_1"}, {"content", "18 C, sunny"}}})},
      {"tools", {{{"type", "function"},
                  {"function", {{"name", "get_weather"}, {"parameters", {{"type", "object"}}}}}}}}};
  const CompletionRequest r = parse_chat_request(body.dump(), tok, md, runtime::GenerateParams{});
  EXPECT_EQ(r.tool_choice, "auto");
  EXPECT_EQ(r.params.grammar, nullptr);
  const std::string prompt = tok.decode(r.prompt);
  EXPECT_NE(prompt.find("<tools>{\"type\": \"function\", \"function\": {\"name\": \"get_weather\""), std::string::npos) << prompt;
  EXPECT_NE(prompt.find("<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\":\"Paris\"}}\n</tool_call>"),
            std::string::npos) << prompt;
  EXPECT_NE(prompt.find("<tool_response>18 C, sunny</tool_response>"), std::string::npos) << prompt;
  EXPECT_TRUE(prompt.ends_with("<|im_start|>assistant\n")) << prompt;
  // The answer is read in the format the template teaches.
  EXPECT_STREQ(tool_call_format_for_template(kHermesTemplate)->family, "hermes");

  // tool_choice "none": the tools still go to the template (as OpenAI's
  // models still see them), and no call is read back.
  json none = body;
  none["tool_choice"] = "none";
  const CompletionRequest n = parse_chat_request(none.dump(), tok, md, runtime::GenerateParams{});
  EXPECT_EQ(n.tool_choice, "none");
  EXPECT_NE(tok.decode(n.prompt).find("<tools>"), std::string::npos);
  // A named function is forced by a grammar.
  json named = body;
  named["tool_choice"] = {{"type", "function"}, {"function", {{"name", "get_weather"}}}};
  const CompletionRequest f = parse_chat_request(named.dump(), tok, md, runtime::GenerateParams{});
  EXPECT_EQ(f.tool_choice, "get_weather");
  EXPECT_NE(f.params.grammar, nullptr);
}

}  // namespace
}  // namespace frugal::server::testing
