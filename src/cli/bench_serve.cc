// frugal bench-serve: load on an OpenAI-compatible server (frugal serve,
// llama-server): N streaming clients, M requests in all; throughput, time to
// first token, inter-token latency and $ per million output tokens, as a
// table or JSON. The load itself is server/load_bench.cc.
#include <cmath>
#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "base/error.h"
#include "base/log.h"
#include "cli/command.h"
#include "cli/machine_price.h"
#include "server/load_bench.h"

namespace frugal::cli {
namespace {

struct BenchServeArgs {
  std::string url, prompt_tokens = "32-64", max_tokens = "16-48", api_key, model;
  int clients = 4, requests = 32, system_prompt_tokens = 0;
  uint64_t seed = 1;
  double timeout = 300, price_per_hour = std::nan("");  // price unset (NaN): default_price_per_hour()
  bool chat = false, eos = false, json = false;
};

void print_json(const BenchServeArgs& a, const server::LoadOptions& o, const server::LoadSummary& s) {
  nlohmann::ordered_json j;
  j["url"] = a.url;
  j["endpoint"] = o.chat ? "/v1/chat/completions" : "/v1/completions";
  j["clients"] = o.clients;
  j["requests"] = o.requests;
  j["prompt_tokens"] = {o.prompt_tokens.lo, o.prompt_tokens.hi};
  j["max_tokens"] = {o.max_tokens.lo, o.max_tokens.hi};
  j["system_prompt_tokens"] = o.system_prompt_tokens;
  j["seed"] = o.seed;
  j["ok"] = s.ok;
  j["failed"] = s.failed;
  j["wall_seconds"] = s.wall_seconds;
  j["output_tokens"] = s.output_tokens;
  j["usage_reported"] = s.usage_reported;
  j["prompt_tokens_reported"] = s.prompt_tokens;
  j["output_tokens_per_second"] = s.output_tokens_per_second;
  j["ttft_ms"] = {{"p50", s.ttft_p50 * 1e3}, {"p99", s.ttft_p99 * 1e3}, {"mean", s.ttft_mean * 1e3}};
  j["itl_ms"] = {{"p50", s.itl_p50 * 1e3}, {"p99", s.itl_p99 * 1e3}, {"mean", s.itl_mean * 1e3}};
  j["price_per_hour_usd"] = a.price_per_hour;
  j["usd_per_million_output_tokens"] = usd_per_million(a.price_per_hour, s.output_tokens_per_second);
  j["errors"] = s.errors;
  std::printf("%s\n", j.dump(2).c_str());
}

// "A-B", or "A" when both ends are the same.
std::string range_text(const server::TokenRange& r) {
  return r.lo == r.hi ? std::to_string(r.lo) : std::to_string(r.lo) + "-" + std::to_string(r.hi);
}

void print_table(const BenchServeArgs& a, const server::LoadOptions& o, const server::LoadSummary& s) {
  const std::string shared =
      o.system_prompt_tokens > 0 ? " + " + std::to_string(o.system_prompt_tokens) + " shared" : "";
  std::printf("%s%s   prompt %s tokens%s   max_tokens %s   price $%.4f per hour\n", a.url.c_str(),
              o.chat ? "/v1/chat/completions" : "/v1/completions", range_text(o.prompt_tokens).c_str(),
              shared.c_str(), range_text(o.max_tokens).c_str(), a.price_per_hour);
  std::printf("output tokens: %lld; the server's usage chunk came with %d of %d answers (prompt tokens in those: %lld)\n\n",
              static_cast<long long>(s.output_tokens), s.usage_reported, s.ok, static_cast<long long>(s.prompt_tokens));
  std::printf("| clients | requests |   ok | failed | wall s | out tok/s | TTFT p50 ms | TTFT p99 ms | ITL p50 ms | "
              "ITL p99 ms | $/M out tok |\n");
  std::printf("| ------- | -------- | ---- | ------ | ------ | --------- | ----------- | ----------- | ---------- | "
              "---------- | ----------- |\n");
  std::printf("| %7d | %8d | %4d | %6d | %6.2f | %9.1f | %11.1f | %11.1f | %10.1f | %10.1f | %11.4f |\n", o.clients,
              o.requests, s.ok, s.failed, s.wall_seconds, s.output_tokens_per_second, s.ttft_p50 * 1e3,
              s.ttft_p99 * 1e3, s.itl_p50 * 1e3, s.itl_p99 * 1e3,
              usd_per_million(a.price_per_hour, s.output_tokens_per_second));
  for (const std::string& e : s.errors) std::printf("error: %s\n", e.c_str());
}

int run_bench_serve(BenchServeArgs a) {
  if (std::isnan(a.price_per_hour)) a.price_per_hour = default_price_per_hour();
  if (a.price_per_hour < 0) fail("bench-serve: --price-per-hour must not be negative");
  server::LoadOptions o;
  o.url = server::parse_http_url(a.url);
  while (!a.url.empty() && a.url.back() == '/') a.url.pop_back();
  o.clients = a.clients;
  o.requests = a.requests;
  o.prompt_tokens = server::parse_token_range(a.prompt_tokens, "--prompt-tokens", 1);
  o.max_tokens = server::parse_token_range(a.max_tokens, "--max-tokens", 1);
  o.system_prompt_tokens = a.system_prompt_tokens;
  o.seed = a.seed;
  o.api_key = a.api_key;
  o.model = a.model;
  o.chat = a.chat;
  o.ignore_eos = !a.eos;
  o.timeout_seconds = a.timeout;
  server::check_load_options(o);
  log_info("bench-serve: ", o.clients, " clients, ", o.requests, " requests to ", a.url);

  double wall = 0;
  const auto records = server::run_load(o, wall);
  const server::LoadSummary s = server::summarize_load(records, wall);
  if (a.json) print_json(a, o, s);
  else print_table(a, o, s);
  std::fflush(stdout);
  // The report is printed either way; failed requests make the exit status 1
  // so that a script notices.
  if (s.failed > 0)
    fail("bench-serve: ", s.failed, " of ", o.requests, " requests failed (", s.errors.front(), ")");
  return 0;
}

const CommandRegistration kBenchServe{
    "bench-serve", "load an OpenAI-compatible server: N streaming clients; tok/s, TTFT, ITL, $ per million tokens",
    [](CLI::App& app) {
      auto a = std::make_shared<BenchServeArgs>();
      app.add_option("--url", a->url, "the server, http://HOST:PORT")->required();
      app.add_option("-c,--clients", a->clients, "concurrent clients, each sending one request after another (default 4)");
      app.add_option("-n,--requests", a->requests, "requests in all (default 32)");
      app.add_option("--prompt-tokens", a->prompt_tokens, "prompt length in tokens (about a word each), A-B or N (default 32-64)");
      app.add_option("--max-tokens", a->max_tokens, "max_tokens of each request, A-B or N (default 16-48)");
      app.add_option("--system-prompt-tokens", a->system_prompt_tokens,
                     "a shared prefix of this many tokens before every prompt, for prefix caching (default 0)");
      app.add_option("--seed", a->seed, "seed of the prompts and lengths (default 1)");
      app.add_option("--api-key", a->api_key, "sent as Authorization: Bearer KEY");
      app.add_option("--model", a->model, "the request's model field (default: none sent)");
      app.add_flag("--chat", a->chat, "/v1/chat/completions (default /v1/completions)");
      app.add_flag("--eos", a->eos, "let answers stop at end of generation (default: ignore_eos, answers as long as asked)");
      app.add_option("--timeout", a->timeout, "seconds each request may take in all (default 300)");
      app.add_option("--price-per-hour", a->price_per_hour, "machine price in USD per hour (default $0.0504 per logical CPU)");
      app.add_flag("--json", a->json, "print the results as JSON");
      return [a] { return run_bench_serve(*a); };
    }};

}  // namespace
}  // namespace frugal::cli
