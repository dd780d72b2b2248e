// How Hugging Face checkpoints of each architecture name and lay out their
// tensors and hyperparameters, and how those map to frugal's GGUF names
// (model/config.h's expected_tensors). One table per family, read both ways:
// `frugal convert` (Hugging Face -> GGUF) and `frugal synth --format hf`
// (GGUF-named random weights -> a Hugging Face folder).
#pragma once
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "convert/fp8_blocks.h"
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
  kQwen35,    // Qwen3-Next's, rope_parameters, attn_output_gate, mtp_num_hidden_layers
  kMiniMax,   // rotary_dim, scoring_func, use_qk_norm, use_routing_bias, attn_type_list
  kDots1,     // DeepSeek-V3's MoE (a sigmoid router only), attention_bias
  kErnie,     // moe_layer_start_index/end_index/interval, moe_num_shared_experts, use_bias
  kDeepseekV4, // hc_*, o_groups, o_lora_rank, sliding_window, compress_*, index_*, num_hash_layers, swiglu_limit
  kBailing,   // DeepSeek-V3's MoE as num_shared_experts, score_function, moe_router_enable_expert_bias; use_qk_norm
  kHunyuan,   // moe_topk, num_shared_expert (per-layer lists), use_qk_norm, use_cla, rope_scaling's dynamic alpha
};

// How a checkpoint's value becomes the GGUF's (hf_value_to_gguf).
enum class HfValue {
  kCopy,
  kPlusOne,  // Qwen3-Next's RMSNorm multiplies by 1 + weight: the GGUF holds 1 + weight
  kNegExp,   // Gated DeltaNet's A_log: the GGUF holds A = -exp(A_log)
};

// One tensor's name in a checkpoint: a global tensor's whole name, or a
// block's after its layer prefix ("model.layers.N.").
struct HfTensorName {
  model::TensorId tensor;
  const char* hf;
  HfValue value = HfValue::kCopy;
  bool norm_as_is = false;  // a norm a zero-centred family stores as it is
};

// The names of a family whose checkpoints are not laid out as transformers'
// modules (DeepSeek-V4's own: embed, layers.N.attn.wq_a, ...), in place of
// the shared tables of hf_layout.cc.
struct HfNaming {
  std::span<const HfTensorName> global;
  std::span<const HfTensorName> layer;
};
extern const HfNaming kDeepseekV4Naming;  // hf_names_dsv4.cc
extern const HfNaming kBailingNaming;     // hf_names_bailing.cc
extern const HfNaming kHunyuanNaming;     // hf_names_hunyuan.cc

