// tool_choice "auto" end to end: the default model given a Llama-style chat
// template (calls as {"name": ..., "parameters": {...}}), its answer held to
// that shape by response_format, is read back as a call by the template's
// format, whole and streamed; an answer of plain text stays content.
#include <gtest/gtest.h>

#include "server/server_fixture.h"
#include "server/templated_model.h"

namespace frugal::server::testing {
namespace {

// Short: the default model's context is 128 tokens. "ipython" is what
// names the Llama family's format.
constexpr const char* kLlamaTemplate =
    "{%- if tools %}ipython:{% for t in tools %} {{ t.function.name }}{% endfor %}\n{% endif %}"
    "{%- for m in messages %}{{ m.role }}: {{ m.content }}\n{% endfor %}"
    "{%- if add_generation_prompt %}assistant: {% endif %}";

const json kTools = json::array({{{"type", "function"},
                                  {"function", {{"name", "get_weather"}, {"parameters", {{"type", "object"}}}}}}});

json request(int seed, bool stream, bool held_to_a_call) {
  json r = {{"messages", json::array({json{{"role", "user"}, {"content", "Weather in Paris?"}}})},
            {"tools", kTools}, {"max_tokens", 90}, {"temperature", 1}, {"seed", seed}, {"stream", stream}};
  if (held_to_a_call) {
    const json call = {{"type", "object"},
                       {"properties", {{"name", {{"const", "get_weather"}}},
                                       {"parameters", {{"type", "object"},
                                                       {"properties", {{"city", {{"enum", {"Paris", "Rome"}}}}}},
                                                       {"required", {"city"}}}}}},
                       {"required", {"name", "parameters"}},
                       {"additionalProperties", false}};
    r["response_format"] = {{"type", "json_schema"}, {"json_schema", {{"name", "call"}, {"schema", call}}}};
  }
  return r;
}

TEST(ToolCallsAuto, CallsInTheTemplatesFormatAreReadBack) {
  const TemplatedModel m(kLlamaTemplate);
  ServerFixture f(2, 64, 8u << 20, m.path);
  for (int seed = 0; seed < 3; ++seed) {
    auto [status, body] = f.post("/v1/chat/completions", request(seed, false, true));
    ASSERT_EQ(status, 200) << body.dump();
    const json& c = body["choices"][0];
    EXPECT_EQ(c["finish_reason"], "tool_calls") << c.dump();
    ASSERT_EQ(c["message"]["tool_calls"].size(), 1u) << c.dump();
    const json& call = c["message"]["tool_calls"][0];
    EXPECT_EQ(call["function"]["name"], "get_weather");
    const json args = json::parse(call["function"]["arguments"].get<std::string>());
    EXPECT_TRUE(args["city"] == "Paris" || args["city"] == "Rome") << args.dump();

    std::string name, arguments, content, finish;
    for (const std::string& ev : f.stream("/v1/chat/completions", request(seed, true, true))) {
      if (ev == "[DONE]") break;
      const json d = json::parse(ev)["choices"][0];
      if (!d["finish_reason"].is_null()) finish = d["finish_reason"];
      if (d["delta"].contains("content")) content += d["delta"]["content"].get<std::string>();
      for (const json& t : d["delta"].value("tool_calls", json::array())) {
        if (t.contains("id")) name = t["function"]["name"];
        arguments += t["function"]["arguments"].get<std::string>();
      }
    }
    EXPECT_EQ(finish, "tool_calls");
    EXPECT_EQ(content, "");
    EXPECT_EQ(name, "get_weather");
    EXPECT_EQ(arguments, call["function"]["arguments"]);  // the same seed, the same call
  }
  // Free text: no call, the text as content, streamed as whole.
  auto [status, body] = f.post("/v1/chat/completions", request(1, false, false));
  ASSERT_EQ(status, 200) << body.dump();
  std::string streamed;
  for (const std::string& ev : f.stream("/v1/chat/completions", request(1, true, false))) {
    if (ev == "[DONE]") break;
    const json d = json::parse(ev)["choices"][0]["delta"];
    if (d.contains("content")) streamed += d["content"].get<std::string>();
  }
  const json& msg = body["choices"][0]["message"];
  if (!msg.contains("tool_calls")) {
    EXPECT_EQ(streamed, msg["content"].get<std::string>());
  }
}

}  // namespace
}  // namespace frugal::server::testing
