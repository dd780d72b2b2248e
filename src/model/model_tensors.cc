// The tensors a ModelConfig expects (names, shapes, roles) and the parameter
// counts that follow from them; config.cc reads and writes the keys.
#include "model/config.h"

#include <string>
#include <utility>
#include <vector>

namespace frugal::model {

const char* tensor_role_name(TensorRole role) {
  switch (role) {
    case TensorRole::kEmbedding: return "embedding";
    case TensorRole::kOutput: return "output";
    case TensorRole::kNorm: return "norm";
    case TensorRole::kAttention: return "attention";
    case TensorRole::kBias: return "bias";
    case TensorRole::kRouter: return "router";
    case TensorRole::kExpert: return "expert";
    case TensorRole::kExpertBias: return "expert bias";
    case TensorRole::kSharedExpert: return "shared expert";
    case TensorRole::kDenseFfn: return "dense ffn";
    case TensorRole::kTokenExperts: return "token experts";
  }
  return "?";
}

int64_t TensorSpec::n_elements() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

std::vector<TensorSpec> expected_tensors(const ModelConfig& c) {
  validate_config(c);
  std::vector<TensorSpec> out;
  auto add = [&](std::string name, std::vector<int64_t> shape, TensorRole role, int layer) {
    out.push_back({std::move(name), std::move(shape), role, layer});
  };
  using R = TensorRole;
  // A Gated DeltaNet layer (see ModelConfig::ssm_split_proj for the layouts).
  auto add_recurrent = [&](int il) {
    const std::string b = "blk." + std::to_string(il) + ".";
    const int64_t nk = c.ssm_n_k_head, nv = c.ssm_n_v_head, dk = c.ssm_k_head_dim, dv = c.ssm_v_head_dim;
    if (c.ssm_split_proj) {
      add(b + "attn_qkv.weight", {c.n_embd, c.ssm_conv_channels()}, R::kAttention, il);
      add(b + "attn_gate.weight", {c.n_embd, nv * dv}, R::kAttention, il);
      add(b + "ssm_beta.weight", {c.n_embd, nv}, R::kAttention, il);
      add(b + "ssm_alpha.weight", {c.n_embd, nv}, R::kAttention, il);
    } else {
      add(b + "ssm_in.weight", {c.n_embd, 2 * nk * dk + 2 * nv * dv}, R::kAttention, il);
      add(b + "ssm_ba.weight", {c.n_embd, 2 * nv}, R::kAttention, il);
    }
    add(b + "ssm_conv1d.weight", {c.ssm_conv_kernel, c.ssm_conv_channels()}, R::kAttention, il);
    add(b + "ssm_dt.bias", {nv}, R::kBias, il);
    add(b + "ssm_a", {nv}, R::kBias, il);
    add(b + "ssm_norm.weight", {dv}, R::kNorm, il);
    add(b + "ssm_out.weight", {nv * dv, c.n_embd}, R::kAttention, il);
  };
  // DeepSeek-V4's attention (ModelConfig's deepseek4 fields): low-rank
  // queries, one shared key/value head, sinks, the grouped output; per
  // compressing layer its compressor (kv and gate projections of ratio 4:
  // two halves, the previous block's then the current one's; a position
  // embedding of the gate per position in the block; the entries' norm) and
  // on ratio 4 the indexer's query, head weights and its own compressor.
  auto add_dsv4_attention = [&](int il) {
    const std::string b = "blk." + std::to_string(il) + ".";
    const int64_t hd = c.head_dim, qw = c.n_head * c.head_dim;
    add(b + "attn_q_a.weight", {c.n_embd, c.q_lora_rank}, R::kAttention, il);
    add(b + "attn_q_a_norm.weight", {c.q_lora_rank}, R::kNorm, il);
    add(b + "attn_q_b.weight", {c.q_lora_rank, qw}, R::kAttention, il);
    add(b + "attn_kv.weight", {c.n_embd, hd}, R::kAttention, il);
    add(b + "attn_kv_a_norm.weight", {hd}, R::kNorm, il);
    add(b + "attn_sinks.weight", {c.n_head}, R::kBias, il);
    add(b + "attn_output_a.weight", {qw / c.n_out_groups, c.n_out_groups * c.out_lora_rank}, R::kAttention, il);
    add(b + "attn_output_b.weight", {c.n_out_groups * c.out_lora_rank, c.n_embd}, R::kAttention, il);
    const int64_t ratio = c.layer_compress_ratio(il);
    auto add_compressor = [&](const std::string& p, int64_t width) {
      const int64_t halves = ratio == 4 ? 2 : 1;
      add(b + p + "_kv.weight", {c.n_embd, halves * width}, R::kAttention, il);
      add(b + p + "_gate.weight", {c.n_embd, halves * width}, R::kAttention, il);
      add(b + p + "_ape.weight", {halves * width, ratio}, R::kBias, il);
      add(b + p + "_norm.weight", {width}, R::kNorm, il);
    };
    if (ratio > 0) add_compressor("attn_compressor", hd);
    if (c.layer_has_indexer(il)) {
      add(b + "indexer.attn_q_b.weight", {c.q_lora_rank, c.n_indexer_head * c.indexer_head_dim}, R::kAttention, il);
      add(b + "indexer.proj.weight", {c.n_embd, c.n_indexer_head}, R::kAttention, il);
      add_compressor("indexer_compressor", c.indexer_head_dim);
    }
  };
  // Hyper-connections: per sublayer the mixing projection from the n_hc
  // normalised streams to (pre, post, comb) logits, their base and the three
  // scales; the head's (pre only, one scale).
  const int64_t n_mix = c.n_hc * c.n_hc + 2 * c.n_hc;
  auto add_hc = [&](const std::string& p, int il) {
    add(p + "_fn.weight", {c.n_hc * c.n_embd, n_mix}, R::kAttention, il);
    add(p + "_base.weight", {n_mix}, R::kBias, il);
    add(p + "_scale.weight", {3}, R::kNorm, il);
  };

  add("token_embd.weight", {c.n_embd, c.n_vocab}, R::kEmbedding, -1);
  add("output_norm.weight", {c.n_embd}, R::kNorm, -1);
  if (!c.tied_output) add("output.weight", {c.n_embd, c.n_vocab}, R::kOutput, -1);
  if (c.has_hyper_connections()) {
    add("output_hc_fn.weight", {c.n_hc * c.n_embd, c.n_hc}, R::kAttention, -1);
    add("output_hc_base.weight", {c.n_hc}, R::kBias, -1);
    add("output_hc_scale.weight", {1}, R::kNorm, -1);
  }
  if (c.rope_freq_factors) add("rope_freqs.weight", {c.rope_dim / 2}, R::kNorm, -1);

  for (int il = 0; il < c.n_layer + c.n_nextn_layer; ++il) {
    const std::string b = "blk." + std::to_string(il) + ".";
    add(b + "attn_norm.weight", {c.n_embd}, R::kNorm, il);
    if (c.layer_is_recurrent(il)) {
      add_recurrent(il);
    } else if (c.has_hyper_connections()) {
      add_hc(b + "hc_attn", il);
      add_hc(b + "hc_ffn", il);
      add_dsv4_attention(il);
    } else if (c.is_mla()) {
      const int64_t q_width = c.n_head * c.head_dim;
      if (c.q_lora_rank > 0) {
        add(b + "attn_q_a.weight", {c.n_embd, c.q_lora_rank}, R::kAttention, il);
        add(b + "attn_q_a_norm.weight", {c.q_lora_rank}, R::kNorm, il);
        add(b + "attn_q_b.weight", {c.q_lora_rank, q_width}, R::kAttention, il);
      } else {
        add(b + "attn_q.weight", {c.n_embd, q_width}, R::kAttention, il);
      }
      add(b + "attn_kv_a_mqa.weight", {c.n_embd, c.kv_lora_rank + c.qk_rope_head_dim}, R::kAttention, il);
      add(b + "attn_kv_a_norm.weight", {c.kv_lora_rank}, R::kNorm, il);
      if (c.mla_split_kv_b) {
        add(b + "attn_k_b.weight", {c.qk_nope_head_dim, c.kv_lora_rank, c.n_head}, R::kAttention, il);
        add(b + "attn_v_b.weight", {c.kv_lora_rank, c.v_head_dim, c.n_head}, R::kAttention, il);
      } else {
        add(b + "attn_kv_b.weight", {c.kv_lora_rank, c.n_head * (c.qk_nope_head_dim + c.v_head_dim)},
            R::kAttention, il);
      }
      add(b + "attn_output.weight", {c.n_head * c.v_head_dim, c.n_embd}, R::kAttention, il);
    } else {
      add(b + "attn_q.weight", {c.n_embd, c.n_embd_q() * (c.attn_output_gate ? 2 : 1)}, R::kAttention, il);
      add(b + "attn_k.weight", {c.n_embd, c.n_embd_k()}, R::kAttention, il);
      add(b + "attn_v.weight", {c.n_embd, c.n_embd_v()}, R::kAttention, il);
      if (c.attn_bias) {
        add(b + "attn_q.bias", {c.n_embd_q()}, R::kBias, il);
        add(b + "attn_k.bias", {c.n_embd_k()}, R::kBias, il);
        add(b + "attn_v.bias", {c.n_embd_v()}, R::kBias, il);
      }
      if (c.qk_norm == QkNorm::kPerHead) {
        add(b + "attn_q_norm.weight", {c.head_dim}, R::kNorm, il);
        add(b + "attn_k_norm.weight", {c.head_dim}, R::kNorm, il);
      } else if (c.qk_norm == QkNorm::kWhole) {
        add(b + "attn_q_norm.weight", {c.n_embd_q()}, R::kNorm, il);
        add(b + "attn_k_norm.weight", {c.n_embd_k()}, R::kNorm, il);
      }
      add(b + "attn_output.weight", {c.n_head * c.v_head_dim, c.n_embd}, R::kAttention, il);
      if (c.attn_out_bias) add(b + "attn_output.bias", {c.n_embd}, R::kBias, il);
      if (c.attn_sinks) add(b + "attn_sinks.weight", {c.n_head}, R::kBias, il);
    }
    add(b + c.ffn_norm_name + ".weight", {c.n_embd}, R::kNorm, il);
    if (c.layer_is_moe(il)) {
      add(b + "ffn_gate_inp.weight", {c.n_embd, c.n_expert}, R::kRouter, il);
      if (c.router_bias) add(b + "ffn_gate_inp.bias", {c.n_expert}, R::kBias, il);
      if (c.expert_score_bias && !c.layer_is_hashed(il)) add(b + "exp_probs_b.bias", {c.n_expert}, R::kBias, il);
      if (c.layer_is_hashed(il))
        add(b + "ffn_gate_tid2eid.weight", {c.n_expert_used, c.n_vocab}, R::kTokenExperts, il);
      add(b + "ffn_gate_exps.weight", {c.n_embd, c.n_ff_exp, c.n_expert}, R::kExpert, il);
      add(b + "ffn_up_exps.weight", {c.n_embd, c.n_ff_exp, c.n_expert}, R::kExpert, il);
      add(b + "ffn_down_exps.weight", {c.n_ff_exp, c.n_embd, c.n_expert}, R::kExpert, il);
      if (c.expert_bias) {
        add(b + "ffn_gate_exps.bias", {c.n_ff_exp, c.n_expert}, R::kExpertBias, il);
        add(b + "ffn_up_exps.bias", {c.n_ff_exp, c.n_expert}, R::kExpertBias, il);
        add(b + "ffn_down_exps.bias", {c.n_embd, c.n_expert}, R::kExpertBias, il);
      }
      if (c.n_ff_shexp > 0) {
        if (c.shared_expert_gate) add(b + "ffn_gate_inp_shexp.weight", {c.n_embd}, R::kRouter, il);
        add(b + "ffn_gate_shexp.weight", {c.n_embd, c.n_ff_shexp}, R::kSharedExpert, il);
        add(b + "ffn_up_shexp.weight", {c.n_embd, c.n_ff_shexp}, R::kSharedExpert, il);
        add(b + "ffn_down_shexp.weight", {c.n_ff_shexp, c.n_embd}, R::kSharedExpert, il);
      }
    } else {
      add(b + "ffn_gate.weight", {c.n_embd, c.n_ff}, R::kDenseFfn, il);
      add(b + "ffn_up.weight", {c.n_embd, c.n_ff}, R::kDenseFfn, il);
      add(b + "ffn_down.weight", {c.n_ff, c.n_embd}, R::kDenseFfn, il);
    }
    if (il >= c.n_layer) {
      // A next-token-prediction block: the last hidden state and the next
      // token's embedding, each normalised, projected from 2 n_embd to n_embd
      // into a block of its own (its shared head and embedding, when a file
      // has them, are optional and not checked).
      add(b + "nextn.eh_proj.weight", {2 * c.n_embd, c.n_embd}, R::kAttention, il);
      add(b + "nextn.enorm.weight", {c.n_embd}, R::kNorm, il);
      add(b + "nextn.hnorm.weight", {c.n_embd}, R::kNorm, il);
    }
  }
  return out;
}

int64_t ModelConfig::n_params() const {
  int64_t n = 0;
  for (const auto& t : expected_tensors(*this))
    if (t.layer < n_layer && t.role != TensorRole::kTokenExperts) n += t.n_elements();
  return n;
}

int64_t ModelConfig::n_nextn_params() const {
  int64_t n = 0;
  for (const auto& t : expected_tensors(*this))
    if (t.layer >= n_layer && t.role != TensorRole::kTokenExperts) n += t.n_elements();
  return n;
}

int64_t ModelConfig::n_active_params() const {
  int64_t n = 0;
  for (const auto& t : expected_tensors(*this)) {
    if (t.layer >= n_layer || t.role == TensorRole::kTokenExperts) continue;  // MTP blocks do not run; a table is no parameter
    if (t.role == TensorRole::kExpert || t.role == TensorRole::kExpertBias)
      n += t.n_elements() / n_expert * n_expert_used;
    else n += t.n_elements();
  }
  return n;
}

}  // namespace frugal::model
