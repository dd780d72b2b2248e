#include "cli/generation_flags.h"

#include <chrono>
#include <cstdio>
#include <random>

#include "base/error.h"
#include "base/human_format.h"
#include "base/log.h"
#include "base/thread_pool.h"
#include "cli/default_model.h"
#include "model/lora.h"

namespace frugal::cli {

void add_generation_flags(CLI::App& app, GenerationFlags& f) {
  app.add_option("-m,--model", f.model, "GGUF model file (default: the bundled models/default.gguf)");
  app.add_option("-n,--n-predict", f.n_predict, "tokens to generate at most (-1: until the end or a full context; default 128, chat 512)");
  app.add_option("--temp", f.temperature, "temperature; 0 = greedy (default 0.8)");
  app.add_option("--top-k", f.top_k, "keep the k most likely tokens; 0 = all (default 40)");
  app.add_option("--top-p", f.top_p, "keep the smallest set with this much probability; 1 = off (default 0.95)");
  app.add_option("--min-p", f.min_p, "drop tokens below this fraction of the most likely one; 0 = off (default 0.05)");
  app.add_option("--repeat-penalty", f.repeat_penalty, "penalise recently seen tokens; 1 = off (default 1)");
  app.add_option("--repeat-last-n", f.repeat_last_n, "tokens of history the penalties look at; -1 = all (default 64)");
  app.add_option("--presence-penalty", f.presence_penalty, "subtract from seen tokens' logits once (default 0)");
  app.add_option("--frequency-penalty", f.frequency_penalty, "subtract from seen tokens' logits per occurrence (default 0)");
  app.add_option("--seed", f.seed, "random seed (default: random); same seed and inputs, same output");
  app.add_option("--stop", f.stop, "stop when this text appears (not printed); repeatable");
  app.add_option("-t,--threads", f.threads, "threads (default: one per core)");
  app.add_option("-c,--ctx-size", f.n_ctx, "context length (default: the model's, at most 4096)");
  app.add_option("--kv-type", f.kv_type, "KV cache entries: f32, f16 (default) or q8_0");
  app.add_flag("--repack", f.repack,
               "repack q4_k/q5_k/q6_k/q8_0/q5_0 matrices row-interleaved at load: faster products, seconds more to load "
               "(frugal quantize --repack does it once)");
  app.add_flag("--mmap", f.mmap,
               "read the weights from the file mapping (pages shared with other processes, models larger than "
               "memory) instead of copying them into memory on huge pages at load (faster decoding)");
  app.add_option("--lora", f.lora, "apply a LoRA adapter (llama.cpp's GGUF adapter format)");
  app.add_option("--lora-scale", f.lora_scale, "scale of the adapter's product (default 1: alpha / rank as trained)");
}

runtime::GenerateParams generate_params(const GenerationFlags& f) {
  runtime::GenerateParams p;
  p.n_predict = f.n_predict;
  p.sampling.temperature = f.temperature;
  p.sampling.top_k = f.top_k;
  p.sampling.top_p = f.top_p;
  p.sampling.min_p = f.min_p;
  p.sampling.repeat_penalty = f.repeat_penalty;
  p.sampling.repeat_last_n = f.repeat_last_n;
  p.sampling.presence_penalty = f.presence_penalty;
  p.sampling.frequency_penalty = f.frequency_penalty;
  p.sampling.seed = f.seed ? *f.seed : std::random_device{}() ^ static_cast<uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
  log_debug("sampling seed ", p.sampling.seed);
  p.stop = f.stop;
  runtime::check_sampling_params(p.sampling);  // before a large model is loaded
  return p;
}

LoadedModel load_for_generation(const GenerationFlags& f, int n_seq_max, int prefix_blocks) {
  if (f.threads < 0) fail("--threads must not be negative");
  if (f.n_ctx < 0) fail("--ctx-size must not be negative");
  const model::KvType kv_type = model::kv_type_from_name(f.kv_type);
  if (f.threads > 0) ThreadPool::set_default_threads(f.threads);
  LoadedModel m;
  m.path = resolve_model_path(f.model);
  m.model = model::Model::load(m.path, {.repack = f.repack, .in_memory = !f.mmap, .threads = ThreadPool::global().size()});
  const model::RepackReport& r = m.model->repacked();
  if (r.tensors > 0 || r.copied_bytes > 0) {
    log_debug("repacked ", r.tensors, " matrices (", human_bytes(static_cast<double>(r.bytes)), "), copied ",
              human_bytes(static_cast<double>(r.copied_bytes)), " into memory in ", r.seconds, " s");
  }
  if (!r.skipped.empty()) log_info("weights left in the file mapping: ", r.skipped);
  if (!f.lora.empty()) {
    auto adapter = model::LoraAdapter::load(f.lora, *m.model, f.lora_scale);
    log_info("LoRA adapter ", f.lora, ": ", adapter->targets().size(), " matrices, rank ", adapter->rank(),
             ", scale ", adapter->scale());
    m.model->set_lora(std::move(adapter));
  }
  m.tokenizer.emplace(tokenizer::Tokenizer::from_metadata(m.model->file().metadata()));
  runtime::EngineOptions opts;
  opts.n_ctx = f.n_ctx;
  opts.kv_type = kv_type;
  opts.n_seq_max = n_seq_max;
  opts.prefix_blocks = prefix_blocks;
  m.engine = std::make_unique<runtime::Engine>(*m.model, opts);
  return m;
}

void print_generation_stats(const runtime::GenerateStats& s) {
  std::fprintf(stderr, "prompt: %d tokens in %.2f s (%.1f tok/s) | generation: %d tokens in %.2f s (%.1f tok/s) | stop: %s\n",
               s.n_prompt, s.prompt_seconds, s.prompt_tokens_per_second(), s.n_generated, s.generation_seconds,
               s.generation_tokens_per_second(), runtime::stop_reason_name(s.stop));
}

}  // namespace frugal::cli
