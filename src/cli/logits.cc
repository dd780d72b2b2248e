// frugal logits: the model's logits at every position of a token sequence,
// as raw little-endian float32 (n_tokens rows x n_vocab), for the numpy
// reference tests and for checking that batch, incremental and chunked
// evaluation agree. Several sequences (';' between them) run together as
// one batch of sequences, their logits written one sequence after another;
// under --attention-dp each rank runs its own share of them and rank 0
// gathers the logits.
#include <algorithm>
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
#include "model/expert_parallel.h"
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
  std::vector<std::vector<int32_t>> seqs;
  for (size_t b = 0;;) {
    const size_t e = a.tokens.find(';', b);
    seqs.push_back(parse_id_list(a.tokens.substr(b, e == std::string::npos ? std::string::npos : e - b), "logits: --tokens"));
    if (e == std::string::npos) break;
    b = e + 1;
  }
  size_t max_len = 0, n_tokens = 0;
  for (const auto& ids : seqs) max_len = std::max(max_len, ids.size()), n_tokens += ids.size();
  if (a.threads > 0) ThreadPool::set_default_threads(a.threads);
  dist::ProcessGroup* group = join_expert_parallel(a.expert_parallel);

  std::unique_ptr<model::Model> m = model::Model::load(a.model);
  attach_expert_parallel(group, *m, a.expert_parallel);
  if (!a.lora.empty()) m->set_lora(model::LoraAdapter::load(a.lora, *m, a.lora_scale));
  const int64_t n_vocab = m->config().n_vocab;
  for (size_t s = 0; s < seqs.size(); ++s)
    for (size_t i = 0; i < seqs[s].size(); ++i)
      if (seqs[s][i] >= n_vocab)
        fail("logits: --tokens: token id ", seqs[s][i], " (item ", i + 1, seqs.size() > 1 ? " of sequence " + std::to_string(s + 1) : "",
             ") is out of range: the model has ", n_vocab, " tokens");
  // This process's sequences: all, or under attention data-parallel its share.
  const bool dp = group && a.expert_parallel.rows_by_all_to_all();
  const model::ExpertRange own = dp ? model::sequence_share(static_cast<int64_t>(seqs.size()), group->rank(), group->n_ranks(),
                                                             model::attention_ranks(*m))
                                    : model::ExpertRange{0, static_cast<int64_t>(seqs.size())};
  runtime::EngineOptions opts;
  opts.n_ctx = static_cast<int>(std::max<int64_t>(static_cast<int64_t>(max_len), std::min<int64_t>(m->config().n_ctx_train, 4096)));
  opts.n_seq_max = static_cast<int>(std::max<int64_t>(1, own.end - own.begin));
  opts.kv_type = kv_type;
  runtime::Engine engine(*m, opts);

  // Every rank runs the same passes (positions [begin, begin + step) of
  // every sequence), with or without rows of its own.
  const size_t step = a.mode == "batch" ? max_len : a.mode == "incremental" ? 1 : static_cast<size_t>(a.chunk);
  std::vector<std::vector<float>> per_seq(static_cast<size_t>(own.end - own.begin));
  std::vector<float> logits;
  for (size_t begin = 0; begin < max_len; begin += step) {
    std::vector<runtime::BatchRow> rows;
    for (int64_t s = own.begin; s < own.end; ++s) {
      const std::vector<int32_t>& ids = seqs[static_cast<size_t>(s)];
      for (size_t i = begin; i < std::min(ids.size(), begin + step); ++i)
        rows.push_back({static_cast<int32_t>(s - own.begin), static_cast<int32_t>(i), ids[i], true});
    }
    engine.forward(rows, logits);
    for (size_t r = 0; r < rows.size(); ++r)
      per_seq[static_cast<size_t>(rows[r].seq)].insert(per_seq[static_cast<size_t>(rows[r].seq)].end(),
                                                        logits.begin() + static_cast<ptrdiff_t>(r * static_cast<size_t>(n_vocab)),
                                                        logits.begin() + static_cast<ptrdiff_t>((r + 1) * static_cast<size_t>(n_vocab)));
  }
  std::vector<float> all;
  for (const auto& l : per_seq) all.insert(all.end(), l.begin(), l.end());
  if (dp) {
    // Every rank's logits to rank 0, which gets them in rank order: the
    // sequences' order.
    std::vector<int64_t> counts(static_cast<size_t>(group->n_ranks()), 0), from;
    counts[0] = static_cast<int64_t>(all.size());
    std::vector<float> gathered;
    group->all_to_all(all, counts, gathered, from, -1, 0);
    all = std::move(gathered);
  }

  if (group && group->rank() != 0) return 0;  // rank 0 writes the (same) logits
  write_output_file(a.output, std::string_view(reinterpret_cast<const char*>(all.data()), all.size() * sizeof(float)));
  log_info("logits: ", n_tokens, " tokens", seqs.size() > 1 ? " in " + std::to_string(seqs.size()) + " sequences" : "", " x ", n_vocab, " vocab (", a.mode, ") -> ", a.output);
  return 0;
}

const CommandRegistration kLogits{
    "logits", "write the model's float32 logits at every position of a token sequence", [](CLI::App& app) {
      auto a = std::make_shared<LogitsArgs>();
      app.add_option("-m,--model", a->model, "GGUF model file")->required();
      app.add_option("--tokens", a->tokens,
                     "token ids, comma separated (e.g. 1,2,3); several sequences, ';' between them, run as one batch")
          ->required();
      app.add_option("-o,--output", a->output, "output file: n_tokens x n_vocab little-endian float32")->required();
      app.add_option("--mode", a->mode,
                     "batch (one batch), incremental (one token at a time through the KV cache) or chunked; "
                     "default batch");
      app.add_option("--chunk", a->chunk, "tokens per batch in chunked mode (default 5)");
      app.add_option("--kv-type", a->kv_type, "KV cache entries: f32 (default), f16 or q8_0");
      app.add_option("-t,--threads", a->threads, "threads (default: one per core)");
      app.add_option("--lora", a->lora, "apply a LoRA adapter (llama.cpp's GGUF adapter format)");
      app.add_option("--lora-scale", a->lora_scale, "scale of the adapter's product (default 1)");
      add_expert_parallel_flags(app, a->expert_parallel, true);
      return [a] { return run_logits(*a); };
    }};

}  // namespace
}  // namespace frugal::cli
