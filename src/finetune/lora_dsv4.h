// DeepSeek-V4's layers and head under LoRA: the hyper-connection streams
// (lora_hyper.h) around each sublayer, the attention
// (lora_dsv4_attention.h) and the MoE (lora_moe.h: sqrt-softplus routing
// with its selection bias, the first layers' experts by token, the clamped
// gated units), each sublayer reading the RMS-normalised mix of the
// streams; the head mixes the streams once more into the final norm's
// input. The forward is inference's (model/forward_dsv4.cc) over the whole
// example; the backward passes through every op of it.
#pragma once
#include <cstdint>
#include <vector>

#include "finetune/lora_dsv4_attention.h"
#include "finetune/lora_hyper.h"
#include "finetune/lora_moe.h"
#include "finetune/lora_pass.h"

namespace frugal::finetune {

// A layer's activations: its input streams, per sublayer the mixing
// weights, the mixed input, its norm (and 1/rms) and the sublayer's output;
// the streams between the sublayers; the attention's and MoE's own, and
// A x of every adapted product.
struct Dsv4LayerActs {
  F x, y1, xn1, rstd1, out1, x_mid, y2, xn2, rstd2, out2;
  HyperActs hc_attn, hc_ffn;
  Dsv4AttentionActs attn;
  MoeActs moe;
  Kept ax;
};

// The whole example's: the layers', the last layer's output streams and the head's mixing.
struct Dsv4Acts {
  std::vector<Dsv4LayerActs> layers;
  F x;
  HyperActs head;
};

// h (T x n_embd) = the final norm's input for the embedded tokens x (T x n_embd).
void dsv4_forward(const LoraPass& p, const F& x, Dsv4Acts& a, F& h);

// The factors' gradients added for the gradient of h, d_h.
void dsv4_backward(const LoraPass& p, Dsv4Acts& a, const F& d_h);

}  // namespace frugal::finetune
