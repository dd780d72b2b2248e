// Tools through chat templates in the shape of the families' own (Llama
// 3.1-3.3, Mistral/Mixtral, gpt-oss's harmony; test data in
// tests/server/family_templates/, the Hermes/Qwen shape in
// tool_request_test.cc): the tools reach the prompt, an assistant's calls and
// a tool's result are rendered as the family writes them, each rendered call
// reads back as the call it was, and a forced call opens exactly as the
// template writes a call (so the next turn's template renders it the same way).
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <stdexcept>

#include "model/model.h"
#include "server/openai_request.h"
#include "server/server_fixture.h"
#include "server/tool_calls.h"
#include "tokenizer/harmony.h"

namespace frugal::server::testing {
namespace {

std::string family_template(const std::string& name) {
  std::ifstream in(std::string(FRUGAL_SOURCE_DIR) + "/tests/server/family_templates/" + name + ".jinja");
  std::stringstream s;
  s << in.rdbuf();
  if (s.str().empty()) throw std::runtime_error("tests/server/family_templates/" + name + ".jinja is missing");
  return s.str();
}

const json kTools = json::array({{{"type", "function"},
                                  {"function", {{"name", "get_weather"},
                                                {"description", "The weather in a city"},
                                                {"parameters", {{"type", "object"},
                                                                {"properties", {{"city", {{"type", "string"}}}, {"days", {{"type", "integer"}}}}},
                                                                {"required", {"city"}}}}}}}});
const std::string kArgs = R"({"city":"Paris","days":2})";

json conversation(const json& tool_choice) {
  return {{"messages", json::array({json{{"role", "user"}, {"content", "Weather in Paris?"}},
                                    json{{"role", "assistant"}, {"content", nullptr},
                                         {"tool_calls", {{{"id", "call_1"}, {"type", "function"},
                                                          {"function", {{"name", "get_weather"}, {"arguments", kArgs}}}}}}},
                                    json{{"role", "tool"}, {"tool_call_id", "call_1"}, {"content", "18 C, sunny"}},
                                    json{{"role", "user"}, {"content", "And in Rome?"}}})},
          {"tools", kTools}, {"tool_choice", tool_choice}};
}

struct Rendered {
  std::string prompt;
  CompletionRequest forced;  // the same conversation with get_weather forced
};

Rendered render(const std::string& tmpl) {
  const auto model = model::Model::load(default_model_path());
  gguf::Metadata md = model->file().metadata();
  md.set("tokenizer.chat_template", gguf::Value::make_string(tmpl));
  const tokenizer::Tokenizer tok = tokenizer::Tokenizer::from_metadata(md);
  const CompletionRequest r = parse_chat_request(conversation("auto").dump(), tok, md, {});
  const json named = {{"type", "function"}, {"function", {{"name", "get_weather"}}}};
  return {tok.decode(r.prompt), parse_chat_request(conversation(named).dump(), tok, md, {})};
}

std::string trim_copy(const std::string& s) {
  const size_t b = s.find_first_not_of(" \t\r\n");
  return b == std::string::npos ? "" : s.substr(b, s.find_last_not_of(" \t\r\n") - b + 1);
}

void expect_one_call(const ToolCallPiece& got, const std::string& text) {
  ASSERT_EQ(got.calls.size(), 1u) << text;
  EXPECT_EQ(got.calls[0].name, "get_weather");
  EXPECT_EQ(got.calls[0].arguments, kArgs);
  EXPECT_EQ(trim_copy(got.content), "") << text;
}

TEST(FamilyTemplates, Llama3) {
  const std::string tmpl = family_template("llama3");
  const ToolCallFormat* f = tool_call_format_for_template(tmpl);
  ASSERT_TRUE(f && std::string_view(f->family) == "llama3");
  const Rendered r = render(tmpl);
  EXPECT_NE(r.prompt.find("\"name\": \"get_weather\""), std::string::npos) << r.prompt;
  EXPECT_NE(r.prompt.find("The weather in a city"), std::string::npos);
  EXPECT_NE(r.prompt.find("<|start_header_id|>ipython<|end_header_id|>\n\n18 C, sunny<|eot_id|>"), std::string::npos) << r.prompt;
  const std::string head = "<|start_header_id|>assistant<|end_header_id|>\n\n";
  const size_t at = r.prompt.find(head + "{\"name\"");
  ASSERT_NE(at, std::string::npos) << r.prompt;
  const std::string call = r.prompt.substr(at + head.size(), r.prompt.find("<|eot_id|>", at) - at - head.size());
  expect_one_call(parse_tool_calls(*f, call), call);
  // A forced call opens as the template writes one, after its generation prompt.
  EXPECT_TRUE(call.starts_with(r.forced.tool_prefill)) << r.forced.tool_prefill;
  EXPECT_EQ(r.forced.tool_prefill, "{\"name\": \"get_weather\", \"parameters\": ");
  expect_one_call(parse_tool_calls(*f, r.forced.tool_prefill + kArgs + r.forced.tool_close), "forced");
}

TEST(FamilyTemplates, Mistral) {
  const std::string tmpl = family_template("mistral");
  const ToolCallFormat* f = tool_call_format_for_template(tmpl);
  ASSERT_TRUE(f && std::string_view(f->family) == "mistral");
  const Rendered r = render(tmpl);
  EXPECT_NE(r.prompt.find("[AVAILABLE_TOOLS] [{\"type\": \"function\", \"function\": {\"name\": \"get_weather\""), std::string::npos) << r.prompt;
  EXPECT_NE(r.prompt.find("[TOOL_RESULTS] {\"content\": \"18 C, sunny\", \"call_id\": \"call_1\"}[/TOOL_RESULTS]"), std::string::npos) << r.prompt;
  // The tools come before the last user turn, after the call and its result.
  EXPECT_LT(r.prompt.find("[TOOL_RESULTS]"), r.prompt.find("[AVAILABLE_TOOLS]"));
  const size_t at = r.prompt.find("[TOOL_CALLS]");
  ASSERT_NE(at, std::string::npos) << r.prompt;
  const std::string call = r.prompt.substr(at, r.prompt.find("]", r.prompt.find("\"id\"", at)) + 1 - at);
  expect_one_call(parse_tool_calls(*f, call), call);
  EXPECT_TRUE(call.starts_with(r.forced.tool_prefill)) << r.forced.tool_prefill;
  expect_one_call(parse_tool_calls(*f, r.forced.tool_prefill + kArgs + r.forced.tool_close), "forced");
}

// gpt-oss is known by its vocabulary (the default model's is not harmony's):
// its calls are read from the harmony messages, and a forced call's text is
// the commentary message the template writes.
TEST(FamilyTemplates, GptOss) {
  const Rendered r = render(family_template("gpt_oss"));
  EXPECT_NE(r.prompt.find("namespace functions {\n\n// The weather in a city\ntype get_weather = (_: {\"type\": \"object\""), std::string::npos) << r.prompt;
  EXPECT_NE(r.prompt.find("<|start|>functions.get_weather to=assistant<|channel|>commentary<|message|>18 C, sunny<|end|>"), std::string::npos) << r.prompt;
  EXPECT_TRUE(r.prompt.ends_with("<|start|>assistant")) << r.prompt;
  const std::string opening = "<|start|>assistant";
  const size_t at = r.prompt.find(opening + "<|channel|>commentary to=functions.");
  ASSERT_NE(at, std::string::npos) << r.prompt;
  const std::string call = r.prompt.substr(at + opening.size(), r.prompt.find("<|call|>", at) + 8 - at - opening.size());
  auto read = [](const std::string& text) {
    tokenizer::HarmonyParser parser;
    std::vector<tokenizer::HarmonyPiece> pieces = parser.feed(text);
    for (auto& p : parser.finish()) pieces.push_back(std::move(p));
    HarmonyCallReader reader;
    ToolCallPiece got;
    for (const tokenizer::HarmonyPiece& p : pieces)
      if (!reader.feed(p, got)) got.content += p.text;
    return got;
  };
  expect_one_call(read(call), call);
  const ToolCallFormat& h = harmony_tool_call_format();
  std::string name = h.forced_name;
  name.replace(name.find("{name}"), 6, "get_weather");
  EXPECT_TRUE(call.starts_with(h.forced_open + name)) << call;
  expect_one_call(read(h.forced_open + name + kArgs + h.forced_close), "forced");
}

}  // namespace
}  // namespace frugal::server::testing
