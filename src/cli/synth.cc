// frugal synth: a random-weight GGUF model of a real architecture and size.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <map>
#include <optional>

#include "base/error.h"
#include "base/human_format.h"
#include "base/log.h"
#include "cli/command.h"
#include "convert/convert.h"
#include "convert/hf_layout.h"
#include "model/config_overrides.h"
#include "model/presets.h"
#include "model/synth.h"
#include "tokenizer/hf_import.h"

namespace frugal::cli {
namespace {

struct SynthArgs {
  std::string arch, preset = "tiny", type = "f16", output, tokenizer_json, name, format = "gguf";
  int shards = 1;
  int64_t fp8_block = 0;
  uint64_t seed = 0;
  double router_skew = 0;
  bool list = false;
  model::ConfigOverrides over;
};

// Columns as wide as their longest entry.
void print_presets() {
  int arch_w = 4, name_w = 6;
  for (const auto& p : model::all_presets())
    arch_w = std::max(arch_w, int(p.arch.size())), name_w = std::max(name_w, int(p.name.size()));
  std::printf("%-*s %-*s %9s %9s  %s\n", arch_w, "arch", name_w, "preset", "params", "active", "description");
  for (const auto& p : model::all_presets())
    std::printf("%-*s %-*s %9s %9s  %s\n", arch_w, p.arch.c_str(), name_w, p.name.c_str(),
                human_count(double(p.config.n_params())).c_str(),
                human_count(double(p.config.n_active_params())).c_str(), p.description.c_str());
}

int run_synth(const SynthArgs& a) {
  if (a.list) {
    print_presets();
    return 0;
  }
  if (a.arch.empty()) fail("synth: --arch is required (see frugal synth --list)");
  if (a.output.empty()) fail("synth: -o FILE is required");
  model::ModelConfig cfg = model::find_preset(a.arch, a.preset).config;
  model::apply_overrides(cfg, a.over);
  cfg.name = a.name.empty() ? "synth " + a.arch + " " + a.preset : a.name;

  if (a.format == "hf") {
    if (!a.tokenizer_json.empty() || a.router_skew != 0)
      fail("synth: --format hf writes the byte-level vocabulary and no router skew");
    convert::write_hf_synth(cfg, a.seed, a.shards, a.output, a.fp8_block);
    std::string kind = "f32 safetensors";
    if (a.fp8_block > 0)
      kind += ", projections in " + std::to_string(a.fp8_block) + "x" + std::to_string(a.fp8_block) + "-block fp8";
    if (convert::hf_family_for_config(cfg).stacked_mxfp4_experts) kind += ", experts in MXFP4";
    std::printf("wrote %s: %s %s as a Hugging Face checkpoint (%s, %d file%s), seed %llu\n",
                a.output.c_str(), cfg.arch.c_str(), a.preset.c_str(), kind.c_str(), a.shards, a.shards == 1 ? "" : "s",
                (unsigned long long)a.seed);
    return 0;
  }
  if (a.shards != 1) fail("synth: --shards goes with --format hf");
  if (a.fp8_block != 0) fail("synth: --fp8-block goes with --format hf");

  gguf::Metadata tok;
  if (!a.tokenizer_json.empty()) {
    tokenizer::import_hf_tokenizer(a.tokenizer_json, tok);
    const int64_t before = cfg.n_vocab;
    model::fit_tokenizer_vocab(tok, cfg);
    if (cfg.n_vocab != before)
      std::fprintf(stderr, "synth: n_vocab raised from %lld to %lld to hold the tokenizer's vocabulary\n",
                   (long long)before, (long long)cfg.n_vocab);
  }

  model::SynthOptions opts;
  opts.type = a.type;
  opts.seed = a.seed;
  opts.router_skew = a.router_skew;
  if (log_level() < LogLevel::kInfo) opts.progress_label = "";  // -q: errors only
  const auto t0 = std::chrono::steady_clock::now();
  const model::SynthSummary s = model::write_synth_model(cfg, tok, opts, a.output);
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

  std::map<std::string, std::pair<int, uint64_t>> by_type;  // type -> tensors, bytes
  for (const auto& t : s.tensors) {
    auto& e = by_type[tensor_type_name(t.type)];
    e.first += 1;
    e.second += t.n_bytes;
  }
  std::printf("wrote %s: %s %s (%s), %lld layers, n_embd %lld, vocab %lld", a.output.c_str(), cfg.arch.c_str(),
              a.preset.c_str(), a.type.c_str(), (long long)cfg.n_layer, (long long)cfg.n_embd,
              (long long)cfg.n_vocab);
  if (cfg.is_moe()) std::printf(", %lld experts top-%lld", (long long)cfg.n_expert, (long long)cfg.n_expert_used);
  std::printf("\n  %zu tensors, %s parameters (%s active per token), %s of tensor data, seed %llu, %.1f s\n",
              s.tensors.size(), human_count(double(s.n_params)).c_str(),
              human_count(double(cfg.n_active_params())).c_str(), human_bytes(double(s.n_bytes)).c_str(),
              (unsigned long long)a.seed, secs);
  for (const auto& [type, e] : by_type)
    std::printf("  %-6s %4d tensors  %s\n", type.c_str(), e.first, human_bytes(double(e.second)).c_str());
  return 0;
}

template <class T>
void add_override(CLI::App& app, const std::string& flag, std::optional<T>& target, const std::string& help) {
  app.add_option_function<T>(flag, [&target](const T& v) { target = v; }, help);
}

const CommandRegistration kSynth{
    "synth", "write a random-weight model of a real architecture and size", [](CLI::App& app) {
      auto a = std::make_shared<SynthArgs>();
      std::string archs;
      for (const auto& name : model::supported_architectures()) archs += " " + name;
      app.add_option("--arch", a->arch, "architecture:" + archs);
      app.add_option("--preset", a->preset, "size preset (frugal synth --list); default tiny");
      app.add_option("--type", a->type, "tensor type (f32 f16 bf16 q8_0 q4_0 ...) or recipe (q4_k_m); default f16");
      app.add_option("-o,--output", a->output, "output GGUF file (--format hf: folder)");
      app.add_option("--format", a->format,
                     "gguf, or hf: the same weights as a Hugging Face checkpoint folder (for frugal convert)")
          ->check(CLI::IsMember({"gguf", "hf"}));
      app.add_option("--shards", a->shards, "--format hf: safetensors files to spread the tensors over (default 1)");
      app.add_option("--fp8-block", a->fp8_block,
                     "--format hf: projection matrices as float8_e4m3 with a scale per NxN block, as DeepSeek-V3's "
                     "checkpoints (N = 128); deepseek4: power-of-two F8_E8M0 scales and the experts in FP4, as "
                     "DeepSeek-V4's");
      app.add_option("--seed", a->seed, "random seed (same seed, same file)");
      app.add_option("--tokenizer", a->tokenizer_json,
                     "Hugging Face tokenizer.json to import (default: a byte-level vocabulary)");
      app.add_option("--name", a->name, "general.name (default: synth ARCH PRESET)");
      app.add_option("--router-skew", a->router_skew,
                     "expert popularity close to Zipf's law with this exponent, a ranking per layer (benchmarks "
                     "of batched decoding; default 0: routers as random as their weights)");
      app.add_flag("--list", a->list, "list the presets and exit");
      auto& o = a->over;
      add_override(app, "--layers", o.n_layer, "number of layers");
      add_override(app, "--embd", o.n_embd, "embedding width");
      add_override(app, "--experts", o.n_expert, "routed experts (0: dense)");
      add_override(app, "--experts-used", o.n_expert_used, "experts used per token");
      add_override(app, "--ff", o.n_ff, "dense FFN width");
      add_override(app, "--ff-exp", o.n_ff_exp, "expert FFN width");
      add_override(app, "--heads", o.n_head, "attention heads");
      add_override(app, "--heads-kv", o.n_head_kv, "key/value heads");
      add_override(app, "--vocab", o.n_vocab, "vocabulary size");
      add_override(app, "--ctx", o.n_ctx, "training context length");
      add_override(app, "--ssm-head-dim", o.ssm_head_dim,
                   "qwen3next, qwen35moe: Gated DeltaNet key and value head width");
      add_override(app, "--attn-interval", o.full_attn_interval,
                   "qwen3next, qwen35moe: every n-th layer full attention, the others Gated DeltaNet");
      app.add_option_function<std::string>(
             "--mla-kv-b", [&o](const std::string& v) { o.mla_split_kv_b = v == "split"; },
             "deepseek2: store kv_b joint (attn_kv_b) or split (attn_k_b, attn_v_b, as current converters do); "
             "the same seed gives the same weights either way")
          ->check(CLI::IsMember({"joint", "split"}));
      return [a] { return run_synth(*a); };
    }};

}  // namespace
}  // namespace frugal::cli
