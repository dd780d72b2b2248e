// DeepSeek-V4's checkpoint names (DeepseekV4ForCausalLM and its Flash and
// Pro classes). DeepSeek publishes V4 under the module names of its own
// inference code, not transformers': no "model." prefix, attn.* and ffn.*
// modules, the hyper-connections' parameters bare (no .weight). Every tensor
// is laid out as the GGUF holds it (PyTorch's [out, in] is ggml's reversed
// shape), so each maps by name alone; the routed experts
// (ffn.experts.E.w1/w3/w2) are hf_layout.cc's per-expert layout.
#include "convert/hf_layout.h"

namespace frugal::convert {
namespace {

using enum model::TensorId;

constexpr HfTensorName kGlobal[] = {
    {.tensor = kTokenEmbd, .hf = "embed.weight"},
    {.tensor = kOutputNorm, .hf = "norm.weight"},
    {.tensor = kOutput, .hf = "head.weight"},
    // The head's mixing of the hyper-connection streams into one.
    {.tensor = kOutputHcFn, .hf = "hc_head_fn"},
    {.tensor = kOutputHcBase, .hf = "hc_head_base"},
    {.tensor = kOutputHcScale, .hf = "hc_head_scale"},
};

// After "layers.N.".
constexpr HfTensorName kLayer[] = {
    {.tensor = kAttnNorm, .hf = "attn_norm.weight"},
    {.tensor = kFfnNorm, .hf = "ffn_norm.weight"},
    {.tensor = kHcAttnFn, .hf = "hc_attn_fn"},
    {.tensor = kHcAttnBase, .hf = "hc_attn_base"},
    {.tensor = kHcAttnScale, .hf = "hc_attn_scale"},
    {.tensor = kHcFfnFn, .hf = "hc_ffn_fn"},
    {.tensor = kHcFfnBase, .hf = "hc_ffn_base"},
    {.tensor = kHcFfnScale, .hf = "hc_ffn_scale"},
    // Attention: low-rank queries, the one key/value head, sinks, the
    // grouped output.
    {.tensor = kAttnSinks, .hf = "attn.attn_sink"},
    {.tensor = kAttnQA, .hf = "attn.wq_a.weight"},
    {.tensor = kAttnQANorm, .hf = "attn.q_norm.weight"},
    {.tensor = kAttnQB, .hf = "attn.wq_b.weight"},
    {.tensor = kAttnKv, .hf = "attn.wkv.weight"},
    {.tensor = kAttnKvANorm, .hf = "attn.kv_norm.weight"},
    {.tensor = kAttnOutputA, .hf = "attn.wo_a.weight"},
    {.tensor = kAttnOutputB, .hf = "attn.wo_b.weight"},
    // A compressing layer's compressor; on ratio 4 the indexer and its own.
    {.tensor = kAttnCompressorKv, .hf = "attn.compressor.wkv.weight"},
    {.tensor = kAttnCompressorGate, .hf = "attn.compressor.wgate.weight"},
    {.tensor = kAttnCompressorApe, .hf = "attn.compressor.ape"},
    {.tensor = kAttnCompressorNorm, .hf = "attn.compressor.norm.weight"},
    {.tensor = kIndexerQB, .hf = "attn.indexer.wq_b.weight"},
    {.tensor = kIndexerProj, .hf = "attn.indexer.weights_proj.weight"},
    {.tensor = kIndexerCompressorKv, .hf = "attn.indexer.compressor.wkv.weight"},
    {.tensor = kIndexerCompressorGate, .hf = "attn.indexer.compressor.wgate.weight"},
    {.tensor = kIndexerCompressorApe, .hf = "attn.indexer.compressor.ape"},
    {.tensor = kIndexerCompressorNorm, .hf = "attn.indexer.compressor.norm.weight"},
    // MoE: the router, its selection bias (a hash layer's token -> experts
    // table instead), the shared expert.
    {.tensor = kFfnGateInp, .hf = "ffn.gate.weight"},
    {.tensor = kExpProbsB, .hf = "ffn.gate.bias"},
    {.tensor = kFfnGateTid2eid, .hf = "ffn.gate.tid2eid"},
    {.tensor = kFfnGateShexp, .hf = "ffn.shared_experts.w1.weight"},
    {.tensor = kFfnUpShexp, .hf = "ffn.shared_experts.w3.weight"},
    {.tensor = kFfnDownShexp, .hf = "ffn.shared_experts.w2.weight"},
};

}  // namespace

const HfNaming kDeepseekV4Naming = {.global = kGlobal, .layer = kLayer};

}  // namespace frugal::convert
