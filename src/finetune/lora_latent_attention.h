// deepseek2's latent attention under LoRA: train/mla.h's forward and
// backward (the full trainer's too), in the absorbed form inference runs,
// through the layer's frozen matrices and their adapters. Its own file: the
// bridge between train/mla's products and the adapter slots (a joint kv_b
// used per head and transposed) is a concern of its own.
#pragma once
#include <cstdint>

#include "finetune/lora_pass.h"
#include "train/mla.h"

namespace frugal::finetune {

// x (T x n_embd) += layer il's latent attention of xn1; A x kept in ax
// (per head for k_b and v_b, head h's rows at h T r).
void latent_attention_forward(const LoraPass& p, int64_t il, const F& xn1, train::MlaActs& a, Kept& ax, F& x);

// d_xn1 += the gradient from d_x through it; the factors' gradients added.
void latent_attention_backward(const LoraPass& p, int64_t il, const F& xn1, const train::MlaActs& a, Kept& ax,
                               const F& d_x, F& d_xn1);

}  // namespace frugal::finetune
