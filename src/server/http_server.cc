#include "server/http_server.h"

#include <functional>
#include <string_view>
#include <thread>

#include "base/error.h"
#include "base/log.h"
#include "server/access_policy.h"
#include "server/adapter_admin.h"
#include "server/placement_endpoint.h"
#include "server/chat_page.h"
#include "server/completion_answer.h"
#include "server/connection_loop.h"
#include "server/openai_response.h"
#include "server/token_endpoints.h"
#include "server/worker_pool.h"

namespace frugal::server {

namespace {

void respond_json(Exchange& ex, int status, const json& body, HttpHeaders headers = {}) {
  headers.emplace_back("Content-Type", "application/json");
  ex.respond(status, std::move(headers), json_text(body));
}

void respond_error(Exchange& ex, int status, const std::string& message, HttpHeaders headers = {},
                   const std::string& code = "", const std::string& type = "invalid_request_error") {
  respond_json(ex, status, error_body(message, type, "", code), std::move(headers));
}

// The page may run only its own inline script and style, and talk only to
// this server: model output that slips into the page as markup cannot load
// or send anything.
constexpr const char* kPagePolicy =
    "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; "
    "img-src data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

// Every route: what answers it, and whether it is a POST (else GET and HEAD).
enum class Kind { kHealth, kMetrics, kPage, kModels, kModel, kCompletion, kChat, kTokenize, kDetokenize };
struct Route {
  std::string_view path;
  Kind kind;
  bool post;
};
constexpr Route kRoutes[] = {
    {"/health", Kind::kHealth, false},
    {"/metrics", Kind::kMetrics, false},
    {"/", Kind::kPage, false},
    {"/v1/models", Kind::kModels, false},
    {"/v1/completions", Kind::kCompletion, true},
    {"/v1/chat/completions", Kind::kChat, true},
    {"/tokenize", Kind::kTokenize, true},      // llama-server's paths: it has no /v1/ form of these
    {"/detokenize", Kind::kDetokenize, true},
};
constexpr Route kModelRoute{"/v1/models/{id}", Kind::kModel, false};

const Route* find_route(std::string_view path) {
  for (const Route& r : kRoutes)
    if (r.path == path) return &r;
  return nullptr;
}

}  // namespace

struct HttpServer::Impl {
  Scheduler& scheduler;
  const tokenizer::Tokenizer& tok;
  const gguf::Metadata& md;
  Metrics& metrics;
  ServerOptions opts;
  AdapterRegistry adapters;  // opts.adapters at first, then as the admin endpoints change it
  AccessOptions access;
  std::atomic<bool> shutting_down{false};
  runtime::LazyTokenTrie trie;  // built at the first request for structured output; outlives the threads below
  std::unique_ptr<ConnectionLoop> loop;
  std::unique_ptr<WorkerPool> pool;  // after loop: destroyed first, its threads joined before the loop goes

