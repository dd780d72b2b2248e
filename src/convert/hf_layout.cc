// The Hugging Face layouts of the families `convert` reads: one table of
// classes and one of per-layer tensor names (config.json's keys: hf_config.cc).
#include "convert/hf_layout.h"

#include <cmath>
#include <string_view>

#include "base/error.h"

namespace frugal::convert {
namespace {

using model::ModelConfig;

// Llama 4 (Scout, Maverick): the language model of a multimodal
// checkpoint, its experts fused and transposed, its RoPE pairing
// interleaved dimensions as the GGUF's does (no q/k permutation).
constexpr HfFamily kLlama4 = {
    .hf_class = "Llama4ForConditionalGeneration", .arch = "llama4", .model_type = "llama4", .moe = true,
    .moe_block = "feed_forward", .expert_count_key = "num_local_experts", .expert_ff_key = "intermediate_size",
    .shared_ff_key = "", .norm_topk_key = false, .shared_block = "shared_expert", .exp_gate = "", .exp_up = "",
    .exp_down = "", .permute_qk = false, .router = "router", .fused_experts = true, .keys = HfKeys::kLlama4,
    .ffn_block = "feed_forward", .dense_ff_key = "intermediate_size_mlp",
    .model_path = "language_model.model.", .head_path = "language_model.lm_head.", .text_config = "llama4_text", .skipped = {"vision_model.", "multi_modal_projector."}, .llama3_rope = true};

// A multimodal family's language model saved alone: its class and
// model_type.
struct TextOnlyNames {
  const char* hf_class;
  const char* model_type;
};
constexpr HfFamily text_only(const HfFamily& f, TextOnlyNames names) {
  HfFamily t = f;
  t.hf_class = names.hf_class;
  t.model_type = names.model_type;
  t.model_path = "model.";
  t.head_path = "lm_head.";
  t.text_config = "";
  t.skipped[0] = t.skipped[1] = "";
  return t;
}

// Qwen3.5-MoE: Qwen3-Next's layers with the Gated DeltaNet's projections
// apart (in_proj_qkv, in_proj_z, in_proj_b, in_proj_a) and its value heads
// grouped by key head, the experts stacked (or per expert), no dense FFN
// key; the language model of a multimodal checkpoint (the vision tower,
// model.visual.*, left out) with its next-token-prediction block (mtp.*).
constexpr HfFamily kQwen35Moe = {
    .hf_class = "Qwen3_5MoeForConditionalGeneration", .arch = "qwen35moe", .model_type = "qwen3_5_moe",
    .moe = true, .moe_block = "mlp", .expert_count_key = "num_experts", .expert_ff_key = "moe_intermediate_size",
    .shared_ff_key = "shared_expert_intermediate_size", .norm_topk_key = false, .shared_block = "shared_expert",
    .exp_gate = "gate_proj", .exp_up = "up_proj", .exp_down = "down_proj", .permute_qk = false,
    .gate_up_experts = true, .keys = HfKeys::kQwen35, .dense_ff_key = "", .model_path = "model.language_model.",
    .head_path = "lm_head.", .text_config = "qwen3_5_moe_text", .skipped = {"model.visual.", ""},
    .zero_centered_norms = true, .grouped_v_heads = true, .mtp_path = "mtp."};

// DeepSeek-V4 (Flash, Pro): DeepSeek's own module names (hf_names_dsv4.cc)
// at the top level (embed, layers.N.*, norm, head), the experts as
// ffn.experts.E.w1/w3/w2, no dense FFN; its next-token-prediction module
// (mtp.*) left out. Published with fp8 projections (X.scale beside X.weight)
// and FP4 experts.
constexpr HfFamily kDeepseekV4 = {
    .hf_class = "DeepseekV4ForCausalLM", .arch = "deepseek4", .model_type = "deepseek_v4", .moe = true,
    .moe_block = "ffn", .expert_count_key = "n_routed_experts", .expert_ff_key = "moe_intermediate_size",
    .shared_ff_key = "", .norm_topk_key = true, .shared_block = "shared_experts", .exp_gate = "w1", .exp_up = "w3",
    .exp_down = "w2", .permute_qk = false, .keys = HfKeys::kDeepseekV4, .dense_ff_key = "", .model_path = "",
    .head_path = "head.", .skipped = {"mtp.", ""}, .naming = &kDeepseekV4Naming,
    .fp8_scales = Fp8ScaleName::kScale, .fp4_experts = true};

// Another class name for a family's checkpoints.
constexpr HfFamily also_named(const HfFamily& f, const char* hf_class) {
  HfFamily a = f;
  a.hf_class = hf_class;
  return a;
}

constexpr HfFamily kFamilies[] = {
    // Dense families: the MoE fields empty. The Llama family's rows of q and
    // k are permuted, and it carries Llama 3.1's rope_scaling.
    {.hf_class = "LlamaForCausalLM", .arch = "llama", .model_type = "llama", .permute_qk = true,
     .llama3_rope = true},
    {.hf_class = "MistralForCausalLM", .arch = "llama", .model_type = "mistral", .permute_qk = true,
     .llama3_rope = true},
    {.hf_class = "MixtralForCausalLM", .arch = "llama", .model_type = "mixtral", .moe = true,
     .moe_block = "block_sparse_moe", .expert_count_key = "num_local_experts", .expert_ff_key = "",
     .shared_ff_key = "", .norm_topk_key = false, .shared_block = "", .exp_gate = "w1", .exp_up = "w3", .exp_down = "w2",
     .permute_qk = true, .llama3_rope = true},
    {.hf_class = "Qwen2ForCausalLM", .arch = "qwen2", .model_type = "qwen2", .permute_qk = false},
    {.hf_class = "Qwen3ForCausalLM", .arch = "qwen3", .model_type = "qwen3", .permute_qk = false},
    {.hf_class = "Qwen2MoeForCausalLM", .arch = "qwen2moe", .model_type = "qwen2_moe", .moe = true,
     .moe_block = "mlp", .expert_count_key = "num_experts", .expert_ff_key = "moe_intermediate_size",
     .shared_ff_key = "shared_expert_intermediate_size", .norm_topk_key = true, .shared_block = "shared_expert",
     .exp_gate = "gate_proj",
     .exp_up = "up_proj", .exp_down = "down_proj", .permute_qk = false},
    {.hf_class = "Qwen3MoeForCausalLM", .arch = "qwen3moe", .model_type = "qwen3_moe", .moe = true,
     .moe_block = "mlp", .expert_count_key = "num_experts", .expert_ff_key = "moe_intermediate_size",
     .shared_ff_key = "", .norm_topk_key = true, .shared_block = "", .exp_gate = "gate_proj", .exp_up = "up_proj",
     .exp_down = "down_proj", .permute_qk = false},
    {.hf_class = "OlmoeForCausalLM", .arch = "olmoe", .model_type = "olmoe", .moe = true, .moe_block = "mlp",
     .expert_count_key = "num_experts", .expert_ff_key = "", .shared_ff_key = "", .norm_topk_key = true,
     .shared_block = "", .exp_gate = "gate_proj", .exp_up = "up_proj", .exp_down = "down_proj", .permute_qk = false},
    // DeepSeek: the MoE keys are read by read_deepseek (n_shared_experts
    // counts experts of moe_intermediate_size each); no q/k permutation (its
    // RoPE pairs interleaved dimensions, as the GGUF's does).
    {.hf_class = "DeepseekV2ForCausalLM", .arch = "deepseek2", .model_type = "deepseek_v2", .moe = true,
     .moe_block = "mlp", .expert_count_key = "n_routed_experts", .expert_ff_key = "moe_intermediate_size",
     .shared_ff_key = "", .norm_topk_key = true, .shared_block = "shared_experts", .exp_gate = "gate_proj",
     .exp_up = "up_proj", .exp_down = "down_proj", .permute_qk = false,
     .drop_extra_layers = true, .keys = HfKeys::kDeepseek},
    {.hf_class = "Glm4MoeForCausalLM", .arch = "glm4moe", .model_type = "glm4_moe", .moe = true, .moe_block = "mlp",
     .expert_count_key = "n_routed_experts", .expert_ff_key = "moe_intermediate_size", .shared_ff_key = "",
     .norm_topk_key = true, .shared_block = "shared_experts", .exp_gate = "gate_proj", .exp_up = "up_proj",
     .exp_down = "down_proj", .permute_qk = false, .keys = HfKeys::kGlm},
    // gpt-oss: the experts stacked (experts.gate_up_proj_blocks, ...), so no
    // per-expert names; its router is mlp.router.
    {.hf_class = "GptOssForCausalLM", .arch = "gpt-oss", .model_type = "gpt_oss", .moe = true, .moe_block = "mlp",
     .expert_count_key = "num_local_experts", .expert_ff_key = "", .shared_ff_key = "", .norm_topk_key = false,
     .shared_block = "", .exp_gate = "", .exp_up = "", .exp_down = "", .permute_qk = false,
     .drop_extra_layers = false, .router = "router", .stacked_mxfp4_experts = true, .keys = HfKeys::kGptOss},
    kLlama4,
    // Llama 4's language model saved alone: its keys at the top level, no
    // prefix, no towers.
    text_only(kLlama4, {.hf_class = "Llama4ForCausalLM", .model_type = "llama4_text"}),
    // Qwen3-Next: Gated DeltaNet layers (linear_attn.*) between gated full
    // attention layers, Qwen2-MoE's experts and gated shared expert; its
    // next-token-prediction module (mtp.*) left out, as llama.cpp's converter
    // leaves it.
    {.hf_class = "Qwen3NextForCausalLM", .arch = "qwen3next", .model_type = "qwen3_next", .moe = true,
     .moe_block = "mlp", .expert_count_key = "num_experts", .expert_ff_key = "moe_intermediate_size",
     .shared_ff_key = "shared_expert_intermediate_size", .norm_topk_key = true, .shared_block = "shared_expert",
     .exp_gate = "gate_proj", .exp_up = "up_proj", .exp_down = "down_proj", .permute_qk = false,
     .keys = HfKeys::kQwen3Next, .skipped = {"mtp.", ""}, .zero_centered_norms = true},
    kQwen35Moe,
    // Its language model saved alone: keys at the top level, model.* names.
    text_only(kQwen35Moe, {.hf_class = "Qwen3_5MoeForCausalLM", .model_type = "qwen3_5_moe_text"}),
    // MiniMax-M2 / M2.1: Mixtral's module names (its w1/w3/w2 experts),
    // intermediate_size the experts' width, the selection bias in the MoE
    // block itself; always renormalised.
    {.hf_class = "MiniMaxM2ForCausalLM", .arch = "minimax-m2", .model_type = "minimax_m2", .moe = true,
     .moe_block = "block_sparse_moe", .expert_count_key = "num_local_experts", .expert_ff_key = "",
     .shared_ff_key = "", .norm_topk_key = false, .shared_block = "", .exp_gate = "w1", .exp_up = "w3",
     .exp_down = "w2", .permute_qk = false, .score_bias_at = "", .keys = HfKeys::kMiniMax},
    // dots.llm1: Qwen3's attention, DeepSeek-V3's MoE module names and keys.
    {.hf_class = "Dots1ForCausalLM", .arch = "dots1", .model_type = "dots1", .moe = true, .moe_block = "mlp",
     .expert_count_key = "n_routed_experts", .expert_ff_key = "moe_intermediate_size", .shared_ff_key = "",
     .norm_topk_key = true, .shared_block = "shared_experts", .exp_gate = "gate_proj", .exp_up = "up_proj",
     .exp_down = "down_proj", .permute_qk = false, .keys = HfKeys::kDots1},
    // ERNIE-4.5-MoE (21B-A3B, 300B-A47B): the selection bias in the MoE
    // block's moe_statics, a [1, experts] row; its next-token-prediction
    // modules (model.mtp_*) left out, as llama.cpp's converter leaves them.
    {.hf_class = "Ernie4_5_MoeForCausalLM", .arch = "ernie4_5-moe", .model_type = "ernie4_5_moe", .moe = true,
     .moe_block = "mlp", .expert_count_key = "moe_num_experts", .expert_ff_key = "moe_intermediate_size",
     .shared_ff_key = "", .norm_topk_key = false, .shared_block = "shared_experts", .exp_gate = "gate_proj",
     .exp_up = "up_proj", .exp_down = "down_proj", .permute_qk = false, .score_bias_at = "moe_statics.",
     .score_bias_row = true, .expert_used_key = "moe_k", .keys = HfKeys::kErnie, .skipped = {"model.mtp_", ""}},
    {.hf_class = "DeepseekV3ForCausalLM", .arch = "deepseek2", .model_type = "deepseek_v3", .moe = true,
     .moe_block = "mlp", .expert_count_key = "n_routed_experts", .expert_ff_key = "moe_intermediate_size",
     .shared_ff_key = "", .norm_topk_key = true, .shared_block = "shared_experts", .exp_gate = "gate_proj",
     .exp_up = "up_proj", .exp_down = "down_proj", .permute_qk = false,
     .drop_extra_layers = true, .split_kv_b = true, .keys = HfKeys::kDeepseek,
     .for_score_bias = true},
    // Ling 2.0: its own module names (hf_names_bailing.cc), DeepSeek-V3's
    // MoE under other keys; its next-token-prediction layers after
    // num_hidden_layers left out.
    {.hf_class = "BailingMoeV2ForCausalLM", .arch = "bailingmoe2", .model_type = "bailing_moe", .moe = true,
     .moe_block = "mlp", .expert_count_key = "num_experts", .expert_ff_key = "moe_intermediate_size",
     .shared_ff_key = "", .norm_topk_key = true, .shared_block = "shared_experts", .exp_gate = "gate_proj",
     .exp_up = "up_proj", .exp_down = "down_proj", .permute_qk = false, .drop_extra_layers = true,
     .keys = HfKeys::kBailing, .naming = &kBailingNaming},
    // Hunyuan-A13B: Llama's names but its own for the q/k norms, the router
    // and the shared FFN (hf_names_hunyuan.cc); per-layer MoE keys.
    {.hf_class = "HunYuanMoEV1ForCausalLM", .arch = "hunyuan-moe", .model_type = "hunyuan_v1_moe", .moe = true,
     .moe_block = "mlp", .expert_count_key = "num_experts", .expert_ff_key = "moe_intermediate_size",
     .shared_ff_key = "", .norm_topk_key = false, .shared_block = "shared_mlp", .exp_gate = "gate_proj",
     .exp_up = "up_proj", .exp_down = "down_proj", .permute_qk = false, .expert_used_key = "moe_topk",
     .keys = HfKeys::kHunyuan, .naming = &kHunyuanNaming},
    kDeepseekV4,
    also_named(kDeepseekV4, "DeepseekV4FlashForCausalLM"),
    also_named(kDeepseekV4, "DeepseekV4ProForCausalLM"),
};

using enum model::TensorId;

// Per-layer tensors outside the experts: the GGUF tensor (of block N) and
// the Hugging Face name after "model.layers.N.". "{moe}", "{ffn}",
// "{shared}", "{router}" and "{score_bias_at}" stand for the family's modules.
using LayerName = HfTensorName;
constexpr LayerName kLayerNames[] = {
    {.tensor = kAttnNorm, .hf = "input_layernorm.weight"},
    {.tensor = kAttnQ, .hf = "self_attn.q_proj.weight"},
    {.tensor = kAttnK, .hf = "self_attn.k_proj.weight"},
    {.tensor = kAttnV, .hf = "self_attn.v_proj.weight"},
    {.tensor = kAttnQBias, .hf = "self_attn.q_proj.bias"},
    {.tensor = kAttnKBias, .hf = "self_attn.k_proj.bias"},
    {.tensor = kAttnVBias, .hf = "self_attn.v_proj.bias"},
    {.tensor = kAttnOutput, .hf = "self_attn.o_proj.weight"},
    {.tensor = kAttnOutputBias, .hf = "self_attn.o_proj.bias"},
    {.tensor = kAttnSinks, .hf = "self_attn.sinks"},
    {.tensor = kAttnQNorm, .hf = "self_attn.q_norm.weight"},
    {.tensor = kAttnKNorm, .hf = "self_attn.k_norm.weight"},
    {.tensor = kFfnNorm, .hf = "post_attention_layernorm.weight"},
    {.tensor = kPostAttentionNorm, .hf = "post_attention_layernorm.weight"},
    {.tensor = kFfnGate, .hf = "{ffn}.gate_proj.weight"},
    {.tensor = kFfnUp, .hf = "{ffn}.up_proj.weight"},
    {.tensor = kFfnDown, .hf = "{ffn}.down_proj.weight"},
    {.tensor = kFfnGateInp, .hf = "{moe}.{router}.weight"},
    {.tensor = kFfnGateInpBias, .hf = "{moe}.{router}.bias"},
    {.tensor = kExpProbsB, .hf = "{moe}.{score_bias_at}e_score_correction_bias"},
    {.tensor = kFfnGateInpShexp, .hf = "{moe}.shared_expert_gate.weight"},
    {.tensor = kFfnGateShexp, .hf = "{moe}.{shared}.gate_proj.weight"},
    {.tensor = kFfnUpShexp, .hf = "{moe}.{shared}.up_proj.weight"},
    {.tensor = kFfnDownShexp, .hf = "{moe}.{shared}.down_proj.weight"},
    // Multi-head latent attention (DeepSeek).
    {.tensor = kAttnQA, .hf = "self_attn.q_a_proj.weight"},
    {.tensor = kAttnQANorm, .hf = "self_attn.q_a_layernorm.weight"},
    {.tensor = kAttnQB, .hf = "self_attn.q_b_proj.weight"},
    {.tensor = kAttnKvAMqa, .hf = "self_attn.kv_a_proj_with_mqa.weight"},
    {.tensor = kAttnKvANorm, .hf = "self_attn.kv_a_layernorm.weight"},
    {.tensor = kAttnKvB, .hf = "self_attn.kv_b_proj.weight"},
    // Gated DeltaNet (Qwen3-Next): in_proj_qkvz and in_proj_ba keep their
    // per-key-head grouping, which is the GGUF's; conv1d [channels, 1, kernel].
    {.tensor = kSsmIn, .hf = "linear_attn.in_proj_qkvz.weight"},
    {.tensor = kSsmBa, .hf = "linear_attn.in_proj_ba.weight"},
    {.tensor = kSsmConv1d, .hf = "linear_attn.conv1d.weight"},
    {.tensor = kSsmDt, .hf = "linear_attn.dt_bias"},
    {.tensor = kSsmA, .hf = "linear_attn.A_log", .value = HfValue::kNegExp},
    {.tensor = kSsmNorm, .hf = "linear_attn.norm.weight", .norm_as_is = true},
    {.tensor = kSsmOut, .hf = "linear_attn.out_proj.weight"},
    // Qwen3.5's Gated DeltaNet: the projections apart.
    {.tensor = kAttnQkv, .hf = "linear_attn.in_proj_qkv.weight"},
    {.tensor = kAttnGate, .hf = "linear_attn.in_proj_z.weight"},
    {.tensor = kSsmBeta, .hf = "linear_attn.in_proj_b.weight"},
    {.tensor = kSsmAlpha, .hf = "linear_attn.in_proj_a.weight"},
    // A next-token-prediction layer (GLM-4.5) after the layers that run.
    {.tensor = kNextnEhProj, .hf = "eh_proj.weight"},
    {.tensor = kNextnEnorm, .hf = "enorm.weight"},
    {.tensor = kNextnHnorm, .hf = "hnorm.weight"},
};

// Tensors of a next-token-prediction layer that frugal neither needs nor
// checks, copied when the checkpoint has them (llama.cpp's names).
constexpr LayerName kNextnOptional[] = {
    {.tensor = kNextnSharedHeadHead, .hf = "shared_head.head.weight"},
    {.tensor = kNextnSharedHeadNorm, .hf = "shared_head.norm.weight"},
    {.tensor = kNextnEmbedTokens, .hf = "embed_tokens.weight"},
};

// Qwen3.5's next-token-prediction block (HfFamily::mtp_path): the GGUF's
// per-block nextn tensors, one module each (its norm, the shared head's,
// optional).
constexpr LayerName kMtpNames[] = {
    {.tensor = kNextnEhProj, .hf = "fc.weight"},
    {.tensor = kNextnEnorm, .hf = "pre_fc_norm_embedding.weight"},
    {.tensor = kNextnHnorm, .hf = "pre_fc_norm_hidden.weight"},
};
constexpr LayerName kMtpOptional = {.tensor = kNextnSharedHeadNorm, .hf = "norm.weight"};

// "{model}" and "{head}": the family's model_path and head_path.
constexpr LayerName kGlobalNames[] = {
    {.tensor = kTokenEmbd, .hf = "{model}embed_tokens.weight"},
    {.tensor = kOutputNorm, .hf = "{model}norm.weight"},
    {.tensor = kOutput, .hf = "{head}weight"},
};

// The Gated DeltaNet tensors whose value heads a grouped_v_heads family
// reorders: heads of v_head_dim rows or columns (else one), after the q
// and k channels (attn_qkv's rows, the convolution's channels) or from the
// first.
struct VHeadTensor {
  model::TensorId tensor;
  bool v_width = false;
  bool after_qk = false;
  bool columns = false;
};
constexpr VHeadTensor kVHeadTensors[] = {
    {.tensor = kAttnQkv, .v_width = true, .after_qk = true},
    {.tensor = kSsmConv1d, .v_width = true, .after_qk = true},
    {.tensor = kAttnGate, .v_width = true},
    {.tensor = kSsmBeta},
    {.tensor = kSsmAlpha},
    {.tensor = kSsmDt, .columns = true},
    {.tensor = kSsmA, .columns = true},
    {.tensor = kSsmOut, .v_width = true, .columns = true},
};

// gpt-oss's stacked experts: gate_up_proj (gate rows even, up rows odd) and
// down_proj, each as MXFP4 _blocks and _scales, and their _bias.
// The routed experts' tensor `id` is: its down, up or gate projection (weight or bias).
bool is_down(model::TensorId id) { return id == kFfnDownExps || id == kFfnDownExpsBias; }
bool is_up(model::TensorId id) { return id == kFfnUpExps || id == kFfnUpExpsBias; }

HfSource stacked_expert_source(const ModelConfig& cfg, const std::string& prefix, model::TensorId id) {
  HfSource s;
  const bool down = is_down(id);
  const int64_t rows = down ? cfg.n_embd : 2 * cfg.n_ff_exp, row_len = down ? cfg.n_ff_exp : cfg.n_embd;
  const std::string base = prefix + (down ? "down_proj" : "gate_up_proj");
  s.stride = down ? 1 : 2;
  s.offset = is_up(id) ? 1 : 0;
  if (gguf::tensor_role(id) == model::TensorRole::kExpertBias) {
    s.names = {base + "_bias"};
    s.shape = {cfg.n_expert, rows};
    s.strided_elements = true;
    return s;
  }
  if (row_len % 32 != 0)
    fail("convert: no gpt-oss Hugging Face name for '", gguf::tensor_stem(id), gguf::tensor_info(id).suffix,
         "' (MXFP4 rows of ", row_len, ")");
  s.names = {base + "_blocks", base + "_scales"};
  s.shape = {cfg.n_expert, rows, row_len / 32, 16};
  s.mxfp4 = true;
  return s;
}

// Llama 4's fused experts: gate and up the first and second halves of
// gate_up_proj's columns, down down_proj's columns.
HfSource fused_expert_source(const ModelConfig& cfg, const std::string& prefix, model::TensorId id) {
  HfSource s;
  const bool down = id == kFfnDownExps;
  if (!down && id != kFfnGateExps && id != kFfnUpExps)
    fail("convert: no fused-expert Hugging Face name for '", gguf::tensor_stem(id), gguf::tensor_info(id).suffix, "'");
  s.names = {prefix + (down ? "down_proj" : "gate_up_proj")};
  s.shape = down ? std::vector<int64_t>{cfg.n_expert, cfg.n_ff_exp, cfg.n_embd}
                 : std::vector<int64_t>{cfg.n_expert, cfg.n_embd, 2 * cfg.n_ff_exp};
  s.offset = id == kFfnUpExps ? cfg.n_ff_exp : 0;
  s.transposed = true;
  return s;
}

// Qwen3.5's stacked experts: gate and up the first and second n_ff rows of
// each expert's gate_up_proj, down down_proj as it is.
HfSource gate_up_expert_source(const ModelConfig& cfg, const std::string& prefix, model::TensorId id) {
  HfSource s;
  const bool down = id == kFfnDownExps;
  if (!down && id != kFfnGateExps && id != kFfnUpExps)
    fail("convert: no stacked-expert Hugging Face name for '", gguf::tensor_stem(id), gguf::tensor_info(id).suffix, "'");
  s.names = {prefix + (down ? "down_proj" : "gate_up_proj")};
  if (down) {
    s.shape = {cfg.n_expert, cfg.n_embd, cfg.n_ff_exp};
    return s;
  }
  s.shape = {cfg.n_expert, 2 * cfg.n_ff_exp, cfg.n_embd};
  s.block_rows = cfg.n_ff_exp;
  s.block_stride = 2 * cfg.n_ff_exp;
  s.block_offset = id == kFfnUpExps ? cfg.n_ff_exp : 0;
  return s;
}

// Replaces every "{key}" in `s` by `value`.
void substitute(std::string& s, std::string_view key, std::string_view value) {
  for (size_t at = s.find(key); at != std::string::npos; at = s.find(key, at + value.size()))
    s.replace(at, key.size(), value);
}

std::string known_classes() {
  std::string s;
  for (const auto& f : kFamilies) s += (s.empty() ? "" : ", ") + std::string(f.hf_class);
  return s;
}

}  // namespace

const HfFamily& hf_family_for_class(const std::string& hf_class) {
  for (const auto& f : kFamilies)
    if (hf_class == f.hf_class) return f;
  fail("unknown architecture '", hf_class, "' (convert reads: ", known_classes(), ")");
}

const HfFamily& hf_family_for_config(const ModelConfig& cfg) {
  // DeepSeek-V3's class for its bias-corrected sigmoid router (the two
  // classes convert alike), else the first of the architecture.
  const HfFamily* found = nullptr;
  for (const auto& f : kFamilies)
    if (cfg.arch == f.arch && f.moe == cfg.is_moe() && (found == nullptr || (f.for_score_bias && cfg.expert_score_bias)))
      found = &f;
  if (found != nullptr) return *found;
  fail("no Hugging Face layout for ", cfg.is_moe() ? "MoE " : "dense ", cfg.arch, " (known: ", known_classes(), ")");
}

int64_t HfVHeads::source(int64_t i) const {
  if (groups <= 0 || i < from) return i;
  const int64_t head = (i - from) / width, within = (i - from) % width;
  if (head >= groups * per_group) return i;
  return from + (head % groups * per_group + head / groups) * width + within;
}

int64_t HfSource::source_row(int64_t r) const {
  if (block_rows > 0) return r / block_rows * block_stride + block_offset + r % block_rows;
  if (!v_heads.columns) r = v_heads.source(r);
  if (permute_heads <= 0) return r;
  const int64_t per_head = shape[0] / permute_heads, half = per_head / 2;
  const int64_t h = r / per_head, i = (r % per_head) / 2, j = r % 2;
  return h * per_head + j * half + i;
}

namespace {

// A routed expert's weight (its bias aside).
bool is_expert_weight(model::TensorId id) { return gguf::tensor_role(id) == model::TensorRole::kExpert; }

// Whether block `layer` is a family's next-token-prediction block under
// mtp_path (its layers, tensors and expert layout apart).
bool in_mtp_block(const HfFamily& fam, const ModelConfig& cfg, int layer) {
  return *fam.mtp_path && layer >= cfg.n_layer;
}

// Where block `layer`'s tensors are: model_path's layers, or mtp_path's.
std::string hf_layer_prefix(const HfFamily& fam, const ModelConfig& cfg, int layer) {
  if (in_mtp_block(fam, cfg, layer)) return fam.mtp_path + ("layers." + std::to_string(layer - cfg.n_layer) + ".");
  return fam.model_path + ("layers." + std::to_string(layer) + ".");
}

// One tensor per expert (Qwen2-MoE's layout): <moe>.experts.E.<name>.weight.
HfSource per_expert_source(const HfFamily& fam, const ModelConfig& cfg, const model::TensorSpec& spec,
                           const std::string& hf_prefix) {
  const struct {
    model::TensorId tensor;
    const char* hf;
  } experts[] = {{kFfnGateExps, fam.exp_gate}, {kFfnUpExps, fam.exp_up}, {kFfnDownExps, fam.exp_down}};
  HfSource s;
  s.shape.assign(spec.shape.rbegin() + 1, spec.shape.rend());  // one expert's [rows, row length]
  for (const auto& e : experts)
    if (spec.id == e.tensor)
      for (int64_t x = 0; x < cfg.n_expert; ++x)
        s.names.push_back(hf_prefix + fam.moe_block + ".experts." + std::to_string(x) + "." + e.hf + ".weight");
  FRUGAL_CHECK(!s.names.empty());
  return s;
}

// A grouped_v_heads family's value-head order for a Gated DeltaNet tensor
// (none for the others, or with as many value heads as key heads).
HfVHeads v_heads_of(const ModelConfig& cfg, model::TensorId id) {
  for (const auto& t : kVHeadTensors)
    if (id == t.tensor && cfg.ssm_n_k_head > 0 && cfg.ssm_n_v_head > cfg.ssm_n_k_head)
      return {.groups = cfg.ssm_n_k_head,
              .per_group = cfg.ssm_n_v_head / cfg.ssm_n_k_head,
              .width = t.v_width ? cfg.ssm_v_head_dim : 1,
              .from = t.after_qk ? 2 * cfg.ssm_n_k_head * cfg.ssm_k_head_dim : 0,
              .columns = t.columns};
  return {};
}

}  // namespace

HfSource hf_source(const HfFamily& fam, const ModelConfig& cfg, const model::TensorSpec& spec) {
  HfSource s;
  // PyTorch's row-major shape is ggml's reversed.
  s.shape.assign(spec.shape.rbegin(), spec.shape.rend());
  if (fam.zero_centered_norms && spec.role == model::TensorRole::kNorm) s.value = HfValue::kPlusOne;
  const std::span<const HfTensorName> global_names = fam.naming ? fam.naming->global : kGlobalNames;
  const std::span<const HfTensorName> layer_names = fam.naming ? fam.naming->layer : kLayerNames;
  for (const auto& g : global_names)
    if (spec.id == g.tensor) {
      std::string hf = g.hf;
      substitute(hf, "{model}", fam.model_path);
      substitute(hf, "{head}", fam.head_path);
      s.names.push_back(hf);
      return s;
    }
  if (spec.layer < 0 || !gguf::tensor_info(spec.id).per_block)
    fail("convert: no Hugging Face name for '", spec.name, "'");
  const model::TensorId id = spec.id;
  const std::string hf_prefix = hf_layer_prefix(fam, cfg, spec.layer);
  const bool mtp_block = in_mtp_block(fam, cfg, spec.layer);
  if (mtp_block)
    for (const auto& n : kMtpNames)
      if (id == n.tensor) {
        s.names.push_back(fam.mtp_path + std::string(n.hf));
        return s;
      }
  const bool routed = spec.role == model::TensorRole::kExpert || spec.role == model::TensorRole::kExpertBias;
  if (fam.stacked_mxfp4_experts && routed)
    return stacked_expert_source(cfg, hf_prefix + fam.moe_block + ".experts.", id);
  if (fam.fused_experts && routed) return fused_expert_source(cfg, hf_prefix + fam.moe_block + ".experts.", id);
  // Qwen3.5's published checkpoints stack the layers' experts and keep the
  // next-token-prediction block's apart (hf_other_expert_layout: the other way).
  if (fam.gate_up_experts && is_expert_weight(id) && !mtp_block)
    return gate_up_expert_source(cfg, hf_prefix + fam.moe_block + ".experts.", id);
  if (fam.moe && is_expert_weight(id)) return per_expert_source(fam, cfg, spec, hf_prefix);
  for (const auto& n : layer_names) {
    if (id != n.tensor) continue;
    std::string hf = n.hf;
    substitute(hf, "{moe}", fam.moe_block);
    substitute(hf, "{ffn}", fam.ffn_block);
    substitute(hf, "{shared}", fam.shared_block);
    substitute(hf, "{router}", fam.router);
    substitute(hf, "{score_bias_at}", fam.score_bias_at);
    s.names.push_back(hf_prefix + hf);
    if (id == kFfnGateInpShexp) s.shape = {1, cfg.n_embd};  // a Linear to one output
    if (id == kExpProbsB && fam.score_bias_row) s.shape = {1, cfg.n_expert};
    if (id == kSsmConv1d) s.shape = {cfg.ssm_conv_channels(), 1, cfg.ssm_conv_kernel};  // a Conv1d's
    if (n.value != HfValue::kCopy) s.value = n.value;
    if (n.norm_as_is) s.value = HfValue::kCopy;
    if (fam.permute_qk && id == kAttnQ) s.permute_heads = cfg.n_head;
    if (fam.permute_qk && id == kAttnK) s.permute_heads = cfg.n_head_kv;
    if (fam.grouped_v_heads) s.v_heads = v_heads_of(cfg, id);
    return s;
  }
  fail("convert: no Hugging Face name for '", spec.name, "' in ", fam.hf_class, " checkpoints");
}

std::optional<HfSource> hf_other_expert_layout(const HfFamily& fam, const ModelConfig& cfg,
                                               const model::TensorSpec& spec) {
  if (!fam.gate_up_experts || spec.layer < 0 || !is_expert_weight(spec.id)) return std::nullopt;
  const std::string hf_prefix = hf_layer_prefix(fam, cfg, spec.layer);
  if (in_mtp_block(fam, cfg, spec.layer))
    return gate_up_expert_source(cfg, hf_prefix + fam.moe_block + ".experts.", spec.id);
  return per_expert_source(fam, cfg, spec, hf_prefix);
}

float hf_value_to_gguf(HfValue how, float hf) {
  switch (how) {
    case HfValue::kCopy: return hf;
    case HfValue::kPlusOne: return hf + 1.0f;
    case HfValue::kNegExp: return -float(std::exp(double(hf)));
  }
  return hf;
}

float hf_value_from_gguf(HfValue how, float gguf) {
  switch (how) {
    case HfValue::kCopy: return gguf;
    case HfValue::kPlusOne: return gguf - 1.0f;  // exact for weights in [0.5, 2] (Sterbenz)
    case HfValue::kNegExp: {
      // log's float and its neighbours: one of them usually converts back
      // exactly; where none does (exp's steps wider than A's), the nearest.
      const float guess = float(std::log(-double(gguf)));
      float best = guess, a = std::nextafter(std::nextafter(guess, -INFINITY), -INFINITY);
      for (int k = 0; k < 5; ++k, a = std::nextafter(a, INFINITY))
        if (std::abs(hf_value_to_gguf(how, a) - gguf) < std::abs(hf_value_to_gguf(how, best) - gguf)) best = a;
      return best;
    }
  }
  return gguf;
}

std::vector<HfOptional> hf_optional_tensors(const HfFamily& fam, const ModelConfig& cfg) {
  std::vector<HfOptional> out;
  for (int64_t il = cfg.n_layer; il < cfg.n_layer + cfg.n_nextn_layer; ++il) {
    if (*fam.mtp_path) {
      out.push_back({.tensor = kMtpOptional.tensor, .block = il, .hf = fam.mtp_path + std::string(kMtpOptional.hf),
                     .value = fam.zero_centered_norms ? HfValue::kPlusOne : HfValue::kCopy});
      continue;
    }
    for (const auto& n : kNextnOptional)
      out.push_back({.tensor = n.tensor, .block = il, .hf = "model.layers." + std::to_string(il) + "." + n.hf});
  }
  return out;
}

bool hf_tensor_is_ignored(const HfFamily& fam, const ModelConfig& cfg, const std::string& name) {
  if (name.ends_with(".rotary_emb.inv_freq")) return true;
  for (std::string_view tower : fam.skipped)
    if (!tower.empty() && name.starts_with(tower)) return true;
  // A next-token-prediction block that config.json does not count (or that
  // the checkpoint lacks, see convert.cc).
  if (*fam.mtp_path && cfg.n_nextn_layer == 0 && name.starts_with(fam.mtp_path)) return true;
  const std::string kLayers = fam.model_path + std::string("layers.");
  if (!fam.drop_extra_layers || !name.starts_with(kLayers)) return false;
  int64_t layer = 0;
  size_t i = kLayers.size();
  for (; i < name.size() && name[i] >= '0' && name[i] <= '9' && layer < (int64_t{1} << 40); ++i) layer = layer * 10 + (name[i] - '0');
  return i > kLayers.size() && i < name.size() && name[i] == '.' && layer >= cfg.n_layer;
}

}  // namespace frugal::convert
