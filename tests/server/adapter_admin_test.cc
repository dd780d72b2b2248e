// The adapter admin endpoints (/lora-adapters) on a running server: an
// adapter added is listed (there and in /v1/models) and used by requests
// that name it; removing it while a stream uses it, beside a stream of
// another adapter, lets both finish with the text they get undisturbed, and
// its memory goes once they end; bad input gets 4xx with an OpenAI error
// body; the endpoints are off with no API key unless allowed, and never
// answer a browser.
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <random>
#include <thread>

#include "base/error.h"
#include "model/lora.h"
#include "model/model.h"
#include "server/server_fixture.h"

namespace frugal::server {
namespace {

using testing::json;
using testing::ServerFixture;

// Temporary adapter files for the bundled model (qwen3moe: 4 layers, 256
// wide): random factors on every layer's q and output projections, large
// enough to change greedy text.
struct AdapterFiles {
  std::filesystem::path dir;
  AdapterFiles() : dir(std::filesystem::temp_directory_path() / ("frugal_adapter_admin_" + std::to_string(::getpid()))) {
    std::filesystem::create_directories(dir);
  }
  ~AdapterFiles() { std::filesystem::remove_all(dir); }
  std::string write(const std::string& name, uint64_t seed, int64_t n_in = 256) const {
    std::mt19937_64 rng(seed);
    std::normal_distribution<float> z(0.0f, 0.3f);
    std::vector<model::LoraFactors> fs;
    for (int il = 0; il < 4; ++il)
      for (const char* m : {"attn_q", "attn_output"}) {
        model::LoraFactors f{.target = "blk." + std::to_string(il) + "." + m + ".weight", .n_in = n_in, .n_out = 256,
                             .n_expert = 0, .a = std::vector<float>(size_t(4 * n_in)), .b = std::vector<float>(256 * 4)};
        for (float& v : f.a) v = z(rng);
        for (float& v : f.b) v = z(rng);
        fs.push_back(std::move(f));
      }
    const std::string path = (dir / (name + ".gguf")).string();
    model::write_lora_adapter(path, "qwen3moe", 4.0f, 4, fs);
    return path;
  }
};

// A server whose admin endpoints load adapters against the bundled model;
// `loaded` keeps a weak reference to each adapter loaded, to see when one is freed.
struct AdminServer {
  std::unique_ptr<model::Model> base = model::Model::load(testing::default_model_path());
  std::mutex mu;
  std::vector<std::weak_ptr<const model::LoraAdapter>> loaded;
  std::unique_ptr<ServerFixture> f;

