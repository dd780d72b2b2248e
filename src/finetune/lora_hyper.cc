// DeepSeek-V4's hyper-connections under LoRA (see lora_hyper.h).
#include "finetune/lora_hyper.h"

#include <algorithm>

#include "finetune/lora_grad.h"
#include "kernels/matmul.h"
#include "model/forward_layers.h"
#include "train/layers.h"

namespace frugal::finetune {

namespace {

// d_in (set) = the gradient through out = normalise(in): per line with
// S = eps + sum in, d_in_k = d_out_k / S - (sum_k' d_out_k' in_k') / S^2.
void normalise_backward(const float* in, const float* d_out, float* d_in, int64_t n, float eps, bool columns) {
  for (int64_t l = 0; l < n; ++l) {
    auto idx = [&](int64_t k) { return columns ? k * n + l : l * n + k; };
    double sum = eps, dot = 0;
    for (int64_t k = 0; k < n; ++k) {
      sum += in[idx(k)];
      dot += double(d_out[idx(k)]) * in[idx(k)];
    }
    for (int64_t k = 0; k < n; ++k) d_in[idx(k)] = static_cast<float>(d_out[idx(k)] / sum - dot / (sum * sum));
  }
}

int64_t n_mix(const LoraPass& p, const HyperSite& site) {
  const int64_t n = p.c.n_hc;
  return site.head ? n : n * n + 2 * n;
}

}  // namespace

void hyper_weights(const LoraPass& p, const HyperSite& site, const F& x, HyperActs& a) {
  const model::ModelConfig& c = p.c;
  const int64_t T = p.T, n = c.n_hc, w = n * c.n_embd, nm = n_mix(p, site), iters = c.hc_sinkhorn_iters;
  const float eps = c.hc_eps;
  const F ones(static_cast<size_t>(w), 1.0f);
  p.rmsnorm(x.data(), ones.data(), T, w, a.normed, a.rstd);
  a.mix = zeros(T * nm);
  kernels::matmul(site.fn, a.normed.data(), w, T, a.mix.data(), nm, nullptr);
  a.pre = zeros(T * n);
  if (site.head) {
    for (int64_t r = 0; r < T; ++r)
      for (int64_t i = 0; i < n; ++i)
        a.pre[r * n + i] = kernels::sigmoid(a.mix[r * nm + i] * site.scale[0] + site.base[i]) + eps;
    return;
  }
  a.post = zeros(T * n);
  a.comb = zeros(T * n * n);
  a.states = zeros(T * 2 * iters * n * n);
  for (int64_t r = 0; r < T; ++r)
    model::dsv4_hc_weights(c, a.mix.data() + r * nm, site.scale, site.base, a.pre.data() + r * n,
                           a.post.data() + r * n, a.comb.data() + r * n * n, a.states.data() + r * 2 * iters * n * n);
}

void hyper_pre(const LoraPass& p, const HyperActs& a, const F& x, F& y) {
  const int64_t n = p.c.n_hc, d = p.c.n_embd;
  y = zeros(p.T * d);
  for (int64_t r = 0; r < p.T; ++r)
    for (int64_t i = 0; i < n; ++i) kernels::axpy(a.pre[r * n + i], x.data() + (r * n + i) * d, y.data() + r * d, d);
}

void hyper_post(const LoraPass& p, const HyperActs& a, const F& x, const F& out, F& x_out) {
  const int64_t n = p.c.n_hc, d = p.c.n_embd;
  x_out = zeros(p.T * n * d);
  for (int64_t r = 0; r < p.T; ++r)
    for (int64_t i = 0; i < n; ++i) {
      float* xi = x_out.data() + (r * n + i) * d;
      for (int64_t e = 0; e < d; ++e) xi[e] = a.post[r * n + i] * out[r * d + e];
      for (int64_t j = 0; j < n; ++j) kernels::axpy(a.comb[(r * n + j) * n + i], x.data() + (r * n + j) * d, xi, d);
    }
}

void hyper_post_backward(const LoraPass& p, const HyperActs& a, const F& x, const F& out, const F& d_x_out, F& d_x,
                         F& d_out, HyperGrads& g) {
  const int64_t n = p.c.n_hc, d = p.c.n_embd;
  d_out = zeros(p.T * d);
  g.post = zeros(p.T * n);
  g.comb = zeros(p.T * n * n);
  for (int64_t r = 0; r < p.T; ++r)
    for (int64_t i = 0; i < n; ++i) {
      const float* di = d_x_out.data() + (r * n + i) * d;
      kernels::axpy(a.post[r * n + i], di, d_out.data() + r * d, d);
      g.post[r * n + i] = kernels::dot(di, out.data() + r * d, d);
      for (int64_t j = 0; j < n; ++j) {
        g.comb[(r * n + j) * n + i] = kernels::dot(di, x.data() + (r * n + j) * d, d);
        kernels::axpy(a.comb[(r * n + j) * n + i], di, d_x.data() + (r * n + j) * d, d);
      }
    }
}

void hyper_pre_backward(const LoraPass& p, const HyperActs& a, const F& x, const F& d_y, F& d_x, HyperGrads& g) {
  const int64_t n = p.c.n_hc, d = p.c.n_embd;
  g.pre = zeros(p.T * n);
  for (int64_t r = 0; r < p.T; ++r)
    for (int64_t i = 0; i < n; ++i) {
      g.pre[r * n + i] = kernels::dot(d_y.data() + r * d, x.data() + (r * n + i) * d, d);
      kernels::axpy(a.pre[r * n + i], d_y.data() + r * d, d_x.data() + (r * n + i) * d, d);
    }
}

void hyper_weights_backward(const LoraPass& p, const HyperSite& site, const HyperActs& a, const F& x,
                            const HyperGrads& g, F& d_x) {
  const model::ModelConfig& c = p.c;
  const int64_t T = p.T, n = c.n_hc, w = n * c.n_embd, nm = n_mix(p, site), iters = c.hc_sinkhorn_iters;
  const float eps = c.hc_eps;
  F d_mix = zeros(T * nm), d_cur(static_cast<size_t>(n * n)), d_prev(static_cast<size_t>(n * n));
  for (int64_t r = 0; r < T; ++r) {
    float* dm = d_mix.data() + r * nm;
    // pre = sigmoid(.) + eps, post = 2 sigmoid(.): sigmoid' = s (1 - s).
    for (int64_t i = 0; i < n; ++i) {
      const float s = a.pre[r * n + i] - eps;
      dm[i] = g.pre[r * n + i] * s * (1.0f - s) * site.scale[0];
    }
    if (site.head) continue;
    for (int64_t i = 0; i < n; ++i) {
      const float s = a.post[r * n + i] / 2.0f;
      dm[n + i] = g.post[r * n + i] * 2.0f * s * (1.0f - s) * site.scale[1];
    }
    // Sinkhorn in reverse: each normalisation, then the rows' softmax (+ eps).
    const float* st = a.states.data() + r * 2 * iters * n * n;
    std::copy_n(g.comb.data() + r * n * n, n * n, d_cur.data());
    for (int64_t k = 2 * iters - 1; k >= 1; --k) {
      normalise_backward(st + (k - 1) * n * n, d_cur.data(), d_prev.data(), n, eps, model::dsv4_sinkhorn_normalises_columns(k));
      std::swap(d_cur, d_prev);
    }
    for (int64_t j = 0; j < n; ++j) {
      double dot = 0;
      for (int64_t i = 0; i < n; ++i) dot += double(st[j * n + i] - eps) * d_cur[j * n + i];
      for (int64_t i = 0; i < n; ++i)
        dm[2 * n + j * n + i] =
            static_cast<float>((st[j * n + i] - eps) * (d_cur[j * n + i] - dot)) * site.scale[2];
    }
  }
  F d_normed = zeros(T * w), d_ones = zeros(w);
  frozen_linear_backward(site.fn, d_mix.data(), T, d_normed.data());
  const F ones(static_cast<size_t>(w), 1.0f);
  train::rmsnorm_backward(d_normed.data(), x.data(), ones.data(), a.rstd.data(), d_x.data(), d_ones.data(), T, w);
}

}  // namespace frugal::finetune
