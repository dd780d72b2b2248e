// deepseek2's latent attention under LoRA (see lora_latent_attention.h).
#include "finetune/lora_latent_attention.h"

#include <algorithm>

#include "finetune/lora_grad.h"
#include "gguf/tensor_type.h"
#include "kernels/matmul.h"

namespace frugal::finetune {

namespace {

// The latent attention's matrices as targets (head h of k_b and v_b).
int mla_target(train::MlaMatrix m) {
  switch (m) {
    case train::MlaMatrix::kQ: return kQ;
    case train::MlaMatrix::kQA: return kQA;
    case train::MlaMatrix::kQB: return kQB;
    case train::MlaMatrix::kKvA: return kKvA;
    case train::MlaMatrix::kKB: return kKB;
    case train::MlaMatrix::kVB: return kVB;
    case train::MlaMatrix::kO: return kO;
  }
  return kO;
}

// The products of layer il's latent attention through its frozen matrices
// and their adapters, A x kept in ax. A joint kv_b's key rows are used
// transposed (q_lat = Wk_h^T q_nope, dequantised as inference absorbs
// them), and so is its adapter's part. norm_grads: where the frozen norms'
// gradients are dropped.
train::MlaProducts products(const LoraPass& p, int64_t il, Kept& ax, F& norm_grads) {
  const model::ModelConfig& c = p.c;
  const model::LayerWeights& L = p.W.layers[static_cast<size_t>(il)];
  const int64_t rank = c.kv_lora_rank, nope = c.qk_nope_head_dim, kvw = nope + c.v_head_dim, r = p.r;
  const size_t rb = L.wkv_b.data ? row_bytes(L.wkv_b.type, static_cast<uint64_t>(rank)) : 0;
  // Joint kv_b: head h's key rows (nope of rank), or its value rows.
  auto kv_b_rows = [&L, rb, kvw](int64_t h, int64_t first, int64_t n) {
    return kernels::WeightMatrix{.type = L.wkv_b.type,
                                 .data = static_cast<const uint8_t*>(L.wkv_b.data) +
                                         static_cast<size_t>(h * kvw + first) * rb,
                                 .n_out = n,
                                 .n_in = L.wkv_b.n_in};
  };
  const bool joint = L.wkv_b.data != nullptr;
  // A joint kv_b's adapter W + scale B A on head h's key or value rows
  // (those rows of B), and what its backward keeps: x B of the key rows
  // (used transposed) at 2h n r, A x of the value rows at (2h + 1) n r.
  const LoraSlot& kv_b = p.slot(il, kKvB);
  auto kv_b_lora = [&kv_b, &p, kvw, r](int64_t h, int64_t first, int64_t n_rows) {
    LoraWeights l = kv_b.at(p.params, p.scale);
    l.b += (h * kvw + first) * r;
    l.n_out = n_rows;
    return l;
  };
  auto kv_b_kept = [&ax, r](int64_t h, bool value, int64_t n) { return ax[kKvB].data() + (2 * h + value) * n * r; };
  train::MlaProducts w;
  w.forward = [&, il, joint, kv_b_rows, kv_b_lora, kv_b_kept, nope, rank, r](train::MlaMatrix m, int64_t h,
                                                                             const float* x, int64_t n, float* y) {
    if (joint && m == train::MlaMatrix::kKB) {  // y = x Wk_h
      std::fill_n(y, n * rank, 0.0f);
      frozen_linear_backward(kv_b_rows(h, 0, nope), x, n, y);
      if (h == 0) ax[kKvB] = zeros(2 * c.n_head * n * r);
      if (kv_b.adapted) lora_forward_transposed(kv_b_lora(h, 0, nope), x, n, kv_b_kept(h, false, n), y);
      return;
    }
    if (joint && m == train::MlaMatrix::kVB) {
      kernels::matmul(kv_b_rows(h, nope, c.v_head_dim), x, rank, n, y, c.v_head_dim, nullptr);
      if (kv_b.adapted) lora_forward(kv_b_lora(h, nope, c.v_head_dim), x, n, kv_b_kept(h, true, n), y);
      return;
    }
    const int t = mla_target(m);
    if (h == 0) ax[t] = zeros((is_stack(t) ? c.n_head : 1) * n * r);
    p.product(il, t, h, x, n, y, ax[t].data() + h * n * r);
  };
  w.backward = [&, il, joint, kv_b_rows, kv_b_lora, kv_b_kept, nope, r](
                   train::MlaMatrix m, int64_t h, const float* x, const float* d_y, int64_t n, float* d_x) {
    if (joint && m == train::MlaMatrix::kKB) {  // d_x += d_y Wk_h^T, Wk_h's rows dequantised
      frozen_linear_f32(kv_b_rows(h, 0, nope), d_y, n, d_x);
      if (!kv_b.adapted) return;
      const LoraWeights l = kv_b_lora(h, 0, nope);
      lora_backward_transposed(l, x, kv_b_kept(h, false, n), d_y, n, p.grad_of(l.a), p.grad_of(l.b), d_x);
      return;
    }
    if (joint && m == train::MlaMatrix::kVB) {
      frozen_linear_backward(kv_b_rows(h, nope, c.v_head_dim), d_y, n, d_x);
      if (!kv_b.adapted) return;
      const LoraWeights l = kv_b_lora(h, nope, c.v_head_dim);
      lora_backward(l, x, kv_b_kept(h, true, n), d_y, n, p.grad_of(l.a), p.grad_of(l.b), d_x);
      return;
    }
    const int t = mla_target(m);
    p.product_back(il, t, h, x, ax[t].data() + h * n * r, d_y, n, d_x);
  };
  w.q_a_norm = L.q_a_norm.data;
  w.kv_a_norm = L.kv_a_norm.data;
  w.d_q_a_norm = w.d_kv_a_norm = norm_grads.data();
  return w;
}

// The example's positions and RoPE table as train/mla reads them.
struct Positions {
  explicit Positions(const LoraPass& p) : pos(static_cast<size_t>(p.T)) {
    for (int64_t i = 0; i < p.T; ++i) pos[static_cast<size_t>(i)] = static_cast<int32_t>(i);
    shape = {.n_seq = 1, .t = p.T, .pos = pos.data(), .rope = p.rope.data()};
  }
  std::vector<int32_t> pos;
  train::MlaShape shape;
};

}  // namespace

void latent_attention_forward(const LoraPass& p, int64_t il, const F& xn1, train::MlaActs& a, Kept& ax, F& x) {
  const Positions at(p);
  F norm_grads = zeros(std::max(p.c.q_lora_rank, p.c.kv_lora_rank));  // frozen: dropped
  F o = zeros(p.T * p.c.n_embd);
  train::mla_forward(p.c, products(p, il, ax, norm_grads), at.shape, xn1.data(), a, o.data(), nullptr);
  for (size_t i = 0; i < x.size(); ++i) x[i] += o[i];
}

void latent_attention_backward(const LoraPass& p, int64_t il, const F& xn1, const train::MlaActs& a, Kept& ax,
                               const F& d_x, F& d_xn1) {
  const Positions at(p);
  F norm_grads = zeros(std::max(p.c.q_lora_rank, p.c.kv_lora_rank));  // frozen: dropped
  train::mla_backward(p.c, products(p, il, ax, norm_grads), at.shape, xn1.data(), a, d_x.data(), d_xn1.data(),
                      nullptr);
}

}  // namespace frugal::finetune
