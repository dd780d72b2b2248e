// How Hugging Face checkpoints of each architecture name and lay out their
// tensors and hyperparameters, and how those map to frugal's GGUF names
// (model/config.h's expected_tensors). One table per family, read both ways:
// `frugal convert` (Hugging Face -> GGUF) and `frugal synth --format hf`
// (GGUF-named random weights -> a Hugging Face folder).
#pragma once
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "model/config.h"

namespace frugal::convert {

// The config.json keys a family has beyond the shared ones (hf_config.cc).
enum class HfKeys {
  kCommon,
  kDeepseek,  // latent attention and DeepSeek's MoE (n_shared_experts, groups, scoring_func, ...)
  kGlm,       // DeepSeek-V3's MoE, partial_rotary_factor, use_qk_norm, next-token-prediction layers
  kGptOss,    // sliding_window with layer_types, swiglu_limit
  kLlama4,    // interleave_moe_layer_step, attention_chunk_size, temperature tuning, use_qk_norm, no_rope_layers
  kQwen3Next, // linear_* (Gated DeltaNet), full_attention_interval with layer_types, partial_rotary_factor
};

// How a checkpoint's value becomes the GGUF's (hf_value_to_gguf).
enum class HfValue {
  kCopy,
  kPlusOne,  // Qwen3-Next's RMSNorm multiplies by 1 + weight: the GGUF holds 1 + weight
  kNegExp,   // Gated DeltaNet's A_log: the GGUF holds A = -exp(A_log)
};

// A family of Hugging Face checkpoints that converts to one GGUF architecture.
struct HfFamily {
  const char* hf_class;   // config.json "architectures"[0]: "MixtralForCausalLM"
  const char* arch;       // general.architecture: "llama"
  const char* model_type; // config.json "model_type": "mixtral"
  bool moe;               // routed experts (Mixtral) or dense (Llama) under one arch
  const char* moe_block;  // the MoE module under each layer: "block_sparse_moe" or "mlp"
  // config.json keys of the MoE: the expert count, the expert width (""
  // when intermediate_size is it), the shared expert's width ("" for none),
  // whether norm_topk_prob says if the top-k weights are renormalised (else
  // they always are).
  const char* expert_count_key;
  const char* expert_ff_key;
  const char* shared_ff_key;
  bool norm_topk_key;
  // The shared expert's module under mlp: "shared_expert" (Qwen2-MoE) or
  // "shared_experts" (DeepSeek).
  const char* shared_block;
  // Per-expert projection names (expert E: <moe_block>.experts.E.<name>.weight).
  const char* exp_gate;
  const char* exp_up;
  const char* exp_down;
  // llama's converter reorders the rows of q and k from Hugging Face's
  // rotate-half layout to the interleaved pairs its RoPE rotates.
  bool permute_qk;
  // Layers numbered num_hidden_layers and up (DeepSeek-V3's multi-token
  // prediction layer) are left out, as llama.cpp's converter leaves them.
  bool drop_extra_layers = false;
  // The router's module under the MoE block: "gate", or gpt-oss's "router".
  const char* router = "gate";
  // gpt-oss: each layer's experts as three stacked tensors, gate and up rows
  // interleaved in experts.gate_up_proj, the weights in MXFP4 blocks
  // (hf_source's mxfp4).
  bool stacked_mxfp4_experts = false;
  // Llama 4: each layer's experts as two stacked tensors,
  // experts.gate_up_proj [experts, n_embd, 2 n_ff] (gate columns, then up)
  // and experts.down_proj [experts, n_ff, n_embd], each expert's matrix the
  // transpose of the GGUF's rows (hf_source's transposed).
  bool fused_experts = false;
  HfKeys keys = HfKeys::kCommon;
  // The dense FFN's module ("mlp"; Llama 4: "feed_forward") and its width's
  // key (Llama 4: intermediate_size_mlp, intermediate_size being the experts').
  const char* ffn_block = "mlp";
  const char* dense_ff_key = "intermediate_size";
  // Multimodal checkpoints (Llama 4): the language model's tensors under
  // this prefix ("language_model."), its keys under config.json's
  // text_config of this model_type ("" when at the top level), and the
  // towers' tensors under these prefixes left out.
  const char* prefix = "";
  const char* text_config = "";
  std::string_view skipped[2] = {};
  // Qwen3-Next: every RMSNorm weight but the DeltaNet's gated norm is
  // stored as weight - 1 (HfValue::kPlusOne).
  bool zero_centered_norms = false;
  // rope_scaling of Llama 3.1's kind ("rope_type": "llama3") is carried.
  bool llama3_rope = false;
  // Of the classes of one architecture, the one synth writes for a router
  // with a selection bias (DeepSeek-V3's beside V2's).
  bool for_score_bias = false;
};

// The family of a config.json's architecture class; frugal::Error naming the
// class and the known ones otherwise.
const HfFamily& hf_family_for_class(const std::string& hf_class);
// The family frugal writes for a configuration (its arch, dense or MoE);
// frugal::Error if none.
const HfFamily& hf_family_for_config(const model::ModelConfig& cfg);

// config.json -> configuration (`where` names the file in errors): missing
// or inconsistent keys, and features convert does not carry (rope scaling,
// sliding windows), are frugal::Error naming the key.
model::ModelConfig config_from_hf(const nlohmann::json& cfg, const std::string& where);
// The object of config.json that holds the language model's keys: its
// text_config in multimodal checkpoints (Llama 4), else config.json itself.
const nlohmann::json& hf_model_keys(const nlohmann::json& cfg);
// Llama 3.1's rope_scaling ("rope_type": "llama3") as the per-pair
// frequency divisors of rope_freqs.weight, computed as llama.cpp's converter
// does (config_from_hf sets rope_freq_factors for it).
std::vector<float> llama3_rope_factors(const nlohmann::json& cfg, const model::ModelConfig& c);

// Configuration -> config.json (torch_dtype as given).
nlohmann::json config_to_hf(const model::ModelConfig& cfg, const std::string& torch_dtype);

// Where the rows of one GGUF tensor come from. The GGUF tensor's rows (of
// shape[0] elements each) are the rows of `names` one after the other (one
// name, or one per expert when experts are stacked), each in the order
// source_row() says.
struct HfSource {
  std::vector<std::string> names;
  std::vector<int64_t> shape;  // of each source, row-major (PyTorch order)
  int64_t permute_heads = 0;   // > 0: llama's q/k row order over this many heads
  // gpt-oss's experts.gate_up_proj interleaves gate and up: GGUF row r (or,
  // for the biases, element i of a row) is source row (element) r * stride
  // + offset of one expert.
  int64_t stride = 1, offset = 0;
  bool strided_elements = false;  // the stride picks elements of a row, not rows
  // names[0] holds MXFP4 blocks [experts, rows, row / 32, 16] (U8) and
  // names[1] their E8M0 scales [experts, rows, row / 32] (U8): copied into
  // the GGUF's MXFP4 blocks, bit for bit.
  bool mxfp4 = false;
  // names[0] holds each expert's matrix transposed, [experts, row length,
  // columns]: element i of GGUF row r of expert e is element (e, i, r *
  // stride + offset) (Llama 4's experts; gpt-oss's saved unquantised).
  bool transposed = false;
  HfValue value = HfValue::kCopy;
  // The row of the concatenated sources that GGUF row r holds.
  int64_t source_row(int64_t r) const;
};
HfSource hf_source(const HfFamily& family, const model::ModelConfig& cfg, const model::TensorSpec& spec);

// A checkpoint's value as the GGUF holds it, and back (for synth: the value
// that converts to exactly `gguf` where one does, else the nearest).
float hf_value_to_gguf(HfValue how, float hf);
float hf_value_from_gguf(HfValue how, float gguf);

// (GGUF name, Hugging Face name) of tensors copied when the checkpoint has
// them and left out when not (the next-token-prediction layers' head,
// norm and embedding).
std::vector<std::pair<std::string, std::string>> hf_optional_tensors(const model::ModelConfig& cfg);

// Hugging Face tensors that carry nothing the GGUF needs: rotary tables, and
// for families that drop them the layers after the configuration's n_layer.
bool hf_tensor_is_ignored(const HfFamily& family, const model::ModelConfig& cfg, const std::string& name);

}  // namespace frugal::convert
