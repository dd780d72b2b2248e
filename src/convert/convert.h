// Hugging Face checkpoint folder -> GGUF file (`frugal convert`), and the
// reverse for tests (`frugal synth --format hf`).
#pragma once
#include <cstdint>
#include <string>

#include "model/config.h"

namespace frugal::convert {

struct ConvertOptions {
  std::string type = "f16";                // a tensor type ("q8_0") or a recipe ("q4_k_m")
  std::string progress_label = "convert";  // "" for no progress bar
  // deepseek2: write kv_b_proj split into attn_k_b (each head's key rows
  // transposed) and attn_v_b, or as the joint attn_kv_b. kAuto: split for
  // DeepseekV3ForCausalLM checkpoints (DeepSeek-V3/R1, Kimi-K2), as current
  // converters write them; joint for DeepseekV2ForCausalLM, as GGUF files of
  // DeepSeek-V2 are.
  enum class KvB { kAuto, kJoint, kSplit };
  KvB mla_kv_b = KvB::kAuto;
};

struct ConvertSummary {
  model::ModelConfig config;
  std::string hf_class;
  size_t n_tensors = 0;
  size_t n_shards = 0;
  uint64_t n_params = 0;
  uint64_t n_bytes = 0;  // tensor data written
  size_t n_tokens = 0;   // vocabulary
  bool chat_template = false;
};

// Reads HF_DIR's config.json, safetensors (one file or the shards of
// model.safetensors.index.json), tokenizer.json and tokenizer_config.json
// and writes the GGUF at `out`, one tensor at a time, atomically. Every
// tensor's presence, shape and dtype is checked before anything is written;
// errors name the file and the tensor.
ConvertSummary convert_hf_to_gguf(const std::string& hf_dir, const std::string& out, const ConvertOptions& opts);

// Writes the random model that `frugal synth` writes for (cfg, seed) as a
// Hugging Face folder: config.json, model.safetensors (n_shards > 1: that
// many shards and model.safetensors.index.json), F32 weights, and the
// byte-level vocabulary as tokenizer.json and tokenizer_config.json. A
// split kv_b (cfg.mla_split_kv_b) is written joint, as checkpoints hold it:
// the same values, which convert --mla-kv-b split splits again. fp8_block > 0:
// the projection matrices (*_proj.weight) as float8_e4m3 with an F32 scale
// per fp8_block x fp8_block block, as DeepSeek-V3/R1 checkpoints ship them.
// RoPE factors (rope_freqs.weight) are written as Llama 4 Scout's
// rope_scaling, from which convert computes its own factors.
void write_hf_synth(const model::ModelConfig& cfg, uint64_t seed, int n_shards, const std::string& dir,
                    int64_t fp8_block = 0);

}  // namespace frugal::convert
