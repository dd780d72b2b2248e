// What a request may ask to get back beyond the text: log-probabilities (chat
// and completions forms, whole and streamed), n choices of one prompt (the
// prompt read once), echo, and structured output (response_format), checked
// against the model run directly and against the schemas by a validator of
// their own.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <unistd.h>

#include "base/progress.h"
#include "base/utf8.h"
#include "model/presets.h"
#include "model/synth.h"
#include "server/server_fixture.h"

namespace frugal::server {
namespace {

using testing::json;
using testing::ServerFixture;

const std::string kPrompt = "The secret of a long life is";

// The log-softmax of the model's logits after `prompt`, run on an engine of its own.
std::vector<double> log_softmax_after(ServerFixture& f, const std::vector<int32_t>& prompt) {
  runtime::Engine e(*f.model, {});
  std::vector<runtime::BatchRow> rows;
  for (size_t i = 0; i < prompt.size(); ++i)
    rows.push_back({0, static_cast<int32_t>(i), prompt[i], i + 1 == prompt.size()});
  std::vector<float> logits;
  e.forward(rows, logits);
  double top = -INFINITY, z = 0;
  for (float l : logits) top = std::max(top, double(l));
  for (float l : logits) z += std::exp(l - top);
  std::vector<double> out;
  for (float l : logits) out.push_back(l - top - std::log(z));
  return out;
}

std::string bytes_of(const json& a) {
  std::string s;
  for (const json& b : a) s += static_cast<char>(b.get<int>());
  return s;
}

TEST(Logprobs, ChatGivesTheModelsDistributionWholeAndStreamed) {
  ServerFixture f;
  const json msgs = json::array({json{{"role", "user"}, {"content", "Tell me a fortune."}}});
  const json req = {{"messages", msgs}, {"max_tokens", 12}, {"temperature", 0}, {"logprobs", true}, {"top_logprobs", 3}};
  auto [status, body] = f.post("/v1/chat/completions", req);
  ASSERT_EQ(status, 200) << body.dump();
  const json& content = body["choices"][0]["logprobs"]["content"];
  const int n_tokens = body["usage"]["completion_tokens"];
  // Every token but an end of generation has its entry.
  const bool ended = body["choices"][0]["finish_reason"] == "stop";
  ASSERT_EQ(static_cast<int>(content.size()), n_tokens - (ended ? 1 : 0));
  std::string joined;
  for (const json& t : content) {
    ASSERT_EQ(t["top_logprobs"].size(), 3u);
    // Greedy: the token drawn is the most likely one.
    EXPECT_EQ(t["token"], t["top_logprobs"][0]["token"]);
    EXPECT_FLOAT_EQ(t["logprob"].get<float>(), t["top_logprobs"][0]["logprob"].get<float>());
    EXPECT_LE(t["logprob"].get<double>(), 0.0);
    for (size_t k = 1; k < 3; ++k)
      EXPECT_GE(t["top_logprobs"][k - 1]["logprob"].get<double>(), t["top_logprobs"][k]["logprob"].get<double>());
    EXPECT_EQ(to_valid_utf8(bytes_of(t["bytes"])), t["token"].get<std::string>());
    joined += bytes_of(t["bytes"]);
  }
  EXPECT_EQ(to_valid_utf8(joined), body["choices"][0]["message"]["content"].get<std::string>());

  // The figures are the raw model's, whatever the temperature: the first
  // token's alternatives are the same when sampled hot.
  json hot = req;
  hot["temperature"] = 1.7;
  hot["seed"] = 3;
  const json hot_body = f.post("/v1/chat/completions", hot).second;
  EXPECT_EQ(hot_body["choices"][0]["logprobs"]["content"][0]["top_logprobs"], content[0]["top_logprobs"]);

  // Streamed: the same entries, in order, across the chunks.
  json sreq = req;
  sreq["stream"] = true;
  json streamed = json::array();
  std::string text;
  for (const std::string& ev : f.stream("/v1/chat/completions", sreq)) {
    if (ev == "[DONE]") break;
    const json e = json::parse(ev);
    const json& c = e["choices"][0];
    if (c["delta"].contains("content")) text += c["delta"]["content"].get<std::string>();
    if (!c["logprobs"].is_null())
      for (const json& t : c["logprobs"]["content"]) streamed.push_back(t);
  }
  EXPECT_EQ(streamed, content);
  EXPECT_EQ(text, body["choices"][0]["message"]["content"].get<std::string>());
}

TEST(Logprobs, CompletionsFormMatchesTheModelRunDirectly) {
  ServerFixture f;
  const std::vector<int32_t> prompt = f.tok->encode(kPrompt, f.tok->add_bos_default(), true);
  const std::vector<double> lp = log_softmax_after(f, prompt);
  auto [status, body] = f.post("/v1/completions", json{{"prompt", kPrompt}, {"max_tokens", 10}, {"temperature", 1.3},
                                                       {"seed", 11}, {"logprobs", 5}, {"ignore_eos", true}});
  ASSERT_EQ(status, 200) << body.dump();
  const json& l = body["choices"][0]["logprobs"];
  ASSERT_EQ(l["tokens"].size(), 10u);
  ASSERT_EQ(l["token_logprobs"].size(), 10u);
  ASSERT_EQ(l["top_logprobs"].size(), 10u);
  ASSERT_EQ(l["text_offset"].size(), 10u);
  // The first token: its log-probability and the five best are the log-softmax of the raw logits.
  const std::string first = l["tokens"][0];
  std::vector<std::pair<double, int32_t>> ranked;
  for (size_t i = 0; i < lp.size(); ++i) ranked.emplace_back(lp[i], static_cast<int32_t>(i));
  std::sort(ranked.rbegin(), ranked.rend());
  ASSERT_EQ(l["top_logprobs"][0].size(), 5u);
  for (int k = 0; k < 5; ++k) {
    const std::string t = to_valid_utf8(f.tok->token_bytes(ranked[static_cast<size_t>(k)].second));
    ASSERT_TRUE(l["top_logprobs"][0].contains(t)) << t;
    EXPECT_NEAR(l["top_logprobs"][0][t].get<double>(), ranked[static_cast<size_t>(k)].first, 1e-3);
  }
  bool found = false;
  for (size_t i = 0; i < lp.size(); ++i)
    if (to_valid_utf8(f.tok->token_bytes(static_cast<int32_t>(i))) == first) {
      EXPECT_NEAR(l["token_logprobs"][0].get<double>(), lp[i], 1e-3);
      found = true;
      break;
    }
  EXPECT_TRUE(found);
  // Offsets: where each token's text starts in the choice's text.
  std::string joined;
  for (size_t i = 0; i < 10; ++i) {
    EXPECT_EQ(l["text_offset"][i].get<size_t>(), joined.size());
    joined += l["tokens"][i].get<std::string>();
  }
  EXPECT_EQ(joined, body["choices"][0]["text"].get<std::string>());
}

TEST(Logprobs, ByteTokensKeepTheirBytesAndTheJsonValid) {
  Progress::set_enabled(false);
  const std::string path =
      (std::filesystem::temp_directory_path() / ("frugal_logprob_bytes_" + std::to_string(::getpid()) + ".gguf")).string();
  model::SynthOptions opts;
  opts.type = "q8_0";
  opts.seed = 5;
  opts.progress_label = "";
  model::write_synth_model(model::find_preset("qwen3moe", "tiny").config, gguf::Metadata{}, opts, path);
  {
    ServerFixture f(2, 64, 8u << 20, path);
    int broken = 0;
    for (int seed = 0; seed < 20; ++seed) {
      auto [status, body] = f.post("/v1/chat/completions",
                                   json{{"messages", json::array({json{{"role", "user"}, {"content", "日本"}}})},
                                        {"max_tokens", 16}, {"temperature", 1}, {"seed", seed}, {"logprobs", true},
                                        {"top_logprobs", 4}, {"ignore_eos", true}});
      ASSERT_EQ(status, 200) << body.dump();
      std::string raw;
      for (const json& t : body["choices"][0]["logprobs"]["content"]) {
        const std::string b = bytes_of(t["bytes"]);
        EXPECT_TRUE(is_valid_utf8(t["token"].get<std::string>()));
        EXPECT_EQ(t["token"].get<std::string>(), to_valid_utf8(b));
        if (!is_valid_utf8(b)) ++broken;
        raw += b;
      }
      EXPECT_EQ(to_valid_utf8(raw), body["choices"][0]["message"]["content"].get<std::string>());
    }
    EXPECT_GT(broken, 0) << "no token was a broken character: the test saw nothing";
  }
  std::filesystem::remove(path);
}

TEST(Choices, NChoicesReadThePromptOnceAndEachIsItsOwnSeed) {
  ServerFixture f(4);
  const json req = {{"prompt", kPrompt}, {"max_tokens", 10}, {"temperature", 1}, {"seed", 40}, {"n", 3}};
  auto [status, body] = f.post("/v1/completions", req);
  ASSERT_EQ(status, 200) << body.dump();
  ASSERT_EQ(body["choices"].size(), 3u);
  const size_t n_prompt = body["usage"]["prompt_tokens"];
  // The prompt was computed once for the three choices.
  EXPECT_EQ(f.metric("prompt_tokens_total"), n_prompt);
  int completion_tokens = 0;
  for (int i = 0; i < 3; ++i) {
    const json& c = body["choices"][static_cast<size_t>(i)];
    EXPECT_EQ(c["index"], i);
    // Choice i is what one choice with seed 40 + i gives: the copied cache is the prompt's.
    json one = req;
    one.erase("n");
    one["seed"] = 40 + i;
    const json alone = f.post("/v1/completions", one).second;
    EXPECT_EQ(c["text"], alone["choices"][0]["text"]) << i;
    EXPECT_EQ(c["finish_reason"], alone["choices"][0]["finish_reason"]);
    completion_tokens += alone["usage"]["completion_tokens"].get<int>();
  }
  EXPECT_EQ(body["usage"]["completion_tokens"], completion_tokens);
  EXPECT_NE(body["choices"][0]["text"], body["choices"][1]["text"]);

  // Streamed: each index's text is that choice's whole text, each ends once.
  json sreq = req;
  sreq["stream"] = true;
  sreq["stream_options"] = {{"include_usage", true}};
  std::vector<std::string> texts(3);
  std::vector<int> finishes(3, 0);
  json usage;
  for (const std::string& ev : f.stream("/v1/completions", sreq)) {
    if (ev == "[DONE]") break;
    const json e = json::parse(ev);
    if (e.contains("usage")) usage = e["usage"];
    for (const json& c : e["choices"]) {
      texts[c["index"].get<size_t>()] += c["text"].get<std::string>();
      if (!c["finish_reason"].is_null()) ++finishes[c["index"].get<size_t>()];
    }
  }
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(texts[i], body["choices"][i]["text"].get<std::string>());
    EXPECT_EQ(finishes[i], 1);
  }
  EXPECT_EQ(usage, body["usage"]);

