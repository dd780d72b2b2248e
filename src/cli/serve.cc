// frugal serve: the OpenAI-compatible HTTP server (src/server) over one
// model, with --parallel requests decoded together by continuous batching.
// Ctrl-C (SIGINT) or SIGTERM stops it: running answers end with an error.
#include <signal.h>
#include <unistd.h>

#include <cerrno>

#include <cstdio>
#include <filesystem>
#include <memory>
#include <thread>

#include "base/error.h"
#include "cli/command.h"
#include "cli/generation_flags.h"
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
  std::string host = "127.0.0.1";
  int port = 8080;
  int parallel = 4;
  int n_batch = 512;
  int max_queued = 64;
  std::string alias;
};

int run_serve(const ServeArgs& a) {
  if (a.parallel < 1) fail("serve: --parallel must be at least 1");
  if (a.n_batch < a.parallel) fail("serve: --batch (", a.n_batch, ") must be at least --parallel (", a.parallel, ")");
  runtime::GenerateParams defaults = generate_params(a.gen);  // bad flags fail before the model loads
  LoadedModel m = load_for_generation(a.gen, a.parallel);
  server::Metrics metrics;
  server::Scheduler scheduler(*m.engine, *m.tokenizer, {a.n_batch, a.max_queued}, metrics);
  server::ServerOptions opts;
  opts.host = a.host;
  opts.port = a.port;
  opts.defaults = defaults;
  opts.random_seed = !a.gen.seed.has_value();
  opts.model_name = !a.alias.empty() ? a.alias : std::filesystem::path(m.path).stem().string();
  server::HttpServer http(scheduler, *m.tokenizer, m.model->file().metadata(), metrics, opts);
  const int port = http.bind();
  std::fprintf(stderr, "frugal serve: %s on http://%s:%d (%d parallel, context %d, batch %d); Ctrl-C stops\n",
               opts.model_name.c_str(), a.host.c_str(), port, a.parallel, m.engine->n_ctx(), a.n_batch);

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
  std::thread waiter([&] {
    char sig = 0;
    while (read(g_stop_pipe[0], &sig, 1) < 0 && errno == EINTR) {
    }
    if (sig != 0) std::fprintf(stderr, "frugal serve: stopping\n");
    http.stop();
  });
  http.listen();
  // listen() also returns when the socket fails: wake the waiter either way.
  const char zero = 0;
  if (write(g_stop_pipe[1], &zero, 1) < 0) std::fprintf(stderr, "frugal serve: cannot wake the signal thread\n");
  waiter.join();
  scheduler.stop();
  return 0;
}

const CommandRegistration kServe{"serve", "an OpenAI-compatible HTTP server with continuous batching",
                                 [](CLI::App& app) {
                                   auto a = std::make_shared<ServeArgs>();
                                   a->gen.n_predict = -1;
                                   add_generation_flags(app, a->gen);
                                   app.add_option("--host", a->host, "address to listen on (default 127.0.0.1)");
                                   app.add_option("--port", a->port, "port (default 8080; 0: any free port)");
                                   app.add_option("--parallel", a->parallel,
                                                  "requests decoded together (sequence slots; default 4)");
                                   app.add_option("-b,--batch", a->n_batch,
                                                  "rows per forward pass: decode rows plus prompt chunks (default 512)");
                                   app.add_option("--max-queue", a->max_queued,
                                                  "requests waiting for a slot before new ones get 503 (default 64)");
                                   app.add_option("--alias", a->alias, "model name in responses (default: the file name)");
                                   return [a] { return run_serve(*a); };
                                 }};

}  // namespace
}  // namespace frugal::cli
