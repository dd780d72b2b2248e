// DeepSeek-V4's attention under LoRA (model/forward_dsv4.cc describes the
// forward): low-rank queries (q_a, its norm, q_b, each head normalised
// without a weight), the single key/value head (attn_kv, its norm), RoPE on
// the last rope_dim of each head, one softmax with the head's sink over the
// window's keys and the compressed entries, the outputs rotated back, the
// grouped output (attn_output_a per group of heads, attn_output_b).
//
// Adapted: attn_q_a, attn_q_b, attn_kv, attn_output_a (group g's product
// takes its rows of B) and attn_output_b. Frozen, the gradient flowing
// through them: the norms, the compressor (its kv and gate projections,
// the softmax pooling of each channel over a block, the entry's norm and
// RoPE). The lightning indexer of ratio-4 layers only chooses which entries
// a query attends to: that choice is a discrete one, held fixed in the
// backward (as a router's choice of experts is), so the indexer's own
// matrices pass no gradient; the chosen entries' keys and values do.
#pragma once
#include <cstdint>
#include <vector>

#include "finetune/lora_pass.h"

namespace frugal::finetune {

// A compressor's values over the example (width: its channels per row, two
// halves for ratio 4): the kv and gate rows, and per complete block its
// pooled entry before the norm, that norm's 1/rms and the entry used.
struct CompressorActs {
  F kv, score, pooled, rstd, entry;
};

// The attention's activations: the queries' path (q_a x, its norm and
// 1/rms, q_b's output, the per-head 1/rms, the rotated queries), the key's
// (attn_kv x, its 1/rms, the rotated key), the compressor's, per row its
// keys (the window's first position, the chosen entries) and the softmax
// per head over them, the heads' outputs rotated back, and attn_output_a's
// output and per group A x.
struct Dsv4AttentionActs {
  F qa, qan, qa_rstd, qb, q_rstd, q, kv, kv_rstd, key;
  CompressorActs comp;
  std::vector<int64_t> first;                 // per row: its window's first position
  std::vector<std::vector<int64_t>> entries;  // per row: the compressed entries it attends to
  std::vector<int64_t> prob_at;               // per row: where its heads' probabilities start in probs
  F probs, att, oa, oa_ax;
};

// out (T x n_embd) = layer il's attention of xa (the normalised input, T x n_embd).
void dsv4_attention_forward(const LoraPass& p, int64_t il, const F& xa, Dsv4AttentionActs& a, Kept& ax, F& out);

// d_xa += the gradient of the attention's output d_out through it; the
// factors' gradients added.
void dsv4_attention_backward(const LoraPass& p, int64_t il, const F& xa, const Dsv4AttentionActs& a, const Kept& ax,
                             const F& d_out, F& d_xa);

}  // namespace frugal::finetune
