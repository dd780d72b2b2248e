#include "train/transformer.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "base/error.h"
#include "kernels/ops.h"
#include "model/forward_layers.h"
#include "train/layers.h"
#include "train/mla.h"

namespace frugal::train {

namespace {
using Buf = std::vector<float>;
size_t sz(int64_t n) { return static_cast<size_t>(n); }

// y (n rows of d) += b (qwen2moe's q/k/v biases); its backward sums d_y's rows.
void add_bias(float* y, const float* b, int64_t n, int64_t d) {
  for (int64_t r = 0; r < n; ++r)
    for (int64_t i = 0; i < d; ++i) y[r * d + i] += b[i];
}
void bias_backward(const float* d_y, float* d_b, int64_t n, int64_t d) {
  for (int64_t r = 0; r < n; ++r)
    for (int64_t i = 0; i < d; ++i) d_b[i] += d_y[r * d + i];
}

// The q/k RMSNorm's rows over N tokens: one per head (qwen3moe: each head's
// head_dim values) or one per token (olmoe: the whole q and k vectors).
struct QkNormShape {
  int64_t q_rows, q_width, k_rows, k_width;
};
QkNormShape qk_norm_shape(const model::ModelConfig& c, int64_t N) {
  if (c.qk_norm == model::QkNorm::kWhole) return {N, c.n_embd_q(), N, c.n_embd_k()};
  return {N * c.n_head, c.head_dim, N * c.n_head_kv, c.head_dim};
}

// The FFN every row of a layer goes through, if any: a dense layer's
// (deepseek2's leading layers) or the shared expert (gate_inp: qwen2moe's
// sigmoid gate; null: deepseek2's, added as it is).
struct AlwaysOnFfn {
  float *gate = nullptr, *up = nullptr, *down = nullptr, *gate_inp = nullptr;
  int64_t width = 0;
};
AlwaysOnFfn always_on_ffn(const model::ModelConfig& c, const LayerView& P) {
  if (P.ffn_gate) return {P.ffn_gate, P.ffn_up, P.ffn_down, nullptr, c.n_ff};
  if (P.gate_shexp) return {P.gate_shexp, P.up_shexp, P.down_shexp, P.shexp_gate_inp, c.n_ff_shexp};
  return {};
}
}  // namespace

// What one layer's forward pass keeps for its backward pass.
struct LayerActs {
  Buf x_in;                    // N x D: residual stream entering the layer
  Buf attn_rstd, attn_normed;  // N; N x D
  Buf q_pre, q_rstd, q;        // N x Q before q-norm; N x Hq (per head) or N; normed and rotated
  Buf k_pre, k_rstd, k;        // N x K, N x Hkv, N x K
  Buf v;                       // N x K
  Buf lse;                     // n_seq x Hq x t: log of each softmax's denominator (train/attention.h)
  Buf att;                     // N x Q attention output (before attn_output)
  Buf x_mid;                   // N x D: residual after attention
  Buf ffn_rstd, ffn_normed;    // N; N x D
  MlaActs mla;                 // deepseek2's latent attention (instead of q..att above)
  Buf router_logits;                     // N x E
  Buf router_probs, router_lse;          // N x E scores (softmax or sigmoid); N logsumexp of the logits
  Buf router_psum;                       // N: sum of the sigmoid scores (sigmoid routers)
  std::vector<int32_t> sel_expert;       // N x k chosen experts
  Buf sel_weight;                        // N x k renormalised weights
  Buf sel_sum;                           // N: sum of the chosen probabilities
  std::vector<int64_t> slot_of;          // N x k: position of (row, j) in expert order
  std::vector<int64_t> slot_row;         // N*k slots in expert order: the row
  std::vector<int64_t> expert_begin;     // E + 1 offsets into the slots
  std::vector<double> load_share;        // E: f_e (for the aux-loss gradient)
  Buf slot_x;                  // N*k x D: ffn_normed rows gathered in expert order
  Buf gate_pre, up_pre, h;     // N*k x F
  Buf expert_out;              // N*k x D: each slot's expert output (unweighted)
  // The FFN every row goes through: a shared expert (qwen2moe, deepseek2) or
  // a dense layer's FFN (deepseek2's leading layers).
  Buf sh_gate_pre, sh_up_pre, sh_h;  // N x its width
  Buf sh_out;                  // N x D: its output (unscaled)
  Buf sh_scale;                // N: sigmoid(ffn_normed . ffn_gate_inp_shexp) (qwen2moe), else 1
};

struct Transformer::Acts {
  std::vector<LayerActs> layers;
  std::vector<int32_t> tokens, targets, pos;
  Buf x_final, final_rstd, final_normed;  // N x D, N, N x D
  Buf logits, probs;                      // N x V
  Buf rope;                               // t x head_dim
  bool has_targets = false;
  RouterOptions opts;
  // Backward scratch, shared by the layers.
  Buf d_resid, d_normed, d_att, d_q, d_k, d_v, d_q_pre, d_k_pre, d_router, d_slot_y, d_h, d_gate, d_up, d_slot_x;
  Buf d_sh_out, d_sh_h, d_sh_gate, d_sh_up;
};

Transformer::Transformer(const ParamLayout& layout, int64_t n_seq, int64_t t, ThreadPool* pool)
    : layout_(layout), n_seq_(n_seq), t_(t), pool_(pool), a_(std::make_unique<Acts>()) {
  const model::ModelConfig& c = layout.config();
  if (n_seq <= 0 || t <= 0) fail("train: batch and sequence length must be positive");
  if (t > c.n_ctx_train) fail("train: sequence length ", t, " exceeds the model's context ", c.n_ctx_train);
  const int64_t N = n_seq * t, D = c.n_embd, Q = c.n_embd_q(), K = c.n_embd_k(), E = c.n_expert,
                k = c.n_expert_used, F = c.n_ff_exp, V = c.n_vocab;
  Acts& a = *a_;
  a.layers.resize(sz(c.n_layer));
  for (int64_t il = 0; il < c.n_layer; ++il) {
    LayerActs& L = a.layers[sz(il)];
    L.x_in.resize(sz(N * D));
    L.attn_rstd.resize(sz(N));
    L.attn_normed.resize(sz(N * D));
    if (!c.is_mla()) {  // mla_forward sizes its own
      L.q_pre.resize(sz(N * Q));
      L.q_rstd.resize(sz(N * c.n_head));
      L.q.resize(sz(N * Q));
      L.k_pre.resize(sz(N * K));
      L.k_rstd.resize(sz(N * c.n_head_kv));
      L.k.resize(sz(N * K));
      L.v.resize(sz(N * K));
      L.lse.resize(sz(n_seq * c.n_head * t));
      L.att.resize(sz(N * Q));
    }
    L.x_mid.resize(sz(N * D));
    L.ffn_rstd.resize(sz(N));
    L.ffn_normed.resize(sz(N * D));
    if (c.layer_is_moe(il)) {
      L.router_logits.resize(sz(N * E));
      L.router_probs.resize(sz(N * E));
      L.router_lse.resize(sz(N));
      L.router_psum.resize(sz(N));
      L.sel_expert.resize(sz(N * k));
      L.sel_weight.resize(sz(N * k));
      L.sel_sum.resize(sz(N));
      L.slot_of.resize(sz(N * k));
      L.slot_row.resize(sz(N * k));
      L.expert_begin.resize(sz(E + 1));
      L.load_share.resize(sz(E));
      L.slot_x.resize(sz(N * k * D));
      L.gate_pre.resize(sz(N * k * F));
      L.up_pre.resize(sz(N * k * F));
      L.h.resize(sz(N * k * F));
      L.expert_out.resize(sz(N * k * D));
    }
    const int64_t Fs = c.layer_is_moe(il) ? c.n_ff_shexp : c.n_ff;
    if (Fs > 0) {
      L.sh_gate_pre.resize(sz(N * Fs));
      L.sh_up_pre.resize(sz(N * Fs));
      L.sh_h.resize(sz(N * Fs));
      L.sh_out.resize(sz(N * D));
      L.sh_scale.assign(sz(N), 1.0f);
    }
  }
  a.tokens.resize(sz(N));
  a.targets.resize(sz(N));
  a.pos.resize(sz(N));
  for (int64_t r = 0; r < N; ++r) a.pos[sz(r)] = static_cast<int32_t>(r % t);
  a.x_final.resize(sz(N * D));
  a.final_rstd.resize(sz(N));
  a.final_normed.resize(sz(N * D));
  a.logits.resize(sz(N * V));
  a.probs.resize(sz(N * V));
  // The rotation angles of positions 0..t-1 as inference computes them
  // (model::rope_params: YaRN included), rope_dim/2 (cos, sin) pairs each.
  const kernels::RopeParams rp = model::rope_params(c);
  a.rope.resize(sz(t * c.rope_dim));
  for (int64_t p = 0; p < t; ++p) kernels::rope_angles(rp, p, a.rope.data() + p * c.rope_dim);
}

Transformer::~Transformer() = default;

const float* Transformer::logits() const { return a_->logits.data(); }

namespace {

// Router for one layer: scores p (softmax of the logits, or their sigmoid
// for DeepSeek-V3's router); the top-k experts chosen as inference chooses
// them (model::route_row: p + the selection bias, group limits); weights
// scale * p_j, divided by the sum of the chosen p where the architecture
// renormalises; the expert-ordered slot lists. The aux loss balances the
// normalised scores q (q = p for softmax, p / sum p for sigmoid). Returns the
// layer's aux and z losses (before their coefficients) and fills the token
// counts and the entropy of q.
void route(const model::ModelConfig& c, const float* router_logits, const float* bias, LayerActs& L, int64_t N,
           double& aux, double& z, std::vector<int64_t>& counts, double& entropy, uint64_t& hash) {
  const int64_t E = c.n_expert, k = c.n_expert_used;
  const bool sigmoid = c.gating == model::GatingFunc::kSigmoid;
  std::vector<double> mean_q(sz(E), 0.0);
  std::vector<int32_t> chosen_e(sz(k));
  std::vector<float> unused_w(sz(k));
  counts.assign(sz(E), 0);
  double z_sum = 0.0, ent_sum = 0.0;
  std::copy(router_logits, router_logits + N * E, L.router_logits.begin());
  for (int64_t r = 0; r < N; ++r) {
    const float* lr = router_logits + r * E;
    float* pr = L.router_probs.data() + r * E;
    float mx = lr[0];
    for (int64_t e = 1; e < E; ++e) mx = std::max(mx, lr[e]);
    double sum = 0.0;
    for (int64_t e = 0; e < E; ++e) sum += std::exp(static_cast<double>(lr[e] - mx));
    const double lse = mx + std::log(sum);
    L.router_lse[sz(r)] = static_cast<float>(lse);
    z_sum += lse * lse;
    double psum = 0.0;
    for (int64_t e = 0; e < E; ++e) {
      pr[e] = sigmoid ? static_cast<float>(1.0 / (1.0 + std::exp(-static_cast<double>(lr[e]))))
                      : static_cast<float>(std::exp(static_cast<double>(lr[e]) - lse));
      psum += pr[e];
    }
    L.router_psum[sz(r)] = sigmoid ? static_cast<float>(psum) : 1.0f;
    for (int64_t e = 0; e < E; ++e) {
      const double q = sigmoid ? pr[e] / psum : pr[e];
      mean_q[sz(e)] += q;
      if (q > 0.0) ent_sum -= q * std::log(q);
    }
    model::route_row(c, lr, bias, chosen_e.data(), unused_w.data());
    float chosen = 0.0f;
    for (int64_t j = 0; j < k; ++j) chosen += pr[chosen_e[sz(j)]];
    if (!c.expert_weights_norm) chosen = 1.0f;
    L.sel_sum[sz(r)] = chosen;
    for (int64_t j = 0; j < k; ++j) {
      const int32_t e = chosen_e[sz(j)];
      L.sel_expert[sz(r * k + j)] = e;
      L.sel_weight[sz(r * k + j)] = c.expert_weights_scale * pr[e] / chosen;
      ++counts[sz(e)];
      hash = (hash ^ static_cast<uint64_t>(e + 1)) * 0x100000001B3ull;
    }
  }
  // Slots in expert order (rows ascending within an expert).
  L.expert_begin[0] = 0;
  for (int64_t e = 0; e < E; ++e) L.expert_begin[sz(e + 1)] = L.expert_begin[sz(e)] + counts[sz(e)];
  std::vector<int64_t> fill(L.expert_begin.begin(), L.expert_begin.end() - 1);
  for (int64_t r = 0; r < N; ++r)
    for (int64_t j = 0; j < k; ++j) {
      const int64_t slot = fill[sz(L.sel_expert[sz(r * k + j)])]++;
      L.slot_of[sz(r * k + j)] = slot;
      L.slot_row[sz(slot)] = r;
    }
  aux = 0.0;
  for (int64_t e = 0; e < E; ++e) {
    L.load_share[sz(e)] = static_cast<double>(counts[sz(e)]) / static_cast<double>(N * k);
    aux += L.load_share[sz(e)] * (mean_q[sz(e)] / static_cast<double>(N));
  }
  aux *= static_cast<double>(E);
  z = z_sum / static_cast<double>(N);
  entropy = ent_sum / static_cast<double>(N);
}

}  // namespace

namespace {

// The (non-latent) attention of norm(x_in): q/k/v projections (+ biases),
// q/k norm, RoPE, causal softmax attention, output projection into out.
void attention_forward_block(const model::ModelConfig& c, LayerActs& L, const LayerView& P,
                             const Transformer::Acts& a, const AttentionShape& as, int64_t N, float* out,
                             ThreadPool* pool) {
  const int64_t D = c.n_embd, Q = c.n_embd_q(), K = c.n_embd_k(), hd = c.head_dim;
  linear_forward(L.attn_normed.data(), P.wq, L.q_pre.data(), N, D, Q);
  linear_forward(L.attn_normed.data(), P.wk, L.k_pre.data(), N, D, K);
  linear_forward(L.attn_normed.data(), P.wv, L.v.data(), N, D, K);
  if (P.bq) {
    add_bias(L.q_pre.data(), P.bq, N, Q);
    add_bias(L.k_pre.data(), P.bk, N, K);
    add_bias(L.v.data(), P.bv, N, K);
  }
  if (P.q_norm) {
    const QkNormShape qs = qk_norm_shape(c, N);
    rmsnorm_forward(L.q_pre.data(), P.q_norm, L.q.data(), L.q_rstd.data(), qs.q_rows, qs.q_width, c.norm_eps, pool);
    rmsnorm_forward(L.k_pre.data(), P.k_norm, L.k.data(), L.k_rstd.data(), qs.k_rows, qs.k_width, c.norm_eps, pool);
  } else {
    L.q = L.q_pre;
    L.k = L.k_pre;
  }
  const bool neox = c.rope_layout == model::RopeLayout::kNeox;
  rope_forward(L.q.data(), a.pos.data(), a.rope.data(), N, c.n_head, hd, neox, pool);
  rope_forward(L.k.data(), a.pos.data(), a.rope.data(), N, c.n_head_kv, hd, neox, pool);
  attention_forward(as, L.q.data(), L.k.data(), L.v.data(), L.lse.data(), L.att.data(), pool);
  linear_forward(L.att.data(), P.wo, out, N, Q, D);
}

// Each routed expert over the rows routed to it (gathered in expert order).
void experts_forward(const model::ModelConfig& c, LayerActs& L, const LayerView& P, int64_t N, ThreadPool* pool) {
  const int64_t D = c.n_embd, E = c.n_expert, k = c.n_expert_used, F = c.n_ff_exp;
  for (int64_t s = 0; s < N * k; ++s)
    std::memcpy(L.slot_x.data() + s * D, L.ffn_normed.data() + L.slot_row[sz(s)] * D, sz(D) * sizeof(float));
  // One task an expert (its rows' slices are its own): small experts
  // still fill the cores, each with one thread's products.
  run_product_tasks(pool, E, [&](int64_t e) {
    const int64_t s0 = L.expert_begin[sz(e)], n_e = L.expert_begin[sz(e + 1)] - s0;
    if (n_e == 0) return;
    linear_forward(L.slot_x.data() + s0 * D, P.gate_exps + e * F * D, L.gate_pre.data() + s0 * F, n_e, D, F);
    linear_forward(L.slot_x.data() + s0 * D, P.up_exps + e * F * D, L.up_pre.data() + s0 * F, n_e, D, F);
    swiglu_forward(L.gate_pre.data() + s0 * F, L.up_pre.data() + s0 * F, L.h.data() + s0 * F, n_e * F);
    linear_forward(L.h.data() + s0 * F, P.down_exps + e * D * F, L.expert_out.data() + s0 * D, n_e, F, D);
  });
}

// The FFN every row goes through, and its sigmoid gate (qwen2moe) if any.
void always_on_ffn_forward(const AlwaysOnFfn& f, LayerActs& L, int64_t N, int64_t D, ThreadPool* pool) {
  const int64_t Fs = f.width;
  linear_forward(L.ffn_normed.data(), f.gate, L.sh_gate_pre.data(), N, D, Fs);
  linear_forward(L.ffn_normed.data(), f.up, L.sh_up_pre.data(), N, D, Fs);
  swiglu_forward(L.sh_gate_pre.data(), L.sh_up_pre.data(), L.sh_h.data(), N * Fs, pool);
  linear_forward(L.sh_h.data(), f.down, L.sh_out.data(), N, Fs, D);
  if (f.gate_inp)
    for (int64_t r = 0; r < N; ++r) {
      float dot = 0.0f;
      for (int64_t i = 0; i < D; ++i) dot += L.ffn_normed[sz(r * D + i)] * f.gate_inp[i];
      L.sh_scale[sz(r)] = 1.0f / (1.0f + std::exp(-dot));
    }
}

// x_out = x_mid + s y_s + sum_j w_j y_j, row by row.
void add_ffn_outputs(const model::ModelConfig& c, const LayerActs& L, bool routed, bool always_on, int64_t N,
                     float* x_out) {
  const int64_t D = c.n_embd, k = c.n_expert_used;
  for (int64_t r = 0; r < N; ++r) {
    float* xo = x_out + r * D;
    std::memcpy(xo, L.x_mid.data() + r * D, sz(D) * sizeof(float));
    if (always_on) {
      const float sc = L.sh_scale[sz(r)];
      const float* ys = L.sh_out.data() + r * D;
      for (int64_t i = 0; i < D; ++i) xo[i] += sc * ys[i];
    }
    for (int64_t j = 0; routed && j < k; ++j) {
      const float w = L.sel_weight[sz(r * k + j)];
      const float* y = L.expert_out.data() + L.slot_of[sz(r * k + j)] * D;
      for (int64_t i = 0; i < D; ++i) xo[i] += w * y[i];
    }
  }
}

}  // namespace

ForwardResult Transformer::forward(const float* params, const float* selection_bias, const int32_t* tokens,
                                   const int32_t* targets, const RouterOptions& opts) {
  const model::ModelConfig& c = layout_.config();
  Acts& a = *a_;
  const ModelView W = layout_.view(const_cast<float*>(params));
  const int64_t N = n_seq_ * t_, D = c.n_embd, E = c.n_expert, V = c.n_vocab;
  for (int64_t r = 0; r < N; ++r) {
    if (tokens[r] < 0 || tokens[r] >= V) fail("train: token id ", tokens[r], " out of range (vocab ", V, ")");
    if (targets && (targets[r] < 0 || targets[r] >= V))
      fail("train: target id ", targets[r], " out of range (vocab ", V, ")");
  }
  std::copy(tokens, tokens + N, a.tokens.begin());
  a.has_targets = targets != nullptr;
  if (targets) std::copy(targets, targets + N, a.targets.begin());
  a.opts = opts;
  ForwardResult res;
  res.routing_hash = 0xCBF29CE484222325ull;
  res.expert_tokens.resize(sz(c.n_layer));
  res.router_entropy.resize(sz(c.n_layer));

  // Embedding.
  float* x = a.layers.empty() ? a.x_final.data() : a.layers[0].x_in.data();
  for (int64_t r = 0; r < N; ++r) std::memcpy(x + r * D, W.token_embd + tokens[r] * D, sz(D) * sizeof(float));

  const AttentionShape as{n_seq_, t_, c.n_head, c.n_head_kv, c.head_dim, model::attention_scale(c)};
  const MlaShape ms{n_seq_, t_, a.pos.data(), a.rope.data()};
  Buf router_logits(sz(N * E)), attn_proj(sz(N * D));
  for (int64_t il = 0; il < c.n_layer; ++il) {
    LayerActs& L = a.layers[sz(il)];
    const LayerView& P = W.layers[sz(il)];
    // Attention block: x_mid = x_in + attention(norm(x_in)).
    rmsnorm_forward(L.x_in.data(), P.attn_norm, L.attn_normed.data(), L.attn_rstd.data(), N, D, c.norm_eps, pool_);
    if (c.is_mla()) {
      mla_forward(c, f32_mla_products(c, P, nullptr), ms, L.attn_normed.data(), L.mla, attn_proj.data(), pool_);
    } else {
      attention_forward_block(c, L, P, a, as, N, attn_proj.data(), pool_);
    }
    for (int64_t i = 0; i < N * D; ++i) L.x_mid[sz(i)] = L.x_in[sz(i)] + attn_proj[sz(i)];

    // FFN block: x_out = x_mid + sum_j w_j y_j (routed experts) + s y_s (the
    // FFN every row goes through).
    rmsnorm_forward(L.x_mid.data(), P.ffn_norm, L.ffn_normed.data(), L.ffn_rstd.data(), N, D, c.norm_eps, pool_);
    if (P.router) {
      linear_forward(L.ffn_normed.data(), P.router, router_logits.data(), N, D, E);
      double aux = 0.0, z = 0.0;
      route(c, router_logits.data(), selection_bias ? selection_bias + il * E : nullptr, L, N, aux, z,
            res.expert_tokens[sz(il)], res.router_entropy[sz(il)], res.routing_hash);
      res.aux_loss += opts.aux_coef * aux;
      res.z_loss += opts.z_coef * z;
      experts_forward(c, L, P, N, pool_);
    } else {
      res.expert_tokens[sz(il)].assign(sz(E), 0);  // a dense layer routes nothing
    }
    const AlwaysOnFfn ao = always_on_ffn(c, P);
    if (ao.width > 0) always_on_ffn_forward(ao, L, N, D, pool_);
    float* x_out = il + 1 < c.n_layer ? a.layers[sz(il + 1)].x_in.data() : a.x_final.data();
    add_ffn_outputs(c, L, P.router != nullptr, ao.width > 0, N, x_out);
  }

  rmsnorm_forward(a.x_final.data(), W.output_norm, a.final_normed.data(), a.final_rstd.data(), N, D, c.norm_eps, pool_);
  linear_forward(a.final_normed.data(), W.output, a.logits.data(), N, D, V);
  if (targets) res.ce_loss = cross_entropy_forward(a.logits.data(), targets, a.probs.data(), N, V, pool_) / static_cast<double>(N);
  return res;
}

namespace {

// Backward of the routed experts: slot gradients d_slot_y (from the router's
// backward) through each expert's down, SwiGLU, gate and up, the input rows'
// gradients scattered back into d_normed.
void experts_backward(const model::ModelConfig& c, const LayerActs& L, const LayerView& P, const LayerView& GP,
                      Transformer::Acts& a, int64_t N, ThreadPool* pool) {
  const int64_t D = c.n_embd, E = c.n_expert, k = c.n_expert_used, F = c.n_ff_exp;
  a.d_slot_x.assign(sz(N * k * D), 0.0f);
  a.d_h.assign(sz(N * k * F), 0.0f);
  a.d_gate.resize(sz(N * k * F));
  a.d_up.resize(sz(N * k * F));
  run_product_tasks(pool, E, [&](int64_t e) {
    const int64_t s0 = L.expert_begin[sz(e)], n_e = L.expert_begin[sz(e + 1)] - s0;
    if (n_e == 0) return;
    linear_backward(a.d_slot_y.data() + s0 * D, L.h.data() + s0 * F, P.down_exps + e * D * F, a.d_h.data() + s0 * F,
                    GP.down_exps + e * D * F, n_e, F, D);
    swiglu_backward(a.d_h.data() + s0 * F, L.gate_pre.data() + s0 * F, L.up_pre.data() + s0 * F,
                    a.d_gate.data() + s0 * F, a.d_up.data() + s0 * F, n_e * F);
    linear_backward(a.d_gate.data() + s0 * F, L.slot_x.data() + s0 * D, P.gate_exps + e * F * D,
                    a.d_slot_x.data() + s0 * D, GP.gate_exps + e * F * D, n_e, D, F);
    linear_backward(a.d_up.data() + s0 * F, L.slot_x.data() + s0 * D, P.up_exps + e * F * D,
                    a.d_slot_x.data() + s0 * D, GP.up_exps + e * F * D, n_e, D, F);
  });
  for (int64_t s = 0; s < N * k; ++s) {
    float* dn = a.d_normed.data() + L.slot_row[sz(s)] * D;
    const float* dsx = a.d_slot_x.data() + s * D;
    for (int64_t i = 0; i < D; ++i) dn[i] += dsx[i];
  }
}

// Backward of the FFN every row goes through (shared expert or dense FFN):
// d_out (the layer output's gradient) through its scale (and gate), down,
// SwiGLU, gate and up, into d_normed.
void always_on_ffn_backward(const AlwaysOnFfn& f, const AlwaysOnFfn& g, const LayerActs& L, Transformer::Acts& a,
                            int64_t N, int64_t D, ThreadPool* pool) {
  const int64_t Fs = f.width;
  a.d_sh_out.resize(sz(N * D));
  scaled_output_backward(a.d_resid.data(), L.sh_out.data(), L.sh_scale.data(), L.ffn_normed.data(), f.gate_inp,
                         a.d_sh_out.data(), a.d_normed.data(), g.gate_inp, N, D);
  a.d_sh_h.assign(sz(N * Fs), 0.0f);
  a.d_sh_gate.resize(sz(N * Fs));
  a.d_sh_up.resize(sz(N * Fs));
  linear_backward(a.d_sh_out.data(), L.sh_h.data(), f.down, a.d_sh_h.data(), g.down, N, Fs, D);
  swiglu_backward(a.d_sh_h.data(), L.sh_gate_pre.data(), L.sh_up_pre.data(), a.d_sh_gate.data(), a.d_sh_up.data(),
                  N * Fs, pool);
  linear_backward(a.d_sh_gate.data(), L.ffn_normed.data(), f.gate, a.d_normed.data(), g.gate, N, D, Fs);
  linear_backward(a.d_sh_up.data(), L.ffn_normed.data(), f.up, a.d_normed.data(), g.up, N, D, Fs);
}

// Backward of the (non-latent) attention from d_resid (the gradient of its
// output projection's result) to d_normed (of the attention norm's output).
void attention_backward_block(const model::ModelConfig& c, const LayerActs& L, const LayerView& P,
                              const LayerView& GP, Transformer::Acts& a, const AttentionShape& as, int64_t N,
                              ThreadPool* pool) {
  const int64_t D = c.n_embd, Q = c.n_embd_q(), K = c.n_embd_k(), hd = c.head_dim;
  a.d_att.assign(sz(N * Q), 0.0f);
  linear_backward(a.d_resid.data(), L.att.data(), P.wo, a.d_att.data(), GP.wo, N, Q, D);
  a.d_q.assign(sz(N * Q), 0.0f);
  a.d_k.assign(sz(N * K), 0.0f);
  a.d_v.assign(sz(N * K), 0.0f);
  attention_backward(as, a.d_att.data(), L.q.data(), L.k.data(), L.v.data(), L.att.data(), L.lse.data(), a.d_q.data(),
                     a.d_k.data(), a.d_v.data(), pool);
  const bool neox = c.rope_layout == model::RopeLayout::kNeox;
  rope_backward(a.d_q.data(), a.pos.data(), a.rope.data(), N, c.n_head, hd, neox, pool);
  rope_backward(a.d_k.data(), a.pos.data(), a.rope.data(), N, c.n_head_kv, hd, neox, pool);
  if (P.q_norm) {
    a.d_q_pre.assign(sz(N * Q), 0.0f);
    a.d_k_pre.assign(sz(N * K), 0.0f);
    const QkNormShape qs = qk_norm_shape(c, N);
    rmsnorm_backward(a.d_q.data(), L.q_pre.data(), P.q_norm, L.q_rstd.data(), a.d_q_pre.data(), GP.q_norm, qs.q_rows,
                     qs.q_width, pool);
    rmsnorm_backward(a.d_k.data(), L.k_pre.data(), P.k_norm, L.k_rstd.data(), a.d_k_pre.data(), GP.k_norm, qs.k_rows,
                     qs.k_width, pool);
  } else {
    a.d_q_pre = a.d_q;
    a.d_k_pre = a.d_k;
  }
  if (P.bq) {
    bias_backward(a.d_q_pre.data(), GP.bq, N, Q);
    bias_backward(a.d_k_pre.data(), GP.bk, N, K);
    bias_backward(a.d_v.data(), GP.bv, N, K);
  }
  linear_backward(a.d_q_pre.data(), L.attn_normed.data(), P.wq, a.d_normed.data(), GP.wq, N, D, Q);
  linear_backward(a.d_k_pre.data(), L.attn_normed.data(), P.wk, a.d_normed.data(), GP.wk, N, D, K);
  linear_backward(a.d_v.data(), L.attn_normed.data(), P.wv, a.d_normed.data(), GP.wv, N, D, K);
}

}  // namespace

void Transformer::backward(const float* params, float* grads, float loss_scale,
                           const std::function<void(int64_t layer)>& done) {
  Acts& a = *a_;
  if (!a.has_targets) fail("train: backward needs a forward pass with targets");
  const model::ModelConfig& c = layout_.config();
  const ModelView W = layout_.view(const_cast<float*>(params));
  const ModelView G = layout_.view(grads);
  const int64_t N = n_seq_ * t_, D = c.n_embd, E = c.n_expert, k = c.n_expert_used, V = c.n_vocab;
  const AttentionShape as{n_seq_, t_, c.n_head, c.n_head_kv, c.head_dim, model::attention_scale(c)};
  const MlaShape ms{n_seq_, t_, a.pos.data(), a.rope.data()};

  // Head: cross-entropy -> logits -> output -> final norm.
  Buf d_logits(sz(N * V));
  cross_entropy_backward(a.probs.data(), a.targets.data(), d_logits.data(), N, V, loss_scale / static_cast<float>(N), pool_);
  a.d_normed.assign(sz(N * D), 0.0f);
  linear_backward(d_logits.data(), a.final_normed.data(), W.output, a.d_normed.data(), G.output, N, D, V);
  a.d_resid.assign(sz(N * D), 0.0f);
  rmsnorm_backward(a.d_normed.data(), a.x_final.data(), W.output_norm, a.final_rstd.data(), a.d_resid.data(),
                   G.output_norm, N, D, pool_);
  if (done) done(kHeadGradients);

  // d_resid holds the gradient of the residual stream leaving the layer; each
  // block's backward adds what flows back through its norm (the identity path
  // keeps the rest), so it leaves as the gradient entering the layer.
  for (int64_t il = c.n_layer - 1; il >= 0; --il) {
    const LayerActs& L = a.layers[sz(il)];
    const LayerView& P = W.layers[sz(il)];
    const LayerView& GP = G.layers[sz(il)];

    // FFN block: x_out = x_mid + sum_j w_j y_j (+ s y_s).
    a.d_normed.assign(sz(N * D), 0.0f);
    if (P.router) {
      a.d_slot_y.assign(sz(N * k * D), 0.0f);
      a.d_router.assign(sz(N * E), 0.0f);
      router_backward(
          RouterBackward{.n = N, .n_expert = E, .k = k, .d = D,
                         .sigmoid = c.gating == model::GatingFunc::kSigmoid, .renormalise = c.expert_weights_norm,
                         .scale = c.expert_weights_scale,
                         .aux_scale = loss_scale * a.opts.aux_coef * static_cast<float>(E) / static_cast<float>(N),
                         .z_scale = loss_scale * a.opts.z_coef * 2.0f / static_cast<float>(N),
                         .probs = L.router_probs.data(), .logits = L.router_logits.data(), .lse = L.router_lse.data(),
                         .psum = L.router_psum.data(), .experts = L.sel_expert.data(), .weights = L.sel_weight.data(),
                         .chosen_sum = L.sel_sum.data(), .slot_of = L.slot_of.data(),
                         .load_share = L.load_share.data(), .expert_out = L.expert_out.data()},
          a.d_resid.data(), a.d_slot_y.data(), a.d_router.data());
      experts_backward(c, L, P, GP, a, N, pool_);
      linear_backward(a.d_router.data(), L.ffn_normed.data(), P.router, a.d_normed.data(), GP.router, N, D, E);
    }
    const AlwaysOnFfn ao = always_on_ffn(c, P);
    if (ao.width > 0) always_on_ffn_backward(ao, always_on_ffn(c, GP), L, a, N, D, pool_);
    rmsnorm_backward(a.d_normed.data(), L.x_mid.data(), P.ffn_norm, L.ffn_rstd.data(), a.d_resid.data(), GP.ffn_norm,
                     N, D, pool_);

    // Attention block: x_mid = x_in + attention(norm(x_in)).
    a.d_normed.assign(sz(N * D), 0.0f);
    if (c.is_mla()) {
      mla_backward(c, f32_mla_products(c, P, &GP), ms, L.attn_normed.data(), L.mla, a.d_resid.data(),
                   a.d_normed.data(), pool_);
    } else {
      attention_backward_block(c, L, P, GP, a, as, N, pool_);
    }
    rmsnorm_backward(a.d_normed.data(), L.x_in.data(), P.attn_norm, L.attn_rstd.data(), a.d_resid.data(),
                     GP.attn_norm, N, D, pool_);
    if (done) done(il);
  }

  // Embedding: each row's gradient goes to its token's row.
  for (int64_t r = 0; r < N; ++r) {
    float* ge = G.token_embd + a.tokens[sz(r)] * D;
    const float* dr = a.d_resid.data() + r * D;
    for (int64_t i = 0; i < D; ++i) ge[i] += dr[i];
  }
}

}  // namespace frugal::train
