// The MoE layer under LoRA (see lora_moe.h).
#include "finetune/lora_moe.h"

#include <algorithm>

#include "kernels/ops.h"
#include "model/forward_layers.h"
#include "train/layers.h"

namespace frugal::finetune {

namespace {

// d_logits (T x n_expert) += the gradient of the routing weights d_w (one
// per slot, of the unscaled weight) through the router's gating.
void routing_backward(const model::ModelConfig& c, int64_t T, const MoeActs& a, const std::vector<double>& d_w,
                      float* d_logits) {
  const int64_t E = c.n_expert, K = c.n_expert_used;
  const double ws = c.expert_weights_scale;
  F p(static_cast<size_t>(E)), slope(static_cast<size_t>(K));
  // A score per expert (sigmoid, deepseek4's sqrt(softplus)) and its slope.
  const bool per_expert = c.gating == model::GatingFunc::kSigmoid || c.gating == model::GatingFunc::kSqrtSoftplus;
  auto score = [&](float l, float& d) {
    const float sg = kernels::sigmoid(l);
    if (c.gating == model::GatingFunc::kSigmoid) {
      d = sg * (1.0f - sg);
      return sg;
    }
    const float sp = model::sqrt_softplus(l);  // d sqrt(softplus(l)) / dl = sigmoid(l) / (2 sqrt(softplus(l)))
    d = sg / (2.0f * sp);
    return sp;
  };
  for (int64_t i = 0; i < T; ++i) {
    const double* dwi = d_w.data() + i * K;  // this row's slots
    float* dli = d_logits + i * E;
    if (per_expert) {
      // p_e = score(l_e) per expert, the chosen ones' p the weights, or
      // u_j = p_j / S with S their sum when renormalised:
      // d_p_j = (d_u_j - sum_k u_k d_u_k) / S; d_l_j = score'(l_j) d_p_j.
      double sum = 0, mean = 0;
      for (int64_t j = 0; j < K; ++j) {
        p[j] = score(a.logits[static_cast<size_t>(i * E + a.experts[static_cast<size_t>(i * K + j)])], slope[j]);
        sum += p[j];
      }
      if (c.expert_weights_norm)
        for (int64_t j = 0; j < K; ++j) mean += p[j] / sum * dwi[j];
      for (int64_t j = 0; j < K; ++j) {
        const double dp = c.expert_weights_norm ? (dwi[j] - mean) / sum : dwi[j];
        dli[a.experts[static_cast<size_t>(i * K + j)]] += static_cast<float>(dp * slope[j]);
      }
    } else if (c.expert_weights_norm) {
      // q = softmax over the chosen logits: d_l_j = q_j (d_q_j - sum_k q_k d_q_k).
      double mean = 0;
      for (int64_t j = 0; j < K; ++j) mean += a.weights[static_cast<size_t>(i * K + j)] / ws * dwi[j];
      for (int64_t j = 0; j < K; ++j) {
        const int64_t s = i * K + j;
        dli[a.experts[static_cast<size_t>(s)]] +=
            static_cast<float>(a.weights[static_cast<size_t>(s)] / ws * (dwi[j] - mean));
      }
    } else {
      // p = softmax over every expert, the chosen ones' p the weights:
      // d_l_e = p_e (d_p_e - sum_chosen p_j d_p_j), d_p zero off the chosen.
      std::copy_n(a.logits.data() + i * E, E, p.data());
      kernels::softmax(p.data(), E);
      double mean = 0;
      for (int64_t j = 0; j < K; ++j) mean += p[a.experts[static_cast<size_t>(i * K + j)]] * dwi[j];
      for (int64_t e = 0; e < E; ++e) dli[e] += static_cast<float>(-p[e] * mean);
      for (int64_t j = 0; j < K; ++j) {
        const int32_t e = a.experts[static_cast<size_t>(i * K + j)];
        dli[e] += static_cast<float>(p[e] * dwi[j]);
      }
    }
  }
}

// An expert's gated unit: SwiGLU, gpt-oss's (oai), or deepseek4's clamped
// one (limit > 0): h = min(silu(g), limit) clamp(u, -limit, limit), its
// gradient zero where a clamp holds.
struct GatedUnit {
  bool oai = false;
  float limit = 0.0f;
  bool clamped() const { return !oai && limit >= 1e-6f; }

