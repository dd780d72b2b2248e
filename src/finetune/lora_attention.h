// The adapted attention of every architecture but deepseek2's latent one:
// x += o(attention(rope(norm(q xn1)), rope(norm(k xn1)), v xn1)), with the
// q/k norm, RoPE or tempering, windows, chunks, sinks and the output gate
// as inference runs them, and its backward into xn1. Its own file: the one concern of the
// layer that grows with each architecture's attention variant.
#pragma once
#include <cstdint>

#include "finetune/lora_pass.h"

namespace frugal::finetune {

// What the attention's backward reads: q/k before and after their norm
// (with each row's 1/rms), the rotated q, k, v, the attention's
// probabilities and output (o's input); gated attention (qwen3next,
// qwen35moe: attn_q gives per head the query then its gate's logits) also
// the output before the gate and sigmoid(gate).
struct AttentionActs {
  F q_raw, k_raw, rstd_q, rstd_k, q, k, v, lse, att, att_raw, gate;
};

// x (T x n_embd) += layer il's attention of xn1; A x kept in ax.
void attention_forward(const LoraPass& p, int64_t il, const F& xn1, AttentionActs& a, Kept& ax, F& x);

// d_xn1 += the gradient from d_x through it; the factors' gradients added.
void attention_backward(const LoraPass& p, int64_t il, const F& xn1, const AttentionActs& a, const Kept& ax,
                        const F& d_x, F& d_xn1);

}  // namespace frugal::finetune
