#include "server/completion_answer.h"

#include <algorithm>
#include <chrono>
#include <ctime>
#include <random>
#include <span>
#include <utility>

#include "base/error.h"
#include "base/log.h"
#include "server/openai_request.h"
#include "server/openai_response.h"
#include "server/tool_calls.h"
#include "server/tool_request.h"
#include "tokenizer/harmony.h"

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

// One request's choices as they are read: each choice's text and
// log-probabilities so far, and where its text offsets stand.
struct Choices {
  const CompletionContext& ctx;
  const CompletionRequest& r;
  std::vector<std::shared_ptr<Job>> jobs;
  std::vector<Choice> out;
  std::vector<std::vector<runtime::TokenLogprob>> logprobs;
  std::vector<size_t> offsets;
  std::vector<bool> done;
  // A harmony model's chat answers (gpt-oss): each choice's text split into
  // the final channel (content) and the analysis channel (reasoning).
  bool harmony;
  std::vector<tokenizer::HarmonyParser> parsers;
  // Chat with tools: each choice's calls read out of its text (harmony:
  // out of the messages that name a recipient), and the ids of their heads.
  const ToolCallFormat* tool_format;
  std::vector<ToolCallParser> tool_parsers;
  std::vector<HarmonyCallReader> harmony_calls;
  std::vector<std::vector<std::string>> call_ids;
  std::vector<size_t> whole_calls;  // calls completed, per choice
  std::vector<bool> began;          // the choice's text has begun (after a forced call's opening)

  Choices(const CompletionContext& c, const CompletionRequest& req, std::vector<std::shared_ptr<Job>> j, bool h,
          const ToolCallFormat* tf)
      : ctx(c), r(req), jobs(std::move(j)), out(jobs.size()), logprobs(jobs.size()),
        offsets(jobs.size(), req.echo ? req.prompt_text.size() : 0), done(jobs.size(), false), harmony(h),
        parsers(jobs.size()), tool_format(tf), harmony_calls(jobs.size()), call_ids(jobs.size()), whole_calls(jobs.size(), 0), began(jobs.size(), false) {
    if (tf)
      for (size_t i = 0; i < jobs.size(); ++i) tool_parsers.emplace_back(*tf);
  }

  // "tool_calls" once a choice has called a tool, unless max_tokens or the
  // context cut it ("length", as OpenAI's a call cut short).
  const char* finish(size_t i) const {
    const char* reason = finish_reason(jobs[i]->stats().stop);
    return !call_ids[i].empty() && std::string_view(reason) != "length" ? "tool_calls" : reason;
  }

