#include "server/completion_answer.h"

#include <chrono>
#include <ctime>
#include <random>

#include "base/error.h"
#include "base/log.h"
#include "server/openai_request.h"
#include "server/openai_response.h"

namespace frugal::server {

namespace {

// How often a waiting answer wakes to see whether its client is still there
// and whether the server is stopping.
constexpr std::chrono::milliseconds kPoll{50};

std::string random_hex(size_t n) {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  static const char* digits = "0123456789abcdef";
  std::string s(n, '0');
  for (char& c : s) c = digits[rng() & 15];
  return s;
}

std::string sse(const json& j) { return "data: " + json_text(j) + "\n\n"; }

void respond_json(Exchange& ex, int status, const json& body, HttpHeaders headers) {
  headers.emplace_back("Content-Type", "application/json");
  ex.respond(status, std::move(headers), json_text(body));
}

// Server-sent events: the role first (chat), text as it comes, then the
// finish reason, usage and [DONE]; an error event and [DONE] when the
// completion fails or the server stops.
void stream(const CompletionContext& ctx, Exchange& ex, Job& job, const ResponseHeader& h, bool include_usage,
            HttpHeaders headers) {
  headers.emplace_back("Content-Type", "text/event-stream");
  headers.emplace_back("Cache-Control", "no-cache");
  ex.start_stream(200, std::move(headers));
  if (h.chat) ex.send(sse(role_chunk(h)));
  while (true) {
    const Job::Chunk c = job.take(kPoll);
    if (ex.client_gone()) return job.cancel();
    if (!c.text.empty()) ex.send(sse(chunk_body(h, c.text, nullptr)));
    if (c.done) {
      if (!job.error().empty()) {
        ex.send(sse(error_body(job.error(), "server_error")));
      } else {
        ex.send(sse(chunk_body(h, "", finish_reason(job.stats().stop))));
        if (include_usage) ex.send(sse(usage_chunk(h, job.stats())));
      }
      break;
    }
    if (ctx.shutting_down.load()) {
      job.cancel();
      ex.send(sse(error_body("the server is shutting down", "server_error", "", "server_shutting_down")));
      break;
    }
  }
  ex.send("data: [DONE]\n\n");
  ex.end_stream();
}

}  // namespace

std::string json_text(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

void answer_completion(const CompletionContext& ctx, Exchange& ex, bool chat, const HttpHeaders& headers) {
  auto refuse = [&](int status, const std::string& message, const std::string& type, const std::string& param = "",
                    const std::string& code = "") {
    ++ctx.metrics.requests_rejected;
    respond_json(ex, status, error_body(message, type, param, code), headers);
  };
  std::shared_ptr<Job> job;
  CompletionRequest r;
  try {
    const std::string& body = ex.request().body;
    r = chat ? parse_chat_request(body, ctx.tok, ctx.md, ctx.opts.defaults)
             : parse_completion_request(body, ctx.tok, ctx.opts.defaults);
    if (!r.seeded)
      r.params.sampling.seed = ctx.opts.random_seed ? std::random_device{}() * 0x9e3779b97f4a7c15ull + uint64_t(std::time(nullptr))
                                                    : ctx.opts.defaults.sampling.seed;
    if (static_cast<int64_t>(r.prompt.size()) >= ctx.scheduler.n_ctx())
      throw RequestError(chat ? "messages" : "prompt",
                         "the prompt has " + std::to_string(r.prompt.size()) + " tokens and the context holds " +
                             std::to_string(ctx.scheduler.n_ctx()) + " (prompt and answer together)",
                         "context_length_exceeded");
    if (ex.client_gone()) return;  // left while the body was read
    if (ctx.shutting_down.load()) return refuse(503, "the server is shutting down", "server_error", "", "server_shutting_down");
    job = ctx.scheduler.submit(r.prompt, r.params);
  } catch (const RequestError& e) {
    return refuse(400, e.what(), "invalid_request_error", e.param, e.code);
  } catch (const QueueFull& e) {
    return refuse(503, e.what(), "server_error", "", "server_busy");
  } catch (const Error& e) {
    if (ctx.shutting_down.load()) return refuse(503, e.what(), "server_error", "", "server_shutting_down");
    return refuse(400, e.what(), "invalid_request_error");
  } catch (const std::exception& e) {
    log_warn("serve: a request failed: ", e.what());
    return refuse(500, e.what(), "server_error");
  }

  const ResponseHeader h{chat, (chat ? "chatcmpl-" : "cmpl-") + random_hex(24), static_cast<int64_t>(std::time(nullptr)),
                         ctx.opts.model_name};
  try {
    if (r.stream) return stream(ctx, ex, *job, h, r.include_usage, headers);
    std::string text;
    Job::Chunk c;
    do {
      c = job->take(kPoll);
      // Nobody is waiting for the answer: stop at the next token.
      if (ex.client_gone()) return job->cancel();
      text += c.text;
    } while (!c.done);
    if (!job->error().empty()) {
      const bool stopping = ctx.shutting_down.load();
      return respond_json(ex, stopping ? 503 : 500,
                          error_body(job->error(), "server_error", "", stopping ? "server_shutting_down" : ""), headers);
    }
    respond_json(ex, 200, completion_body(h, text, job->stats()), headers);
  } catch (const std::exception& e) {
    // A failure ends this answer, and only this one.
    log_warn("serve: an answer failed: ", e.what());
    job->cancel();
    if (!ex.ended()) {
      if (r.stream) {
        ex.send(sse(error_body(e.what(), "server_error")));
        ex.end_stream();
      } else {
        respond_json(ex, 500, error_body(e.what(), "server_error"), headers);
      }
    }
  }
}

}  // namespace frugal::server
