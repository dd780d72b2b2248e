// A frugal server on a free loopback port over the bundled default model
// (models/fortunes-moe.gguf, the default model until 2026-12-07: real text, so greedy answers are clear of near ties),
// with helpers to post JSON and to read a server-sent-event stream.
#pragma once
#include <httplib.h>

#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "model/model.h"
#include "runtime/engine.h"
#include "server/http_server.h"
#include "server/scheduler.h"
#include "tokenizer/tokenizer.h"

namespace frugal::server::testing {

using json = nlohmann::ordered_json;

inline std::string default_model_path() { return std::string(FRUGAL_SOURCE_DIR) + "/models/fortunes-moe.gguf"; }

struct ServerFixture {
  std::unique_ptr<model::Model> model;
  std::optional<tokenizer::Tokenizer> tok;
  std::unique_ptr<runtime::Engine> engine;
  Metrics metrics;
  std::unique_ptr<Scheduler> scheduler;
  std::unique_ptr<HttpServer> http;
  std::thread thread;
  int port = 0;
  std::string bearer;  // sent as Authorization: Bearer by every client() when set

  // `tweak` changes the server's options before it starts (timeouts, origins,
  // keys); prefix_blocks sizes the engine's prefix cache (0: off).
  explicit ServerFixture(int parallel = 4, int max_queued = 64, size_t max_body = 8u << 20,
                         const std::string& model_path = default_model_path(),
                         const std::function<void(ServerOptions&)>& tweak = nullptr, int prefix_blocks = 0) {
    model = model::Model::load(model_path);
    tok.emplace(tokenizer::Tokenizer::from_metadata(model->file().metadata()));
    runtime::EngineOptions eo;
    eo.n_seq_max = parallel;
    eo.prefix_blocks = prefix_blocks;
    engine = std::make_unique<runtime::Engine>(*model, eo);
    scheduler = std::make_unique<Scheduler>(*engine, *tok, SchedulerOptions{512, max_queued}, metrics);
    ServerOptions so;
    so.host = "127.0.0.1";
    so.port = 0;
    so.model_name = "default";
    so.max_body_bytes = max_body;
    so.http_threads = parallel + max_queued + 8;  // as frugal serve sizes it
    if (tweak) tweak(so);
    http = std::make_unique<HttpServer>(*scheduler, *tok, model->file().metadata(), metrics, so);
    port = http->bind();
    thread = std::thread([this] { http->listen(); });
  }
  ~ServerFixture() {
    http->stop();
    thread.join();
    scheduler->stop();
  }

  httplib::Client client() const {
    httplib::Client c("127.0.0.1", port);
    c.set_read_timeout(120, 0);
    if (!bearer.empty()) c.set_bearer_token_auth(bearer);
    return c;
  }

  // POST path with a JSON body: (status, parsed body or the raw text as a string).
  std::pair<int, json> post(const std::string& path, const std::string& body) const {
    httplib::Client c = client();
    auto res = c.Post(path, body, "application/json");
    if (!res) return {0, json("no response")};
    json j = json::parse(res->body, nullptr, false);
    return {res->status, j.is_discarded() ? json(res->body) : j};
  }
  std::pair<int, json> post(const std::string& path, const json& body) const { return post(path, body.dump()); }

  // A streamed POST: the "data:" payloads in order ("[DONE]" kept as the string).
  // on_event returning false closes the connection (the client goes away).
  std::vector<std::string> stream(const std::string& path, const json& body,
                                  const std::function<bool(const std::string&)>& on_event = nullptr) const {
    httplib::Client c = client();
    std::vector<std::string> events;
    std::string buf;
    httplib::Request req;
    req.method = "POST";
    req.path = path;
    req.body = body.dump();
    req.set_header("Content-Type", "application/json");
    req.content_receiver = [&](const char* data, size_t n, uint64_t, uint64_t) {
      buf.append(data, n);
      for (size_t k; (k = buf.find("\n\n")) != std::string::npos;) {
        std::string ev = buf.substr(0, k);
        buf.erase(0, k + 2);
        if (ev.rfind("data: ", 0) == 0) ev.erase(0, 6);
        events.push_back(ev);
        if (on_event && !on_event(ev)) return false;
      }
      return true;
    };
    c.send(req);
    return events;
  }

  uint64_t metric(const std::string& name) const {
    httplib::Client c = client();
    auto res = c.Get("/metrics");
    if (!res) return ~0ull;
    const std::string key = "\nfrugal_" + name + " ";
    const size_t at = res->body.find(key);
    return at == std::string::npos ? ~0ull : std::stoull(res->body.substr(at + key.size()));
  }
};

}  // namespace frugal::server::testing
