// Hunyuan-A13B's checkpoint names (HunYuanMoEV1ForCausalLM): Llama's under
// "model." but for its q/k norms (self_attn.query_layernorm and
// key_layernorm), its router (mlp.gate.wg) and its shared FFN
// (mlp.shared_mlp); the routed experts (mlp.experts.E.gate_proj/up_proj/
// down_proj) are hf_layout.cc's per-expert layout. The embedding is tied to
// the LM head in its published checkpoints (no lm_head).
#include "convert/hf_layout.h"

namespace frugal::convert {
namespace {

using enum model::TensorId;

constexpr HfTensorName kGlobal[] = {
    {.tensor = kTokenEmbd, .hf = "{model}embed_tokens.weight"},
    {.tensor = kOutputNorm, .hf = "{model}norm.weight"},
    {.tensor = kOutput, .hf = "{head}weight"},
};

// After "model.layers.N.".
constexpr HfTensorName kLayer[] = {
    {.tensor = kAttnNorm, .hf = "input_layernorm.weight"},
    {.tensor = kAttnQ, .hf = "self_attn.q_proj.weight"},
    {.tensor = kAttnK, .hf = "self_attn.k_proj.weight"},
    {.tensor = kAttnV, .hf = "self_attn.v_proj.weight"},
    {.tensor = kAttnQNorm, .hf = "self_attn.query_layernorm.weight"},
    {.tensor = kAttnKNorm, .hf = "self_attn.key_layernorm.weight"},
    {.tensor = kAttnOutput, .hf = "self_attn.o_proj.weight"},
    {.tensor = kFfnNorm, .hf = "post_attention_layernorm.weight"},
    {.tensor = kFfnGateInp, .hf = "{moe}.gate.wg.weight"},
    {.tensor = kFfnGateShexp, .hf = "{moe}.shared_mlp.gate_proj.weight"},
    {.tensor = kFfnUpShexp, .hf = "{moe}.shared_mlp.up_proj.weight"},
    {.tensor = kFfnDownShexp, .hf = "{moe}.shared_mlp.down_proj.weight"},
};

}  // namespace

const HfNaming kHunyuanNaming = {.global = kGlobal, .layer = kLayer};

}  // namespace frugal::convert
