// The adapted Gated DeltaNet layer of qwen3next and qwen35moe (the math in
// model/forward_deltanet.cc): x += ssm_out(rmsnorm(o) * silu(z)) with o from
// the delta rule over the causal convolution of the in-projections, and its
// backward into xn1 through the recurrent state, the convolution, the q/k
// normalisation, the gates and the gated norm. The recurrence runs forward
// in its exact sequential form; backward keeps a state every `every` rows
// (about sqrt(T) of them per value head) and recomputes the states between
// two of them, so the saved states grow as sqrt(T), not T.
#pragma once
#include <cstdint>

#include "finetune/lora_pass.h"

namespace frugal::finetune {

// What the backward pass reads: the convolution's sums before silu (T x
// channels, [q, k, v]), its output with q and k normalised and each key
// head's factor, z, the gates, the raw alpha, the delta rule's output o
// with each value head's 1/rms, the gated rows ssm_out reads, and the states
// kept every `every` rows (per value head, the state before that row).
struct DeltaNetActs {
  F pre, y, inv_norm, z, beta, decay, alpha_raw, o, rstd, gated, kept;
  int64_t every = 1;
};

// x (T x n_embd) += layer il's Gated DeltaNet of xn1; A x kept in ax.
void delta_net_forward(const LoraPass& p, int64_t il, const F& xn1, DeltaNetActs& a, Kept& ax, F& x);

// d_xn1 += the gradient from d_x through it; the factors' gradients added.
void delta_net_backward(const LoraPass& p, int64_t il, const F& xn1, const DeltaNetActs& a, const Kept& ax,
                        const F& d_x, F& d_xn1);

}  // namespace frugal::finetune