  // Chat too, with a role chunk per choice.
  const json chat = {{"messages", json::array({json{{"role", "user"}, {"content", "Hi"}}})}, {"max_tokens", 6},
                     {"temperature", 1}, {"seed", 2}, {"n", 2}, {"stream", true}};
  int roles = 0;
  for (const std::string& ev : f.stream("/v1/chat/completions", chat)) {
    if (ev == "[DONE]") break;
    const json e = json::parse(ev);
    for (const json& c : e["choices"]) roles += c["delta"].contains("role");
  }
  EXPECT_EQ(roles, 2);

  // More choices than slots, or none: a 400 naming n.
  for (int n : {0, 5, 1000}) {
    json bad = req;
    bad["n"] = n;
    auto [s, b] = f.post("/v1/completions", bad);
    EXPECT_EQ(s, 400) << n;
    EXPECT_EQ(b["error"]["param"], "n");
  }
}

TEST(Echo, TheCompletionStartsWithThePrompt) {
  ServerFixture f;
  const json req = {{"prompt", kPrompt}, {"max_tokens", 6}, {"temperature", 0}};
  const std::string plain = f.post("/v1/completions", req).second["choices"][0]["text"];
  json e = req;
  e["echo"] = true;
  EXPECT_EQ(f.post("/v1/completions", e).second["choices"][0]["text"], kPrompt + plain);
  e["stream"] = true;
  const auto events = f.stream("/v1/completions", e);
  ASSERT_GE(events.size(), 2u);
  EXPECT_EQ(json::parse(events[0])["choices"][0]["text"], kPrompt);
  e["stream"] = false;
  e["max_tokens"] = 0;
  EXPECT_EQ(f.post("/v1/completions", e).second["choices"][0]["text"], kPrompt);
  // Token ids come back as their text.
  json ids = req;
  ids["prompt"] = f.tok->encode("Hello there", false, false);
  ids["echo"] = true;
  ids["max_tokens"] = 0;
  EXPECT_EQ(f.post("/v1/completions", ids).second["choices"][0]["text"], "Hello there");
  // Refused: echo in chat (echo with logprobs: echo_logprobs_test.cc).
  EXPECT_EQ(f.post("/v1/chat/completions", json{{"messages", json::array({json{{"role", "user"}, {"content", "x"}}})},
                                                {"echo", true}})
                .second["error"]["param"],
            "echo");
}

// A schema of the main kinds, bounded so that a sampled answer ends within
// the default model's context of 128 tokens (the runtime's tests walk larger
// schemas byte by byte).
const json kSchema = json::parse(R"({
  "type": "object",
  "properties": {
    "name": {"type": "string", "maxLength": 4},
    "age": {"type": "integer"},
    "city": {"enum": ["Paris", "Rome"]},
    "tags": {"type": "array", "items": {"type": ["boolean", "null"]}, "minItems": 1, "maxItems": 2},
    "pet": {"type": "object", "properties": {"kind": {"const": "cat"}}, "required": ["kind"],
            "additionalProperties": false}
  },
  "required": ["name", "age", "city", "tags", "pet"],
  "additionalProperties": false
})");

