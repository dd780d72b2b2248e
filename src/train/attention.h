// Causal multi-head attention for training, forward and backward, in tiles
// (flash-style): blocks of 32 queries against blocks of 64 keys with an
// online softmax, so no t x t matrix of probabilities is ever held. The
// forward keeps, per query row and head, the log of its softmax's
// denominator (lse); the backward recomputes each block's probabilities
// from it, exp(score - lse), and takes D = dO . O per row for the softmax's
// backward (sum_j p_j dp_j = dO . sum_j p_j v_j).
#pragma once
#include <cstdint>

#include "base/thread_pool.h"

namespace frugal::train {

// n_seq sequences of t rows each: q (rows x n_head*hd), k and v
// (rows x n_head_kv*hd); GQA maps query head h to kv head
// h / (n_head / n_head_kv); out is rows x n_head*hd.
struct AttentionShape {
  int64_t n_seq, t, n_head, n_head_kv, head_dim;
  float scale;
};

// Which keys a query row sees: window > 0, rows i - window + 1 .. i only
// (gpt-oss's sliding-window layers); chunk > 0, the rows of its own chunk of
// that many up to i (llama4's chunked layers); else every row up to i.
struct AttentionMask {
  int64_t window = 0;
  int64_t chunk = 0;
  int64_t first_key(int64_t i) const {
    return chunk > 0 ? i / chunk * chunk : window > 0 && i + 1 > window ? i + 1 - window : 0;
  }
};

// lse: n_seq x n_head x t. sinks (one logit per head, gpt-oss; may be null)
// join each softmax's denominator with no value.
void attention_forward(const AttentionShape& s, const float* q, const float* k, const float* v, float* lse,
                       float* out, ThreadPool* pool, AttentionMask mask = {}, const float* sinks = nullptr);

// Adds into d_q, d_k, d_v. out and lse are the forward's; the mask must be
// the forward's too. A frozen sink needs nothing here: lse holds it.
void attention_backward(const AttentionShape& s, const float* d_out, const float* q, const float* k, const float* v,
                        const float* out, const float* lse, float* d_q, float* d_k, float* d_v, ThreadPool* pool,
                        AttentionMask mask = {});

}  // namespace frugal::train
