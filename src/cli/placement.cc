// frugal placement: how many rows each routed expert of each MoE layer
// receives over a calibration text (the forward pass imatrix runs,
// runtime/calibration.h), and the placement of the experts on N ranks that
// balances those rows (model/expert_placement.h), written as a placement
// file for `--expert-placement` under `--expert-parallel` and for
// `frugal inspect --placement`.
#include <algorithm>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "base/error.h"
#include "base/log.h"
#include "base/progress.h"
#include "base/read_file.h"
#include "cli/command.h"
#include "cli/default_model.h"
#include "model/expert_placement.h"
#include "model/model.h"
#include "runtime/calibration.h"

namespace frugal::cli {
namespace {

struct PlacementArgs {
  std::string model, text, output = "placement.json";
  int n_ctx = 0, chunks = 0, threads = 0, ranks = 0, replicas = 0;
};

int run_placement(const PlacementArgs& a) {
  if (a.threads < 0) fail("placement: --threads must not be negative");
  if (a.n_ctx < 0) fail("placement: --ctx-size must not be negative");
  if (a.chunks < 0) fail("placement: --chunks must not be negative");
  if (a.ranks < 1) fail("placement: --ranks must be at least 1 (got ", a.ranks, ")");
  if (a.replicas < 0) fail("placement: --replicas must not be negative (got ", a.replicas, ")");
  if (a.threads > 0) ThreadPool::set_default_threads(a.threads);
  if (log_level() < LogLevel::kInfo) Progress::set_enabled(false);
  const std::string text = read_whole_file(a.text);
  const std::string path = resolve_model_path(a.model);
  std::unique_ptr<model::Model> m = model::Model::load(path);
  const model::ModelConfig& c = m->config();
  if (!c.is_moe()) fail("placement: ", path, " has no routed experts");

  const runtime::CalibrationText calib = runtime::calibration_text(*m, text, a.n_ctx, a.chunks);
  const std::unique_ptr<runtime::Engine> engine = runtime::calibration_engine(*m, calib.plan);
  log_info("placement: ", calib.plan.n_chunk, " chunks of ", calib.plan.n_ctx, " tokens, ", engine->n_seq_max(),
           " chunks per batch");
  runtime::run_calibration(*engine, calib, "placement");

  model::PlacementFile f = model::measured_placement(c, engine->expert_rows());
  f.model = a.model.empty() ? path : a.model;
  const size_t slash = a.text.find_last_of('/');
  f.source = slash == std::string::npos ? a.text : a.text.substr(slash + 1);
  f.tokens = static_cast<uint64_t>(calib.plan.n_chunk) * static_cast<uint64_t>(calib.plan.n_ctx);
  model::place(f, a.ranks, a.replicas);
  model::write_placement_file(f, a.output);

  // How much the placement evens out the busiest rank, layer by layer.
  double before = 0, after = 0, worst_before = 0, worst_after = 0;
  for (size_t i = 0; i < f.layers.size(); ++i) {
    const double b = model::imbalance(model::rank_rows(f.rows[i], model::contiguous_layer(c.n_expert, a.ranks)));
    const double p = model::imbalance(model::rank_rows(f.rows[i], f.placement[i]));
    before += b, after += p;
    worst_before = std::max(worst_before, b), worst_after = std::max(worst_after, p);
  }
  const double nl = static_cast<double>(std::max<size_t>(1, f.layers.size()));
  std::printf("wrote %s: %zu MoE layers x %lld experts, %llu tokens (%d chunks of %d); %d ranks, %d replica%s a rank: "
              "busiest rank's rows / mean, layer average (worst) %.3f (%.3f) contiguous, %.3f (%.3f) placed\n",
              a.output.c_str(), f.layers.size(), static_cast<long long>(c.n_expert),
              static_cast<unsigned long long>(f.tokens), calib.plan.n_chunk, calib.plan.n_ctx, a.ranks, a.replicas,
              a.replicas == 1 ? "" : "s", before / nl, worst_before, after / nl, worst_after);
  return 0;
}

const CommandRegistration kPlacement{
    "placement",
    "rows each routed expert receives over a calibration text, and the expert placement on N ranks that balances "
    "them (for --expert-placement)",
    [](CLI::App& app) {
      auto a = std::make_shared<PlacementArgs>();
      app.add_option("-m,--model", a->model, "GGUF model file (default: the bundled model)");
      app.add_option("-f,--file", a->text, "calibration text (UTF-8)")->required();
      app.add_option("--ranks", a->ranks, "ranks to place the experts on (mpirun -np)")->required();
      app.add_option("--replicas", a->replicas,
                     "extra expert copies each rank may hold: the hottest experts are replicated (default 0)");
      app.add_option("-o,--output", a->output, "placement file to write (JSON; default placement.json)");
      app.add_option("-c,--ctx-size", a->n_ctx, "tokens per chunk (default: the model's context, at most 512)");
      app.add_option("--chunks", a->chunks, "use at most this many chunks (default: all)");
      app.add_option("-t,--threads", a->threads, "threads (default: one per core)");
      return [a] { return run_placement(*a); };
    }};

}  // namespace
}  // namespace frugal::cli