void expect_matches(const json& v) {
  ASSERT_TRUE(v.is_object());
  EXPECT_EQ(v.size(), 5u) << v.dump();
  ASSERT_TRUE(v["name"].is_string());
  EXPECT_LE(v["name"].get<std::string>().size(), 4u * 4);  // 4 characters of at most 4 bytes
  EXPECT_TRUE(v["age"].is_number_integer());
  EXPECT_TRUE(v["city"] == "Paris" || v["city"] == "Rome") << v["city"];
  ASSERT_TRUE(v["tags"].is_array());
  EXPECT_TRUE(v["tags"].size() >= 1 && v["tags"].size() <= 2);
  for (const json& t : v["tags"]) EXPECT_TRUE(t.is_boolean() || t.is_null());
  EXPECT_EQ(v["pet"], json({{"kind", "cat"}}));
}

TEST(StructuredOutput, SampledAnswersAlwaysParseAndMatchTheSchema) {
  ServerFixture f(4);
  const json format = {{"type", "json_schema"}, {"json_schema", {{"name", "person"}, {"strict", true}, {"schema", kSchema}}}};
  for (int seed = 0; seed < 12; ++seed) {
    const bool streamed = seed % 2;
    json req = {{"messages", json::array({json{{"role", "user"}, {"content", "A person?"}}})},
                {"max_tokens", 100}, {"temperature", 1}, {"seed", seed}, {"response_format", format},
                {"stream", streamed}};
    std::string text, finish;
    if (streamed) {
      for (const std::string& ev : f.stream("/v1/chat/completions", req)) {
        if (ev == "[DONE]") break;
        const json c = json::parse(ev)["choices"][0];
        if (c["delta"].contains("content")) text += c["delta"]["content"].get<std::string>();
        if (!c["finish_reason"].is_null()) finish = c["finish_reason"];
      }
    } else {
      auto [status, body] = f.post("/v1/chat/completions", req);
      ASSERT_EQ(status, 200) << body.dump();
      text = body["choices"][0]["message"]["content"];
      finish = body["choices"][0]["finish_reason"];
    }
    EXPECT_EQ(finish, "stop") << text;
    const json v = json::parse(text, nullptr, false);
    ASSERT_FALSE(v.is_discarded()) << text;
    expect_matches(v);
  }
  // json_object on completions, with n choices: each an object.
  auto [status, body] = f.post("/v1/completions", json{{"prompt", "{"}, {"max_tokens", 100}, {"temperature", 0.7},
                                                       {"seed", 1}, {"n", 2},
                                                       {"response_format", {{"type", "json_object"}}}});
  ASSERT_EQ(status, 200) << body.dump();
  for (const json& c : body["choices"]) {
    if (c["finish_reason"] != "stop") continue;  // a free object may run past max_tokens
    const json v = json::parse(c["text"].get<std::string>(), nullptr, false);
    ASSERT_FALSE(v.is_discarded()) << c["text"];
    EXPECT_TRUE(v.is_object());
  }
}

