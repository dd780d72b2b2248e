// DeepSeek-V4's layers and head under LoRA (see lora_dsv4.h).
#include "finetune/lora_dsv4.h"

#include "train/layers.h"

namespace frugal::finetune {

namespace {

HyperSite attn_site(const model::LayerWeights& L) {
  return {L.hc_attn_fn, L.hc_attn_scale.data, L.hc_attn_base.data};
}
HyperSite ffn_site(const model::LayerWeights& L) { return {L.hc_ffn_fn, L.hc_ffn_scale.data, L.hc_ffn_base.data}; }
HyperSite head_site(const model::ModelWeights& W) {
  return {W.hc_head_fn, W.hc_head_scale.data, W.hc_head_base.data, true};
}

// d_x (set) = the gradient of a sublayer's input streams x from that of its
// output streams d_x_out: through the post and comb mixing, the sublayer
// (back, from the gradient of its output to that of its normalised input),
// its norm, the pre mixing and the site's weights.
template <class Back>
void sublayer_backward(const LoraPass& p, const HyperSite& site, const HyperActs& h, const F& x, const F& y,
                       const float* norm, const F& rstd, const F& out, const F& d_x_out, F& d_x, Back back) {
  const int64_t T = p.T, D = p.c.n_embd;
  HyperGrads g;
  F d_out, d_xn = zeros(T * D), d_y = zeros(T * D), d_w = zeros(D);
  d_x = zeros(T * p.c.n_hc * D);
  hyper_post_backward(p, h, x, out, d_x_out, d_x, d_out, g);
  back(d_out, d_xn);
  train::rmsnorm_backward(d_xn.data(), y.data(), norm, rstd.data(), d_y.data(), d_w.data(), T, D);
  hyper_pre_backward(p, h, x, d_y, d_x, g);
  hyper_weights_backward(p, site, h, x, g, d_x);
}

}  // namespace

void dsv4_forward(const LoraPass& p, const F& x, Dsv4Acts& a, F& h) {
  const model::ModelConfig& c = p.c;
  const int64_t T = p.T, D = c.n_embd, n = c.n_hc;
  F streams = zeros(T * n * D);
  for (int64_t t = 0; t < T; ++t)
    for (int64_t i = 0; i < n; ++i) std::copy_n(x.data() + t * D, D, streams.data() + (t * n + i) * D);
  a.layers.resize(static_cast<size_t>(c.n_layer));
  for (int64_t il = 0; il < c.n_layer; ++il) {
    const model::LayerWeights& L = p.W.layers[static_cast<size_t>(il)];
    Dsv4LayerActs& l = a.layers[static_cast<size_t>(il)];
    l.x = std::move(streams);
    hyper_weights(p, attn_site(L), l.x, l.hc_attn);
    hyper_pre(p, l.hc_attn, l.x, l.y1);
    p.rmsnorm(l.y1.data(), L.attn_norm.data, T, D, l.xn1, l.rstd1);
    dsv4_attention_forward(p, il, l.xn1, l.attn, l.ax, l.out1);
    hyper_post(p, l.hc_attn, l.x, l.out1, l.x_mid);
    hyper_weights(p, ffn_site(L), l.x_mid, l.hc_ffn);
    hyper_pre(p, l.hc_ffn, l.x_mid, l.y2);
    p.rmsnorm(l.y2.data(), L.ffn_norm.data, T, D, l.xn2, l.rstd2);
    moe_forward(p, il, l.xn2, l.moe, l.ax, l.out2);
    hyper_post(p, l.hc_ffn, l.x_mid, l.out2, streams);
  }
  a.x = std::move(streams);
  hyper_weights(p, head_site(p.W), a.x, a.head);
  hyper_pre(p, a.head, a.x, h);
}

void dsv4_backward(const LoraPass& p, Dsv4Acts& a, const F& d_h) {
  const model::ModelConfig& c = p.c;
  F d_x = zeros(p.T * c.n_hc * c.n_embd), d_mid;
  HyperGrads g;
  hyper_pre_backward(p, a.head, a.x, d_h, d_x, g);
  hyper_weights_backward(p, head_site(p.W), a.head, a.x, g, d_x);
  for (int64_t il = c.n_layer - 1; il >= 0; --il) {
    const model::LayerWeights& L = p.W.layers[static_cast<size_t>(il)];
    Dsv4LayerActs& l = a.layers[static_cast<size_t>(il)];
    sublayer_backward(p, ffn_site(L), l.hc_ffn, l.x_mid, l.y2, L.ffn_norm.data, l.rstd2, l.out2, d_x, d_mid,
                      [&](const F& d_out, F& d_xn) {
                        moe_backward(p, il, l.xn2, l.moe, l.ax, d_out.data(), d_xn.data());
                      });
    sublayer_backward(p, attn_site(L), l.hc_attn, l.x, l.y1, L.attn_norm.data, l.rstd1, l.out1, d_mid, d_x,
                      [&](const F& d_out, F& d_xn) {
                        dsv4_attention_backward(p, il, l.xn1, l.attn, l.ax, d_out, d_xn);
                      });
    l = Dsv4LayerActs{};  // its activations are no longer needed
  }
}

}  // namespace frugal::finetune
