// A configuration's main dimensions changed by synth's flags (--layers,
// --embd, --experts, ...), with the dimensions derived from them kept
// consistent and the result validated.
#pragma once
#include <cstdint>
#include <optional>

#include "model/config.h"

namespace frugal::model {

// Flag overrides of the main dimensions; unset fields keep the preset's value.
struct ConfigOverrides {
  std::optional<int64_t> n_layer, n_embd, n_expert, n_expert_used, n_ff, n_ff_exp, n_head, n_head_kv, n_vocab,
      n_ctx;
  // deepseek2: write kv_b split into attn_k_b / attn_v_b (true) or joint.
  std::optional<bool> mla_split_kv_b;
  // qwen3next / qwen35moe: the Gated DeltaNet's key and value head width, and
  // the full-attention layer interval (every n-th layer; the others recurrent).
  std::optional<int64_t> ssm_head_dim, full_attn_interval;
};

// Applies the overrides and keeps derived dimensions consistent (head_dim
// follows n_embd / n_head where the preset derives it; an MHA preset stays MHA
// when only --heads is given; deepseek2's shared width follows n_ff_exp).
// The result is validated: an inconsistent combination -> frugal::Error.
void apply_overrides(ModelConfig& cfg, const ConfigOverrides& o);

}  // namespace frugal::model
