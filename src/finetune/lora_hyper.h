// DeepSeek-V4's hyper-connections under LoRA: the residual stream is n_hc
// copies ("streams") of n_embd per row, mixed around each sublayer and at
// the head (model/forward_dsv4.cc describes the forward). The mixing
// matrices (fn) and their scales and bases are frozen; the backward passes
// the gradient through every op between the streams and the sublayers:
// the weightless RMS norm of the flattened streams, fn, the sigmoids, and
// the Sinkhorn iterations of comb, each normalisation differentiated
// exactly (their intermediate matrices kept per row).
#pragma once
#include <cstdint>

#include "finetune/lora_pass.h"

namespace frugal::finetune {

// One mixing site over the example's T rows (streams x: T x n_hc x n_embd):
// the normalised flattened streams and their 1/rms, the mix logits, and
// pre (T x n_hc); a sublayer's site also post (T x n_hc), comb (T x n_hc x
// n_hc, row j = source stream, column i = destination) and the Sinkhorn
// states (per row 2 * iterations matrices: the softmaxed rows plus eps, then
// after each normalisation).
struct HyperActs {
  F normed, rstd, mix, pre, post, comb, states;
};

// A site's weights for streams x: fn (n_mix rows of n_hc * n_embd), its
// scale (3 values; the head's 1) and base. head: the head's site (pre only).
struct HyperSite {
  const kernels::WeightMatrix& fn;
  const float* scale;
  const float* base;
  bool head = false;
};

// The site's mixing weights for streams x.
void hyper_weights(const LoraPass& p, const HyperSite& site, const F& x, HyperActs& a);
// y (T x n_embd) = sum_i pre_i x_i.
void hyper_pre(const LoraPass& p, const HyperActs& a, const F& x, F& y);
// x_out (T x n_hc x n_embd): stream i = post_i out + sum_j comb[j][i] x_j.
void hyper_post(const LoraPass& p, const HyperActs& a, const F& x, const F& out, F& x_out);

// The gradients of a site's weights (T x n_hc, and T x n_hc x n_hc for comb).
struct HyperGrads {
  F pre, post, comb;
};

// d_x += the gradient through x_out = hyper_post(x, out) from d_x_out;
// d_out (T x n_embd) set; g.post and g.comb set.
void hyper_post_backward(const LoraPass& p, const HyperActs& a, const F& x, const F& out, const F& d_x_out, F& d_x,
                         F& d_out, HyperGrads& g);
// d_x += the gradient through y = hyper_pre(x) from d_y; g.pre set.
void hyper_pre_backward(const LoraPass& p, const HyperActs& a, const F& x, const F& d_y, F& d_x, HyperGrads& g);
// d_x += the gradient of the site's weights g through the mixing into the streams.
void hyper_weights_backward(const LoraPass& p, const HyperSite& site, const HyperActs& a, const F& x,
                            const HyperGrads& g, F& d_x);

}  // namespace frugal::finetune
