// One transformer block under LoRA: the pre-norm residual structure that
// every supported architecture shares (x += attention(norm(x)); x +=
// ffn(norm(x))), with the attention (lora_attention.h, for deepseek2
// lora_latent_attention.h, for the recurrent layers of qwen3next and
// qwen35moe lora_deltanet.h) and the FFN (the dense one here, or lora_moe.h)
// picked per layer, and the activations its backward reads.
#pragma once
#include <cstdint>

#include "finetune/lora_attention.h"
#include "finetune/lora_deltanet.h"
#include "finetune/lora_moe.h"
#include "finetune/lora_pass.h"
#include "train/mla.h"

namespace frugal::finetune {

// A layer's activations over the example: its input, the two norms' outputs
// (with each row's 1/rms), the residual between them, the dense FFN's gate,
// up and hidden rows, the parts' own, and A x of every adapted product.
struct LayerActs {
  F x, xn1, rstd1, x_mid, xn2, rstd2, g, u, h;
  AttentionActs attn;
  train::MlaActs mla;  // deepseek2's latent attention (instead of attn)
  DeltaNetActs dn;     // a Gated DeltaNet layer's (instead of attn)
  MoeActs moe;
  Kept ax;
};

// x (T x n_embd) = layer il's output for its input x.
void layer_forward(const LoraPass& p, int64_t il, LayerActs& a, F& x);

// d_x: the gradient of the layer's output in, of its input out; the
// factors' gradients added.
void layer_backward(const LoraPass& p, int64_t il, LayerActs& a, F& d_x);

}  // namespace frugal::finetune
