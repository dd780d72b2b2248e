#include "server/http_server.h"

#include <httplib.h>

#include <chrono>
#include <ctime>
#include <random>

#include "base/error.h"
#include "base/log.h"
#include "server/chat_page.h"
#include "server/openai_request.h"
#include "server/openai_response.h"

namespace frugal::server {

namespace {

constexpr std::chrono::milliseconds kPoll{500};  // how often a waiting handler wakes to check its client

std::string random_hex(size_t n) {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  static const char* digits = "0123456789abcdef";
  std::string s(n, '0');
  for (char& c : s) c = digits[rng() & 15];
  return s;
}

// JSON text for the client. Generated text is valid UTF-8 by the time it gets
// here (the stream decoder sees to it); replacing what is not, rather than
// throwing, keeps a mistake anywhere else from ending a stream or the server.
std::string json_text(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

void send_json(httplib::Response& res, int status, const json& body) {
  res.status = status;
  res.set_content(json_text(body), "application/json");
}

void send_error(httplib::Response& res, int status, const std::string& message, const std::string& type,
                const std::string& param = "", const std::string& code = "") {
  send_json(res, status, error_body(message, type, param, code));
}

std::string sse(const json& j) { return "data: " + json_text(j) + "\n\n"; }

// Writes the stream's next server-sent events: the role first (chat), then
// text as it comes, then the finish reason, usage and [DONE]. False: the
// client went away.
bool next_events(Job& job, const ResponseHeader& h, bool include_usage, bool& sent_role, httplib::DataSink& sink) {
  auto write = [&sink](const std::string& s) { return sink.write(s.data(), s.size()); };
  if (!sent_role) {
    sent_role = true;
    return write(sse(role_chunk(h)));
  }
  const Job::Chunk c = job.take(kPoll);
  if (!c.text.empty() && !write(sse(chunk_body(h, c.text, nullptr)))) return false;  // the client went away
  if (!c.done) return true;
  if (!job.error().empty()) {
    if (!write(sse(error_body(job.error(), "server_error")))) return false;
  } else {
    if (!write(sse(chunk_body(h, "", finish_reason(job.stats().stop))))) return false;
    if (include_usage && !write(sse(usage_chunk(h, job.stats())))) return false;
  }
  if (!write("data: [DONE]\n\n")) return false;
  sink.done();
  return true;
}

}  // namespace

struct HttpServer::Impl {
  Scheduler& scheduler;
  const tokenizer::Tokenizer& tok;
  const gguf::Metadata& md;
  Metrics& metrics;
  ServerOptions opts;
  httplib::Server http;