  void handle(const std::shared_ptr<Exchange>& ex);
  void route(const std::shared_ptr<Exchange>& ex, const HttpHeaders& cors);
  void on_worker(const std::shared_ptr<Exchange>& ex, const HttpHeaders& cors, bool completion,
                 std::function<void()> work);
  json model_object(const std::string& id) const;  // null when the server serves no model of that id
  json models() const;
};

json HttpServer::Impl::model_object(const std::string& id) const {
  json meta = {{"n_ctx", scheduler.n_ctx()}, {"n_vocab", tok.n_vocab()}, {"parallel", scheduler.n_slots()}};
  if (id != opts.model_name) {
    const ServedAdapter a = adapters.find(id);
    if (!a.lora) return nullptr;
    meta["base"] = opts.model_name;
    meta["lora"] = adapter_fields(a);
  }
  return {{"id", id}, {"object", "model"}, {"created", 0}, {"owned_by", "frugal"}, {"meta", meta}};
}

json HttpServer::Impl::models() const {
  json list = json::array({model_object(opts.model_name)});
  for (const ServedAdapter& a : adapters.list()) list.push_back(model_object(a.name));
  return list;
}

// On the loop thread: every route but the completions answers at once.
void HttpServer::Impl::handle(const std::shared_ptr<Exchange>& ex) {
  const HttpRequest& q = ex->request();
  AccessDecision d = check_access(q, access);
  if (d.status != 0) {
    if (d.status == 401 || d.status == 403) ++metrics.requests_refused_access;
    return respond_json(*ex, d.status, error_body(d.message, "invalid_request_error", "", d.code), d.headers);
  }
  if (q.method == "OPTIONS") {
    HttpHeaders h = d.headers;
    for (auto& kv : preflight_headers(q)) h.push_back(kv);
    return ex->respond(204, std::move(h), "");
  }
  route(ex, d.headers);
}

void HttpServer::Impl::route(const std::shared_ptr<Exchange>& ex, const HttpHeaders& cors) {
  const HttpRequest& q = ex->request();
  const std::string& p = q.path;
  if (is_adapter_admin_path(p))
    return on_worker(ex, cors, false, [this, ex, cors] { answer_adapter_admin(*ex, cors, adapters, opts); });
  if (p == kPlacementPath)  // waits for the forward call under way
    return on_worker(ex, cors, false, [this, ex, cors] { answer_expert_placement(*ex, cors, scheduler, opts); });
  const bool model_id = p.rfind("/v1/models/", 0) == 0 && p.size() > 11;
  const Route* r = model_id ? &kModelRoute : find_route(p);
  if (!r) return respond_error(*ex, 404, "no route " + q.method + " " + p, cors);
  const bool post = q.method == "POST";
  if (r->post != post || (!post && q.method != "GET" && q.method != "HEAD")) {
    HttpHeaders h = cors;
    h.emplace_back("Allow", r->post ? "POST, OPTIONS" : "GET, HEAD, OPTIONS");
    return respond_error(*ex, 405, q.method + " is not served on " + p + " (" + h.back().second + " are)", h);
  }
  switch (r->kind) {
    case Kind::kHealth:
      return respond_json(*ex, 200, {{"status", "ok"}}, cors);
    case Kind::kModels:
      return respond_json(*ex, 200, {{"object", "list"}, {"data", models()}}, cors);
    case Kind::kModel: {
      const json m = model_object(p.substr(11));
      if (!m.is_null()) return respond_json(*ex, 200, m, cors);
      return respond_error(*ex, 404, unknown_model_message(p.substr(11), opts.model_name, adapters), cors,
                           "model_not_found");
    }
    case Kind::kMetrics: {
      metrics.http_connections = static_cast<int64_t>(loop->connections());
      HttpHeaders h = cors;
      h.emplace_back("Content-Type", "text/plain; version=0.0.4");
      return ex->respond(200, std::move(h), metrics.prometheus_text());
    }
    case Kind::kPage:
      return ex->respond(200, {{"Content-Type", "text/html"}, {"Content-Security-Policy", kPagePolicy},
                               {"X-Content-Type-Options", "nosniff"}},
                         chat_page_html());
    case Kind::kCompletion:
    case Kind::kChat: {
      const bool chat = r->kind == Kind::kChat;
      return on_worker(ex, cors, true, [this, ex, chat, cors] {
        const CompletionContext ctx{scheduler, tok, md, metrics, opts, adapters, shutting_down, trie};
        answer_completion(ctx, *ex, chat, cors);
      });
    }
    case Kind::kTokenize:
    case Kind::kDetokenize: {
      const bool detokenize = r->kind == Kind::kDetokenize;
      return on_worker(ex, cors, false, [this, ex, detokenize, cors] { answer_tokens(*ex, tok, detokenize, cors); });
    }
  }
}

// Work that may take long (decoding, or encoding a long text) leaves the
// loop for a worker thread; when every thread is taken, a 503.
void HttpServer::Impl::on_worker(const std::shared_ptr<Exchange>& ex, const HttpHeaders& cors, bool completion,
                                 std::function<void()> work) {
  if (pool->try_submit(std::move(work))) return;
  if (completion) ++metrics.requests_rejected;
  respond_error(*ex, 503, "the server is busy: every HTTP thread is answering; retry later", cors, "server_busy",
                "server_error");
}

HttpServer::HttpServer(Scheduler& scheduler, const tokenizer::Tokenizer& tok, const gguf::Metadata& md, Metrics& metrics,
                       ServerOptions opts)
    : impl_(new Impl{scheduler, tok, md, metrics, std::move(opts), AdapterRegistry(), {}, {}, {tok, md}, {}, {}}) {
  Impl& m = *impl_;
  for (const ServedAdapter& a : m.opts.adapters)
    if (!m.adapters.add(a)) fail("serve: the adapter name '", a.name, "' is given twice");
  m.access.allowed_origins = m.opts.allowed_origins;
  m.access.allowed_hosts = m.opts.allowed_hosts;
  m.access.api_keys = m.opts.api_keys;
  LoopOptions lo;
  lo.host = m.opts.host;
  lo.port = m.opts.port;
  lo.max_connections = m.opts.max_connections;
  lo.request_timeout = m.opts.timeout;
  lo.idle_timeout = m.opts.idle_timeout;
  lo.limits.max_body_bytes = m.opts.max_body_bytes;
  lo.error_body = [](int status, const std::string& message) {
    return json_text(error_body(message, status >= 500 ? "server_error" : "invalid_request_error"));
  };
  m.loop = std::make_unique<ConnectionLoop>(std::move(lo), [this](std::shared_ptr<Exchange> ex) { impl_->handle(ex); });
  m.pool = std::make_unique<WorkerPool>(m.opts.http_threads, static_cast<size_t>(m.opts.http_threads));
}

HttpServer::~HttpServer() {
  // Answers under way see their clients gone (stop closes every connection)
  // and end; then the pool's threads join.
  impl_->shutting_down = true;
  impl_->loop->stop();
  impl_->pool.reset();
}

int HttpServer::bind() {
  const int port = impl_->loop->bind();
  const bool loopback = impl_->loop->loopback();
  if (impl_->opts.admin_without_key && impl_->opts.api_keys.empty() && !loopback)
    fail("serve: --enable-admin with no API key would let anyone who reaches ", impl_->opts.host,
         " load files as adapters; listen on a loopback address or set --api-key");
  port_ = port;
  impl_->access.loopback_only_hosts = loopback;
  return port_;
}

void HttpServer::listen() { impl_->loop->run(); }

void HttpServer::stop() { impl_->loop->stop(); }

size_t HttpServer::connections() const { return impl_->loop->connections(); }

void HttpServer::shutdown(std::chrono::milliseconds grace) {
  Impl& m = *impl_;
  m.shutting_down = true;
  m.loop->stop_accepting();
  using Clock = std::chrono::steady_clock;
  auto wait_answered = [&](Clock::time_point until) {
    while (m.loop->answering() > 0 && Clock::now() < until) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    return m.loop->answering() == 0;
  };
  // Streams end at their next poll; whole answers may finish in the grace time.
  if (!wait_answered(Clock::now() + grace)) {
    log_info("serve: cancelling the answers still running after the shutdown timeout (", m.loop->answering(), ")");
    m.scheduler.stop();  // what runs ends with an error, answered 503
    wait_answered(Clock::now() + std::chrono::seconds(1));
  }
  m.loop->stop();
}

}  // namespace frugal::server
