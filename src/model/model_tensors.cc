// The tensors a ModelConfig expects (names, shapes, roles) and the parameter
// counts that follow from them; config.cc reads and writes the keys.
#include "model/config.h"

#include <string>
#include <utility>
#include <vector>

namespace frugal::model {

int64_t TensorSpec::n_elements() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

std::vector<TensorSpec> expected_tensors(const ModelConfig& c) {
  validate_config(c);
  std::vector<TensorSpec> out;
  // Name and role from the table of tensor names; layer -1 for global ones.
  auto add = [&](TensorId id, std::vector<int64_t> shape, int layer) {
    out.push_back({.name = gguf::tensor_name(id, layer),
                   .shape = std::move(shape),
                   .role = gguf::tensor_role(id),
                   .layer = layer,
                   .id = id});
  };
  using enum TensorId;
  // A Gated DeltaNet layer (see ModelConfig::ssm_split_proj for the layouts).
  auto add_recurrent = [&](int il) {
    const int64_t nk = c.ssm_n_k_head, nv = c.ssm_n_v_head, dk = c.ssm_k_head_dim, dv = c.ssm_v_head_dim;
    if (c.ssm_split_proj) {
      add(kAttnQkv, {c.n_embd, c.ssm_conv_channels()}, il);
      add(kAttnGate, {c.n_embd, nv * dv}, il);
      add(kSsmBeta, {c.n_embd, nv}, il);
      add(kSsmAlpha, {c.n_embd, nv}, il);
    } else {
      add(kSsmIn, {c.n_embd, 2 * nk * dk + 2 * nv * dv}, il);
      add(kSsmBa, {c.n_embd, 2 * nv}, il);
    }
    add(kSsmConv1d, {c.ssm_conv_kernel, c.ssm_conv_channels()}, il);
    add(kSsmDt, {nv}, il);
    add(kSsmA, {nv}, il);
    add(kSsmNorm, {dv}, il);
    add(kSsmOut, {nv * dv, c.n_embd}, il);
  };
  // DeepSeek-V4's attention (ModelConfig's deepseek4 fields): low-rank
  // queries, one shared key/value head, sinks, the grouped output; per
  // compressing layer its compressor (kv and gate projections of ratio 4:
  // two halves, the previous block's then the current one's; a position
  // embedding of the gate per position in the block; the entries' norm) and
  // on ratio 4 the indexer's query, head weights and its own compressor.
  auto add_dsv4_attention = [&](int il) {
    const int64_t hd = c.head_dim, qw = c.n_head * c.head_dim;
    add(kAttnQA, {c.n_embd, c.q_lora_rank}, il);
    add(kAttnQANorm, {c.q_lora_rank}, il);
    add(kAttnQB, {c.q_lora_rank, qw}, il);
    add(kAttnKv, {c.n_embd, hd}, il);
    add(kAttnKvANorm, {hd}, il);
    add(kAttnSinks, {c.n_head}, il);
    add(kAttnOutputA, {qw / c.n_out_groups, c.n_out_groups * c.out_lora_rank}, il);
    add(kAttnOutputB, {c.n_out_groups * c.out_lora_rank, c.n_embd}, il);
    const int64_t ratio = c.layer_compress_ratio(il);
    struct Compressor {
      TensorId kv, gate, ape, norm;
    };
    auto add_compressor = [&](const Compressor& t, int64_t width) {
      const int64_t halves = ratio == 4 ? 2 : 1;
      add(t.kv, {c.n_embd, halves * width}, il);
      add(t.gate, {c.n_embd, halves * width}, il);
      add(t.ape, {halves * width, ratio}, il);
      add(t.norm, {width}, il);
    };
    if (ratio > 0) add_compressor({kAttnCompressorKv, kAttnCompressorGate, kAttnCompressorApe, kAttnCompressorNorm}, hd);
    if (c.layer_has_indexer(il)) {
      add(kIndexerQB, {c.q_lora_rank, c.n_indexer_head * c.indexer_head_dim}, il);
      add(kIndexerProj, {c.n_embd, c.n_indexer_head}, il);
      add_compressor({kIndexerCompressorKv, kIndexerCompressorGate, kIndexerCompressorApe, kIndexerCompressorNorm},
                     c.indexer_head_dim);
    }
  };
  // Hyper-connections: per sublayer the mixing projection from the n_hc
  // normalised streams to (pre, post, comb) logits, their base and the three
  // scales; the head's (pre only, one scale).
  const int64_t n_mix = c.n_hc * c.n_hc + 2 * c.n_hc;
  auto add_hc = [&](TensorId fn, TensorId base, TensorId scale, int il) {
    add(fn, {c.n_hc * c.n_embd, n_mix}, il);
    add(base, {n_mix}, il);
    add(scale, {3}, il);
  };

  add(kTokenEmbd, {c.n_embd, c.n_vocab}, -1);
  add(kOutputNorm, {c.n_embd}, -1);
  if (!c.tied_output) add(kOutput, {c.n_embd, c.n_vocab}, -1);
  if (c.has_hyper_connections()) {
    add(kOutputHcFn, {c.n_hc * c.n_embd, c.n_hc}, -1);
    add(kOutputHcBase, {c.n_hc}, -1);
    add(kOutputHcScale, {1}, -1);
  }
  if (c.rope_freq_factors) add(kRopeFreqs, {c.rope_dim / 2}, -1);

  for (int il = 0; il < c.n_layer + c.n_nextn_layer; ++il) {
    add(kAttnNorm, {c.n_embd}, il);
    if (c.layer_is_recurrent(il)) {
      add_recurrent(il);
    } else if (c.has_hyper_connections()) {
      add_hc(kHcAttnFn, kHcAttnBase, kHcAttnScale, il);
      add_hc(kHcFfnFn, kHcFfnBase, kHcFfnScale, il);
      add_dsv4_attention(il);
    } else if (c.is_mla()) {
      const int64_t q_width = c.n_head * c.head_dim;
      if (c.q_lora_rank > 0) {
        add(kAttnQA, {c.n_embd, c.q_lora_rank}, il);
        add(kAttnQANorm, {c.q_lora_rank}, il);
        add(kAttnQB, {c.q_lora_rank, q_width}, il);
      } else {
        add(kAttnQ, {c.n_embd, q_width}, il);
      }
      add(kAttnKvAMqa, {c.n_embd, c.kv_lora_rank + c.qk_rope_head_dim}, il);
      add(kAttnKvANorm, {c.kv_lora_rank}, il);
      if (c.mla_split_kv_b) {
        add(kAttnKB, {c.qk_nope_head_dim, c.kv_lora_rank, c.n_head}, il);
        add(kAttnVB, {c.kv_lora_rank, c.v_head_dim, c.n_head}, il);
      } else {
        add(kAttnKvB, {c.kv_lora_rank, c.n_head * (c.qk_nope_head_dim + c.v_head_dim)}, il);
      }
      add(kAttnOutput, {c.n_head * c.v_head_dim, c.n_embd}, il);
    } else {
      if (c.fused_qkv) {
        add(kAttnQkv, {c.n_embd, c.n_embd_q() + c.n_embd_k() + c.n_embd_v()}, il);
      } else {
        add(kAttnQ, {c.n_embd, c.n_embd_q() * (c.attn_output_gate ? 2 : 1)}, il);
        add(kAttnK, {c.n_embd, c.n_embd_k()}, il);
        add(kAttnV, {c.n_embd, c.n_embd_v()}, il);
      }
      if (c.attn_bias) {
        add(kAttnQBias, {c.n_embd_q()}, il);
        add(kAttnKBias, {c.n_embd_k()}, il);
        add(kAttnVBias, {c.n_embd_v()}, il);
      }
      if (c.qk_norm == QkNorm::kPerHead) {
        add(kAttnQNorm, {c.head_dim}, il);
        add(kAttnKNorm, {c.head_dim}, il);
      } else if (c.qk_norm == QkNorm::kWhole) {
        add(kAttnQNorm, {c.n_embd_q()}, il);
        add(kAttnKNorm, {c.n_embd_k()}, il);
      }
      add(kAttnOutput, {c.n_head * c.v_head_dim, c.n_embd}, il);
      if (c.attn_out_bias) add(kAttnOutputBias, {c.n_embd}, il);
      if (c.attn_sinks) add(kAttnSinks, {c.n_head}, il);
    }
    add(c.ffn_norm, {c.n_embd}, il);
    if (c.layer_is_moe(il)) {
      add(kFfnGateInp, {c.n_embd, c.n_expert}, il);
      if (c.router_bias) add(kFfnGateInpBias, {c.n_expert}, il);
      if (c.expert_score_bias && !c.layer_is_hashed(il)) add(kExpProbsB, {c.n_expert}, il);
      if (c.layer_is_hashed(il))
        add(kFfnGateTid2eid, {c.n_expert_used, c.n_vocab}, il);
      add(kFfnGateExps, {c.n_embd, c.n_ff_exp, c.n_expert}, il);
      add(kFfnUpExps, {c.n_embd, c.n_ff_exp, c.n_expert}, il);
      add(kFfnDownExps, {c.n_ff_exp, c.n_embd, c.n_expert}, il);
      if (c.expert_bias) {
        add(kFfnGateExpsBias, {c.n_ff_exp, c.n_expert}, il);
        add(kFfnUpExpsBias, {c.n_ff_exp, c.n_expert}, il);
        add(kFfnDownExpsBias, {c.n_embd, c.n_expert}, il);
      }
      if (c.n_ff_shexp > 0) {
        if (c.shared_expert_gate) add(kFfnGateInpShexp, {c.n_embd}, il);
        add(kFfnGateShexp, {c.n_embd, c.n_ff_shexp}, il);
        add(kFfnUpShexp, {c.n_embd, c.n_ff_shexp}, il);
        add(kFfnDownShexp, {c.n_ff_shexp, c.n_embd}, il);
      }
    } else {
      add(kFfnGate, {c.n_embd, c.n_ff}, il);
      add(kFfnUp, {c.n_embd, c.n_ff}, il);
      add(kFfnDown, {c.n_ff, c.n_embd}, il);
    }
    if (il >= c.n_layer) {
      // A next-token-prediction block: the last hidden state and the next
      // token's embedding, each normalised, projected from 2 n_embd to n_embd
      // into a block of its own (its shared head and embedding, when a file
      // has them, are optional and not checked).
      add(kNextnEhProj, {2 * c.n_embd, c.n_embd}, il);
      add(kNextnEnorm, {c.n_embd}, il);
      add(kNextnHnorm, {c.n_embd}, il);
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
