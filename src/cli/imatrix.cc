// frugal imatrix: an importance matrix of a model over a calibration text
// (runtime/imatrix_collector.h), in llama.cpp's GGUF imatrix format, for
// `frugal quantize --imatrix` (or llama-quantize).
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
#include "model/model.h"
#include "runtime/calibration.h"
#include "runtime/imatrix_collector.h"

namespace frugal::cli {
namespace {

struct ImatrixArgs {
  std::string model, text, output = "imatrix.gguf";
  int n_ctx = 0, chunks = 0, threads = 0;
};

int run_imatrix(const ImatrixArgs& a) {
  if (a.threads < 0) fail("imatrix: --threads must not be negative");
  if (a.n_ctx < 0) fail("imatrix: --ctx-size must not be negative");
  if (a.chunks < 0) fail("imatrix: --chunks must not be negative");
  if (a.threads > 0) ThreadPool::set_default_threads(a.threads);
  if (log_level() < LogLevel::kInfo) Progress::set_enabled(false);
  const std::string text = read_whole_file(a.text);
  const std::string path = resolve_model_path(a.model);
  std::unique_ptr<model::Model> m = model::Model::load(path);

  const runtime::CalibrationText calib = runtime::calibration_text(*m, text, a.n_ctx, a.chunks);
  const runtime::ChunkPlan& plan = calib.plan;
  const std::unique_ptr<runtime::Engine> engine = runtime::calibration_engine(*m, plan);
  log_info("imatrix: ", plan.n_chunk, " chunks of ", plan.n_ctx, " tokens, ", engine->n_seq_max(), " chunks per batch");

  quant::Imatrix result;
  {
    runtime::ImatrixCollector collector(*m);
    runtime::run_calibration(*engine, calib, "imatrix");
    result = collector.result();
  }
  const size_t slash = a.text.find_last_of('/');
  result.datasets = {slash == std::string::npos ? a.text : a.text.substr(slash + 1)};
  result.chunk_count = static_cast<uint32_t>(plan.n_chunk);
  result.chunk_size = static_cast<uint32_t>(plan.n_ctx);
  // A name ending in .dat asks for the older format: the one that
  // llama-imatrix writes and that some quantisers (ik_llama.cpp's) read only.
  const bool legacy = a.output.size() >= 4 && a.output.compare(a.output.size() - 4, 4, ".dat") == 0;
  if (legacy)
    quant::write_imatrix_legacy(result, a.output);
  else
    quant::write_imatrix(result, a.output);

  int n_experts = 0, never = 0;
  for (const auto& [name, e] : result.entries) {
    if (e.n_mat == 1) continue;
    n_experts += static_cast<int>(e.n_mat);
    never += static_cast<int>(std::count(e.counts.begin(), e.counts.end(), 0.0f));
  }
  std::printf("wrote %s: %zu matrices, %d chunks of %d tokens", a.output.c_str(), result.entries.size(), plan.n_chunk,
              plan.n_ctx);
  if (n_experts > 0) std::printf(", %d of %d experts never reached", never, n_experts);
  std::printf("\n");
  return 0;
}

const CommandRegistration kImatrix{
    "imatrix", "importance matrix of a model over a calibration text, for quantize --imatrix", [](CLI::App& app) {
      auto a = std::make_shared<ImatrixArgs>();
      app.add_option("-m,--model", a->model, "GGUF model file (default: the bundled model)");
      app.add_option("-f,--file", a->text, "calibration text (UTF-8)")->required();
      app.add_option("-o,--output", a->output, "output file (GGUF imatrix; a name ending in .dat: the older .dat format; default imatrix.gguf)");
      app.add_option("-c,--ctx-size", a->n_ctx, "tokens per chunk (default: the model's context, at most 512)");
      app.add_option("--chunks", a->chunks, "use at most this many chunks (default: all)");
      app.add_option("-t,--threads", a->threads, "threads (default: one per core)");
      return [a] { return run_imatrix(*a); };
    }};

}  // namespace
}  // namespace frugal::cli
