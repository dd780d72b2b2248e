// frugal convert: a Hugging Face checkpoint folder to a GGUF file.
#include <chrono>
#include <cstdio>

#include "base/error.h"
#include "base/human_format.h"
#include "base/log.h"
#include "cli/command.h"
#include "convert/convert.h"
#include "quant/recipe.h"

namespace frugal::cli {
namespace {

struct ConvertArgs {
  std::string input, output, type = "f16", mla_kv_b = "auto";
};

int run_convert(const ConvertArgs& a) {
  if (a.output.empty()) fail("convert: -o FILE is required");
  convert::ConvertOptions opts;
  opts.type = a.type;
  opts.mla_kv_b = a.mla_kv_b == "split"   ? convert::ConvertOptions::KvB::kSplit
                 : a.mla_kv_b == "joint" ? convert::ConvertOptions::KvB::kJoint
                                         : convert::ConvertOptions::KvB::kAuto;
  if (log_level() < LogLevel::kInfo) opts.progress_label = "";  // -q: errors only
  const auto t0 = std::chrono::steady_clock::now();
  const convert::ConvertSummary s = convert::convert_hf_to_gguf(a.input, a.output, opts);
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const auto& c = s.config;
  std::printf("wrote %s: %s (%s) as %s, %s, %lld layers, n_embd %lld, vocab %lld", a.output.c_str(), s.hf_class.c_str(),
              a.input.c_str(), c.arch.c_str(), a.type.c_str(), (long long)c.n_layer, (long long)c.n_embd,
              (long long)c.n_vocab);
  if (c.is_moe()) std::printf(", %lld experts top-%lld", (long long)c.n_expert, (long long)c.n_expert_used);
  std::printf("\n  %zu tensors from %zu safetensors file%s, %s parameters, %s of tensor data, %zu tokens%s, %.1f s\n",
              s.n_tensors, s.n_shards, s.n_shards == 1 ? "" : "s", human_count(double(s.n_params)).c_str(),
              human_bytes(double(s.n_bytes)).c_str(), s.n_tokens, s.chat_template ? " and a chat template" : "", secs);
  return 0;
}

const CommandRegistration kConvert{
    "convert", "convert a Hugging Face checkpoint folder (safetensors) to a GGUF file", [](CLI::App& app) {
      auto a = std::make_shared<ConvertArgs>();
      app.add_option("HF_DIR", a->input, "folder with config.json, *.safetensors, tokenizer.json")->required();
      app.add_option("-o,--output", a->output, "output GGUF file (written atomically)");
      app.add_option("--type", a->type,
                     "tensor type (f32 f16 bf16 q8_0 ...) or recipe (" + quant::recipe_names() + "); default f16");
      app.add_option("--mla-kv-b", a->mla_kv_b,
                     "deepseek2: write kv_b_proj joint (attn_kv_b) or split (attn_k_b, attn_v_b); auto (default): "
                     "split for DeepSeek-V3-class checkpoints (V3, R1, Kimi-K2) as current converters write them, "
                     "joint for DeepSeek-V2")
          ->check(CLI::IsMember({"auto", "joint", "split"}));
      return [a] { return run_convert(*a); };
    }};

}  // namespace
}  // namespace frugal::cli
