// The table of architectures: one entry per family, each naming the traits
// in which it differs from the defaults in architectures.h (llama's RoPE
// pairing, no biases, no q/k norm, a softmax router, no shared expert).
#include "model/architectures.h"

#include "base/error.h"

namespace frugal::model {
namespace {

// DeepSeek-V2/V3/R1, Kimi-K2: latent attention, DeepSeek's MoE (V3's
// sigmoid router with its selection bias, V2's softmax without).
constexpr Architecture kDeepseek2 = {.name = "deepseek2",
                                     .yarn_scale_in_softmax = true,
                                     .score_bias = ScoreBias::kSigmoidThenTensor,
                                     .shared_expert = SharedExpert::kUngated,
                                     .deepseek_moe_keys = true,
                                     .leading_dense_key = true,
                                     .mla_keys = true,
                                     .training = Training::kContinue};

// A family whose files hold another's layers under their own name.
constexpr Architecture renamed(const Architecture& a, const char* name) {
  Architecture r = a;
  r.name = name;
  return r;
}

constexpr Architecture kArchitectures[] = {
    // Llama and Mistral (dense), Mixtral (MoE): feed_forward_length sizes the experts.
    {.name = "llama", .experts_sized_by_ff = true, .expert_weights_norm = true, .training = Training::kNew},
    {.name = "qwen2", .rope_layout = RopeLayout::kNeox, .attn_bias = true},
    {.name = "qwen3", .rope_layout = RopeLayout::kNeox, .qk_norm = QkNorm::kPerHead},
    // Qwen1.5-MoE / Qwen2-MoE: the top-k weights not renormalised.
    {.name = "qwen2moe",
     .rope_layout = RopeLayout::kNeox,
     .attn_bias = true,
     .score_bias = ScoreBias::kTensor,
     .shared_expert = SharedExpert::kGated,
     .training = Training::kNew,
     .train_default = true},
    {.name = "qwen3moe",
     .rope_layout = RopeLayout::kNeox,
     .qk_norm = QkNorm::kPerHead,
     .expert_weights_norm = true,
     .score_bias = ScoreBias::kTensor,
     .training = Training::kNew,
     .train_default = true},
    {.name = "olmoe",
     .rope_layout = RopeLayout::kNeox,
     .qk_norm = QkNorm::kWhole,
     .experts_sized_by_ff = true,
     .training = Training::kNew},
    kDeepseek2,
    // Hunyuan-A13B: per-head q/k norm after RoPE, a softmax router whose
    // top-k is renormalised, an ungated shared expert as wide as the file says.
    {.name = "hunyuan-moe",
     .rope_layout = RopeLayout::kNeox,
     .qk_norm = QkNorm::kPerHead,
     .qk_norm_after_rope = true,
     .expert_weights_norm = true,
     .shared_expert = SharedExpert::kUngated,
     .shared_width_key = true},
    // Mistral Small 4: DeepSeek-V2's layers (latent attention, DeepSeek's
    // MoE and keys) under its own name.
    renamed(kDeepseek2, "mistral4"),
    // gpt-oss: biases everywhere, sinks, a window on even layers, the clamped
    // SwiGLU; its converter names the FFN's pre-norm after Hugging Face's module.
    {.name = "gpt-oss",
     .rope_layout = RopeLayout::kNeox,
     .attn_bias = true,
     .attn_out_bias = true,
     .attn_sinks = true,
     .sliding_window = SlidingWindow::kEvenLayers,
     .ffn_act = FfnActivation::kSwigluOai,
     .ffn_norm = gguf::TensorId::kPostAttentionNorm,
     .expert_weights_norm = true,  // a softmax over the top-k logits, which is the same
     .router_bias = true,
     .expert_bias = true},
    // GLM-4.5 / -Air: partial RoPE, q/k/v biases, DeepSeek-V3's MoE (its
    // gating key may be absent: sigmoid).
    {.name = "glm4moe",
     .rope_layout = RopeLayout::kNeox,
     .attn_bias = true,
     .qk_norm_from_tensors = true,
     .ffn_norm = gguf::TensorId::kPostAttentionNorm,
     .gating = GatingFunc::kSigmoid,
     .score_bias = ScoreBias::kAlways,
     .shared_expert = SharedExpert::kUngated,
     .deepseek_moe_keys = true,
     .leading_dense_key = true},
    // Llama 4 (Scout, Maverick): NoPE layers every 4th, chunked attention on
    // the others, MoE layers at a stride, the router's sigmoid weighing each
    // expert's input.
    {.name = "llama4",
     .nope_layer_step = 4,
     .gating = GatingFunc::kSigmoid,
     .gating_fixed = true,
     .shared_expert = SharedExpert::kRoutedWidth,
     .expert_weight_on_input = true,
     .moe_step_key = true,
     .llama4_keys = true},
    // Qwen3-Next: Gated DeltaNet layers between gated full-attention layers,
    // Qwen2-MoE's gated shared expert, the top-k renormalised.
    {.name = "qwen3next",
     .rope_layout = RopeLayout::kNeox,
     .qk_norm = QkNorm::kPerHead,
     .ffn_norm = gguf::TensorId::kPostAttentionNorm,
     .expert_weights_norm = true,
     .shared_expert = SharedExpert::kGated,
     .deltanet_keys = true},
    // Qwen3.5-MoE: Qwen3-Next with the recurrent projections apart.
    {.name = "qwen35moe",
     .rope_layout = RopeLayout::kNeox,
     .qk_norm = QkNorm::kPerHead,
     .ffn_norm = gguf::TensorId::kPostAttentionNorm,
     .expert_weights_norm = true,
     .shared_expert = SharedExpert::kGated,
     .deltanet_keys = true,
     .ssm_split_proj = true},
    // DeepSeek-V4: sinks and a window in every layer, DeepSeek's MoE with
    // sqrt-softplus scores and the selection bias (hyper-connections and the
    // compressed attention in its own keys).
    {.name = "deepseek4",
     .attn_sinks = true,
     .sliding_window = SlidingWindow::kEveryLayer,
     .gating = GatingFunc::kSqrtSoftplus,
     .score_bias = ScoreBias::kAlways,
     .shared_expert = SharedExpert::kUngated,
     .deepseek_moe_keys = true,
     .leading_dense_key = true,
     .deepseek4_keys = true,
     .tensor_aliases = true},
    // MiniMax-M2: whole-vector q/k norm, partial RoPE, a sigmoid router whose
    // selection bias chooses only, the top-k renormalised.
    {.name = "minimax-m2",
     .rope_layout = RopeLayout::kNeox,
     .qk_norm = QkNorm::kWhole,
     .experts_sized_by_ff = true,  // its files say the width twice
     .gating = GatingFunc::kSigmoid,
     .expert_weights_norm = true,
     .score_bias = ScoreBias::kAlways,
     .gating_key = true},
    // dots.llm1: Qwen3's attention, DeepSeek-V3's MoE (its gating key may be absent).
    {.name = "dots1",
     .rope_layout = RopeLayout::kNeox,
     .qk_norm = QkNorm::kPerHead,
     .gating = GatingFunc::kSigmoid,
     .score_bias = ScoreBias::kAlways,
     .shared_expert = SharedExpert::kUngated,
     .deepseek_moe_keys = true,
     .leading_dense_key = true},
    // ERNIE-4.5-MoE: leading dense layers and MoE layers at a stride, a
    // softmax router whose correction bias chooses only, ungated shared
    // experts as wide as the file says.
    {.name = "ernie4_5-moe",
     .expert_weights_norm = true,
     .score_bias = ScoreBias::kAlways,
     .shared_expert = SharedExpert::kUngated,
     .moe_step_key = true,
     .leading_dense_key = true,
     .shared_width_key = true},
    // Ling 2.0 (bailingmoe2): q, k and v in one matrix, per-head q/k norm,
    // partial RoPE, leading dense layers, then DeepSeek-V3's grouped sigmoid
    // routing with its selection bias and shared experts.
    {.name = "bailingmoe2",
     .rope_layout = RopeLayout::kNeox,
     .fused_qkv = true,
     .qk_norm = QkNorm::kPerHead,
     .gating = GatingFunc::kSigmoid,
     .score_bias = ScoreBias::kAlways,
     .shared_expert = SharedExpert::kUngated,
     .deepseek_moe_keys = true,
     .leading_dense_key = true,
     .shared_width_key = true},
};

}  // namespace

std::span<const Architecture> architectures() { return kArchitectures; }

const Architecture* find_architecture(std::string_view name) {
  for (const Architecture& a : kArchitectures)
    if (name == a.name) return &a;
  return nullptr;
}

const Architecture& architecture(std::string_view name) {
  if (const Architecture* a = find_architecture(name)) return *a;
  fail("unknown architecture '", name, "' (supported: ", architecture_names(), ")");
}

}  // namespace frugal::model
