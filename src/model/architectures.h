// The traits of every supported architecture, in one table: what a family's
// files hold beyond the common keys (norms, RoPE pairing, biases, router,
// shared expert, which groups of GGUF keys it reads) and what `frugal train`
// does with it. Loading, writing and validating a config (config.cc), the
// forward pass, synth's presets, training and convert read these fields
// instead of comparing architecture names; adding a family starts with one
// entry in kArchitectures (architectures.cc).
#pragma once
#include <span>
#include <string>
#include <string_view>

#include "model/config.h"

namespace frugal::model {

// The shared expert a family's layout has.
enum class SharedExpert {
  kNone,         // none (Mixtral, qwen3moe, olmoe, gpt-oss, minimax-m2)
  kGated,        // one, its output scaled by sigmoid(x . ffn_gate_inp_shexp), its width a key
  kUngated,      // added as it is (DeepSeek's MoE, ernie4_5-moe)
  kRoutedWidth,  // llama4: one in every MoE layer, as wide as a routed expert, ungated
};

// Where the per-expert selection bias (exp_probs_b.bias: added to the scores
// for choosing experts only) comes from.
enum class ScoreBias {
  kNone,
  kAlways,            // every MoE model of the family has one
  kTensor,            // a file has one or not (frugal train --bias-balance writes it)
  kSigmoidThenTensor, // deepseek2: V3's sigmoid router has one (keys alone), then the file's tensors tell
};

// Which layers attend within a sliding window of n_swa positions.
enum class SlidingWindow {
  kNone,
  kEvenLayers,  // gpt-oss: the window in <arch>.attention.sliding_window
  kEveryLayer,  // deepseek4: the window read with the deepseek4 keys
};

// What `frugal train` does with a family.
enum class Training {
  kNo,        // refused by name
  kContinue,  // a file of it continues training (--init)
  kNew,       // also made from scratch (--arch)
};

struct Architecture {
  const char* name = "";  // general.architecture, the prefix of its keys

  // Attention.
  RopeLayout rope_layout = RopeLayout::kNormal;
  bool attn_bias = false;      // attn_q/k/v.bias
  bool attn_out_bias = false;  // attn_output.bias
  bool attn_sinks = false;     // attn_sinks.weight: a learned logit per head in the softmax's denominator
  bool fused_qkv = false;      // bailingmoe2: q, k and v as the rows of one attn_qkv, in that order
  QkNorm qk_norm = QkNorm::kNone;
  bool qk_norm_after_rope = false;  // hunyuan-moe: the heads normalised after their rotation
  // glm4moe: the file's tensors decide the q/k norm (GLM-4.5 normalises per
  // head, -Air does not): per head when blk.0.attn_q_norm.weight is present.
  bool qk_norm_from_tensors = false;
  SlidingWindow sliding_window = SlidingWindow::kNone;
  // llama4: every n-th layer has no RoPE (0: all have it).
  int64_t nope_layer_step = 0;
  // deepseek2: YaRN's magnitude correction goes into the softmax scale
  // (mscale squared) instead of the rotation (forward_attention.cc).
  bool yarn_scale_in_softmax = false;

  // FFN.
  FfnActivation ffn_act = FfnActivation::kSilu;
  // The FFN's pre-norm tensor (some converters name it after Hugging Face's module).
  gguf::TensorId ffn_norm = gguf::TensorId::kFfnNorm;
  // Mixtral, olmoe, minimax-m2: feed_forward_length sizes the experts too
  // (synth's --ff sets both); the others have expert_feed_forward_length.
  bool experts_sized_by_ff = false;

  // Router and experts.
  // The router's function when the file has no expert_gating_func key.
  GatingFunc gating = GatingFunc::kSoftmax;
  bool gating_fixed = false;  // llama4: the key is ignored, the router is this function
  // Whether the top-k weights are renormalised when the file does not say
  // (files with DeepSeek's MoE keys always say).
  bool expert_weights_norm = false;
  bool router_bias = false;   // ffn_gate_inp.bias added to the router logits
  bool expert_bias = false;   // ffn_{gate,up,down}_exps.bias per expert
  ScoreBias score_bias = ScoreBias::kNone;
  SharedExpert shared_expert = SharedExpert::kNone;
  // llama4: each chosen expert's weight scales its input rather than its output.
  bool expert_weight_on_input = false;

  // Groups of GGUF keys the family reads and writes beyond the common ones.
  // DeepSeek's MoE: expert_shared_count (shared width = count * expert
  // width), leading_dense_block_count, expert_weights_scale,
  // expert_gating_func, expert_group_count, expert_group_used_count.
  bool deepseek_moe_keys = false;
  bool gating_key = false;         // expert_gating_func without DeepSeek's other keys (minimax-m2)
  bool moe_step_key = false;       // interleave_moe_layer_step: MoE every n-th layer, dense between
  bool leading_dense_key = false;  // leading_dense_block_count written (without DeepSeek's other keys too)
  // expert_shared_feed_forward_length with expert_shared_count (ernie4_5-moe;
  // gated shared experts write the width alone; with DeepSeek's MoE keys,
  // bailingmoe2, the width of one shared expert).
  bool shared_width_key = false;
  bool mla_keys = false;  // latent attention: attention.q_lora_rank, kv_lora_rank, *_mla
  // deepseek4: hyper-connections, compressed attention, hash layers, SwiGLU
  // clamps (read_deepseek4), some filled from the tensors when missing.
  bool deepseek4_keys = false;
  // Some converters' other names of its tensors (tensor_alias).
  bool tensor_aliases = false;
  // llama4: attention.chunk_size, temperature_scale, temperature_length;
  // the q/k norm by expert count (Scout per head without weights, Maverick none).
  bool llama4_keys = false;
  // Gated DeltaNet layers between gated full-attention layers:
  // full_attention_interval and the ssm.* keys, attn_output_gate set.
  bool deltanet_keys = false;
  // qwen35moe: the recurrent layers' projections apart (attn_qkv, attn_gate,
  // ssm_beta, ssm_alpha), and rope.dimension_sections.
  bool ssm_split_proj = false;

  Training training = Training::kNo;
  // `frugal train` without --arch makes a new model of the default family:
  // the one with a gated shared expert when --shared-ff asks for one, else
  // the one without.
  bool train_default = false;
  // What `frugal finetune`'s LoRA trainer lacks for the family, said in its
  // refusal; null where it covers it.
  const char* finetune_lacks = nullptr;
};

// Every supported architecture, in a fixed order (synth's lists, presets).
std::span<const Architecture> architectures();
// The architecture of that name; unknown -> frugal::Error listing the supported ones.
const Architecture& architecture(std::string_view name);
// nullptr when unknown.
const Architecture* find_architecture(std::string_view name);
// "llama, qwen2, ..." for messages: every architecture, or those a predicate keeps.
template <class Keep>
std::string architecture_names(Keep keep) {
  std::string out;
  for (const Architecture& a : architectures())
    if (keep(a)) out += (out.empty() ? "" : ", ") + std::string(a.name);
  return out;
}
inline std::string architecture_names() {
  return architecture_names([](const Architecture&) { return true; });
}

}  // namespace frugal::model
