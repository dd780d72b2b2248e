// The forward and backward pass of LoRA over a frozen qwen3 base (see
// lora_model.h): activations of one example kept per layer, the backward
// pass in reverse through the frozen norms, attention and FFN (layer
// functions of src/train), the frozen matrices through lora_grad.
#include "finetune/lora_model.h"

#include <cmath>
#include <random>

#include "base/error.h"
#include "finetune/lora_grad.h"
#include "kernels/ops.h"
#include "model/forward_layers.h"
#include "train/layers.h"

namespace frugal::finetune {

namespace {

// The adapted matrices of a layer, in parameter order.
enum Target { kQ, kK, kV, kO, kGate, kUp, kDown, kTargets };
constexpr const char* kTargetNames[kTargets] = {"attn_q", "attn_k", "attn_v", "attn_output",
                                                "ffn_gate", "ffn_up", "ffn_down"};

const kernels::WeightMatrix& base_matrix(const model::LayerWeights& L, int t) {
  const kernels::WeightMatrix* m[kTargets] = {&L.wq, &L.wk, &L.wv, &L.wo, &L.ffn_gate, &L.ffn_up, &L.ffn_down};
  return *m[t];
}

using F = std::vector<float>;
F zeros(int64_t n) { return F(static_cast<size_t>(n), 0.0f); }

}  // namespace

struct LoraModel::Slot {
  std::string target;
  const kernels::WeightMatrix* w = nullptr;
  size_t offset = 0;  // of A in params; B follows
  LoraWeights at(const std::vector<float>& p, float scale) const {
    return {.a = p.data() + offset,
            .b = p.data() + offset + static_cast<size_t>(w->n_in * rank),
            .n_in = w->n_in,
            .n_out = w->n_out,
            .rank = rank,
            .scale = scale};
  }
  int64_t rank = 0;
  bool adapted = false;
};

void parse_targets(const std::string& list, LoraShape& shape) {
  shape.attn = shape.ffn = false;
  size_t begin = 0;
  while (begin <= list.size()) {
    size_t end = list.find(',', begin);
    if (end == std::string::npos) end = list.size();
    const std::string t = list.substr(begin, end - begin);
    begin = end + 1;
    if (t == "attn") {
      shape.attn = true;
    } else if (t == "ffn") {
      shape.ffn = true;
    } else if (t == "shared" || t == "experts" || t == "router") {
      fail("finetune: --targets: '", t, "' is not supported yet (supported: attn, ffn)");
    } else {
      fail("finetune: --targets: unknown target '", t, "' (supported: attn, ffn)");
    }
  }
}

LoraModel::LoraModel(const model::Model& base, const LoraShape& shape) : base_(base), shape_(shape) {
  const model::ModelConfig& c = base.config();
  if (c.arch != "qwen3" && c.arch != "qwen3moe" && c.arch != "llama")
    fail("finetune: architecture '", c.arch, "' is not supported yet (supported: llama, qwen3, qwen3moe)");
  if (c.n_expert > 0 && (c.gating != model::GatingFunc::kSoftmax || !c.expert_weights_norm ||
                               c.expert_weights_scale != 1.0f || c.n_ff_shexp > 0 || c.n_expert_groups > 1))
    fail("finetune: this qwen3moe variant's routing is not supported yet");
  if (c.qk_norm != model::QkNorm::kNone && c.qk_norm != model::QkNorm::kPerHead)
    fail("finetune: this ", c.arch, " variant's q/k normalisation is not supported yet");
  if (shape.rank <= 0) fail("finetune: --rank must be positive");
  if (!shape.attn && !shape.ffn) fail("finetune: no matrices to adapt");
  std::mt19937_64 rng(shape.seed);
  for (int64_t il = 0; il < c.n_layer; ++il)
    for (int t = 0; t < kTargets; ++t) {
      Slot s;
      s.target = "blk." + std::to_string(il) + "." + kTargetNames[t] + ".weight";
      s.w = &base_matrix(base.weights().layers[static_cast<size_t>(il)], t);
      s.rank = shape.rank;
      s.adapted = s.w->data != nullptr && (t < kGate ? shape.attn : shape.ffn);
      if (!s.adapted) {  // not a target, or an MoE layer's dense FFN (absent)
        slots_.push_back(std::move(s));
        continue;
      }
      s.offset = params_.size();
      std::normal_distribution<float> z(0.0f, 1.0f / std::sqrt(static_cast<float>(s.w->n_in)));
      for (int64_t i = 0; i < shape.rank * s.w->n_in; ++i) params_.push_back(z(rng));
      params_.resize(params_.size() + static_cast<size_t>(s.w->n_out * shape.rank), 0.0f);
      slots_.push_back(std::move(s));
    }
  grads_.assign(params_.size(), 0.0f);
}

LoraModel::~LoraModel() = default;

std::vector<model::LoraFactors> LoraModel::factors() const {
  std::vector<model::LoraFactors> out;
  for (const Slot& s : slots_) {
    if (!s.adapted) continue;
    const auto a = params_.begin() + static_cast<std::ptrdiff_t>(s.offset);
    const auto b = a + static_cast<std::ptrdiff_t>(s.w->n_in * s.rank);
    out.push_back({.target = s.target,
                   .n_in = s.w->n_in,
                   .n_out = s.w->n_out,
                   .n_expert = 0,
                   .a = F(a, b),
                   .b = F(b, b + static_cast<std::ptrdiff_t>(s.w->n_out * s.rank))});
  }
  return out;
}

double LoraModel::loss(const SftExample& ex, bool with_grad) {
  const model::ModelConfig& c = base_.config();
  const model::ModelWeights& W = base_.weights();
  const int64_t T = static_cast<int64_t>(ex.tokens.size()), D = c.n_embd, hd = c.head_dim;
  const int64_t H = c.n_head, HK = c.n_head_kv, nq = H * hd, nk = HK * hd, FF = c.n_ff, r = shape_.rank;
  const float scale = shape_.alpha / static_cast<float>(r), eps = c.norm_eps;
  // RoPE as inference applies it (pairing, scaling, frequency factors);
  // backward rotates by the transpose: the same table with sines negated.
  kernels::RopeParams rp = model::rope_params(c);
  rp.freq_factors = W.rope_freqs.data;
  const int64_t rd = c.rope_dim;
  F rope = zeros(T * rd), rope_back = zeros(T * rd);
  for (int64_t i = 0; i < T; ++i) kernels::rope_angles(rp, i, rope.data() + i * rd);
  for (size_t i = 0; i < rope.size(); ++i) rope_back[i] = i % 2 ? -rope[i] : rope[i];
  auto rotate = [&](float* x, int64_t heads, const F& table) {
    for (int64_t i = 0; i < T; ++i)
      for (int64_t h = 0; h < heads; ++h) kernels::rope_apply(rp, table.data() + i * rd, x + (i * heads + h) * hd);
  };
  const bool qk_norm = c.qk_norm == model::QkNorm::kPerHead;
  const train::AttentionShape as{.n_seq = 1, .t = T, .n_head = H, .n_head_kv = HK, .head_dim = hd,
                                 .scale = model::attention_scale(c)};

  // y = W x (+ the adapter), keeping A x for backward.
  auto linear = [&](int64_t il, int t, const float* x, F& y, F& ax) {
    const Slot& s = slots_[static_cast<size_t>(il * kTargets + t)];
    y = zeros(T * s.w->n_out);
    ax = zeros(T * r);
    kernels::matmul(*s.w, x, s.w->n_in, T, y.data(), s.w->n_out, nullptr);
    if (s.adapted) lora_forward(s.at(params_, scale), x, T, ax.data(), y.data());
  };
  // d_x += d_y W (+ the adapter's part); the factors' gradients added.
  auto linear_back = [&](int64_t il, int t, const float* x, const F& ax, const float* d_y, float* d_x) {
    const Slot& s = slots_[static_cast<size_t>(il * kTargets + t)];
    frozen_linear_backward(*s.w, d_y, T, d_x);
    if (!s.adapted) return;
    float* g_a = grads_.data() + s.offset;
    lora_backward(s.at(params_, scale), x, ax.data(), d_y, T, g_a, g_a + s.w->n_in * r, d_x);
  };

  // y = RMSNorm(x) over rows of width, keeping each row's 1/rms for backward.
  auto rmsnorm = [&](const float* x, const float* w, int64_t rows, int64_t width, F& y, F& rstd) {
    y = zeros(rows * width);
    rstd = zeros(rows);
    train::rmsnorm_forward(x, w, y.data(), rstd.data(), rows, width, eps);
  };

  struct Acts {
    F x, xn1, rstd1, q_raw, k_raw, rstd_q, rstd_k, q, k, v, probs, att, x_mid, xn2, rstd2, g, u, h;
    F ax[kTargets];
    // MoE layers: per row, its chosen experts and weights, and per (row,
    // choice) the expert's gate, up, hidden and output rows.
    std::vector<int32_t> experts;
    F weights, eg, eu, eh, ey;
  };
  // The routed experts (frozen): route_row as inference does (softmax,
  // top-k, weights renormalised: a softmax over the chosen logits).
  const int64_t E = c.n_expert, K = c.n_expert_used, FE = c.n_ff_exp;
  auto moe_forward = [&](const model::LayerWeights& L, Acts& a, F& f) {
    F logits = zeros(T * E);
    kernels::matmul(L.router, a.xn2.data(), D, T, logits.data(), E, nullptr);
    a.experts.assign(static_cast<size_t>(T * K), 0);
    a.weights = zeros(T * K);
    a.eg = zeros(T * K * FE);
    a.eu = zeros(T * K * FE);
    a.eh = zeros(T * K * FE);
    a.ey = zeros(T * K * D);
    f = zeros(T * D);
    for (int64_t i = 0; i < T; ++i) {
      model::route_row(c, logits.data() + i * E, nullptr, a.experts.data() + i * K, a.weights.data() + i * K);
      for (int64_t j = 0; j < K; ++j) {
        const int64_t e = a.experts[static_cast<size_t>(i * K + j)], s = i * K + j;
        const float* xi = a.xn2.data() + i * D;
        kernels::matmul(L.gate_exps.expert(e), xi, D, 1, a.eg.data() + s * FE, FE, nullptr);
        kernels::matmul(L.up_exps.expert(e), xi, D, 1, a.eu.data() + s * FE, FE, nullptr);
        train::swiglu_forward(a.eg.data() + s * FE, a.eu.data() + s * FE, a.eh.data() + s * FE, FE);
        kernels::matmul(L.down_exps.expert(e), a.eh.data() + s * FE, FE, 1, a.ey.data() + s * D, D, nullptr);
        kernels::axpy(a.weights[static_cast<size_t>(s)], a.ey.data() + s * D, f.data() + i * D, D);
      }
    }
  };
  // d_xn2 += the gradient of the MoE output d_f through the experts and
  // through the weights into the router's logits.
  auto moe_backward = [&](const model::LayerWeights& L, const Acts& a, const float* d_f, float* d_xn2) {
    F d_logits = zeros(T * E), d_h = zeros(FE), d_g = zeros(FE), d_u = zeros(FE), d_y = zeros(D);
    for (int64_t i = 0; i < T; ++i) {
      const float* dfi = d_f + i * D;
      std::vector<double> d_w(static_cast<size_t>(K));
      double mean = 0;
      for (int64_t j = 0; j < K; ++j) {
        const int64_t s = i * K + j, e = a.experts[static_cast<size_t>(s)];
        const float w = a.weights[static_cast<size_t>(s)];
        double dw = 0;
        for (int64_t k = 0; k < D; ++k) {
          dw += double(dfi[k]) * a.ey[static_cast<size_t>(s * D + k)];
          d_y[static_cast<size_t>(k)] = w * dfi[k];
        }
        d_w[static_cast<size_t>(j)] = dw;
        mean += w * dw;
        std::fill(d_h.begin(), d_h.end(), 0.0f);
        std::fill(d_g.begin(), d_g.end(), 0.0f);
        std::fill(d_u.begin(), d_u.end(), 0.0f);
        frozen_linear_backward(L.down_exps.expert(e), d_y.data(), 1, d_h.data());
        train::swiglu_backward(d_h.data(), a.eg.data() + s * FE, a.eu.data() + s * FE, d_g.data(), d_u.data(), FE);
        frozen_linear_backward(L.gate_exps.expert(e), d_g.data(), 1, d_xn2 + i * D);
        frozen_linear_backward(L.up_exps.expert(e), d_u.data(), 1, d_xn2 + i * D);
      }
      // w = softmax over the chosen logits: d_l_j = w_j (d_w_j - sum_k w_k d_w_k).
      for (int64_t j = 0; j < K; ++j) {
        const int64_t s = i * K + j;
        d_logits[static_cast<size_t>(i * E + a.experts[static_cast<size_t>(s)])] +=
            static_cast<float>(a.weights[static_cast<size_t>(s)] * (d_w[static_cast<size_t>(j)] - mean));
      }
    }
    frozen_linear_backward(L.router, d_logits.data(), T, d_xn2);
  };

  std::vector<Acts> acts(static_cast<size_t>(c.n_layer));
  F x = zeros(T * D);
  for (int64_t i = 0; i < T; ++i) base_.embed(ex.tokens[static_cast<size_t>(i)], x.data() + i * D);
  for (int64_t il = 0; il < c.n_layer; ++il) {
    const model::LayerWeights& L = W.layers[static_cast<size_t>(il)];
    Acts& a = acts[static_cast<size_t>(il)];
    a.x = x;
    rmsnorm(x.data(), L.attn_norm.data, T, D, a.xn1, a.rstd1);
    linear(il, kQ, a.xn1.data(), a.q_raw, a.ax[kQ]);
    linear(il, kK, a.xn1.data(), a.k_raw, a.ax[kK]);
    linear(il, kV, a.xn1.data(), a.v, a.ax[kV]);
    if (qk_norm) {
      rmsnorm(a.q_raw.data(), L.q_norm.data, T * H, hd, a.q, a.rstd_q);
      rmsnorm(a.k_raw.data(), L.k_norm.data, T * HK, hd, a.k, a.rstd_k);
    } else {
      a.q = a.q_raw;
      a.k = a.k_raw;
    }
    rotate(a.q.data(), H, rope);
    rotate(a.k.data(), HK, rope);
    a.probs = zeros(H * T * T);
    a.att = zeros(T * nq);
    train::attention_forward(as, a.q.data(), a.k.data(), a.v.data(), a.probs.data(), a.att.data(), nullptr);
    F o;
    linear(il, kO, a.att.data(), o, a.ax[kO]);
    for (size_t i = 0; i < x.size(); ++i) x[i] += o[i];
    a.x_mid = x;
    rmsnorm(x.data(), L.ffn_norm.data, T, D, a.xn2, a.rstd2);
    F f;
    if (c.layer_is_moe(il)) {
      moe_forward(L, a, f);
    } else {
      linear(il, kGate, a.xn2.data(), a.g, a.ax[kGate]);
      linear(il, kUp, a.xn2.data(), a.u, a.ax[kUp]);
      a.h = zeros(T * FF);
      train::swiglu_forward(a.g.data(), a.u.data(), a.h.data(), T * FF);
      linear(il, kDown, a.h.data(), f, a.ax[kDown]);
    }
    for (size_t i = 0; i < x.size(); ++i) x[i] += f[i];
  }

  // Rows that predict a target token: row i predicts token i + 1.
  std::vector<int64_t> rows;
  std::vector<int32_t> targets;
  for (int64_t i = 0; i + 1 < T; ++i)
    if (ex.target[static_cast<size_t>(i + 1)]) {
      rows.push_back(i);
      targets.push_back(ex.tokens[static_cast<size_t>(i + 1)]);
    }
  const int64_t n = static_cast<int64_t>(rows.size()), V = c.n_vocab;
  if (n == 0) fail("finetune: line ", ex.line, ": no target tokens");
  F xnf, rstdf, sel = zeros(n * D), logits = zeros(n * V), probs = zeros(n * V);
  rmsnorm(x.data(), W.output_norm.data, T, D, xnf, rstdf);
  for (int64_t j = 0; j < n; ++j) std::copy_n(xnf.data() + rows[static_cast<size_t>(j)] * D, D, sel.data() + j * D);
  kernels::matmul(W.output, sel.data(), D, n, logits.data(), V, nullptr);
  const double loss = train::cross_entropy_forward(logits.data(), targets.data(), probs.data(), n, V) /
                      static_cast<double>(n);
  if (!with_grad) return loss;

  // Backward.
  F d_logits = zeros(n * V), d_sel = zeros(n * D), d_xnf = zeros(T * D), d_x = zeros(T * D);
  train::cross_entropy_backward(probs.data(), targets.data(), d_logits.data(), n, V, 1.0f / static_cast<float>(n));
  frozen_linear_backward(W.output, d_logits.data(), n, d_sel.data());
  for (int64_t j = 0; j < n; ++j) std::copy_n(d_sel.data() + j * D, D, d_xnf.data() + rows[static_cast<size_t>(j)] * D);
  F d_w = zeros(std::max(D, hd));  // norm weights are frozen: their gradients are dropped here
  train::rmsnorm_backward(d_xnf.data(), x.data(), W.output_norm.data, rstdf.data(), d_x.data(), d_w.data(), T, D);
  for (int64_t il = c.n_layer - 1; il >= 0; --il) {
    const model::LayerWeights& L = W.layers[static_cast<size_t>(il)];
    Acts& a = acts[static_cast<size_t>(il)];
    // FFN: x_out = x_mid + down(swiglu(gate xn2, up xn2)).
    F d_xn2 = zeros(T * D);
    if (c.layer_is_moe(il)) {
      moe_backward(L, a, d_x.data(), d_xn2.data());
    } else {
      F d_h = zeros(T * FF), d_g = zeros(T * FF), d_u = zeros(T * FF);
      linear_back(il, kDown, a.h.data(), a.ax[kDown], d_x.data(), d_h.data());
      train::swiglu_backward(d_h.data(), a.g.data(), a.u.data(), d_g.data(), d_u.data(), T * FF);
      linear_back(il, kGate, a.xn2.data(), a.ax[kGate], d_g.data(), d_xn2.data());
      linear_back(il, kUp, a.xn2.data(), a.ax[kUp], d_u.data(), d_xn2.data());
    }
    train::rmsnorm_backward(d_xn2.data(), a.x_mid.data(), L.ffn_norm.data, a.rstd2.data(), d_x.data(), d_w.data(), T,
                            D);
    // Attention: x_mid = x + o(attention(rope(norm(q xn1)), rope(norm(k xn1)), v xn1)).
    F d_att = zeros(T * nq), d_q = zeros(T * nq), d_k = zeros(T * nk), d_v = zeros(T * nk);
    linear_back(il, kO, a.att.data(), a.ax[kO], d_x.data(), d_att.data());
    train::attention_backward(as, d_att.data(), a.q.data(), a.k.data(), a.v.data(), a.probs.data(), d_q.data(),
                              d_k.data(), d_v.data(), nullptr);
    rotate(d_q.data(), H, rope_back);
    rotate(d_k.data(), HK, rope_back);
    F d_qr = d_q, d_kr = d_k, d_xn1 = zeros(T * D);
    if (qk_norm) {
      std::fill(d_qr.begin(), d_qr.end(), 0.0f);
      std::fill(d_kr.begin(), d_kr.end(), 0.0f);
      train::rmsnorm_backward(d_q.data(), a.q_raw.data(), L.q_norm.data, a.rstd_q.data(), d_qr.data(), d_w.data(),
                              T * H, hd);
      train::rmsnorm_backward(d_k.data(), a.k_raw.data(), L.k_norm.data, a.rstd_k.data(), d_kr.data(), d_w.data(),
                              T * HK, hd);
    }
    linear_back(il, kQ, a.xn1.data(), a.ax[kQ], d_qr.data(), d_xn1.data());
    linear_back(il, kK, a.xn1.data(), a.ax[kK], d_kr.data(), d_xn1.data());
    linear_back(il, kV, a.xn1.data(), a.ax[kV], d_v.data(), d_xn1.data());
    train::rmsnorm_backward(d_xn1.data(), a.x.data(), L.attn_norm.data, a.rstd1.data(), d_x.data(), d_w.data(), T, D);
  }
  return loss;
}

}  // namespace frugal::finetune
