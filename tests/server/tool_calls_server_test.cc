// Tools through the server: a forced call (tool_choice "required" or a
// named function) is one call whose arguments match the function's
// parameters, whole and streamed as OpenAI's deltas; tool messages and
// assistant calls are accepted; bad tool fields are a 400 naming the field.
#include <gtest/gtest.h>

#include "server/server_fixture.h"

namespace frugal::server::testing {
namespace {

const json kTools = json::array(
    {{{"type", "function"},
      {"function",
       {{"name", "get_weather"},
        {"description", "The weather in a city"},
        {"parameters",
         {{"type", "object"},
          {"properties", {{"city", {{"type", "string"}, {"enum", {"Paris", "Rome"}}}}, {"days", {{"type", "integer"}}}}},
          {"required", {"city", "days"}}}}}}},
     {{"type", "function"}, {"function", {{"name", "now"}, {"parameters", {{"type", "object"}, {"properties", json::object()}}}}}}});

json request(const json& tool_choice, int seed, bool stream, const json& tools = kTools) {
  return {{"messages", json::array({json{{"role", "user"}, {"content", "Weather in Paris?"}}})},
          {"tools", tools}, {"tool_choice", tool_choice}, {"max_tokens", 200}, {"temperature", 1},
          {"seed", seed}, {"stream", stream}};
}

void expect_weather_call(const std::string& name, const std::string& arguments) {
  EXPECT_EQ(name, "get_weather");
  const json args = json::parse(arguments, nullptr, false);
  ASSERT_TRUE(args.is_object()) << arguments;
  EXPECT_TRUE(args["city"] == "Paris" || args["city"] == "Rome") << arguments;
  EXPECT_TRUE(args["days"].is_number_integer()) << arguments;
}

TEST(ToolCallsServer, NamedFunctionIsCalledWhole) {
  ServerFixture f(2);
  const json named = {{"type", "function"}, {"function", {{"name", "get_weather"}}}};
  for (int seed = 0; seed < 4; ++seed) {
    auto [status, body] = f.post("/v1/chat/completions", request(named, seed, false));
    ASSERT_EQ(status, 200) << body.dump();
    const json& c = body["choices"][0];
    EXPECT_EQ(c["finish_reason"], "tool_calls");
    EXPECT_TRUE(c["message"]["content"].is_null()) << c.dump();
    ASSERT_EQ(c["message"]["tool_calls"].size(), 1u) << c.dump();
    const json& call = c["message"]["tool_calls"][0];
    EXPECT_EQ(call["type"], "function");
    EXPECT_EQ(call["id"].get<std::string>().rfind("call_", 0), 0u);
    expect_weather_call(call["function"]["name"], call["function"]["arguments"]);
  }
}

// "required" with one tool enforces its parameters too (with several, the
// name is one of theirs and the arguments any object).
TEST(ToolCallsServer, RequiredCallStreamsNameThenArguments) {
  ServerFixture f(2);
  for (int seed = 0; seed < 4; ++seed) {
    std::string name, arguments, id, finish;
    int deltas = 0;
    for (const std::string& ev : f.stream("/v1/chat/completions", request("required", seed, true, json::array({kTools[0]})))) {
      if (ev == "[DONE]") break;
      const json c = json::parse(ev)["choices"][0];
      if (!c["finish_reason"].is_null()) finish = c["finish_reason"];
      if (!c["delta"].contains("tool_calls")) continue;
      const json& d = c["delta"]["tool_calls"][0];
      EXPECT_EQ(d["index"], 0);
      if (deltas++ == 0) {
        id = d["id"];
        name = d["function"]["name"];
        EXPECT_EQ(d["type"], "function");
      }
      arguments += d["function"]["arguments"].get<std::string>();
    }
    EXPECT_EQ(finish, "tool_calls");
    EXPECT_EQ(id.rfind("call_", 0), 0u);
    EXPECT_GE(deltas, 2);
    expect_weather_call(name, arguments);
  }
}

TEST(ToolCallsServer, ToolMessagesAndNoneAreAccepted) {
  ServerFixture f(2);
  const json call = {{"id", "call_1"}, {"type", "function"},
                     {"function", {{"name", "get_weather"}, {"arguments", "{\"city\":\"Paris\",\"days\":1}"}}}};
  json req = {{"messages", json::array({json{{"role", "user"}, {"content", "Weather in Paris?"}},
                                        json{{"role", "assistant"}, {"content", nullptr}, {"tool_calls", {call}}},
                                        json{{"role", "tool"}, {"tool_call_id", "call_1"}, {"content", "18 C, sunny"}}})},
              {"tools", kTools}, {"tool_choice", "none"}, {"max_tokens", 8}};
  auto [status, body] = f.post("/v1/chat/completions", req);
  ASSERT_EQ(status, 200) << body.dump();
  EXPECT_FALSE(body["choices"][0]["message"].contains("tool_calls"));
  EXPECT_NE(body["choices"][0]["finish_reason"], "tool_calls");
}

TEST(ToolCallsServer, BadToolFieldsAreRefusedByName) {
  ServerFixture f(1);
  const json user = json::array({json{{"role", "user"}, {"content", "hi"}}});
  const std::vector<std::pair<json, std::string>> cases = {
      {{{"tools", "get_weather"}}, "tools"},
      {{{"tools", {{{"type", "retrieval"}}}}}, "tools[0].type"},
      {{{"tools", {{{"type", "function"}}}}}, "tools[0].function"},
      {{{"tools", {{{"type", "function"}, {"function", {{"name", "bad name!"}}}}}}}, "tools[0].function.name"},
      {{{"tools", {{{"type", "function"}, {"function", {{"name", "f"}, {"parameters", "x"}}}}}}}, "tools[0].function.parameters"},
      {{{"tools", kTools}, {"tool_choice", "sometimes"}}, "tool_choice"},
      {{{"tools", kTools}, {"tool_choice", {{"type", "function"}, {"function", {{"name", "missing"}}}}}}, "tool_choice"},
      {{{"tool_choice", "required"}}, "tool_choice"},
      {{{"tools", kTools}, {"tool_choice", "required"}, {"response_format", {{"type", "json_object"}}}}, "tool_choice"},
      {{{"tools", {{{"type", "function"}, {"function", {{"name", "f"}, {"parameters", {{"type", "object"}, {"properties", {{"a", {{"type", "string"}, {"pattern", "x+"}}}}}}}}}}}},
        {"tool_choice", "required"}},
       "tools"},
      {{{"functions", json::array()}}, "functions"},
  };
  for (const auto& [fields, param] : cases) {
    json req = fields;
    req["messages"] = user;
    auto [status, body] = f.post("/v1/chat/completions", req);
    EXPECT_EQ(status, 400) << req.dump();
    EXPECT_EQ(body["error"]["param"], param) << body.dump();
    EXPECT_EQ(body["error"]["type"], "invalid_request_error");
  }
  json tool_msg = {{"messages", json::array({json{{"role", "tool"}, {"tool_call_id", 5}, {"content", "x"}}})}};
  auto [status, body] = f.post("/v1/chat/completions", tool_msg);
  EXPECT_EQ(status, 400);
  EXPECT_EQ(body["error"]["param"], "messages[0].tool_call_id");
  auto [s2, b2] = f.post("/v1/completions", json{{"prompt", "x"}, {"tools", kTools}});
  EXPECT_EQ(s2, 400);
  EXPECT_EQ(b2["error"]["param"], "tools");
}

}  // namespace
}  // namespace frugal::server::testing
