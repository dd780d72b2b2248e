// The Hugging Face layouts of the families `convert` reads: one table of
// classes and one of per-layer tensor names (config.json's keys: hf_config.cc).
#include "convert/hf_layout.h"

#include <cmath>
#include <string_view>

#include "base/error.h"

namespace frugal::convert {
namespace {

using model::ModelConfig;

// Dense families leave the MoE fields empty.
constexpr HfFamily kDense = {.hf_class = "", .arch = "", .model_type = "", .moe = false, .moe_block = "",
                             .expert_count_key = "", .expert_ff_key = "", .shared_ff_key = "", .norm_topk_key = false,
                             .shared_block = "", .exp_gate = "", .exp_up = "", .exp_down = "", .permute_qk = false};

constexpr HfFamily dense(const char* hf_class, const char* arch, const char* model_type, bool permute_qk) {
  HfFamily f = kDense;
  f.hf_class = hf_class;
  f.arch = arch;
  f.model_type = model_type;
  f.permute_qk = permute_qk;
  f.llama3_rope = permute_qk;  // the Llama family
  return f;
}

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

// A multimodal family's language model saved alone.
constexpr HfFamily text_only(const HfFamily& f, const char* hf_class, const char* model_type) {
  HfFamily t = f;
  t.hf_class = hf_class;
  t.model_type = model_type;
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

constexpr HfFamily kFamilies[] = {
    dense("LlamaForCausalLM", "llama", "llama", true),
    dense("MistralForCausalLM", "llama", "mistral", true),
    {.hf_class = "MixtralForCausalLM", .arch = "llama", .model_type = "mixtral", .moe = true,
     .moe_block = "block_sparse_moe", .expert_count_key = "num_local_experts", .expert_ff_key = "",
     .shared_ff_key = "", .norm_topk_key = false, .shared_block = "", .exp_gate = "w1", .exp_up = "w3", .exp_down = "w2",
     .permute_qk = true, .llama3_rope = true},
    dense("Qwen2ForCausalLM", "qwen2", "qwen2", false),
    dense("Qwen3ForCausalLM", "qwen3", "qwen3", false),
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
    text_only(kLlama4, "Llama4ForCausalLM", "llama4_text"),
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
    text_only(kQwen35Moe, "Qwen3_5MoeForCausalLM", "qwen3_5_moe_text"),
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
     .drop_extra_layers = true, .keys = HfKeys::kDeepseek,
     .for_score_bias = true},
};

// Per-layer tensors outside the experts: GGUF suffix after "blk.N." and the
// Hugging Face name after "model.layers.N.". "{moe}", "{ffn}", "{shared}",
// "{router}" and "{score_bias_at}" stand for the family's modules.
struct LayerName {
  const char* gguf;
  const char* hf;
  HfValue value = HfValue::kCopy;
  bool norm_as_is = false;  // a norm a zero-centred family stores as it is
};
constexpr LayerName kLayerNames[] = {
    {.gguf = "attn_norm.weight", .hf = "input_layernorm.weight"},
    {.gguf = "attn_q.weight", .hf = "self_attn.q_proj.weight"},
    {.gguf = "attn_k.weight", .hf = "self_attn.k_proj.weight"},
    {.gguf = "attn_v.weight", .hf = "self_attn.v_proj.weight"},
    {.gguf = "attn_q.bias", .hf = "self_attn.q_proj.bias"},
    {.gguf = "attn_k.bias", .hf = "self_attn.k_proj.bias"},
    {.gguf = "attn_v.bias", .hf = "self_attn.v_proj.bias"},
    {.gguf = "attn_output.weight", .hf = "self_attn.o_proj.weight"},
    {.gguf = "attn_output.bias", .hf = "self_attn.o_proj.bias"},
    {.gguf = "attn_sinks.weight", .hf = "self_attn.sinks"},
    {.gguf = "attn_q_norm.weight", .hf = "self_attn.q_norm.weight"},
    {.gguf = "attn_k_norm.weight", .hf = "self_attn.k_norm.weight"},
    {.gguf = "ffn_norm.weight", .hf = "post_attention_layernorm.weight"},
    {.gguf = "post_attention_norm.weight", .hf = "post_attention_layernorm.weight"},
    {.gguf = "ffn_gate.weight", .hf = "{ffn}.gate_proj.weight"},
    {.gguf = "ffn_up.weight", .hf = "{ffn}.up_proj.weight"},
    {.gguf = "ffn_down.weight", .hf = "{ffn}.down_proj.weight"},
    {.gguf = "ffn_gate_inp.weight", .hf = "{moe}.{router}.weight"},
    {.gguf = "ffn_gate_inp.bias", .hf = "{moe}.{router}.bias"},
    {.gguf = "exp_probs_b.bias", .hf = "{moe}.{score_bias_at}e_score_correction_bias"},
    {.gguf = "ffn_gate_inp_shexp.weight", .hf = "{moe}.shared_expert_gate.weight"},
    {.gguf = "ffn_gate_shexp.weight", .hf = "{moe}.{shared}.gate_proj.weight"},
    {.gguf = "ffn_up_shexp.weight", .hf = "{moe}.{shared}.up_proj.weight"},
    {.gguf = "ffn_down_shexp.weight", .hf = "{moe}.{shared}.down_proj.weight"},
    // Multi-head latent attention (DeepSeek).
    {.gguf = "attn_q_a.weight", .hf = "self_attn.q_a_proj.weight"},
    {.gguf = "attn_q_a_norm.weight", .hf = "self_attn.q_a_layernorm.weight"},
    {.gguf = "attn_q_b.weight", .hf = "self_attn.q_b_proj.weight"},
    {.gguf = "attn_kv_a_mqa.weight", .hf = "self_attn.kv_a_proj_with_mqa.weight"},
    {.gguf = "attn_kv_a_norm.weight", .hf = "self_attn.kv_a_layernorm.weight"},
    {.gguf = "attn_kv_b.weight", .hf = "self_attn.kv_b_proj.weight"},
    // Gated DeltaNet (Qwen3-Next): in_proj_qkvz and in_proj_ba keep their
    // per-key-head grouping, which is the GGUF's; conv1d [channels, 1, kernel].
    {.gguf = "ssm_in.weight", .hf = "linear_attn.in_proj_qkvz.weight"},
    {.gguf = "ssm_ba.weight", .hf = "linear_attn.in_proj_ba.weight"},
    {.gguf = "ssm_conv1d.weight", .hf = "linear_attn.conv1d.weight"},
    {.gguf = "ssm_dt.bias", .hf = "linear_attn.dt_bias"},
    {.gguf = "ssm_a", .hf = "linear_attn.A_log", .value = HfValue::kNegExp},
    {.gguf = "ssm_norm.weight", .hf = "linear_attn.norm.weight", .norm_as_is = true},
    {.gguf = "ssm_out.weight", .hf = "linear_attn.out_proj.weight"},
    // Qwen3.5's Gated DeltaNet: the projections apart.
    {.gguf = "attn_qkv.weight", .hf = "linear_attn.in_proj_qkv.weight"},
    {.gguf = "attn_gate.weight", .hf = "linear_attn.in_proj_z.weight"},
    {.gguf = "ssm_beta.weight", .hf = "linear_attn.in_proj_b.weight"},
    {.gguf = "ssm_alpha.weight", .hf = "linear_attn.in_proj_a.weight"},
    // A next-token-prediction layer (GLM-4.5) after the layers that run.
    {.gguf = "nextn.eh_proj.weight", .hf = "eh_proj.weight"},
    {.gguf = "nextn.enorm.weight", .hf = "enorm.weight"},
    {.gguf = "nextn.hnorm.weight", .hf = "hnorm.weight"},
};

// Tensors of a next-token-prediction layer that frugal neither needs nor
// checks, copied when the checkpoint has them (llama.cpp's names).
constexpr LayerName kNextnOptional[] = {
    {.gguf = "nextn.shared_head_head.weight", .hf = "shared_head.head.weight"},
    {.gguf = "nextn.shared_head_norm.weight", .hf = "shared_head.norm.weight"},
    {.gguf = "nextn.embed_tokens.weight", .hf = "embed_tokens.weight"},
};

// Qwen3.5's next-token-prediction block (HfFamily::mtp_path): the GGUF's
// per-block nextn tensors, one module each (its norm, the shared head's,
// optional).
constexpr LayerName kMtpNames[] = {
    {.gguf = "nextn.eh_proj.weight", .hf = "fc.weight"},
    {.gguf = "nextn.enorm.weight", .hf = "pre_fc_norm_embedding.weight"},
    {.gguf = "nextn.hnorm.weight", .hf = "pre_fc_norm_hidden.weight"},
};
constexpr LayerName kMtpOptional = {.gguf = "nextn.shared_head_norm.weight", .hf = "norm.weight"};

// "{model}" and "{head}": the family's model_path and head_path.
constexpr LayerName kGlobalNames[] = {
    {.gguf = "token_embd.weight", .hf = "{model}embed_tokens.weight"},
    {.gguf = "output_norm.weight", .hf = "{model}norm.weight"},
    {.gguf = "output.weight", .hf = "{head}weight"},
};

// The Gated DeltaNet tensors whose value heads a grouped_v_heads family
// reorders: heads of v_head_dim rows or columns (else one), after the q
// and k channels (attn_qkv's rows, the convolution's channels) or from the
// first.
struct VHeadTensor {
  const char* gguf;
  bool v_width = false;
  bool after_qk = false;
  bool columns = false;
};
constexpr VHeadTensor kVHeadTensors[] = {
    {.gguf = "attn_qkv.weight", .v_width = true, .after_qk = true},
    {.gguf = "ssm_conv1d.weight", .v_width = true, .after_qk = true},
    {.gguf = "attn_gate.weight", .v_width = true},
    {.gguf = "ssm_beta.weight"},
    {.gguf = "ssm_alpha.weight"},
    {.gguf = "ssm_dt.bias", .columns = true},
    {.gguf = "ssm_a", .columns = true},
    {.gguf = "ssm_out.weight", .v_width = true, .columns = true},
};

// gpt-oss's stacked experts: gate_up_proj (gate rows even, up rows odd) and
// down_proj, each as MXFP4 _blocks and _scales, and their _bias.
HfSource stacked_expert_source(const ModelConfig& cfg, const std::string& prefix, const std::string& suffix) {
  HfSource s;
  const bool down = suffix.starts_with("ffn_down_exps.");
  const int64_t rows = down ? cfg.n_embd : 2 * cfg.n_ff_exp, row_len = down ? cfg.n_ff_exp : cfg.n_embd;
  const std::string base = prefix + (down ? "down_proj" : "gate_up_proj");
  s.stride = down ? 1 : 2;
  s.offset = suffix.starts_with("ffn_up_exps.") ? 1 : 0;
  if (suffix.ends_with(".bias")) {
    s.names = {base + "_bias"};
    s.shape = {cfg.n_expert, rows};
    s.strided_elements = true;
    return s;
  }
  if (!suffix.ends_with(".weight") || row_len % 32 != 0)
    fail("convert: no gpt-oss Hugging Face name for '", suffix, "' (MXFP4 rows of ", row_len, ")");
  s.names = {base + "_blocks", base + "_scales"};
  s.shape = {cfg.n_expert, rows, row_len / 32, 16};
  s.mxfp4 = true;
  return s;
}

// Llama 4's fused experts: gate and up the first and second halves of
// gate_up_proj's columns, down down_proj's columns.
HfSource fused_expert_source(const ModelConfig& cfg, const std::string& prefix, const std::string& suffix) {
  HfSource s;
  const bool down = suffix == "ffn_down_exps.weight";
  if (!down && suffix != "ffn_gate_exps.weight" && suffix != "ffn_up_exps.weight")
    fail("convert: no fused-expert Hugging Face name for '", suffix, "'");
  s.names = {prefix + (down ? "down_proj" : "gate_up_proj")};
  s.shape = down ? std::vector<int64_t>{cfg.n_expert, cfg.n_ff_exp, cfg.n_embd}
                 : std::vector<int64_t>{cfg.n_expert, cfg.n_embd, 2 * cfg.n_ff_exp};
  s.offset = suffix == "ffn_up_exps.weight" ? cfg.n_ff_exp : 0;
  s.transposed = true;
  return s;
}

// Qwen3.5's stacked experts: gate and up the first and second n_ff rows of
// each expert's gate_up_proj, down down_proj as it is.
HfSource gate_up_expert_source(const ModelConfig& cfg, const std::string& prefix, const std::string& suffix) {
  HfSource s;
  const bool down = suffix == "ffn_down_exps.weight";
  if (!down && suffix != "ffn_gate_exps.weight" && suffix != "ffn_up_exps.weight")
    fail("convert: no stacked-expert Hugging Face name for '", suffix, "'");
  s.names = {prefix + (down ? "down_proj" : "gate_up_proj")};
  if (down) {
    s.shape = {cfg.n_expert, cfg.n_embd, cfg.n_ff_exp};
    return s;
  }
  s.shape = {cfg.n_expert, 2 * cfg.n_ff_exp, cfg.n_embd};
  s.block_rows = cfg.n_ff_exp;
  s.block_stride = 2 * cfg.n_ff_exp;
  s.block_offset = suffix == "ffn_up_exps.weight" ? cfg.n_ff_exp : 0;
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

bool is_expert_tensor(const std::string& suffix) {
  return suffix == "ffn_gate_exps.weight" || suffix == "ffn_up_exps.weight" || suffix == "ffn_down_exps.weight";
}

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
                           const std::string& hf_prefix, const std::string& suffix) {
  const struct {
    const char* gguf;
    const char* hf;
  } experts[] = {{"ffn_gate_exps.weight", fam.exp_gate}, {"ffn_up_exps.weight", fam.exp_up},
                 {"ffn_down_exps.weight", fam.exp_down}};
  HfSource s;
  s.shape.assign(spec.shape.rbegin() + 1, spec.shape.rend());  // one expert's [rows, row length]
  for (const auto& e : experts)
    if (suffix == e.gguf)
      for (int64_t x = 0; x < cfg.n_expert; ++x)
        s.names.push_back(hf_prefix + fam.moe_block + ".experts." + std::to_string(x) + "." + e.hf + ".weight");
  FRUGAL_CHECK(!s.names.empty());
  return s;
}

// A grouped_v_heads family's value-head order for a Gated DeltaNet tensor
// (none for the others, or with as many value heads as key heads).
HfVHeads v_heads_of(const ModelConfig& cfg, const std::string& suffix) {
  for (const auto& t : kVHeadTensors)
    if (suffix == t.gguf && cfg.ssm_n_k_head > 0 && cfg.ssm_n_v_head > cfg.ssm_n_k_head)
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
  for (const auto& g : kGlobalNames)
    if (spec.name == g.gguf) {
      std::string hf = g.hf;
      substitute(hf, "{model}", fam.model_path);
      substitute(hf, "{head}", fam.head_path);
      s.names.push_back(hf);
      return s;
    }
  const std::string prefix = "blk." + std::to_string(spec.layer) + ".";
  if (spec.layer < 0 || !spec.name.starts_with(prefix)) fail("convert: no Hugging Face name for '", spec.name, "'");
  const std::string suffix = spec.name.substr(prefix.size());
  const std::string hf_prefix = hf_layer_prefix(fam, cfg, spec.layer);
  const bool mtp_block = in_mtp_block(fam, cfg, spec.layer);
  if (mtp_block)
    for (const auto& n : kMtpNames)
      if (suffix == n.gguf) {
        s.names.push_back(fam.mtp_path + std::string(n.hf));
        return s;
      }
  if (fam.stacked_mxfp4_experts && suffix.find("_exps.") != std::string::npos)
    return stacked_expert_source(cfg, hf_prefix + fam.moe_block + ".experts.", suffix);
  if (fam.fused_experts && suffix.find("_exps.") != std::string::npos)
    return fused_expert_source(cfg, hf_prefix + fam.moe_block + ".experts.", suffix);
  // Qwen3.5's published checkpoints stack the layers' experts and keep the
  // next-token-prediction block's apart (hf_other_expert_layout: the other way).
  if (fam.gate_up_experts && is_expert_tensor(suffix) && !mtp_block)
    return gate_up_expert_source(cfg, hf_prefix + fam.moe_block + ".experts.", suffix);
  if (fam.moe && is_expert_tensor(suffix)) return per_expert_source(fam, cfg, spec, hf_prefix, suffix);
  for (const auto& n : kLayerNames) {
    if (suffix != n.gguf) continue;
    std::string hf = n.hf;
    substitute(hf, "{moe}", fam.moe_block);
    substitute(hf, "{ffn}", fam.ffn_block);
    substitute(hf, "{shared}", fam.shared_block);
    substitute(hf, "{router}", fam.router);
    substitute(hf, "{score_bias_at}", fam.score_bias_at);
    s.names.push_back(hf_prefix + hf);
    if (suffix == "ffn_gate_inp_shexp.weight") s.shape = {1, cfg.n_embd};  // a Linear to one output
    if (suffix == "exp_probs_b.bias" && fam.score_bias_row) s.shape = {1, cfg.n_expert};
    if (suffix == "ssm_conv1d.weight") s.shape = {cfg.ssm_conv_channels(), 1, cfg.ssm_conv_kernel};  // a Conv1d's
    if (n.value != HfValue::kCopy) s.value = n.value;
    if (n.norm_as_is) s.value = HfValue::kCopy;
    if (fam.permute_qk && suffix == "attn_q.weight") s.permute_heads = cfg.n_head;
    if (fam.permute_qk && suffix == "attn_k.weight") s.permute_heads = cfg.n_head_kv;
    if (fam.grouped_v_heads) s.v_heads = v_heads_of(cfg, suffix);
    return s;
  }
  fail("convert: no Hugging Face name for '", spec.name, "' in ", fam.hf_class, " checkpoints");
}

std::optional<HfSource> hf_other_expert_layout(const HfFamily& fam, const ModelConfig& cfg,
                                               const model::TensorSpec& spec) {
  const std::string prefix = "blk." + std::to_string(spec.layer) + ".";
  if (!fam.gate_up_experts || spec.layer < 0 || !spec.name.starts_with(prefix)) return std::nullopt;
  const std::string suffix = spec.name.substr(prefix.size());
  if (!is_expert_tensor(suffix)) return std::nullopt;
  const std::string hf_prefix = hf_layer_prefix(fam, cfg, spec.layer);
  if (in_mtp_block(fam, cfg, spec.layer))
    return gate_up_expert_source(cfg, hf_prefix + fam.moe_block + ".experts.", suffix);
  return per_expert_source(fam, cfg, spec, hf_prefix, suffix);
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
    const std::string blk = "blk." + std::to_string(il) + ".";
    if (*fam.mtp_path) {
      out.push_back({.gguf = blk + kMtpOptional.gguf, .hf = fam.mtp_path + std::string(kMtpOptional.hf),
                     .value = fam.zero_centered_norms ? HfValue::kPlusOne : HfValue::kCopy});
      continue;
    }
    for (const auto& n : kNextnOptional)
      out.push_back({.gguf = blk + n.gguf, .hf = "model.layers." + std::to_string(il) + "." + n.hf});
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