// A family of Hugging Face checkpoints that converts to one GGUF architecture.
struct HfFamily {
  const char* hf_class;   // config.json "architectures"[0]: "MixtralForCausalLM"
  const char* arch;       // general.architecture: "llama"
  const char* model_type; // config.json "model_type": "mixtral"
  // The MoE fields below are empty for a dense family.
  bool moe = false;            // routed experts (Mixtral) or dense (Llama) under one arch
  const char* moe_block = "";  // the MoE module under each layer: "block_sparse_moe" or "mlp"
  // config.json keys of the MoE: the expert count, the expert width (""
  // when intermediate_size is it), the shared expert's width ("" for none),
  // whether norm_topk_prob says if the top-k weights are renormalised (else
  // they always are).
  const char* expert_count_key = "";
  const char* expert_ff_key = "";
  const char* shared_ff_key = "";
  bool norm_topk_key = false;
  // The shared expert's module under mlp: "shared_expert" (Qwen2-MoE) or
  // "shared_experts" (DeepSeek).
  const char* shared_block = "";
  // Per-expert projection names (expert E: <moe_block>.experts.E.<name>.weight).
  const char* exp_gate = "";
  const char* exp_up = "";
  const char* exp_down = "";
  // llama's converter reorders the rows of q and k from Hugging Face's
  // rotate-half layout to the interleaved pairs its RoPE rotates.
  bool permute_qk = false;
  // Layers numbered num_hidden_layers and up (DeepSeek-V3's multi-token
  // prediction layer) are left out, as llama.cpp's converter leaves them.
  bool drop_extra_layers = false;
  // Latent attention's kv_b written split (attn_k_b, attn_v_b) unless
  // --mla-kv-b says otherwise: the layout GGUF files of this family have now.
  bool split_kv_b = false;
  // The router's module under the MoE block: "gate", or gpt-oss's "router".
  const char* router = "gate";
  // Where the router's selection bias (e_score_correction_bias) is under
  // the MoE block: in the router's module ("gate.": DeepSeek-V3, GLM-4.5)
  // or in the block itself ("": MiniMax-M2).
  const char* score_bias_at = "gate.";
  // ERNIE-4.5: the selection bias as one row of a [1, experts] matrix
  // (moe_statics.e_score_correction_bias), not a vector.
  bool score_bias_row = false;
  // The config.json key of the experts each token uses (ERNIE-4.5: moe_k).
  const char* expert_used_key = "num_experts_per_tok";
  // gpt-oss: each layer's experts as three stacked tensors, gate and up rows
  // interleaved in experts.gate_up_proj, the weights in MXFP4 blocks
  // (hf_source's mxfp4).
  bool stacked_mxfp4_experts = false;
  // Qwen3.5-MoE: each layer's experts as two stacked tensors,
  // experts.gate_up_proj [experts, 2 n_ff, n_embd] (gate rows, then up)
  // and experts.down_proj [experts, n_embd, n_ff], rows as the GGUF's
  // (hf_source's block_rows); or per expert as Qwen2-MoE's, which convert
  // reads as well (hf_other_expert_layout).
  bool gate_up_experts = false;
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
  // Where the language model's tensors are: its embedding, layers and
  // final norm under model_path, the output head under head_path
  // (multimodal checkpoints: Llama 4's "language_model.model." and
  // "language_model.lm_head.", Qwen3.5's "model.language_model." and
  // "lm_head."); its keys under config.json's text_config of this
  // model_type ("" when at the top level), and the towers' tensors under
  // the prefixes of `skipped` left out.
  const char* model_path = "model.";
  const char* head_path = "lm_head.";
  const char* text_config = "";
  std::string_view skipped[2] = {};
  // Qwen3-Next: every RMSNorm weight but the DeltaNet's gated norm is
  // stored as weight - 1 (HfValue::kPlusOne).
  bool zero_centered_norms = false;
  // Qwen3.5: the Gated DeltaNet's value heads grouped by key head in the
  // checkpoint (head g * r + j reads key head g, r = value heads per key
  // head), tiled in the GGUF (head j * key heads + g), as llama.cpp's
  // converter reorders them (HfVHeads).
  bool grouped_v_heads = false;
  // Qwen3.5: the next-token-prediction block under this prefix ("mtp."):
  // its layer K as <mtp_path>layers.K.*, its input projection and norms
  // as <mtp_path>fc, pre_fc_norm_embedding, pre_fc_norm_hidden, norm.
  const char* mtp_path = "";
  // rope_scaling of Llama 3.1's kind ("rope_type": "llama3") is carried.
  bool llama3_rope = false;
  // Of the classes of one architecture, the one synth writes for a router
  // with a selection bias (DeepSeek-V3's beside V2's).
  bool for_score_bias = false;
  // Its own tensor names (nullptr: the shared tables).
  const HfNaming* naming = nullptr;
  // Its fp8 checkpoints: how the block scales are named, and whether the
  // routed experts are FP4 instead (DeepSeek-V4: I8 [rows, cols / 2], two
  // E2M1 codes a byte as gpt-oss's blocks, an E8M0 scale per 32 columns,
  // copied into MXFP4 blocks).
  Fp8ScaleName fp8_scales = Fp8ScaleName::kScaleInv;
  bool fp4_experts = false;
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
// Qwen3-Next's layer_types: full_attention every n_full_attn_interval-th
// layer, linear_attention the others (read and written alike).
nlohmann::json qwen3next_layer_types(const model::ModelConfig& c);

// Qwen3.5's value-head order (HfFamily::grouped_v_heads) over a run of
// `width` rows or columns per head from `from` on: GGUF head j * groups + g
// is the checkpoint's head g * per_group + j.
struct HfVHeads {
  int64_t groups = 0;  // key heads; 0: no reordering
  int64_t per_group = 1;
  int64_t width = 1;
  int64_t from = 0;
  bool columns = false;  // the heads run along each row (out_proj, dt_bias, A_log), not over rows
  // The checkpoint's index of GGUF index i (a row, or a column).
  int64_t source(int64_t i) const;
};

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
  // > 0: names[0] holds per expert block_stride rows, GGUF row r being
  // row r % block_rows + block_offset of expert r / block_rows (Qwen3.5's
  // experts.gate_up_proj).
  int64_t block_rows = 0, block_stride = 0, block_offset = 0;
  HfVHeads v_heads;
  HfValue value = HfValue::kCopy;
  // The row of the concatenated sources that GGUF row r holds.
  int64_t source_row(int64_t r) const;
};
HfSource hf_source(const HfFamily& family, const model::ModelConfig& cfg, const model::TensorSpec& spec);
// The other layout a family's checkpoints may hold the experts' tensor in
// (Qwen3.5: stacked or per expert), read when hf_source's is absent;
// nullopt for other tensors and families.
std::optional<HfSource> hf_other_expert_layout(const HfFamily& family, const model::ModelConfig& cfg,
                                               const model::TensorSpec& spec);

// A checkpoint's value as the GGUF holds it, and back (for synth: the value
// that converts to exactly `gguf` where one does, else the nearest).
float hf_value_to_gguf(HfValue how, float hf);
float hf_value_from_gguf(HfValue how, float gguf);

// Tensors copied when the checkpoint has them and left out when not (the
// next-token-prediction layers' head, norm and embedding).
struct HfOptional {
  model::TensorId tensor;  // of block `block`
  int64_t block = 0;
  std::string hf;
  HfValue value = HfValue::kCopy;
};
std::vector<HfOptional> hf_optional_tensors(const HfFamily& family, const model::ModelConfig& cfg);

// Hugging Face tensors that carry nothing the GGUF needs: rotary tables, and
// for families that drop them the layers after the configuration's n_layer.
bool hf_tensor_is_ignored(const HfFamily& family, const model::ModelConfig& cfg, const std::string& name);

}  // namespace frugal::convert