TEST(StructuredOutput, UnsupportedSchemasAreRefusedByName) {
  ServerFixture f(2);
  const json msgs = json::array({json{{"role", "user"}, {"content", "x"}}});
  for (const auto& [format, word] : std::vector<std::pair<json, std::string>>{
           {json{{"type", "json_schema"}, {"json_schema", {{"schema", {{"type", "string"}, {"pattern", "a+"}}}}}}, "pattern"},
           {json{{"type", "json_schema"}, {"json_schema", {{"name", "x"}}}}, "schema"},
           {json{{"type", "json_schema"}, {"json_schema", {{"schema", {{"type", "integer"}, {"minimum", 1}}}}}}, "minimum"},
           {json{{"type", "yaml"}}, "yaml"},
           {json("json"), "type"},
       }) {
    auto [status, body] = f.post("/v1/chat/completions", json{{"messages", msgs}, {"response_format", format}});
    EXPECT_EQ(status, 400) << format.dump();
    EXPECT_EQ(body["error"]["param"], "response_format");
    EXPECT_NE(body["error"]["message"].get<std::string>().find(word), std::string::npos) << body.dump();
  }
  EXPECT_EQ(f.post("/v1/chat/completions", json{{"messages", msgs}, {"max_tokens", 1}, {"response_format", {{"type", "text"}}}})
                .first,
            200);
}

}  // namespace
}  // namespace frugal::server