  // New text of choice i as content, reasoning and tool calls (all content
  // without harmony or tools). The calls' heads get their ids here; whole
  // calls go to c.tool_calls, their pieces to `deltas`.
  Choice split(size_t i, std::string text, bool last, std::vector<ToolCallDelta>* deltas = nullptr) {
    // A forced call's opening is in the prompt and its close comes after the
    // answer: the readers take them as the answer's own text.
    if (!began[i]) text = r.tool_prefill + text, began[i] = true;
    if (last) text += r.tool_close;
    Choice c;
    ToolCallPiece t;
    if (!harmony) {
      c.text = text;
    } else {
      std::vector<tokenizer::HarmonyPiece> pieces = parsers[i].feed(text);
      if (last)
        for (auto& p : parsers[i].finish()) pieces.push_back(std::move(p));
      for (const tokenizer::HarmonyPiece& p : pieces) {
        const size_t before = t.deltas.size();
        if (r.tool_choice != "none" && harmony_calls[i].feed(p, t)) {
          for (size_t k = before; k < t.deltas.size(); ++k) t.deltas[k].content_at = c.text.size();
          continue;
        }
        if (!p.recipient.empty()) continue;
        if (p.channel == "analysis") c.reasoning += p.text;
        else if (p.channel == "final") c.text += p.text;
      }
    }
    if (tool_format) {
      t = tool_parsers[i].feed(c.text);
      if (last) {
        ToolCallPiece rest = tool_parsers[i].finish();
        for (ToolCallDelta& d : rest.deltas) d.content_at += t.content.size(), t.deltas.push_back(std::move(d));
        t.content += rest.content;
        for (ToolCall& call : rest.calls) t.calls.push_back(std::move(call));
      }
      c.text = std::move(t.content);
    }
    for (const ToolCallDelta& d : t.deltas)
      if (!d.name.empty()) call_ids[i].push_back("call_" + random_hex(24));
    for (const ToolCall& call : t.calls) {
      if (c.tool_calls.is_null()) c.tool_calls = json::array();
      c.tool_calls.push_back({{"id", call_ids[i][whole_calls[i]++]},
                              {"type", "function"},
                              {"function", {{"name", call.name}, {"arguments", call.arguments}}}});
    }
    if (deltas) *deltas = std::move(t.deltas);
    return c;
  }
  void cancel() {
    for (auto& j : jobs) j->cancel();
  }
  // echo: the prompt's text, with its tokens' log-probabilities when asked
  // for (the first choice's job computed them; the prompt is read by then).
  Choice echo() {
    Choice c;
    c.text = r.prompt_text;
    if (r.params.logprobs >= 0)
      c.logprobs = prompt_logprobs_body(ctx.tok, r.prompt, jobs.front()->prompt_logprobs(), r.prompt_text);
    return c;
  }
  bool all_done() const { return std::find(done.begin(), done.end(), false) == done.end(); }
  const std::string* error() const {
    for (const auto& j : jobs)
      if (!j->error().empty()) return &j->error();
    return nullptr;
  }
  // Null when not asked for; a chunk with no new token has none either.
  json logprobs_of(std::span<const runtime::TokenLogprob> lps, size_t i, bool whole) {
    if (r.params.logprobs < 0 || (lps.empty() && !whole)) return nullptr;
    return logprobs_body(r.chat, ctx.tok, lps, offsets[i]);
  }
  // Waits up to kPoll for the next news of any choice; calls got(i, chunk)
  // for each choice that has some.
  template <class F>
  void take(F got) {
    bool waited = false;
    for (size_t i = 0; i < jobs.size(); ++i) {
      if (done[i]) continue;
      // One choice: wait on it. Several: the first unfinished one waits a
      // little, and the others are read as they are.
      const auto wait = waited ? std::chrono::milliseconds(0) : jobs.size() == 1 ? kPoll : std::chrono::milliseconds(5);
      waited = true;
      Job::Chunk c = jobs[i]->take(wait);
      done[i] = c.done;
      got(i, c);
    }
  }
  // The usage of all choices: the prompt once, every choice's tokens.
  runtime::GenerateStats usage_stats() const {
    runtime::GenerateStats s = jobs.front()->stats();
    s.n_generated = 0;
    for (const auto& j : jobs) s.n_generated += j->stats().n_generated;
    return s;
  }
};

