// frugal's OpenAI-compatible HTTP front end:
//   POST /v1/completions, POST /v1/chat/completions (whole or streamed as
//   server-sent events), GET /v1/models, GET /health, GET /metrics
//   (Prometheus text), and GET / (a chat page).
// Requests become Jobs on the Scheduler; errors are OpenAI error bodies with
// a 4xx status for the client's mistakes and 5xx for the server's.
#pragma once
#include <memory>
#include <string>

#include "gguf/value.h"
#include "runtime/generator.h"
#include "server/metrics.h"
#include "server/scheduler.h"
#include "tokenizer/tokenizer.h"

namespace frugal::server {

struct ServerOptions {
  std::string host = "127.0.0.1";
  int port = 8080;                  // 0: any free port (port() says which)
  std::string model_name;           // what /v1/models and every response report
  runtime::GenerateParams defaults; // for fields a request leaves out
  bool random_seed = true;          // a request without "seed" gets a fresh one (else defaults.sampling.seed)
  size_t max_body_bytes = 8u << 20;
};

class HttpServer {
 public:
  HttpServer(Scheduler& scheduler, const tokenizer::Tokenizer& tok, const gguf::Metadata& md, Metrics& metrics,
             ServerOptions opts);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Binds the address (frugal::Error when it cannot); returns the port.
  int bind();
  // Serves until stop() (from any thread).
  void listen();
  void stop();
  int port() const { return port_; }

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  int port_ = 0;
};

}  // namespace frugal::server