  explicit AdminServer(std::vector<std::string> keys, bool admin_without_key = false) {
    f = std::make_unique<ServerFixture>(4, 64, 8u << 20, testing::default_model_path(), [&](ServerOptions& so) {
      so.api_keys = keys;
      so.admin_without_key = admin_without_key;
      so.load_adapter = [this](const std::string& path, float scale) {
        std::shared_ptr<const model::LoraAdapter> a = model::LoraAdapter::load(path, *base, scale);
        std::lock_guard lk(mu);
        loaded.push_back(a);
        return a;
      };
    });
    if (!keys.empty()) f->bearer = keys.front();
  }
  // (status, parsed body) of METHOD path with an optional JSON body.
  std::pair<int, json> call(const std::string& method, const std::string& path, const std::string& body = "",
                            const httplib::Headers& headers = {}) const {
    httplib::Client c = f->client();
    httplib::Result res = method == "GET"      ? c.Get(path, headers)
                          : method == "DELETE" ? c.Delete(path, headers)
                          : method == "PUT"    ? c.Put(path, headers, body, "application/json")
                                               : c.Post(path, headers, body, "application/json");
    if (!res) return {0, json("no response")};
    json j = json::parse(res->body, nullptr, false);
    return {res->status, j.is_discarded() ? json(res->body) : j};
  }
  std::pair<int, json> add(const std::string& name, const std::string& path) const {
    return call("POST", "/lora-adapters", json{{"name", name}, {"path", path}}.dump());
  }
  // A greedy completion of `n` tokens by `model` (the server's answer text).
  std::string complete(const std::string& model, int n = 24) const {
    auto [status, body] = f->post("/v1/completions", json{{"model", model}, {"prompt", "The meaning of life is"},
                                                          {"max_tokens", n}, {"temperature", 0}, {"ignore_eos", true}});
    EXPECT_EQ(status, 200) << body.dump();
    return status == 200 ? body["choices"][0]["text"].get<std::string>() : "";
  }
};

// The text of a streamed completion's events.
std::string streamed_text(const std::vector<std::string>& events) {
  std::string text;
  for (const std::string& ev : events)
    if (ev != "[DONE]") text += json::parse(ev)["choices"][0].value("text", "");
  return text;
}

void expect_error(const std::pair<int, json>& got, int status, const std::string& message_part,
                  const std::string& code = "") {
  EXPECT_EQ(got.first, status) << got.second.dump();
  ASSERT_TRUE(got.second.is_object() && got.second.contains("error")) << got.second.dump();
  const json& e = got.second["error"];
  EXPECT_NE(e["message"].get<std::string>().find(message_part), std::string::npos) << e.dump();
  EXPECT_EQ(e["type"], "invalid_request_error");
  if (!code.empty()) {
    EXPECT_EQ(e["code"], code) << e.dump();
  }
}

TEST(AdapterAdmin, AddedAdapterIsListedAndUsedThenRemoved) {
  AdapterFiles files;
  AdminServer s({"sk-admin"});
  const std::string base_text = s.complete("default");

  auto added = s.add("sky", files.write("sky", 1));
  ASSERT_EQ(added.first, 200) << added.second.dump();
  EXPECT_EQ(added.second["id"], "sky");
  EXPECT_EQ(added.second["object"], "lora_adapter");
  EXPECT_EQ(added.second["rank"], 4);
  EXPECT_EQ(added.second["matrices"], 8);
  EXPECT_EQ(added.second["scale"], 1.0);  // alpha 4 / rank 4
  auto scaled = s.call("POST", "/lora-adapters",
                       json{{"name", "sky-half"}, {"path", files.write("sky", 1)}, {"scale", 0.5}}.dump());
  ASSERT_EQ(scaled.first, 200) << scaled.second.dump();
  EXPECT_EQ(scaled.second["scale"], 0.5);

  auto list = s.call("GET", "/lora-adapters");
  ASSERT_EQ(list.first, 200);
  ASSERT_EQ(list.second["data"].size(), 2u);
  EXPECT_EQ(list.second["data"][0]["id"], "sky");
  auto models = s.call("GET", "/v1/models");
  ASSERT_EQ(models.second["data"].size(), 3u);
  EXPECT_EQ(models.second["data"][1]["id"], "sky");
  EXPECT_EQ(models.second["data"][1]["meta"]["base"], "default");
  EXPECT_EQ(s.call("GET", "/v1/models/sky-half").first, 200);
  EXPECT_EQ(s.call("GET", "/lora-adapters/sky").second["file"], files.write("sky", 1));

  const std::string sky_text = s.complete("sky");
  EXPECT_NE(sky_text, base_text);
  EXPECT_EQ(s.complete("default"), base_text);

  auto removed = s.call("DELETE", "/lora-adapters/sky");
  ASSERT_EQ(removed.first, 200) << removed.second.dump();
  EXPECT_EQ(removed.second, (json{{"id", "sky"}, {"object", "lora_adapter"}, {"deleted", true}}));
  // A removed adapter's name is refused, not answered by the base.
  auto gone = s.f->post("/v1/completions", json{{"model", "sky"}, {"prompt", "x"}, {"max_tokens", 1}});
  EXPECT_EQ(gone.first, 404);
  EXPECT_NE(gone.second["error"]["message"].get<std::string>().find("this server serves 'default', 'sky-half'"),
            std::string::npos)
      << gone.second.dump();
  EXPECT_EQ(s.call("GET", "/v1/models/sky").first, 404);
  EXPECT_EQ(s.call("GET", "/v1/models").second["data"].size(), 2u);
  // The name is free again; the same file gives the same text.
  ASSERT_EQ(s.add("sky", files.write("sky", 1)).first, 200);
  EXPECT_EQ(s.complete("sky"), sky_text);
}

// With no adapter served any "model" runs the base, as before adapters
// existed, except a removed adapter's name.
TEST(AdapterAdmin, WithNoAdapterLeftARemovedNameIsStillRefused) {
  AdapterFiles files;
  AdminServer s({"sk-admin"});
  const std::string base_text = s.complete("gpt-4o");
  EXPECT_EQ(base_text, s.complete("default"));
  ASSERT_EQ(s.add("sky", files.write("sky", 1)).first, 200);
  EXPECT_EQ(s.f->post("/v1/completions", json{{"model", "gpt-4o"}, {"prompt", "x"}, {"max_tokens", 1}}).first, 404);
  ASSERT_EQ(s.call("DELETE", "/lora-adapters/sky").first, 200);
  auto gone = s.f->post("/v1/completions", json{{"model", "sky"}, {"prompt", "x"}, {"max_tokens", 1}});
  EXPECT_EQ(gone.first, 404) << gone.second.dump();
  EXPECT_EQ(s.complete("gpt-4o"), base_text);
}

TEST(AdapterAdmin, RemovingAnAdapterInUseLetsItsStreamsFinish) {
  AdapterFiles files;
  AdminServer s({"sk-admin"});
  ASSERT_EQ(s.add("sky", files.write("sky", 1)).first, 200);
  ASSERT_EQ(s.add("snow", files.write("snow", 2)).first, 200);
  constexpr int kTokens = 96;
  const std::string sky_alone = s.complete("sky", kTokens), snow_alone = s.complete("snow", kTokens);
  ASSERT_NE(sky_alone, snow_alone);

  auto body = [&](const std::string& model) {
    return json{{"model", model}, {"prompt", "The meaning of life is"}, {"max_tokens", kTokens}, {"temperature", 0},
                {"ignore_eos", true}, {"stream", true}};
  };
  std::atomic<bool> removed{false};
  std::pair<int, json> removal;
  std::vector<std::string> sky_events, snow_events;
  std::thread snow([&] { snow_events = s.f->stream("/v1/completions", body("snow")); });
  // At the sky stream's first text, both adapters' streams are decoding: remove sky.
  sky_events = s.f->stream("/v1/completions", body("sky"), [&](const std::string&) {
    if (!removed.exchange(true)) removal = s.call("DELETE", "/lora-adapters/sky");
    return true;
  });
  snow.join();
  EXPECT_EQ(removal.first, 200) << removal.second.dump();
  ASSERT_FALSE(sky_events.empty());
  EXPECT_EQ(sky_events.back(), "[DONE]");
  EXPECT_EQ(streamed_text(sky_events), sky_alone);
  EXPECT_EQ(streamed_text(snow_events), snow_alone);
  EXPECT_EQ(s.call("GET", "/lora-adapters").second["data"].size(), 1u);

  // The removed adapter is freed once its last request has let go of it
  // (the answering thread drops its jobs just after the last event).
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  auto sky_freed = [&] {
    std::lock_guard lk(s.mu);
    return s.loaded[0].expired() && !s.loaded[1].expired();
  };
  while (!sky_freed() && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  EXPECT_TRUE(sky_freed());
}

TEST(AdapterAdmin, BadRequestsGetOpenAIErrors) {
  AdapterFiles files;
  AdminServer s({"sk-admin"});
  const std::string sky = files.write("sky", 1);
  ASSERT_EQ(s.add("sky", sky).first, 200);
  expect_error(s.add("sky", sky), 409, "the name 'sky' is already served", "adapter_exists");
  expect_error(s.add("default", sky), 409, "the base model is served as 'default'", "adapter_exists");
  expect_error(s.add("rain", (files.dir / "none.gguf").string()), 400, "none.gguf", "invalid_adapter");
  const std::string text = (files.dir / "text.gguf").string();
  std::ofstream(text) << "not a model";
  expect_error(s.add("rain", text), 400, "text.gguf", "invalid_adapter");
  // Factors made for a base 128 wide, not this one's 256.
  expect_error(s.add("rain", files.write("narrow", 3, 128)), 400, "blk.0.attn_q.weight", "invalid_adapter");
  expect_error(s.add("rain", testing::default_model_path()), 400, "fortunes-moe.gguf", "invalid_adapter");
  expect_error(s.add("a/b", sky), 400, "must be 1 to 128 letters");
  expect_error(s.add("", sky), 400, "\"name\" must be a non-empty string");
  expect_error(s.call("POST", "/lora-adapters", R"({"name": "rain"})"), 400, "\"path\" must be a non-empty string");
  expect_error(s.call("POST", "/lora-adapters", R"({"name": "rain", "path": "x", "scale": "big"})"), 400,
               "\"scale\" must be a finite number");
  expect_error(s.call("POST", "/lora-adapters", R"({"name": "rain", "file": "x"})"), 400, "unknown field 'file'");
  expect_error(s.call("POST", "/lora-adapters", "{not json"), 400, "must be a JSON object");
  expect_error(s.call("DELETE", "/lora-adapters/rain"), 404, "no adapter is served as 'rain'", "adapter_not_found");
  expect_error(s.call("GET", "/lora-adapters/rain"), 404, "no adapter is served as 'rain'", "adapter_not_found");
  expect_error(s.call("DELETE", "/lora-adapters/default"), 400, "is the base model, not an adapter");
  expect_error(s.call("PUT", "/lora-adapters/sky", "{}"), 405, "PUT is not served on /lora-adapters/sky");
  expect_error(s.call("DELETE", "/lora-adapters"), 405, "DELETE is not served on /lora-adapters");
  // A browser's request (it carries an Origin) is refused even with the key.
  expect_error(s.call("DELETE", "/lora-adapters/sky", "", {{"Origin", "http://127.0.0.1:" + std::to_string(s.f->port)}}),
               403, "do not answer browsers", "admin_disabled");
  // Without the key: the access check's 401.
  s.f->bearer.clear();
  EXPECT_EQ(s.call("DELETE", "/lora-adapters/sky").first, 401);
  s.f->bearer = "sk-admin";
  // Nothing above changed what is served.
  auto list = s.call("GET", "/lora-adapters");
  ASSERT_EQ(list.second["data"].size(), 1u);
  EXPECT_EQ(list.second["data"][0]["id"], "sky");
}

TEST(AdapterAdmin, OffWithoutAKeyUnlessAllowedOnLoopback) {
  AdapterFiles files;
  {
    AdminServer s({});
    expect_error(s.call("GET", "/lora-adapters"), 403, "start frugal serve with --api-key", "admin_disabled");
    expect_error(s.add("sky", files.write("sky", 1)), 403, "the adapter admin endpoints are off", "admin_disabled");
    EXPECT_EQ(s.call("GET", "/v1/models").second["data"].size(), 1u);
  }
  AdminServer open({}, true);
  ASSERT_EQ(open.add("sky", files.write("sky", 1)).first, 200);
  EXPECT_EQ(open.call("GET", "/lora-adapters").second["data"][0]["id"], "sky");
}

TEST(AdapterAdmin, OpenAdminRefusedBeyondLoopback) {
  std::unique_ptr<model::Model> m = model::Model::load(testing::default_model_path());
  tokenizer::Tokenizer tok = tokenizer::Tokenizer::from_metadata(m->file().metadata());
  runtime::Engine engine(*m, {});
  Metrics metrics;
  Scheduler scheduler(engine, tok, {}, metrics);
  ServerOptions so;
  so.host = "0.0.0.0";
  so.port = 0;
  so.admin_without_key = true;
  HttpServer open(scheduler, tok, m->file().metadata(), metrics, so);
  try {
    open.bind();
    ADD_FAILURE() << "an open admin endpoint was bound beyond loopback";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("--enable-admin with no API key"), std::string::npos) << e.what();
  }
  so.api_keys = {"sk-admin"};
  HttpServer keyed(scheduler, tok, m->file().metadata(), metrics, so);
  EXPECT_GT(keyed.bind(), 0);
  scheduler.stop();
}

}  // namespace
}  // namespace frugal::server
