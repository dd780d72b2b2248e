// The shared products and per-example tables of the LoRA passes (see lora_pass.h).
#include "finetune/lora_pass.h"

#include "kernels/matmul.h"
#include "model/forward_layers.h"
#include "train/layers.h"

namespace frugal::finetune {

LoraPass::LoraPass(const model::ModelConfig& c, const model::ModelWeights& W, const std::vector<LoraSlot>& slots,
                   const std::vector<float>& params, std::vector<float>& grads, const LoraShape& shape,
                   const std::vector<int32_t>& tokens)
    : c(c),
      W(W),
      slots(slots),
      params(params),
      grads(grads),
      tokens(tokens.data()),
      T(static_cast<int64_t>(tokens.size())),
      r(shape.rank),
      scale(shape.alpha / static_cast<float>(shape.rank)),
      rp(model::rope_params(c)) {
  rp.freq_factors = W.rope_freqs.data;
  const int64_t rd = c.rope_dim;
  rope = zeros(T * rd);
  rope_back = zeros(T * rd);
  for (int64_t i = 0; i < T; ++i) kernels::rope_angles(rp, i, rope.data() + i * rd);
  for (size_t i = 0; i < rope.size(); ++i) rope_back[i] = i % 2 ? -rope[i] : rope[i];
}

void LoraPass::product(int64_t il, int t, int64_t e, const float* x, int64_t n, float* y, float* ax) const {
  const LoraSlot& s = slot(il, t);
  const kernels::WeightMatrix we = is_stack(t) ? stack_of(W.layers[static_cast<size_t>(il)], t).expert(e) : s.w;
  kernels::matmul(we, x, we.n_in, n, y, we.n_out, nullptr);
  if (s.adapted) lora_forward(s.at(params, scale, e), x, n, ax, y);
}

void LoraPass::product_back(int64_t il, int t, int64_t e, const float* x, const float* ax, const float* d_y,
                            int64_t n, float* d_x) const {
  const LoraSlot& s = slot(il, t);
  const kernels::WeightMatrix we = is_stack(t) ? stack_of(W.layers[static_cast<size_t>(il)], t).expert(e) : s.w;
  frozen_linear_backward(we, d_y, n, d_x);
  if (!s.adapted) return;
  const LoraWeights lw = s.at(params, scale, e);
  lora_backward(lw, x, ax, d_y, n, grad_of(lw.a), grad_of(lw.b), d_x);
}

void LoraPass::linear(int64_t il, int t, const float* x, F& y, F& ax) const {
  y = zeros(T * slot(il, t).w.n_out);
  ax = zeros(T * r);
  product(il, t, 0, x, T, y.data(), ax.data());
}

void LoraPass::linear_back(int64_t il, int t, const float* x, const F& ax, const float* d_y, float* d_x) const {
  product_back(il, t, 0, x, ax.data(), d_y, T, d_x);
}

void LoraPass::rmsnorm(const float* x, const float* w, int64_t rows, int64_t width, F& y, F& rstd) const {
  y = zeros(rows * width);
  rstd = zeros(rows);
  train::rmsnorm_forward(x, w, y.data(), rstd.data(), rows, width, c.norm_eps);
}

void LoraPass::rotate(float* x, int64_t heads, const F& table) const {
  const int64_t rd = c.rope_dim, hd = c.head_dim;
  for (int64_t i = 0; i < T; ++i)
    for (int64_t h = 0; h < heads; ++h) kernels::rope_apply(rp, table.data() + i * rd, x + (i * heads + h) * hd);
}

}  // namespace frugal::finetune