  void routes();
  void complete(const httplib::Request& req, httplib::Response& res, bool chat);
  void stream(httplib::Response& res, std::shared_ptr<Job> job, ResponseHeader h, bool include_usage);
};

void HttpServer::Impl::routes() {
  http.set_payload_max_length(opts.max_body_bytes);
  // SO_REUSEADDR only: httplib's default, SO_REUSEPORT, lets a second server
  // bind a port already in use and take half of its connections.
  http.set_socket_options([](socket_t sock) {
    int yes = 1;
    setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, reinterpret_cast<const void*>(&yes), sizeof(yes));
  });
  http.Get("/health", [](const httplib::Request&, httplib::Response& res) { send_json(res, 200, {{"status", "ok"}}); });
  http.Get("/v1/models", [this](const httplib::Request&, httplib::Response& res) {
    json model = {{"id", opts.model_name}, {"object", "model"}, {"created", 0}, {"owned_by", "frugal"},
                  {"meta", {{"n_ctx", scheduler.n_ctx()}, {"n_vocab", tok.n_vocab()}, {"parallel", scheduler.n_slots()}}}};
    send_json(res, 200, {{"object", "list"}, {"data", json::array({model})}});
  });
  http.Get("/metrics", [this](const httplib::Request&, httplib::Response& res) {
    res.set_content(metrics.prometheus_text(), "text/plain; version=0.0.4");
  });
  http.Get("/", [](const httplib::Request&, httplib::Response& res) { res.set_content(chat_page_html(), "text/html"); });
  http.Post("/v1/completions", [this](const httplib::Request& q, httplib::Response& r) { complete(q, r, false); });
  http.Post("/v1/chat/completions", [this](const httplib::Request& q, httplib::Response& r) { complete(q, r, true); });
  // Statuses httplib sets by itself (no route, a body too large, a bad
  // request line) get an OpenAI error body too.
  http.set_error_handler([](const httplib::Request& req, httplib::Response& res) {
    if (!res.body.empty()) return;
    if (res.status == 404) send_error(res, 404, "no route " + req.method + " " + req.path, "invalid_request_error");
    else if (res.status == 413) send_error(res, 413, "the request body is too large", "invalid_request_error");
    else send_error(res, res.status, std::string("HTTP ") + std::to_string(res.status), "invalid_request_error");
  });
  http.set_exception_handler([](const httplib::Request&, httplib::Response& res, std::exception_ptr ep) {
    std::string what = "unknown error";
    try {
      std::rethrow_exception(ep);
    } catch (const std::exception& e) {
      what = e.what();
    } catch (...) {
    }
    log_warn("serve: a request failed: ", what);
    send_error(res, 500, what, "server_error");
  });
}

void HttpServer::Impl::complete(const httplib::Request& req, httplib::Response& res, bool chat) {
  CompletionRequest r;
  std::shared_ptr<Job> job;
  try {
    r = chat ? parse_chat_request(req.body, tok, md, opts.defaults) : parse_completion_request(req.body, tok, opts.defaults);
    if (!r.seeded) r.params.sampling.seed = opts.random_seed ? std::random_device{}() * 0x9e3779b97f4a7c15ull + uint64_t(std::time(nullptr)) : opts.defaults.sampling.seed;
    if (static_cast<int64_t>(r.prompt.size()) >= scheduler.n_ctx())
      throw RequestError(chat ? "messages" : "prompt",
                         "the prompt has " + std::to_string(r.prompt.size()) + " tokens and the context holds " +
                             std::to_string(scheduler.n_ctx()) + " (prompt and answer together)",
                         "context_length_exceeded");
    job = scheduler.submit(r.prompt, r.params);
  } catch (const RequestError& e) {
    ++metrics.requests_rejected;
    return send_error(res, 400, e.what(), "invalid_request_error", e.param, e.code);
  } catch (const QueueFull& e) {
    ++metrics.requests_rejected;
    return send_error(res, 503, e.what(), "server_error", "", "server_busy");
  } catch (const Error& e) {
    ++metrics.requests_rejected;
    return send_error(res, 400, e.what(), "invalid_request_error");
  }
  ResponseHeader h{chat, (chat ? "chatcmpl-" : "cmpl-") + random_hex(24), static_cast<int64_t>(std::time(nullptr)),
                   opts.model_name};
  if (r.stream) return stream(res, std::move(job), std::move(h), r.include_usage);

  std::string text;
  Job::Chunk c;
  do {
    c = job->take(kPoll);
    text += c.text;
  } while (!c.done);
  if (!job->error().empty()) return send_error(res, 500, job->error(), "server_error");
  send_json(res, 200, completion_body(h, text, job->stats()));
}

void HttpServer::Impl::stream(httplib::Response& res, std::shared_ptr<Job> job, ResponseHeader h, bool include_usage) {
  res.set_header("Cache-Control", "no-cache");
  auto sent_role = std::make_shared<bool>(!h.chat);
  auto provider = [job, h, include_usage, sent_role](size_t, httplib::DataSink& sink) {
    // An exception here would escape the HTTP library's thread and end the
    // process: a failure ends this stream, and only this stream.
    try {
      return next_events(*job, h, include_usage, *sent_role, sink);
    } catch (const std::exception& e) {
      log_warn("serve: a stream failed: ", e.what());
      job->cancel();
      return false;
    }
  };
  // Called when the response ends, finished or not: a stream cut short
  // (the client closed it) stops its completion and frees the slot.
  auto releaser = [job](bool success) {
    if (!success) job->cancel();
  };
  res.set_chunked_content_provider("text/event-stream", provider, releaser);
}

HttpServer::HttpServer(Scheduler& scheduler, const tokenizer::Tokenizer& tok, const gguf::Metadata& md, Metrics& metrics,
                       ServerOptions opts)
    : impl_(new Impl{scheduler, tok, md, metrics, std::move(opts), {}}) {
  impl_->routes();
}

HttpServer::~HttpServer() { stop(); }

int HttpServer::bind() {
  const ServerOptions& o = impl_->opts;
  if (o.port < 0 || o.port > 65535) fail("serve: --port must be 0-65535, not ", o.port);
  if (o.port == 0) port_ = impl_->http.bind_to_any_port(o.host);
  else port_ = impl_->http.bind_to_port(o.host, o.port) ? o.port : -1;
  if (port_ <= 0) fail("serve: cannot listen on ", o.host, ":", o.port, " (in use, or not an address of this machine)");
  return port_;
}

void HttpServer::listen() { impl_->http.listen_after_bind(); }

void HttpServer::stop() {
  if (impl_->http.is_running()) impl_->http.stop();
}

}  // namespace frugal::server
