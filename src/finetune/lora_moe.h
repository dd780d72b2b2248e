// The routed experts and shared experts of an MoE layer under LoRA: the
// router as inference routes (a softmax over every expert or a sigmoid per
// expert, deepseek4's sqrt(softplus) per expert or its hash layers' experts
// by token, the selection bias choosing only, the chosen weights
// renormalised or not and scaled), the experts run grouped by expert (their
// gated unit gpt-oss's or deepseek4's clamped one where the model says), the
// shared experts; and the backward through all of it into the router's logits and
// the layer's input. Its own file: routing and its gradient are the MoE
// layer's concern alone.
#pragma once
#include <cstdint>
#include <vector>

#include "finetune/lora_pass.h"

namespace frugal::finetune {

// The router's logits; per row, its chosen experts and weights. A slot is
// a (row i, choice j) pair, s = i K + j; order lists the slots grouped by
// expert (expert e's at first[e] .. first[e + 1]), so that each expert's
// matrices are read, and backward dequantised, once for all the rows routed
// to it. In that order: each slot's input row, and the expert's gate, up,
// hidden and output rows. Then the shared expert's gate, up, hidden and
// output rows and weights.
struct MoeActs {
  F logits;
  std::vector<int32_t> experts;
  std::vector<int64_t> order, first;
  F weights, ex, eg, eu, eh, ey, sg, su, sh, sy, s_weight;
};

// f (T x n_embd) = layer il's MoE output for xn2; A x kept in ax.
void moe_forward(const LoraPass& p, int64_t il, const F& xn2, MoeActs& a, Kept& ax, F& f);

// d_xn2 += the gradient of the MoE output d_f through the experts, the
// weights into the router's logits, and the shared expert and its gate.
void moe_backward(const LoraPass& p, int64_t il, const F& xn2, const MoeActs& a, const Kept& ax, const float* d_f,
                  float* d_xn2);

}  // namespace frugal::finetune
