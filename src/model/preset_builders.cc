// The shared pieces of the preset tables (see preset_builders.h).
#include "model/preset_builders.h"

#include <utility>

#include "model/architectures.h"

namespace frugal::model::preset_builders {

ModelConfig base(const Dims& d) {
  ModelConfig c;
  c.arch = d.arch;
  c.name = d.name;
  c.n_vocab = d.vocab;
  c.n_embd = d.embd;
  c.n_layer = d.layers;
  c.n_head = d.heads;
  c.n_head_kv = d.heads_kv;
  c.head_dim = d.embd / d.heads;
  c.v_head_dim = c.head_dim;
  c.rope_dim = c.head_dim;
  c.n_ctx_train = d.ctx;
  c.rope_orig_ctx = d.ctx;
  c.norm_eps = d.eps;
  c.rope_freq_base = d.theta;
  return c;
}

void set_head_dim(ModelConfig& c, int64_t head_dim) {
  c.head_dim = c.v_head_dim = c.rope_dim = head_dim;
}

void set_experts(ModelConfig& c, int64_t n, int64_t used, int64_t ff_exp) {
  c.n_expert = n;
  c.n_expert_used = used;
  c.n_ff_exp = ff_exp;
}

void set_mla(ModelConfig& c, int64_t q_lora, int64_t kv_lora, int64_t rope, int64_t nope, int64_t v_dim) {
  c.q_lora_rank = q_lora;
  c.kv_lora_rank = kv_lora;
  c.qk_rope_head_dim = rope;
  c.qk_nope_head_dim = nope;
  c.head_dim = rope + nope;
  c.v_head_dim = v_dim;
  c.rope_dim = rope;
}

void set_yarn(ModelConfig& c, float factor, int64_t orig_ctx, float log_multiplier) {
  c.rope_scaling = RopeScaling::kYarn;
  c.rope_scaling_factor = factor;
  c.rope_orig_ctx = orig_ctx;
  c.yarn_log_multiplier = log_multiplier;
  c.yarn_attn_factor = 1.0f;
  c.yarn_beta_fast = 32.0f;
  c.yarn_beta_slow = 1.0f;
}

void set_shared_experts(ModelConfig& c, int64_t n) {
  c.n_expert_shared = n;
  c.n_ff_shexp = n * c.n_ff_exp;
}

void set_v3_routing(ModelConfig& c, int64_t leading_dense, float scale) {
  set_shared_experts(c, 1);
  c.n_leading_dense = leading_dense;
  c.gating = GatingFunc::kSigmoid;
  c.expert_score_bias = true;
  c.expert_weights_norm = true;
  c.expert_weights_scale = scale;
}

void set_minimax_routing(ModelConfig& c) {
  c.gating = GatingFunc::kSigmoid;
  c.expert_score_bias = true;
  c.expert_weights_norm = true;
}

void set_ernie_routing(ModelConfig& c, int64_t leading_dense, int64_t moe_step) {
  c.n_leading_dense = leading_dense;
  c.n_moe_layer_step = moe_step;
  c.gating = GatingFunc::kSoftmax;
  c.expert_score_bias = true;
  c.expert_weights_norm = true;
}

void set_llama4(ModelConfig& c, int64_t moe_step, int64_t chunk, int64_t temp_length) {
  c.n_moe_layer_step = moe_step;
  c.n_attn_chunk = chunk;
  c.attn_temp_scale = 0.1f;
  c.attn_temp_length = temp_length;
}

void set_hybrid(ModelConfig& c, const HybridShape& h) {
  set_head_dim(c, h.head_dim);
  c.rope_dim = h.rope_dim;
  c.n_full_attn_interval = h.interval;
  c.ssm_conv_kernel = 4;
  c.ssm_n_k_head = h.n_k_heads;
  c.ssm_n_v_head = h.n_v_heads;
  c.ssm_k_head_dim = h.k_head_dim;
  c.ssm_v_head_dim = h.v_head_dim;
  c.n_expert_shared = 1;
  c.n_ff_shexp = c.n_ff_exp;
}

void set_dsv4(ModelConfig& c, const Dsv4Shape& sh) {
  c.n_head_kv = 1;
  c.head_dim = c.v_head_dim = sh.head_dim;
  c.rope_dim = sh.rope_dim;
  c.q_lora_rank = sh.q_lora;
  c.n_out_groups = sh.out_groups;
  c.out_lora_rank = sh.out_lora;
  c.n_swa = sh.window;
  c.n_indexer_head = sh.idx_heads;
  c.indexer_head_dim = sh.idx_dim;
  c.indexer_top_k = sh.idx_top_k;
  c.n_hc = sh.hc;
  c.hc_sinkhorn_iters = sh.sinkhorn;
  c.hc_eps = 1e-6f;
  c.n_hash_layers = sh.hash_layers;
  c.compress_ratios = sh.ratios;
  c.compress_rope_base = sh.compress_rope_base;
  const size_t n_blocks = static_cast<size_t>(c.n_layer + c.n_nextn_layer);
  c.compress_ratios.resize(n_blocks, 0);
  c.swiglu_limit_exp.assign(n_blocks, sh.swiglu_limit);
  c.swiglu_limit_shexp.assign(n_blocks, sh.swiglu_limit);
  c.n_expert_shared = 1;
  c.n_ff_shexp = c.n_ff_exp;
  c.gating = GatingFunc::kSqrtSoftplus;
  c.expert_score_bias = true;
  c.expert_weights_norm = true;
  c.expert_weights_scale = sh.routed_scale;
}

Preset make(std::string description, ModelConfig c) {
  apply_architecture_defaults(c);
  validate_config(c);
  return Preset{c.arch, c.name, std::move(description), std::move(c)};
}

}  // namespace frugal::model::preset_builders
