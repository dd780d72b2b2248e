// frugal serve: the OpenAI-compatible HTTP server (src/server) over one
// model, with --parallel requests decoded together by continuous batching.
// Ctrl-C (SIGINT) or SIGTERM stops it gracefully: no new connections,
// streams end with an error event and [DONE], whole answers get up to
// --shutdown-timeout to finish.
//
// Under mpirun with --expert-parallel, rank 0 serves and the other ranks
// follow its engine (runtime/engine_journal.h): every forward pass its
// scheduler runs, every rank runs too, each computing its share of the
// routed experts. With --attention-dp as well, each request's slot is
// computed on one rank (runtime::Engine::spread_sequences): its attention,
// KV cache, router, shared experts and LM head run there, and its logits
// come to rank 0, where the scheduler samples. With --attention-first-rank
// every slot is rank 0's, and the other ranks compute routed experts only.
#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <thread>

#include "base/error.h"
#include "cli/command.h"
#include "cli/expert_parallel_flags.h"
#include "cli/generation_flags.h"
#include "runtime/engine_journal.h"
#include "runtime/prefix_cache.h"
#include "server/http_server.h"

namespace frugal::cli {
namespace {

int g_stop_pipe[2] = {-1, -1};

void on_stop_signal(int sig) {
  const char c = static_cast<char>(sig);
  [[maybe_unused]] ssize_t n = write(g_stop_pipe[1], &c, 1);
}

struct ServeArgs {
  GenerationFlags gen;
  ExpertParallelFlags expert_parallel;
  std::string host = "127.0.0.1";
  int port = 8080;
  int parallel = 4;
  int n_batch = 512;
  int max_queued = 64;
  std::string alias;
  int http_threads = 0;  // 0: --parallel + --max-queue + 8
  int max_connections = 4096;
  double timeout_s = 60;
  double keep_alive_s = 30;
  double shutdown_timeout_s = 10;
  std::string allowed_origins;
  std::string allowed_hosts;
  std::string api_key;
  std::string api_key_file;
  bool no_prefix_cache = false;
  int kv_blocks = 0;  // 0: a context's worth for each slot
  std::vector<std::string> loras;  // --lora NAME=FILE ..., or one FILE for every request
  bool enable_admin = false;       // the adapter admin endpoints with no API key (loopback only)
};

// --lora: NAME=FILE entries (adapters a request picks by "model"), or a
// single FILE applied to every request (as run's --lora); the latter goes to
// gen.lora.
std::vector<std::pair<std::string, std::string>> named_adapters(const std::vector<std::string>& loras,
                                                                GenerationFlags& gen) {
  std::vector<std::pair<std::string, std::string>> named;
  for (const std::string& s : loras) {
    const size_t eq = s.find('=');
    if (eq == std::string::npos) {
      if (loras.size() != 1)
        fail("serve: --lora ", s, ": with several adapters, name each: --lora NAME=FILE (a request's \"model\" "
             "picks one)");
      gen.lora = s;
      continue;
    }
    const std::string name = s.substr(0, eq), file = s.substr(eq + 1);
    if (name.empty() || file.empty()) fail("serve: --lora '", s, "': give NAME=FILE");
    for (const auto& [other, _] : named)
      if (other == name) fail("serve: --lora: the name '", name, "' is given twice");
    named.emplace_back(name, file);
  }
  return named;
}

std::vector<std::string> split_commas(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream in(s);
  for (std::string item; std::getline(in, item, ',');) {
    while (!item.empty() && item.back() == ' ') item.pop_back();
    while (!item.empty() && item.front() == ' ') item.erase(0, 1);
    if (!item.empty()) out.push_back(item);
  }
  return out;
}

// Keys one a line (blank lines and lines starting with # skipped).
std::vector<std::string> read_api_keys(const std::string& path) {
  std::ifstream in(path);
  if (!in) fail("serve: cannot read --api-key-file ", path);
  std::vector<std::string> keys;
  for (std::string line; std::getline(in, line);) {
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ' || line.back() == '\t')) line.pop_back();
    if (!line.empty() && line[0] != '#') keys.push_back(line);
  }
  if (keys.empty()) fail("serve: --api-key-file ", path, " holds no key");
  return keys;
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

std::chrono::milliseconds seconds_flag(const char* name, double s) {
  if (!(s > 0) || s > 86400) fail("serve: ", name, " must be more than 0 and at most 86400 seconds, not ", s);
  return std::chrono::milliseconds(static_cast<int64_t>(s * 1000));
}

// Each connection is a file descriptor: allow as many as the hard limit
// lets, for --max-connections and more (the soft limit is often 1,024).
void raise_open_files_limit() {
  rlimit lim{};
  if (getrlimit(RLIMIT_NOFILE, &lim) == 0 && lim.rlim_cur < lim.rlim_max) {
    lim.rlim_cur = lim.rlim_max;
    setrlimit(RLIMIT_NOFILE, &lim);
  }
}

int run_serve(const ServeArgs& args) {
  ServeArgs a = args;
  const auto named = named_adapters(a.loras, a.gen);
  if (a.parallel < 1) fail("serve: --parallel must be at least 1");
  if (a.n_batch < a.parallel) fail("serve: --batch (", a.n_batch, ") must be at least --parallel (", a.parallel, ")");
  if (a.max_queued < 0) fail("serve: --max-queue must not be negative");
  if (a.http_threads < 0) fail("serve: --http-threads must be at least 1");
  if (a.max_connections < 1) fail("serve: --max-connections must be at least 1");
  if (!a.api_key.empty() && !a.api_key_file.empty()) fail("serve: give --api-key or --api-key-file, not both");
  server::ServerOptions opts;
  opts.timeout = seconds_flag("--timeout", a.timeout_s);
  opts.idle_timeout = seconds_flag("--keep-alive-timeout", a.keep_alive_s);
  const std::chrono::milliseconds grace = seconds_flag("--shutdown-timeout", a.shutdown_timeout_s);
  // Enough threads that every slot and every queue place can be in use at
  // once; capped, since each is a stack, for a very long --max-queue.
  opts.http_threads = a.http_threads > 0 ? a.http_threads : std::min(a.parallel + a.max_queued + 8, 1024);
  opts.max_connections = static_cast<size_t>(a.max_connections);
  opts.allowed_origins = split_commas(a.allowed_origins);
  opts.allowed_hosts = split_commas(a.allowed_hosts);
  if (!a.api_key.empty()) opts.api_keys = {a.api_key};
  if (!a.api_key_file.empty()) opts.api_keys = read_api_keys(a.api_key_file);
  runtime::GenerateParams defaults = generate_params(a.gen);  // bad flags fail before the model loads
  raise_open_files_limit();
  if (a.kv_blocks < 0) fail("serve: --kv-blocks must not be negative");
  dist::ProcessGroup* group = join_expert_parallel(a.expert_parallel);
  if (group && (!a.gen.lora.empty() || !named.empty()))
    fail("serve --expert-parallel: LoRA adapters are not served across ranks; run without --lora");
  a.gen.mmap = a.gen.mmap || group;  // each rank pages in only the experts it owns
  // -1: the engine's default pool, a whole context for every slot.
  LoadedModel m = load_for_generation(a.gen, a.parallel, a.no_prefix_cache ? 0 : a.kv_blocks > 0 ? a.kv_blocks : -1);
  attach_expert_parallel(group, *m.model, a.expert_parallel);
  if (group && a.expert_parallel.rows_by_all_to_all()) m.engine->spread_sequences(*group);
  const auto t_attached = std::chrono::steady_clock::now();
  if (group && group->rank() != 0) return follow_rank0(*group, *m.engine, *m.model, t_attached, "serve");
  // Rank 0 sends its engine's every step to the other ranks.
  const std::unique_ptr<runtime::EngineJournal> journal = lead_ranks(group, *m.engine, a.expert_parallel);
  server::Metrics metrics;
  server::Scheduler scheduler(*m.engine, *m.tokenizer, {a.n_batch, a.max_queued}, metrics);
  opts.host = a.host;
  opts.port = a.port;
  opts.defaults = defaults;
  opts.random_seed = !a.gen.seed.has_value();
  opts.model_name = !a.alias.empty() ? a.alias : std::filesystem::path(m.path).stem().string();
  // One base in memory, the adapters beside it (each checked against it),
  // and more added while it runs through the admin endpoints.
  const model::Model& base = *m.model;
  // (None under --expert-parallel: the other ranks could not apply them.)
  if (!group)
    opts.load_adapter = [&base](const std::string& path, float scale) -> std::shared_ptr<const model::LoraAdapter> {
      return model::LoraAdapter::load(path, base, scale);
    };
  opts.adapter_scale = a.gen.lora_scale;
  opts.admin_without_key = a.enable_admin;
  for (const auto& [name, file] : named) {
    if (name == opts.model_name)
      fail("serve: --lora ", name, "=", file, ": the base model is served as '", name, "'; give the adapter another name");
    if (!server::valid_adapter_name(name))
      fail("serve: --lora ", name, "=", file, ": a name is 1 to 128 letters, digits, '.', '_', '-' or ':'");
    opts.adapters.push_back({name, file, opts.load_adapter(file, a.gen.lora_scale)});
  }
  server::HttpServer http(scheduler, *m.tokenizer, m.model->file().metadata(), metrics, opts);
  const int port = http.bind();
  std::fprintf(stderr, "frugal serve: %s on http://%s:%d (%d parallel, context %d, batch %d); Ctrl-C stops\n",
               opts.model_name.c_str(), a.host.c_str(), port, a.parallel, m.engine->n_ctx(), a.n_batch);
  if (const runtime::PrefixCache* pc = m.engine->prefix_cache())
    std::fprintf(stderr, "frugal serve: prefix cache of %d blocks of %d tokens (%.1f MiB at most)\n", pc->n_blocks(),
                 pc->block_tokens(), double(pc->block_bytes()) * pc->n_blocks() / (1 << 20));
  else
    std::fprintf(stderr, "frugal serve: prefix cache off\n");
  if (!opts.api_keys.empty() || opts.admin_without_key) {
    const char* who = opts.api_keys.empty() ? " (no API key: anyone on this machine may)" : " (with the API key)";
    if (opts.load_adapter) std::fprintf(stderr, "frugal serve: adapters can be added and removed at /lora-adapters%s\n", who);
    if (m.model->config().is_moe())
      std::fprintf(stderr, "frugal serve: the rows each expert received, as a placement file, at /expert-placement%s\n",
                   who);
  }
  for (const auto& ad : opts.adapters)
    std::fprintf(stderr, "frugal serve: adapter %s: %s (%zu matrices, rank %lld, scale %g)\n", ad.name.c_str(),
                 ad.path.c_str(), ad.lora->targets().size(), static_cast<long long>(ad.lora->rank()),
                 static_cast<double>(ad.lora->scale()));

  // SIGINT/SIGTERM write a byte to a pipe (all a handler may safely do);
  // a thread reading it stops the server. A handler, not a blocked mask:
  // libraries start threads of their own (OpenBLAS at load time) that no
  // mask set here would cover.
  if (pipe(g_stop_pipe) != 0) fail("serve: cannot create the stop pipe");
  struct sigaction sa {};
  sa.sa_handler = on_stop_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  auto next_byte = [] {
    char c = 0;
    while (read(g_stop_pipe[0], &c, 1) < 0 && errno == EINTR) {
    }
    return c;
  };
  std::thread waiter([&] {
    if (next_byte() == 0) return http.stop();  // listen() returned by itself
    std::fprintf(stderr, "frugal serve: stopping (answers under way get up to %g s; Ctrl-C again stops at once)\n",
                 a.shutdown_timeout_s);
    std::thread graceful([&] { http.shutdown(grace); });
    // The next byte is a second signal, or the zero written once listen()
    // has returned.
    if (next_byte() != 0) {
      std::fprintf(stderr, "frugal serve: stopping now\n");
      http.stop();
    }
    graceful.join();
  });
  http.listen();
  // listen() also returns when the socket fails: wake the waiter either way.
  const char zero = 0;
  if (write(g_stop_pipe[1], &zero, 1) < 0) std::fprintf(stderr, "frugal serve: cannot wake the signal thread\n");
  waiter.join();
  scheduler.stop();
  if (journal) {
    journal->stop(true);
    report_expert_parallel(group, *m.model, seconds_since(t_attached));
  }
  return 0;
}

const CommandRegistration kServe{"serve", "an OpenAI-compatible HTTP server with continuous batching",
                                 [](CLI::App& app) {
                                   auto a = std::make_shared<ServeArgs>();
                                   a->gen.n_predict = -1;
                                   add_generation_flags(app, a->gen);
                                   add_expert_parallel_flags(app, a->expert_parallel, true);
                                   app.remove_option(app.get_option("--lora"));
                                   app.add_option("--lora", a->loras,
                                                  "LoRA adapters as NAME=FILE (repeatable): a request whose \"model\" "
                                                  "is NAME runs with that adapter; or one FILE for every request");
                                   app.add_option("--host", a->host, "address to listen on (default 127.0.0.1)");
                                   app.add_option("--port", a->port, "port (default 8080; 0: any free port)");
                                   app.add_option("--parallel", a->parallel,
                                                  "requests decoded together (sequence slots; default 4)");
                                   app.add_option("-b,--batch", a->n_batch,
                                                  "rows per forward pass: decode rows plus prompt chunks (default 512)");
                                   app.add_option("--max-queue", a->max_queued,
                                                  "requests waiting for a slot before new ones get 503 (default 64)");
                                   app.add_option("--alias", a->alias, "model name in responses (default: the file name)");
                                   app.add_option("--http-threads", a->http_threads,
                                                  "completions answered at once, each on a thread (default: --parallel + "
                                                  "--max-queue + 8, at most 1024)");
                                   app.add_option("--max-connections", a->max_connections,
                                                  "open client connections at most; more get 503 (default 4096)");
                                   app.add_option("--timeout", a->timeout_s,
                                                  "seconds for a request to arrive whole, and for a client to take "
                                                  "more of its answer (default 60)");
                                   app.add_option("--keep-alive-timeout", a->keep_alive_s,
                                                  "seconds an idle connection stays open (default 30)");
                                   app.add_option("--shutdown-timeout", a->shutdown_timeout_s,
                                                  "seconds answers under way get to finish on SIGTERM (default 10)");
                                   app.add_option("--allowed-origins", a->allowed_origins,
                                                  "web origins allowed to call the server from a browser, comma-separated "
                                                  "(\"*\": any; default: only the server's own page)");
                                   app.add_option("--allowed-hosts", a->allowed_hosts,
                                                  "Host names accepted on loopback besides localhost, 127.0.0.1 "
                                                  "and [::1] (a proxy's public name), comma-separated");
                                   app.add_option("--api-key", a->api_key, "the key clients must send as Authorization: Bearer KEY");
                                   app.add_option("--api-key-file", a->api_key_file, "a file of keys, one a line");
                                   app.add_flag("--enable-admin", a->enable_admin,
                                                "with no API key, still serve the adapter admin endpoints "
                                                "(/lora-adapters; loopback addresses only)");
                                   app.add_flag("--no-prefix-cache", a->no_prefix_cache,
                                                "compute every prompt whole (no KV reuse across requests)");
                                   app.add_option("--kv-blocks", a->kv_blocks,
                                                  "prefix-cache blocks of 16 positions (default: a whole context per "
                                                  "slot, --parallel x --ctx-size / 16)");
                                   return [a] { return run_serve(*a); };
                                 }};

}  // namespace
}  // namespace frugal::cli
