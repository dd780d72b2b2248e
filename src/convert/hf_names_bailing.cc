// Ling 2.0's checkpoint names (BailingMoeV2ForCausalLM): transformers'
// layout under "model." with its own module names: the embedding as
// word_embeddings, the attention as one query_key_value matrix (the rows
// of every query head, then the key heads', then the value heads', as the
// GGUF's attn_qkv holds them), its query_layernorm and key_layernorm and
// its output as dense; the router's selection bias as mlp.gate.expert_bias.
// The routed experts (mlp.experts.E.gate_proj/up_proj/down_proj) are
// hf_layout.cc's per-expert layout.
#include "convert/hf_layout.h"

namespace frugal::convert {
namespace {

using enum model::TensorId;

constexpr HfTensorName kGlobal[] = {
    {.tensor = kTokenEmbd, .hf = "{model}word_embeddings.weight"},
    {.tensor = kOutputNorm, .hf = "{model}norm.weight"},
    {.tensor = kOutput, .hf = "{head}weight"},
};

// After "model.layers.N.".
constexpr HfTensorName kLayer[] = {
    {.tensor = kAttnNorm, .hf = "input_layernorm.weight"},
    {.tensor = kAttnQkv, .hf = "attention.query_key_value.weight"},
    {.tensor = kAttnQNorm, .hf = "attention.query_layernorm.weight"},
    {.tensor = kAttnKNorm, .hf = "attention.key_layernorm.weight"},
    {.tensor = kAttnOutput, .hf = "attention.dense.weight"},
    {.tensor = kFfnNorm, .hf = "post_attention_layernorm.weight"},
    {.tensor = kFfnGate, .hf = "{ffn}.gate_proj.weight"},
    {.tensor = kFfnUp, .hf = "{ffn}.up_proj.weight"},
    {.tensor = kFfnDown, .hf = "{ffn}.down_proj.weight"},
    {.tensor = kFfnGateInp, .hf = "{moe}.gate.weight"},
    {.tensor = kExpProbsB, .hf = "{moe}.gate.expert_bias"},
    {.tensor = kFfnGateShexp, .hf = "{moe}.{shared}.gate_proj.weight"},
    {.tensor = kFfnUpShexp, .hf = "{moe}.{shared}.up_proj.weight"},
    {.tensor = kFfnDownShexp, .hf = "{moe}.{shared}.down_proj.weight"},
};

}  // namespace

const HfNaming kBailingNaming = {.global = kGlobal, .layer = kLayer};

}  // namespace frugal::convert
