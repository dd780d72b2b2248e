// The HTTP server end to end on loopback: answers equal what one completion
// alone gives (greedy), streamed text equals the whole text, concurrent
// requests decoded together each get their own answer, a client that goes
// away frees its slot, and bad requests get 4xx with OpenAI error bodies.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "runtime/generator.h"
#include "server/server_fixture.h"
#include "tokenizer/chat_template.h"

namespace frugal::server {
namespace {

using testing::json;
using testing::ServerFixture;

// What runtime::generate gives for this prompt alone, greedy, on an engine of its own.
std::string alone(ServerFixture& f, const std::vector<int32_t>& prompt, int n, std::vector<std::string> stop = {}) {
  runtime::Engine e(*f.model, {});
  runtime::GenerateParams p;
  p.n_predict = n;
  p.sampling.temperature = 0;
  p.stop = std::move(stop);
  std::string text;
  runtime::GenerateCallbacks cb;
  cb.on_text = [&](std::string_view t) {
    text += t;
    return true;
  };
  runtime::generate(e, *f.tok, prompt, p, cb);
  return text;
}

std::vector<int32_t> encode(ServerFixture& f, const std::string& s) { return f.tok->encode(s, f.tok->add_bos_default(), true); }

const std::vector<std::string> kPrompts = {
    "The meaning of life is", "A man who", "Never trust", "Q: Why did the chicken cross the road?\nA:",
    "You will", "It is better to", "Love is", "The best way to"};

TEST(Server, ModelsHealthMetricsAndThePage) {
  ServerFixture f;
  httplib::Client c = f.client();
  auto models = c.Get("/v1/models");
  ASSERT_TRUE(models);
  EXPECT_EQ(models->status, 200);
  const json m = json::parse(models->body);
  EXPECT_EQ(m["object"], "list");
  EXPECT_EQ(m["data"][0]["id"], "default");
  EXPECT_EQ(m["data"][0]["meta"]["n_ctx"], f.engine->n_ctx());
  auto health = c.Get("/health");
  ASSERT_TRUE(health);
  EXPECT_EQ(json::parse(health->body)["status"], "ok");
  auto page = c.Get("/");
  ASSERT_TRUE(page);
  EXPECT_EQ(page->get_header_value("Content-Type"), "text/html");
  EXPECT_NE(page->body.find("/v1/chat/completions"), std::string::npos);
  EXPECT_EQ(f.metric("requests_total"), 0u);
  EXPECT_EQ(f.metric("requests_running"), 0u);
}

TEST(Server, CompletionIsWhatOneCompletionAloneGives) {
  ServerFixture f;
  auto [status, body] = f.post("/v1/completions", json{{"prompt", kPrompts[0]}, {"max_tokens", 24}, {"temperature", 0}});
  ASSERT_EQ(status, 200) << body.dump();
  EXPECT_EQ(body["object"], "text_completion");
  EXPECT_EQ(body["model"], "default");
  EXPECT_EQ(body["id"].get<std::string>().rfind("cmpl-", 0), 0u);
  EXPECT_EQ(body["choices"][0]["text"], alone(f, encode(f, kPrompts[0]), 24));
  EXPECT_EQ(body["choices"][0]["finish_reason"], "length");
  EXPECT_EQ(body["usage"]["prompt_tokens"], encode(f, kPrompts[0]).size());
  EXPECT_EQ(body["usage"]["completion_tokens"], 24);
  EXPECT_EQ(body["usage"]["total_tokens"], 24 + encode(f, kPrompts[0]).size());
  EXPECT_EQ(f.metric("generated_tokens_total"), 24u);
  EXPECT_EQ(f.metric("prompt_tokens_total"), encode(f, kPrompts[0]).size());

  // Token ids as the prompt, and a one-element array of strings.
  const std::vector<int32_t> ids = encode(f, kPrompts[1]);
  auto [s2, b2] = f.post("/v1/completions", json{{"prompt", ids}, {"max_tokens", 8}, {"temperature", 0}});
  ASSERT_EQ(s2, 200) << b2.dump();
  EXPECT_EQ(b2["choices"][0]["text"], alone(f, ids, 8));
  auto [s3, b3] = f.post("/v1/completions", json{{"prompt", {kPrompts[1]}}, {"max_tokens", 8}, {"temperature", 0}});
  ASSERT_EQ(s3, 200) << b3.dump();
  EXPECT_EQ(b3["choices"][0]["text"], b2["choices"][0]["text"]);
}

TEST(Server, StreamedTextIsTheWholeText) {
  ServerFixture f;
  const json req = {{"prompt", kPrompts[2]}, {"max_tokens", 20}, {"temperature", 0}};
  const json whole_body = f.post("/v1/completions", req).second;
  const std::string whole = whole_body["choices"][0]["text"];
  json sreq = req;
  sreq["stream"] = true;
  sreq["stream_options"] = {{"include_usage", true}};
  const std::vector<std::string> events = f.stream("/v1/completions", sreq);
  ASSERT_GE(events.size(), 3u);
  EXPECT_EQ(events.back(), "[DONE]");
  std::string text;
  for (size_t i = 0; i + 3 < events.size(); ++i) {
    const json e = json::parse(events[i]);
    EXPECT_EQ(e["object"], "text_completion");
    EXPECT_TRUE(e["choices"][0]["finish_reason"].is_null());
    text += e["choices"][0]["text"].get<std::string>();
  }
  EXPECT_EQ(text, whole);
  const json last = json::parse(events[events.size() - 3]);
  EXPECT_EQ(last["choices"][0]["finish_reason"], whole_body["choices"][0]["finish_reason"]);
  const json usage = json::parse(events[events.size() - 2]);
  EXPECT_TRUE(usage["choices"].empty());
  EXPECT_EQ(usage["usage"], whole_body["usage"]);
}

TEST(Server, ChatAppliesTheTemplateAndStreamsDeltas) {
  ServerFixture f;
  const json msgs = json::array({{{"role", "system"}, {"content", "You tell fortunes."}},
                                 {{"role", "user"}, {"content", {{{"type", "text"}, {"text", "What will "}},
                                                                 {{"type", "text"}, {"text", "happen?"}}}}}});
  const json req = {{"messages", msgs}, {"max_tokens", 16}, {"temperature", 0}};
  auto [status, body] = f.post("/v1/chat/completions", req);
  ASSERT_EQ(status, 200) << body.dump();
  EXPECT_EQ(body["object"], "chat.completion");
  EXPECT_EQ(body["choices"][0]["message"]["role"], "assistant");
  // The same conversation through the template by hand (content parts joined).
  const json plain = json::array({{{"role", "system"}, {"content", "You tell fortunes."}},
                                  {{"role", "user"}, {"content", "What will happen?"}}});
  const std::string rendered = tokenizer::render_chat_template(f.model->file().metadata(),
                                                               {{"messages", plain}, {"add_generation_prompt", true}});
  const bool templated = f.model->file().metadata().has("tokenizer.chat_template");
  const std::string want = alone(f, tokenizer::encode_chat_prompt(*f.tok, rendered), 16,
                                 templated ? std::vector<std::string>{} : std::vector<std::string>{"\nuser:"});
  EXPECT_EQ(body["choices"][0]["message"]["content"], want);

  json sreq = req;
  sreq["stream"] = true;
  const std::vector<std::string> events = f.stream("/v1/chat/completions", sreq);
  ASSERT_GE(events.size(), 3u);
  EXPECT_EQ(json::parse(events[0])["choices"][0]["delta"]["role"], "assistant");
  std::string text;
  for (size_t i = 1; i + 2 < events.size(); ++i) {
    const json e = json::parse(events[i]);
    EXPECT_EQ(e["object"], "chat.completion.chunk");
    text += e["choices"][0]["delta"]["content"].get<std::string>();
  }
  EXPECT_EQ(text, want);
  EXPECT_FALSE(json::parse(events[events.size() - 2])["choices"][0]["finish_reason"].is_null());
}

TEST(Server, ConcurrentRequestsEachGetTheirOwnAnswer) {
  ServerFixture f(4);  // 8 requests on 4 slots: half of them wait in the queue
  std::vector<std::string> want;
  for (const std::string& p : kPrompts) want.push_back(alone(f, encode(f, p), 16));
  std::vector<std::string> got(kPrompts.size());
  std::vector<std::thread> clients;
  for (size_t i = 0; i < kPrompts.size(); ++i)
    clients.emplace_back([&, i] {
      auto [status, body] = f.post("/v1/completions", json{{"prompt", kPrompts[i]}, {"max_tokens", 16}, {"temperature", 0}});
      got[i] = status == 200 ? body["choices"][0]["text"].get<std::string>() : "HTTP " + std::to_string(status);
    });
  for (auto& t : clients) t.join();
  for (size_t i = 0; i < kPrompts.size(); ++i) EXPECT_EQ(got[i], want[i]) << "prompt " << i;
  // Decoding together: fewer forward passes than rows.
  EXPECT_LT(f.metric("batches_total"), f.metric("batch_rows_total"));
  EXPECT_EQ(f.metric("requests_total"), kPrompts.size());
}

TEST(Server, StopStringsSeedsAndMaxTokens) {
  ServerFixture f;
  const std::string free_text = alone(f, encode(f, kPrompts[3]), 24);
  ASSERT_GE(free_text.size(), 6u);
  const std::string stop = free_text.substr(3, 3);
  auto [s1, b1] = f.post("/v1/completions", json{{"prompt", kPrompts[3]}, {"max_tokens", 24}, {"temperature", 0}, {"stop", stop}});
  ASSERT_EQ(s1, 200);
  EXPECT_EQ(b1["choices"][0]["text"], free_text.substr(0, free_text.find(stop)));
  EXPECT_EQ(b1["choices"][0]["finish_reason"], "stop");

  const json sampled = {{"prompt", kPrompts[4]}, {"max_tokens", 24}, {"temperature", 1.0}, {"seed", 1234}};
  EXPECT_EQ(f.post("/v1/completions", sampled).second["choices"][0]["text"],
            f.post("/v1/completions", sampled).second["choices"][0]["text"]);

  auto [s0, b0] = f.post("/v1/completions", json{{"prompt", kPrompts[4]}, {"max_tokens", 0}});
  ASSERT_EQ(s0, 200);
  EXPECT_EQ(b0["choices"][0]["text"], "");
  EXPECT_EQ(b0["usage"]["completion_tokens"], 0);
}

TEST(Server, AClientThatGoesAwayFreesItsSlot) {
  ServerFixture f(1);
  int seen = 0;
  f.stream("/v1/completions", json{{"prompt", kPrompts[0]}, {"max_tokens", 100}, {"ignore_eos", true}, {"stream", true}},
           [&](const std::string&) { return ++seen < 2; });
  // The scheduler notices at the next token it cannot send (bounded wait).
  for (int i = 0; i < 200 && f.metric("requests_cancelled_total") == 0; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(25));
  EXPECT_EQ(f.metric("requests_cancelled_total"), 1u);
  EXPECT_LT(f.metric("generated_tokens_total"), 100u);
  // The one slot serves the next request.
  auto [status, body] = f.post("/v1/completions", json{{"prompt", kPrompts[1]}, {"max_tokens", 4}, {"temperature", 0}});
  EXPECT_EQ(status, 200) << body.dump();
}

struct BadCase {
  const char* path;
  std::string body;
  int status;
  const char* param;  // "" for none
};

TEST(Server, BadRequestsGetOpenAIErrorBodies) {
  ServerFixture f(4, 64, 4096);
  const std::string big(8000, 'x');
  const std::vector<BadCase> cases = {
      {"/v1/completions", "{not json", 400, ""},
      {"/v1/completions", "[1, 2]", 400, ""},
      {"/v1/completions", R"({"max_tokens": 4})", 400, "prompt"},
      {"/v1/completions", R"({"prompt": "hi", "temperature": "hot"})", 400, "temperature"},
      {"/v1/completions", R"({"prompt": "hi", "top_p": 1.5})", 400, "top_p"},
      {"/v1/completions", R"({"prompt": "hi", "max_tokens": -1})", 400, "max_tokens"},
      {"/v1/completions", R"({"prompt": "hi", "n": 5})", 400, "n"},
      {"/v1/completions", R"({"prompt": "hi", "logprobs": 21})", 400, "logprobs"},
      {"/v1/completions", R"({"prompt": "hi", "logprobs": true})", 400, "logprobs"},
      {"/v1/chat/completions", R"({"messages": [{"role": "user", "content": "hi"}], "top_logprobs": 2})", 400,
       "top_logprobs"},
      {"/v1/completions", R"({"prompt": ["a", "b"]})", 400, "prompt"},
      {"/v1/completions", R"({"prompt": [1, 999999]})", 400, "prompt"},
      {"/v1/completions", R"({"prompt": "hi", "logit_bias": {"abc": 1}})", 400, "logit_bias"},
      {"/v1/completions", R"({"prompt": "hi", "stop": 5})", 400, "stop"},
      {"/v1/chat/completions", R"({"messages": []})", 400, "messages"},
      {"/v1/chat/completions", R"({"messages": [{"content": "no role"}]})", 400, "messages[0]"},
      {"/v1/chat/completions", R"({"messages": [{"role": "user", "content": [{"type": "image_url"}]}]})", 400,
       "messages[0].content"},
      // A part whose type is not a string (it was a 500: the JSON library's type error).
      {"/v1/chat/completions", R"({"messages": [{"role": "user", "content": [{"type": 1, "text": "x"}]}]})", 400,
       "messages[0].content"},
      // The same for response_format (found by fuzz/openai_request_fuzz.cc).
      {"/v1/chat/completions", R"({"messages": [{"role": "user", "content": "hi"}], "response_format": {"type": 99}})",
       400, "response_format"},
      {"/v1/chat/completions", R"({"messages": [{"role": "user", "content": "hi"}], "tools": [{"type": "function"}]})",
       400, "tools[0].function"},
      {"/v1/completions", "{\"prompt\": \"" + big + "\"}", 413, ""},
      {"/v1/nothing", "{}", 404, ""},
  };
  for (const BadCase& c : cases) {
    auto [status, body] = f.post(c.path, c.body);
    EXPECT_EQ(status, c.status) << c.path << " " << c.body.substr(0, 80) << " -> " << body.dump();
    ASSERT_TRUE(body.is_object() && body.contains("error")) << c.body.substr(0, 80) << " -> " << body.dump();
    EXPECT_TRUE(body["error"]["message"].is_string());
    EXPECT_TRUE(body["error"]["type"].is_string());
    if (*c.param) {
      EXPECT_EQ(body["error"]["param"], c.param) << c.body;
    }
  }
  // A prompt longer than the context: 400 with OpenAI's code for it.
  std::vector<int32_t> ids(static_cast<size_t>(f.engine->n_ctx()), 65);
  auto [status, body] = f.post("/v1/completions", json{{"prompt", ids}}.dump());
  EXPECT_EQ(status, 400);
  EXPECT_EQ(body["error"]["code"], "context_length_exceeded");
  EXPECT_EQ(f.metric("requests_total"), 0u);
  // The server still answers.
  EXPECT_EQ(f.post("/v1/completions", json{{"prompt", "ok"}, {"max_tokens", 2}}).first, 200);
}

}  // namespace
}  // namespace frugal::server
