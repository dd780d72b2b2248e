// The pieces the preset tables (presets_early.cc, presets_newer.cc) build
// their configurations from: a decoder's common fields and one setter per
// feature that several families share. Internal to the presets.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "model/config.h"
#include "model/presets.h"

namespace frugal::model::preset_builders {

// Common fields of a decoder; head_dim derives from n_embd / n_head.
struct Dims {
  std::string arch, name;
  int64_t vocab, embd, layers, heads, heads_kv, ctx;
  float eps, theta;
};

ModelConfig base(const Dims& d);

// Heads of head_dim for keys, values and RoPE alike.
void set_head_dim(ModelConfig& c, int64_t head_dim);

// n routed experts of width ff_exp, `used` of them per token.
void set_experts(ModelConfig& c, int64_t n, int64_t used, int64_t ff_exp);

// DeepSeek latent attention: key = nope + rope, value = v_dim per head.
void set_mla(ModelConfig& c, int64_t q_lora, int64_t kv_lora, int64_t rope, int64_t nope, int64_t v_dim);

// YaRN over orig_ctx positions (beta_fast 32, beta_slow 1, attention factor 1).
void set_yarn(ModelConfig& c, float factor, int64_t orig_ctx, float log_multiplier);

// DeepSeek-style shared experts: n of them, each as wide as a routed expert.
void set_shared_experts(ModelConfig& c, int64_t n);

// DeepSeek-V3's routing, also Kimi-K2's and GLM-4.5's: one shared expert as
// wide as a routed one, leading dense layers, sigmoid scores with a selection
// bias, the top-k renormalised and scaled.
void set_v3_routing(ModelConfig& c, int64_t leading_dense, float scale);

// MiniMax-M2's routing: sigmoid scores, the selection bias, the top-k
// renormalised and not scaled.
void set_minimax_routing(ModelConfig& c);

// ERNIE-4.5-MoE's routing: after leading_dense layers, experts every
// moe_step-th layer chosen by softmax scores plus the correction bias,
// weighed by the scores renormalised.
void set_ernie_routing(ModelConfig& c, int64_t leading_dense, int64_t moe_step);

// llama4: routed experts every moe_step-th layer, RoPE layers attending in
// chunks, NoPE layers tempering their queries (scale 0.1 per temp_length).
void set_llama4(ModelConfig& c, int64_t moe_step, int64_t chunk, int64_t temp_length);

// Qwen3-Next / Qwen3.5-MoE: gated attention (head_dim wide heads, RoPE on
// rope_dim of them) every interval-th layer, Gated DeltaNet between (key and
// value heads of their widths, a convolution of 4), softmax routing
// renormalised, a shared expert as wide as a routed one behind a sigmoid gate.
struct HybridShape {
  int64_t head_dim, rope_dim, interval, n_k_heads, n_v_heads, k_head_dim, v_head_dim;
};

void set_hybrid(ModelConfig& c, const HybridShape& h);

// DeepSeek-V4: one key/value head of head_dim (RoPE on its last rope_dim),
// low-rank queries, the grouped output, a sliding window in every layer and
// the layers' compression ratios, the indexer, n_hc hyper-connection
// streams, sqrt-softplus routing with a selection bias (the first hash
// layers by token id), one shared expert, the clamped SwiGLU.
struct Dsv4Shape {
  int64_t head_dim, rope_dim, q_lora, out_groups, out_lora, window, idx_heads, idx_dim, idx_top_k, hc, sinkhorn,
      hash_layers;
  std::vector<int64_t> ratios;
  float swiglu_limit, routed_scale, compress_rope_base;
};

void set_dsv4(ModelConfig& c, const Dsv4Shape& sh);

// A preset of c: its architecture's defaults applied, the result validated.
Preset make(std::string description, ModelConfig c);

// The presets of the families frugal first ran (llama, qwen2, qwen3,
// qwen2moe, qwen3moe, olmoe, deepseek2 with Kimi-K2) and of the two that
// share their layers (hunyuan-moe, mistral4); then those of the newer ones.
void add_early_presets(std::vector<Preset>& p);
void add_newer_presets(std::vector<Preset>& p);

}  // namespace frugal::model::preset_builders