  void forward(const float* g, const float* u, float* h, int64_t n) const {
    if (oai) {
      kernels::swiglu_oai(g, u, h, n);
    } else if (clamped()) {
      for (int64_t i = 0; i < n; ++i) h[i] = std::min(kernels::silu(g[i]), limit) * std::clamp(u[i], -limit, limit);
    } else {
      train::swiglu_forward(g, u, h, n);
    }
  }

  void backward(const float* d_h, const float* g, const float* u, float* d_g, float* d_u, int64_t n) const {
    if (oai) return train::swiglu_oai_backward(d_h, g, u, d_g, d_u, n, nullptr);
    if (!clamped()) return train::swiglu_backward(d_h, g, u, d_g, d_u, n);
    for (int64_t i = 0; i < n; ++i) {
      const float sg = kernels::sigmoid(g[i]), act = g[i] * sg;
      d_u[i] = u[i] > -limit && u[i] < limit ? d_h[i] * std::min(act, limit) : 0.0f;
      d_g[i] = act < limit ? d_h[i] * std::clamp(u[i], -limit, limit) * sg * (1.0f + g[i] * (1.0f - sg)) : 0.0f;
    }
  }
};

// Layer il's routed experts' unit and its shared experts'.
GatedUnit routed_unit(const model::ModelConfig& c, int64_t il) {
  return {.oai = c.ffn_act == model::FfnActivation::kSwigluOai,
          .limit = c.swiglu_limit_exp.empty() ? 0.0f : c.swiglu_limit_exp[static_cast<size_t>(il)]};
}
GatedUnit shared_unit(const model::ModelConfig& c, int64_t il) {
  return {.limit = c.swiglu_limit_shexp.empty() ? 0.0f : c.swiglu_limit_shexp[static_cast<size_t>(il)]};
}

}  // namespace

// route_row as inference does (a softmax over all experts or a sigmoid per
// expert (glm4moe), top-k of the scores plus the selection bias where the
// layer has one (exp_probs_b: it chooses, never weighs), the chosen scores
// renormalised or not, times expert_weights_scale), then the shared expert
// (qwen2moe: weighed by sigmoid(x . shexp_gate); glm4moe: weight 1).
void moe_forward(const LoraPass& p, int64_t il, const F& xn2, MoeActs& a, Kept& ax, F& f) {
  const model::ModelConfig& c = p.c;
  const model::LayerWeights& L = p.W.layers[static_cast<size_t>(il)];
  const int64_t T = p.T, D = c.n_embd, r = p.r;
  const int64_t E = c.n_expert, K = c.n_expert_used, FE = c.n_ff_exp, FS = c.n_ff_shexp;
  const GatedUnit unit = routed_unit(c, il), shared = shared_unit(c, il);
  const bool on_input = c.expert_weight_on_input;                  // llama4's
  p.linear(il, kRouter, xn2.data(), a.logits, ax[kRouter]);
  if (L.router_bias)  // gpt-oss: frozen, after the adapter as inference adds it
    for (int64_t i = 0; i < T; ++i) kernels::add(L.router_bias.data, a.logits.data() + i * E, E);
  a.experts.assign(static_cast<size_t>(T * K), 0);
  a.weights = zeros(T * K);
  for (int64_t i = 0; i < T; ++i) {
    if (L.tid2eid) {  // deepseek4's hash layers: the token's experts from the table, weighed by their scores
      model::route_row_by_token(c, a.logits.data() + i * E, L.tid2eid + p.tokens[i] * K, a.experts.data() + i * K,
                                a.weights.data() + i * K);
    } else {
      model::route_row(c, a.logits.data() + i * E, L.expert_score_bias.data, a.experts.data() + i * K,
                       a.weights.data() + i * K);
    }
  }
  a.first.assign(static_cast<size_t>(E + 1), 0);
  for (int32_t e : a.experts) ++a.first[static_cast<size_t>(e) + 1];
  for (int64_t e = 0; e < E; ++e) a.first[e + 1] += a.first[e];
  std::vector<int64_t> next(a.first.begin(), a.first.end() - 1);
  a.order.assign(static_cast<size_t>(T * K), 0);
  for (int64_t s = 0; s < T * K; ++s) a.order[static_cast<size_t>(next[a.experts[static_cast<size_t>(s)]]++)] = s;
  a.ex = zeros(T * K * D);
  for (int64_t q = 0; q < T * K; ++q) std::copy_n(xn2.data() + a.order[q] / K * D, D, a.ex.data() + q * D);
  if (on_input)  // llama4: the weight scales the expert's input; its output adds with weight 1
    for (int64_t q = 0; q < T * K; ++q)
      for (int64_t k = 0; k < D; ++k) a.ex[static_cast<size_t>(q * D + k)] *= a.weights[a.order[q]];
  a.eg = zeros(T * K * FE);
  a.eu = zeros(T * K * FE);
  a.eh = zeros(T * K * FE);
  a.ey = zeros(T * K * D);
  for (int t : {kGateEx, kUpEx, kDownEx}) ax[t] = zeros(T * K * r);
  for (int64_t e = 0; e < E; ++e) {
    const int64_t q = a.first[e], m = a.first[e + 1] - q;
    if (m == 0) continue;
    p.product(il, kGateEx, e, a.ex.data() + q * D, m, a.eg.data() + q * FE, ax[kGateEx].data() + q * r);
    p.product(il, kUpEx, e, a.ex.data() + q * D, m, a.eu.data() + q * FE, ax[kUpEx].data() + q * r);
    if (L.gate_exps_b)  // gpt-oss: each expert's frozen biases, before the gated unit
      for (int64_t i = q; i < q + m; ++i) {
        kernels::add(L.gate_exps_b.data + e * FE, a.eg.data() + i * FE, FE);
        kernels::add(L.up_exps_b.data + e * FE, a.eu.data() + i * FE, FE);
      }
    unit.forward(a.eg.data() + q * FE, a.eu.data() + q * FE, a.eh.data() + q * FE, m * FE);
    p.product(il, kDownEx, e, a.eh.data() + q * FE, m, a.ey.data() + q * D, ax[kDownEx].data() + q * r);
    if (L.down_exps_b)  // the output's bias is weighed with it
      for (int64_t i = q; i < q + m; ++i) kernels::add(L.down_exps_b.data + e * D, a.ey.data() + i * D, D);
  }
  f = zeros(T * D);
  for (int64_t q = 0; q < T * K; ++q) {
    const int64_t s = a.order[q];
    kernels::axpy(on_input ? 1.0f : a.weights[static_cast<size_t>(s)], a.ey.data() + q * D, f.data() + s / K * D, D);
  }
  if (FS == 0) return;
  p.linear(il, kGateSh, xn2.data(), a.sg, ax[kGateSh]);
  p.linear(il, kUpSh, xn2.data(), a.su, ax[kUpSh]);
  a.sh = zeros(T * FS);
  shared.forward(a.sg.data(), a.su.data(), a.sh.data(), T * FS);
  p.linear(il, kDownSh, a.sh.data(), a.sy, ax[kDownSh]);
  a.s_weight.assign(static_cast<size_t>(T), 1.0f);
  for (int64_t i = 0; i < T; ++i) {
    if (L.shexp_gate) a.s_weight[i] = kernels::sigmoid(kernels::dot(xn2.data() + i * D, L.shexp_gate.data, D));
    kernels::axpy(a.s_weight[i], a.sy.data() + i * D, f.data() + i * D, D);
  }
}

void moe_backward(const LoraPass& p, int64_t il, const F& xn2, const MoeActs& a, const Kept& ax, const float* d_f,
                  float* d_xn2) {
  const model::ModelConfig& c = p.c;
  const model::LayerWeights& L = p.W.layers[static_cast<size_t>(il)];
  const int64_t T = p.T, D = c.n_embd, r = p.r;
  const int64_t E = c.n_expert, K = c.n_expert_used, FE = c.n_ff_exp, FS = c.n_ff_shexp;
  const GatedUnit unit = routed_unit(c, il), shared = shared_unit(c, il);
  const bool on_input = c.expert_weight_on_input;
  F d_logits = zeros(T * E);
  const double ws = c.expert_weights_scale;
  // Per slot: the gradient of its expert's output (weight times d_f of
  // its row) and of its unscaled routing weight (d_f . the output). On
  // the input (llama4): the output's gradient is d_f, the weight's
  // d_input . the unscaled input, after the experts' backward.
  F d_ey = zeros(T * K * D), d_eh = zeros(T * K * FE), d_eg = zeros(T * K * FE), d_eu = zeros(T * K * FE),
    d_ex = zeros(T * K * D);
  std::vector<double> d_w(static_cast<size_t>(T * K));
  for (int64_t q = 0; q < T * K; ++q) {
    const int64_t s = a.order[q];
    const float* dfi = d_f + s / K * D;
    const float w = on_input ? 1.0f : a.weights[static_cast<size_t>(s)];
    double dw = 0;
    for (int64_t k = 0; k < D; ++k) {
      dw += double(dfi[k]) * a.ey[static_cast<size_t>(q * D + k)];
      d_ey[static_cast<size_t>(q * D + k)] = w * dfi[k];
    }
    d_w[static_cast<size_t>(s)] = dw * ws;
  }
  for (int64_t e = 0; e < E; ++e) {
    const int64_t q = a.first[e], m = a.first[e + 1] - q;
    if (m == 0) continue;
    p.product_back(il, kDownEx, e, a.eh.data() + q * FE, ax[kDownEx].data() + q * r, d_ey.data() + q * D, m,
                   d_eh.data() + q * FE);
    unit.backward(d_eh.data() + q * FE, a.eg.data() + q * FE, a.eu.data() + q * FE, d_eg.data() + q * FE,
                  d_eu.data() + q * FE, m * FE);
    p.product_back(il, kGateEx, e, a.ex.data() + q * D, ax[kGateEx].data() + q * r, d_eg.data() + q * FE, m,
                   d_ex.data() + q * D);
    p.product_back(il, kUpEx, e, a.ex.data() + q * D, ax[kUpEx].data() + q * r, d_eu.data() + q * FE, m,
                   d_ex.data() + q * D);
  }
  for (int64_t q = 0; q < T * K; ++q) {
    const int64_t s = a.order[q];
    if (!on_input) {
      kernels::add(d_ex.data() + q * D, d_xn2 + s / K * D, D);
      continue;
    }
    kernels::axpy(a.weights[static_cast<size_t>(s)], d_ex.data() + q * D, d_xn2 + s / K * D, D);
    d_w[static_cast<size_t>(s)] = kernels::dot(d_ex.data() + q * D, xn2.data() + s / K * D, D) * ws;
  }
  routing_backward(c, T, a, d_w, d_logits.data());
  p.linear_back(il, kRouter, xn2.data(), ax[kRouter], d_logits.data(), d_xn2);
  if (FS == 0) return;
  // f += s_weight y_shared: d_y = s_weight d_f; d_s_weight = d_f . y, and
  // through the sigmoid gate s (1 - s) x . shexp_gate into x.
  F d_sy = zeros(T * D), d_sh = zeros(T * FS), d_sg = zeros(T * FS), d_su = zeros(T * FS);
  for (int64_t i = 0; i < T; ++i) {
    const float sw = a.s_weight[i];
    for (int64_t k = 0; k < D; ++k) d_sy[i * D + k] = sw * d_f[i * D + k];
    if (!L.shexp_gate) continue;
    const double d_s = kernels::dot(d_f + i * D, a.sy.data() + i * D, D);
    kernels::axpy(static_cast<float>(d_s * sw * (1.0 - sw)), L.shexp_gate.data, d_xn2 + i * D, D);
  }
  p.linear_back(il, kDownSh, a.sh.data(), ax[kDownSh], d_sy.data(), d_sh.data());
  shared.backward(d_sh.data(), a.sg.data(), a.su.data(), d_sg.data(), d_su.data(), T * FS);
  p.linear_back(il, kGateSh, xn2.data(), ax[kGateSh], d_sg.data(), d_xn2);
  p.linear_back(il, kUpSh, xn2.data(), ax[kUpSh], d_su.data(), d_xn2);
}

}  // namespace frugal::finetune