// Server-sent events: per choice the role first (chat) and the echoed prompt
// (completions), text and log-probabilities as they come, then each
// choice's finish reason, the usage and [DONE]; an error event and [DONE]
// when a completion fails or the server stops.
void stream(const CompletionContext& ctx, Exchange& ex, Choices& cs, const ResponseHeader& h, HttpHeaders headers) {
  headers.emplace_back("Content-Type", "text/event-stream");
  headers.emplace_back("Cache-Control", "no-cache");
  ex.start_stream(200, std::move(headers));
  for (size_t i = 0; i < cs.jobs.size(); ++i) {
    if (h.chat) ex.send(sse(role_chunk(h, static_cast<int>(i))));
    // The echo waits for the prompt's log-probabilities when they are asked for.
    if (cs.r.echo && cs.r.params.logprobs < 0) ex.send(sse(chunk_body(h, static_cast<int>(i), cs.echo())));
  }
  std::vector<bool> echoed(cs.jobs.size(), cs.r.params.logprobs < 0);
  bool failed = false;
  while (!cs.all_done() && !failed) {
    cs.take([&](size_t i, Job::Chunk& c) {
      if (failed) return;
      const int index = static_cast<int>(i);
      if (cs.r.echo && !echoed[i] && (c.done || !c.text.empty() || !c.logprobs.empty())) {
        ex.send(sse(chunk_body(h, index, cs.echo())));
        echoed[i] = true;
      }
      std::vector<ToolCallDelta> deltas;
      const Choice part = cs.split(i, c.text, c.done, &deltas);
      // The first chunk of this news carries its reasoning and log-probabilities.
      Choice first;
      first.reasoning = part.reasoning;
      first.logprobs = cs.logprobs_of(c.logprobs, i, false);
      bool first_sent = false;
      auto send = [&](Choice out) {
        if (!first_sent) out.reasoning = first.reasoning, out.logprobs = first.logprobs, first_sent = true;
        ex.send(sse(chunk_body(h, index, out)));
      };
      size_t text_sent = 0;
      // Each call as OpenAI streams one: its index, id, type and name first
      // (arguments ""), then its arguments in fragments; the text around the
      // calls in its place.
      for (const ToolCallDelta& d : deltas) {
        if (d.content_at > text_sent) {
          Choice text;
          text.text = part.text.substr(text_sent, d.content_at - text_sent);
          send(std::move(text));
          text_sent = d.content_at;
        }
        json call = {{"index", d.call}};
        if (!d.name.empty()) {
          call["id"] = cs.call_ids[i][static_cast<size_t>(d.call)];
          call["type"] = "function";
        }
        call["function"] = d.name.empty() ? json{{"arguments", d.arguments}} : json{{"name", d.name}, {"arguments", ""}};
        Choice piece;
        piece.tool_calls = json::array({std::move(call)});
        send(std::move(piece));
      }
      if (text_sent < part.text.size() || (!first_sent && (!first.reasoning.empty() || !c.logprobs.empty()))) {
        Choice rest;
        rest.text = part.text.substr(text_sent);
        send(std::move(rest));
      }
      if (!c.done) return;
      if (!cs.jobs[i]->error().empty()) {
        ex.send(sse(error_body(cs.jobs[i]->error(), "server_error")));
        failed = true;
        return;
      }
      Choice end;
      end.finish = cs.finish(i);
      ex.send(sse(chunk_body(h, index, end)));
    });
    if (ex.client_gone()) return cs.cancel();
    if (failed) cs.cancel();
    if (!failed && !cs.all_done() && ctx.shutting_down.load()) {
      cs.cancel();
      ex.send(sse(error_body("the server is shutting down", "server_error", "", "server_shutting_down")));
      failed = true;
    }
  }
  if (!failed && cs.r.include_usage) ex.send(sse(usage_chunk(h, cs.usage_stats())));
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
  std::vector<std::shared_ptr<Job>> jobs;
  CompletionRequest r;
  std::string served = ctx.opts.model_name;  // the base, or the adapter the request names
  ServedAdapter adapter;  // held until the jobs that use it are queued (they hold it from then on)
  try {
    const std::string& body = ex.request().body;
    r = chat ? parse_chat_request(body, ctx.tok, ctx.md, ctx.opts.defaults)
             : parse_completion_request(body, ctx.tok, ctx.opts.defaults);
    // With adapters served, "model" picks the base or one of them; with none,
    // any name runs the base (clients send their own), but a removed
    // adapter's name is refused rather than answered by the base.
    const bool picks = !ctx.adapters.empty() || ctx.adapters.removed(r.model);
    if (picks && !r.model.empty() && r.model != ctx.opts.model_name) {
      adapter = ctx.adapters.find(r.model);
      if (!adapter.lora)
        return refuse(404, unknown_model_message(r.model, ctx.opts.model_name, ctx.adapters), "invalid_request_error",
                      "model", "model_not_found");
      r.params.lora = adapter.lora.get();
      served = adapter.name;
    }
    if (!r.seeded)
      r.params.sampling.seed = ctx.opts.random_seed ? std::random_device{}() * 0x9e3779b97f4a7c15ull + uint64_t(std::time(nullptr))
                                                    : ctx.opts.defaults.sampling.seed;
    if (r.n > ctx.scheduler.n_slots())
      throw RequestError("n", "n must be at most " + std::to_string(ctx.scheduler.n_slots()) +
                                  " here: the choices run at once, one per sequence slot (--parallel)");
    if (r.params.grammar) r.params.trie = ctx.trie.get();
    if (chat && tokenizer::speaks_harmony(ctx.tok)) {
      // The answer ends at <|return|> or <|call|>, not at the <|end|> after its analysis.
      r.params.stop_at_end_of_generation = false;
      for (const std::string& s : tokenizer::harmony_stops()) r.params.stop.push_back(s);
    }
    if (static_cast<int64_t>(r.prompt.size()) >= ctx.scheduler.n_ctx())
      throw RequestError(chat ? "messages" : "prompt",
                         "the prompt has " + std::to_string(r.prompt.size()) + " tokens and the context holds " +
                             std::to_string(ctx.scheduler.n_ctx()) + " (prompt and answer together)",
                         "context_length_exceeded");
    if (ex.client_gone()) return;  // left while the body was read
    if (ctx.shutting_down.load()) return refuse(503, "the server is shutting down", "server_error", "", "server_shutting_down");
    // Choice i draws with seed + i: choice 0 is the answer n = 1 would give.
    std::vector<runtime::GenerateParams> choices(static_cast<size_t>(r.n), r.params);
    for (size_t i = 0; i < choices.size(); ++i) choices[i].sampling.seed += i;
    jobs = ctx.scheduler.submit_choices(r.prompt, choices, r.echo && r.params.logprobs >= 0 ? r.params.logprobs : -1,
                                        adapter.lora);
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
                         served};
  // Tools: calls read back in the model's own format (harmony: from its
  // messages' recipients), or one forced call's object.
  const bool forced = r.tool_choice != "none" && r.tool_choice != "auto";
  const bool harmony = chat && tokenizer::speaks_harmony(ctx.tok);
  const ToolCallFormat* tool_format = nullptr;
  if (forced && !harmony) tool_format = &model_tool_call_format(ctx.md, ctx.tok);
  else if (r.tool_choice == "auto" && !harmony && ctx.md.has("tokenizer.chat_template"))
    tool_format = tool_call_format_for_template(ctx.md.get_string("tokenizer.chat_template"));
  Choices cs(ctx, r, std::move(jobs), harmony, tool_format);
  try {
    if (r.stream) return stream(ctx, ex, cs, h, headers);
    if (r.echo)
      for (Choice& c : cs.out) c.text = r.prompt_text;  // its log-probabilities come at the end
    while (!cs.all_done()) {
      cs.take([&](size_t i, Job::Chunk& c) {
        const Choice part = cs.split(i, c.text, c.done);
        cs.out[i].text += part.text;
        cs.out[i].reasoning += part.reasoning;
        for (const json& call : part.tool_calls.is_null() ? json::array() : part.tool_calls) {
          if (cs.out[i].tool_calls.is_null()) cs.out[i].tool_calls = json::array();
          cs.out[i].tool_calls.push_back(call);
        }
        cs.logprobs[i].insert(cs.logprobs[i].end(), c.logprobs.begin(), c.logprobs.end());
      });
      // Nobody is waiting for the answer: stop at the next token.
      if (ex.client_gone()) return cs.cancel();
      if (cs.error()) cs.cancel();
    }
    if (const std::string* error = cs.error()) {
      const bool stopping = ctx.shutting_down.load();
      return respond_json(ex, stopping ? 503 : 500,
                          error_body(*error, "server_error", "", stopping ? "server_shutting_down" : ""), headers);
    }
    for (size_t i = 0; i < cs.out.size(); ++i) {
      cs.out[i].finish = cs.finish(i);
      cs.out[i].logprobs = cs.logprobs_of(cs.logprobs[i], i, true);
      if (r.echo && r.params.logprobs >= 0) cs.out[i].logprobs = join_logprobs(cs.echo().logprobs, cs.out[i].logprobs);
    }
    respond_json(ex, 200, completion_body(h, cs.out, cs.usage_stats()), headers);
  } catch (const std::exception& e) {
    // A failure ends this answer, and only this one.
    log_warn("serve: an answer failed: ", e.what());
    cs.cancel();
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
