// synth's dimension flags applied to a configuration (config_overrides.h).
#include "model/config_overrides.h"

#include <algorithm>
#include <vector>

#include "base/error.h"
#include "model/architectures.h"

namespace frugal::model {

void apply_overrides(ModelConfig& c, const ConfigOverrides& o) {
  const bool derived_head_dim = !c.is_mla() && c.head_dim * c.n_head == c.n_embd;
  const bool mha = c.n_head_kv == c.n_head;
  const bool expert_width_is_ff = c.is_moe() && architecture(c.arch).experts_sized_by_ff;
  auto positive = [](const std::optional<int64_t>& v, const char* flag) {
    if (v && *v <= 0) fail(flag, " must be positive (got ", *v, ")");
  };
  positive(o.n_layer, "--layers");
  positive(o.n_embd, "--embd");
  positive(o.n_expert_used, "--experts-used");
  positive(o.n_ff, "--ff");
  positive(o.n_ff_exp, "--ff-exp");
  positive(o.n_head, "--heads");
  positive(o.n_head_kv, "--heads-kv");
  positive(o.n_vocab, "--vocab");
  positive(o.n_ctx, "--ctx");
  if (o.n_expert && *o.n_expert < 0) fail("--experts must not be negative (got ", *o.n_expert, ")");
  positive(o.ssm_head_dim, "--ssm-head-dim");
  if (o.full_attn_interval && *o.full_attn_interval < 2)
    fail("--attn-interval must be at least 2 (got ", *o.full_attn_interval, "): every layer would be full attention");
  if ((o.ssm_head_dim || o.full_attn_interval) && !c.has_recurrent_layers())
    fail(o.ssm_head_dim ? "--ssm-head-dim" : "--attn-interval", ": preset ", c.arch, " ", c.name,
         " has no Gated DeltaNet layers (qwen3next, qwen35moe have)");
  if (o.ssm_head_dim) c.ssm_k_head_dim = c.ssm_v_head_dim = *o.ssm_head_dim;
  if (o.full_attn_interval) c.n_full_attn_interval = *o.full_attn_interval;

  if (o.n_layer) {
    c.n_layer = *o.n_layer;
    if (c.n_leading_dense > c.n_layer) c.n_leading_dense = c.n_layer;
    if (c.has_hyper_connections()) {
      // deepseek4: the preset's ratios repeated, its limits kept, hash layers within.
      const size_t n_blocks = static_cast<size_t>(c.n_layer + c.n_nextn_layer);
      std::vector<int64_t> ratios;
      for (size_t i = 0; i < n_blocks; ++i) ratios.push_back(c.compress_ratios[i % c.compress_ratios.size()]);
      c.compress_ratios = ratios;
      c.swiglu_limit_exp.resize(n_blocks, c.swiglu_limit_exp.back());
      c.swiglu_limit_shexp.resize(n_blocks, c.swiglu_limit_shexp.back());
      c.n_hash_layers = std::min(c.n_hash_layers, c.n_layer);
    }
  }
  if (o.n_embd) c.n_embd = *o.n_embd;
  if (o.n_head) {
    c.n_head = *o.n_head;
    if (mha && !o.n_head_kv) c.n_head_kv = c.n_head;
  }
  if (o.n_head_kv) c.n_head_kv = *o.n_head_kv;
  if (c.is_mla()) c.n_head_kv = c.n_head;
  if (derived_head_dim && (o.n_embd || o.n_head)) {
    if (c.n_embd % c.n_head != 0) fail("--embd ", c.n_embd, " is not a multiple of the head count ", c.n_head);
    c.head_dim = c.v_head_dim = c.rope_dim = c.n_embd / c.n_head;
  }
  if (o.n_vocab) c.n_vocab = *o.n_vocab;
  if (o.n_ctx) {
    c.n_ctx_train = *o.n_ctx;
    if (c.rope_scaling == RopeScaling::kNone || c.rope_orig_ctx > c.n_ctx_train) c.rope_orig_ctx = c.n_ctx_train;
  }
  if (o.n_expert) {
    if (*o.n_expert == 0) {  // a dense model of the same architecture
      c.n_expert = c.n_expert_used = c.n_ff_exp = c.n_ff_shexp = c.n_expert_shared = c.n_leading_dense = 0;
      c.n_expert_groups = c.n_group_used = c.n_moe_layer_step = 0;
      c.expert_score_bias = false;
      if (c.n_ff == 0) fail("--experts 0 needs --ff (this preset has no dense FFN width)");
    } else {
      if (!c.is_moe()) fail("--experts: preset ", c.name, " is dense; pick an MoE preset");
      c.n_expert = *o.n_expert;
    }
  }
  if (o.n_expert_used) c.n_expert_used = *o.n_expert_used;
  if (o.n_ff) c.n_ff = *o.n_ff;
  if (o.n_ff_exp) c.n_ff_exp = *o.n_ff_exp;
  if (expert_width_is_ff && c.is_moe()) {
    // llama/olmoe files size their experts with feed_forward_length (minimax-m2's say it twice).
    if (o.n_ff && !o.n_ff_exp) c.n_ff_exp = c.n_ff;
    c.n_ff = c.n_ff_exp;
  }
  if (c.deepseek_moe_keys) c.n_ff_shexp = c.n_expert_shared * c.n_ff_exp;
  if (o.mla_split_kv_b) {
    if (!c.is_mla()) fail("--mla-kv-b: preset ", c.name, " has no latent attention");
    c.mla_split_kv_b = *o.mla_split_kv_b;
  }
  apply_architecture_defaults(c);  // deepseek2 keeps its expert_weights_norm (a key, not an arch fact)
  validate_config(c);
}

}  // namespace frugal::model
