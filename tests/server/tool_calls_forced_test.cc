// tool_choice forcing a call, for every family of the format table: the
// prompt ends with the family's own opening of a call (and the function's
// name when there is one to call), the model writes the arguments (and picks
// the name among several tools), and the answer is read back as that call,
// whole and streamed alike: the streamed head and argument fragments put
// together equal the whole answer's call for the same seed.
#include <gtest/gtest.h>

#include "model/model.h"
#include "server/openai_request.h"
#include "server/server_fixture.h"
#include "server/templated_model.h"
#include "server/tool_calls.h"

namespace frugal::server::testing {
namespace {

// Short (the default model's context is 128 tokens); each holds the text
// that names its family's format, in a branch that is never rendered.
std::string family_template(const std::string& detect) {
  return "{% if false %}" + detect + "{% endif %}"
         "{%- for m in messages %}{{ m.role }}: {{ m.content }}\n{% endfor %}"
         "{%- if add_generation_prompt %}assistant: {% endif %}";
}

struct Family {
  const char* family;
  const char* detect;
};
const Family kFamilies[] = {{"hermes", "<tool_call>"},
                            {"deepseek-v3", "<｜tool▁calls▁begin｜>"},
                            {"mistral", "[TOOL_CALLS]"},
                            {"llama3", "ipython"}};

const json kWeather = {{"type", "function"},
                       {"function",
                        {{"name", "get_weather"},
                         {"parameters",
                          {{"type", "object"},
                           {"properties", {{"city", {{"enum", {"Paris", "Rome"}}}}, {"days", {{"enum", {1, 2, 3}}}}}},
                           {"required", {"city", "days"}},
                           {"additionalProperties", false}}}}}};
const json kTime = {{"type", "function"},
                    {"function", {{"name", "get_time"}, {"parameters", {{"type", "object"}, {"properties", {{"zone", {{"enum", {"UTC", "CET"}}}}}}, {"required", {"zone"}}, {"additionalProperties", false}}}}}};

json request(const json& tools, const json& choice, int seed, bool stream) {
  return {{"messages", json::array({json{{"role", "user"}, {"content", "Weather in Paris?"}}})},
          {"tools", tools}, {"tool_choice", choice}, {"max_tokens", 100}, {"temperature", 1},
          {"seed", seed}, {"stream", stream}};
}

TEST(ToolCallsForced, PromptEndsWithTheFamilysOpening) {
  const auto model = model::Model::load(default_model_path());
  const tokenizer::Tokenizer tok = tokenizer::Tokenizer::from_metadata(model->file().metadata());
  for (const Family& fam : kFamilies) {
    gguf::Metadata md = model->file().metadata();
    md.set("tokenizer.chat_template", gguf::Value::make_string(family_template(fam.detect)));
    const ToolCallFormat& f = *tool_call_format(fam.family);
    const json named = {{"type", "function"}, {"function", {{"name", "get_weather"}}}};
    const CompletionRequest one = parse_chat_request(request(json::array({kWeather, kTime}), named, 0, false).dump(), tok, md, {});
    std::string name_text = f.forced_name;
    name_text.replace(name_text.find("{name}"), 6, "get_weather");
    EXPECT_EQ(one.tool_prefill, f.forced_open + name_text) << fam.family;
    EXPECT_EQ(one.tool_close, f.forced_close) << fam.family;
    EXPECT_TRUE(tok.decode(one.prompt).ends_with("assistant: " + one.tool_prefill)) << tok.decode(one.prompt);
    EXPECT_TRUE(one.params.grammar->lead_ins.empty());
    // "required" with two tools: the model writes the name, one of theirs.
    const CompletionRequest two = parse_chat_request(request(json::array({kWeather, kTime}), "required", 0, false).dump(), tok, md, {});
    EXPECT_EQ(two.tool_prefill, f.forced_open) << fam.family;
    ASSERT_EQ(two.params.grammar->lead_ins.size(), 2u);
    EXPECT_NE(two.params.grammar->lead_ins[1].find("get_time"), std::string::npos);
  }
}

// The streamed call put together: name from the head, arguments from the fragments.
ToolCall streamed_call(ServerFixture& f, const json& req, std::string& finish) {
  ToolCall call;
  int heads = 0;
  for (const std::string& ev : f.stream("/v1/chat/completions", req)) {
    if (ev == "[DONE]") break;
    const json c = json::parse(ev)["choices"][0];
    if (!c["finish_reason"].is_null()) finish = c["finish_reason"];
    EXPECT_FALSE(c["delta"].contains("content") && c["delta"]["content"] != "") << ev;  // no marker leaks as text
    for (const json& d : c["delta"].value("tool_calls", json::array())) {
      EXPECT_EQ(d["index"], 0);
      if (d.contains("id")) {
        ++heads;
        EXPECT_EQ(d["type"], "function");
        EXPECT_EQ(d["function"]["arguments"], "");
        call.name = d["function"]["name"];
      } else {
        call.arguments += d["function"]["arguments"].get<std::string>();
      }
    }
  }
  EXPECT_EQ(heads, 1);
  return call;
}

TEST(ToolCallsForced, EveryFamilyReadsItsForcedCallBack) {
  for (const Family& fam : kFamilies) {
    const TemplatedModel m(family_template(fam.detect));
    ServerFixture f(2, 64, 8u << 20, m.path);
    const json named = {{"type", "function"}, {"function", {{"name", "get_weather"}}}};
    for (const json& choice : {named, json("required")}) {
      for (int seed = 0; seed < 2; ++seed) {
        const json tools = json::array({kWeather, kTime});
        auto [status, body] = f.post("/v1/chat/completions", request(tools, choice, seed, false));
        ASSERT_EQ(status, 200) << body.dump();
        const json& c = body["choices"][0];
        EXPECT_EQ(c["finish_reason"], "tool_calls") << fam.family << c.dump();
        EXPECT_TRUE(c["message"]["content"].is_null()) << fam.family << c.dump();
        ASSERT_EQ(c["message"]["tool_calls"].size(), 1u) << fam.family << c.dump();
        const json& call = c["message"]["tool_calls"][0]["function"];
        const json args = json::parse(call["arguments"].get<std::string>(), nullptr, false);
        ASSERT_TRUE(args.is_object()) << fam.family << call.dump();
        if (call["name"] == "get_weather") {
          EXPECT_TRUE(args["city"] == "Paris" || args["city"] == "Rome") << args.dump();
        } else {
          EXPECT_EQ(choice, "required") << fam.family;
          EXPECT_EQ(call["name"], "get_time") << fam.family;
          EXPECT_TRUE(args["zone"] == "UTC" || args["zone"] == "CET") << args.dump();
        }
        std::string finish;
        const ToolCall s = streamed_call(f, request(tools, choice, seed, true), finish);
        EXPECT_EQ(finish, "tool_calls");
        EXPECT_EQ(s.name, call["name"]) << fam.family;
        EXPECT_EQ(s.arguments, call["arguments"]) << fam.family;
      }
    }
  }
}

}  // namespace
}  // namespace frugal::server::testing
