// One transformer block under LoRA (see lora_layer.h).
#include "finetune/lora_layer.h"

#include "finetune/lora_latent_attention.h"
#include "train/layers.h"

namespace frugal::finetune {

namespace {

// The dense FFN: f = down(swiglu(gate xn2, up xn2)).
void ffn_forward(const LoraPass& p, int64_t il, LayerActs& a, F& f) {
  const int64_t FF = p.c.n_ff;
  p.linear(il, kGate, a.xn2.data(), a.g, a.ax[kGate]);
  p.linear(il, kUp, a.xn2.data(), a.u, a.ax[kUp]);
  a.h = zeros(p.T * FF);
  train::swiglu_forward(a.g.data(), a.u.data(), a.h.data(), p.T * FF);
  p.linear(il, kDown, a.h.data(), f, a.ax[kDown]);
}

// d_xn2 += the gradient from d_f through it.
void ffn_backward(const LoraPass& p, int64_t il, const LayerActs& a, const F& d_f, F& d_xn2) {
  const int64_t FF = p.c.n_ff;
  F d_h = zeros(p.T * FF), d_g = zeros(p.T * FF), d_u = zeros(p.T * FF);
  p.linear_back(il, kDown, a.h.data(), a.ax[kDown], d_f.data(), d_h.data());
  train::swiglu_backward(d_h.data(), a.g.data(), a.u.data(), d_g.data(), d_u.data(), p.T * FF);
  p.linear_back(il, kGate, a.xn2.data(), a.ax[kGate], d_g.data(), d_xn2.data());
  p.linear_back(il, kUp, a.xn2.data(), a.ax[kUp], d_u.data(), d_xn2.data());
}

}  // namespace

void layer_forward(const LoraPass& p, int64_t il, LayerActs& a, F& x) {
  const model::ModelConfig& c = p.c;
  const model::LayerWeights& L = p.W.layers[static_cast<size_t>(il)];
  a.x = x;
  p.rmsnorm(x.data(), L.attn_norm.data, p.T, c.n_embd, a.xn1, a.rstd1);
  if (c.layer_is_recurrent(il)) {
    delta_net_forward(p, il, a.xn1, a.dn, a.ax, x);
  } else if (c.is_mla()) {
    latent_attention_forward(p, il, a.xn1, a.mla, a.ax, x);
  } else {
    attention_forward(p, il, a.xn1, a.attn, a.ax, x);
  }
  a.x_mid = x;
  p.rmsnorm(x.data(), L.ffn_norm.data, p.T, c.n_embd, a.xn2, a.rstd2);
  F f;
  if (c.layer_is_moe(il)) {
    moe_forward(p, il, a.xn2, a.moe, a.ax, f);
  } else {
    ffn_forward(p, il, a, f);
  }
  for (size_t i = 0; i < x.size(); ++i) x[i] += f[i];
}

void layer_backward(const LoraPass& p, int64_t il, LayerActs& a, F& d_x) {
  const model::ModelConfig& c = p.c;
  const model::LayerWeights& L = p.W.layers[static_cast<size_t>(il)];
  const int64_t T = p.T, D = c.n_embd;
  F d_w = zeros(D);  // norm weights are frozen: their gradients are dropped here
  // FFN: x_out = x_mid + ffn(xn2).
  F d_xn2 = zeros(T * D);
  if (c.layer_is_moe(il)) {
    moe_backward(p, il, a.xn2, a.moe, a.ax, d_x.data(), d_xn2.data());
  } else {
    ffn_backward(p, il, a, d_x, d_xn2);
  }
  train::rmsnorm_backward(d_xn2.data(), a.x_mid.data(), L.ffn_norm.data, a.rstd2.data(), d_x.data(), d_w.data(), T,
                          D);
  // Attention: x_mid = x + attention(xn1).
  F d_xn1 = zeros(T * D);
  if (c.layer_is_recurrent(il)) {
    delta_net_backward(p, il, a.xn1, a.dn, a.ax, d_x, d_xn1);
  } else if (c.is_mla()) {
    latent_attention_backward(p, il, a.xn1, a.mla, a.ax, d_x, d_xn1);
  } else {
    attention_backward(p, il, a.xn1, a.attn, a.ax, d_x, d_xn1);
  }
  train::rmsnorm_backward(d_xn1.data(), a.x.data(), L.attn_norm.data, a.rstd1.data(), d_x.data(), d_w.data(), T, D);
}

}  // namespace frugal::finetune
