// frugal logits: the model's logits at every position of a token sequence,
// as raw little-endian float32 (n_tokens rows x n_vocab), for the numpy
// reference tests and for checking that batch, incremental and chunked
// evaluation agree.
#include <cstdio>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/error.h"
#include "base/log.h"
#include "base/output_file.h"
#include "cli/command.h"
#include "cli/expert_parallel_flags.h"
#include "cli/id_list.h"
#include "model/lora.h"
#include "model/model.h"
#include "runtime/engine.h"

namespace frugal::cli {
namespace {

struct LogitsArgs {
  std::string model, tokens, output, mode = "batch", kv_type = "f32", lora;
  float lora_scale = 1.0f;
  int threads = 0;
  int chunk = 5;
  ExpertParallelFlags expert_parallel;
};

int run_logits(const LogitsArgs& a) {
  if (a.mode != "batch" && a.mode != "incremental" && a.mode != "chunked")
    fail("logits: --mode must be batch, incremental or chunked (got '", a.mode, "')");
  const model::KvType kv_type = model::kv_type_from_name(a.kv_type);
  if (a.chunk <= 0) fail("logits: --chunk must be positive");
  const std::vector<int32_t> ids = parse_id_list(a.tokens, "logits: --tokens");
  if (a.threads > 0) ThreadPool::set_default_threads(a.threads);
  dist::ProcessGroup* group = join_expert_parallel(a.expert_parallel);

  std::unique_ptr<model::Model> m = model::Model::load(a.model);
  attach_expert_parallel(group, *m, a.expert_parallel);
  if (!a.lora.empty()) m->set_lora(model::LoraAdapter::load(a.lora, *m, a.lora_scale));
  const int64_t n_vocab = m->config().n_vocab;
  for (size_t i = 0; i < ids.size(); ++i)
    if (ids[i] >= n_vocab)
      fail("logits: --tokens: token id ", ids[i], " (item ", i + 1, ") is out of range: the model has ", n_vocab,
           " tokens");
  runtime::EngineOptions opts;
  opts.n_ctx = static_cast<int>(std::max<int64_t>(static_cast<int64_t>(ids.size()), std::min<int64_t>(m->config().n_ctx_train, 4096)));
  opts.kv_type = kv_type;
  runtime::Engine engine(*m, opts);

  const size_t step = a.mode == "batch" ? ids.size() : a.mode == "incremental" ? 1 : static_cast<size_t>(a.chunk);
  std::vector<float> all, logits;
  all.reserve(ids.size() * static_cast<size_t>(n_vocab));
  for (size_t begin = 0; begin < ids.size(); begin += step) {
    const size_t end = std::min(ids.size(), begin + step);
    std::vector<runtime::BatchRow> rows;
    for (size_t i = begin; i < end; ++i) rows.push_back({0, static_cast<int32_t>(i), ids[i], true});
    engine.forward(rows, logits);
    all.insert(all.end(), logits.begin(), logits.end());
  }

  if (group && group->rank() != 0) return 0;  // rank 0 writes the (same) logits
  write_output_file(a.output, std::string_view(reinterpret_cast<const char*>(all.data()), all.size() * sizeof(float)));
  log_info("logits: ", ids.size(), " tokens x ", n_vocab, " vocab (", a.mode, ") -> ", a.output);
  return 0;
}

const CommandRegistration kLogits{
    "logits", "write the model's float32 logits at every position of a token sequence", [](CLI::App& app) {
      auto a = std::make_shared<LogitsArgs>();
      app.add_option("-m,--model", a->model, "GGUF model file")->required();
      app.add_option("--tokens", a->tokens, "token ids, comma separated (e.g. 1,2,3)")->required();
      app.add_option("-o,--output", a->output, "output file: n_tokens x n_vocab little-endian float32")->required();
      app.add_option("--mode", a->mode,
                     "batch (one batch), incremental (one token at a time through the KV cache) or chunked; "
                     "default batch");
      app.add_option("--chunk", a->chunk, "tokens per batch in chunked mode (default 5)");
      app.add_option("--kv-type", a->kv_type, "KV cache entries: f32 (default), f16 or q8_0");
      app.add_option("-t,--threads", a->threads, "threads (default: one per core)");
      app.add_option("--lora", a->lora, "apply a LoRA adapter (llama.cpp's GGUF adapter format)");
      app.add_option("--lora-scale", a->lora_scale, "scale of the adapter's product (default 1)");
      add_expert_parallel_flags(app, a->expert_parallel);
      return [a] { return run_logits(*a); };
    }};

}  // namespace
}  // namespace frugal::cli
