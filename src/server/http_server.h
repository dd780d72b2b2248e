// frugal's OpenAI-compatible HTTP front end:
//   POST /v1/completions, POST /v1/chat/completions (whole or streamed as
//   server-sent events), GET /v1/models, GET /v1/models/{id}, GET /health,
//   GET /metrics (Prometheus text), GET / (a chat page), and the operator's
//   endpoints: adapter admin under /lora-adapters (adapter_admin.h) and
//   GET /expert-placement (placement_endpoint.h).
// Connections live on one event loop (connection_loop.h); completions run on
// a pool of --http-threads threads, each holding one request while the
// Scheduler decodes it. Errors are OpenAI error bodies with a 4xx status for
// the client's mistakes and 5xx for the server's.
#pragma once
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "gguf/value.h"
#include "model/lora.h"
#include "server/adapter_registry.h"
#include "runtime/generator.h"
#include "server/metrics.h"
#include "server/scheduler.h"
#include "tokenizer/tokenizer.h"

namespace frugal::server {

struct ServerOptions {
  std::string host = "127.0.0.1";
  int port = 8080;                  // 0: any free port (port() says which)
  std::string model_name;           // what /v1/models and every response report
  // Adapters served beside the base from the start (frugal serve --lora
  // NAME=FILE): a request whose "model" is NAME runs with that adapter (its
  // rows' products in the same forward passes as the others'); /v1/models
  // lists them. With none, "model" is not checked (but for the name of an
  // adapter removed while the server runs).
  std::vector<ServedAdapter> adapters;
  // POST /lora-adapters loads files through this (checking them against the
  // base); null: adapters cannot be added while the server runs.
  std::function<std::shared_ptr<const model::LoraAdapter>(const std::string& path, float scale)> load_adapter;
  float adapter_scale = 1;          // an added adapter's scale when its request gives none (--lora-scale)
  // The adapter admin endpoints (server/adapter_admin.h) are on behind an
  // API key; with no key only when this is set (--enable-admin), and then
  // only on a loopback address (bind() refuses any other).
  bool admin_without_key = false;
  runtime::GenerateParams defaults; // for fields a request leaves out
  bool random_seed = true;          // a request without "seed" gets a fresh one (else defaults.sampling.seed)
  size_t max_body_bytes = 8u << 20; // for every transfer encoding
  int http_threads = 64;            // completions answered at once (each holds a thread); as many more may wait
  size_t max_connections = 4096;
  std::chrono::milliseconds timeout{60000};       // a request must arrive whole within this; a stalled reader is dropped
  std::chrono::milliseconds idle_timeout{30000};  // a keep-alive connection with no request
  std::vector<std::string> allowed_origins;       // browser origins besides the server's own ("*": any)
  std::vector<std::string> allowed_hosts;         // Host names accepted on loopback besides localhost's
  std::vector<std::string> api_keys;              // none: open
};

class HttpServer {
 public:
  HttpServer(Scheduler& scheduler, const tokenizer::Tokenizer& tok, const gguf::Metadata& md, Metrics& metrics,
             ServerOptions opts);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Binds the address (frugal::Error when it cannot, or when the admin
  // endpoints would be open, with no API key, beyond loopback); returns the port.
  int bind();
  // Serves until stop() or shutdown() (from another thread).
  void listen();
  // Closes every connection at once; listen() returns.
  void stop();
  // The graceful stop: no new connections, streams end now with an error
  // event and [DONE], whole answers get until `grace` to finish (then their
  // completions are cancelled and they are answered 503); returns once every
  // answer is written or the time is up, and listen() returns.
  void shutdown(std::chrono::milliseconds grace);
  int port() const { return port_; }
  size_t connections() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  int port_ = 0;
};

}  // namespace frugal::server
