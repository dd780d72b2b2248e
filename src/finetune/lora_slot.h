// Where each adapted matrix of the base and its factors lie: the targets a
// layer can adapt, the base matrix behind each, and a slot per (layer,
// target) giving its factors' place in the parameter vector. Kept apart
// from the forward and backward passes so that every part of a layer
// (attention, latent attention, MoE, dense FFN) reads one layout.
#pragma once
#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "finetune/lora_grad.h"
#include "finetune/lora_model.h"
#include "model/model.h"

namespace frugal::finetune {

// The adapted matrices of a layer, in parameter order: the attention's
// (deepseek2's latent attention: q_a, q_b, kv_a_mqa, a joint kv_b, or a
// split file's per-head k_b and v_b stacks; deepseek4's attn_kv and
// grouped attn_output_a and attn_output_b beside q_a and q_b; a Gated DeltaNet layer's
// ssm_in and ssm_ba, or attn_qkv, attn_gate (z), ssm_beta and ssm_alpha,
// and ssm_out), the 2-D FFN ones, then the routed experts' stacks (a pair
// of factors per expert).
enum Target {
  kQ, kK, kV, kO, kQA, kQB, kKvA, kKvB, kKB, kVB, kKv, kOA, kOB, kDnIn, kDnBa, kDnQkv, kDnZ, kDnBeta, kDnAlpha,
  kDnOut, kGate, kUp, kDown, kGateSh, kUpSh, kDownSh, kRouter, kGateEx, kUpEx, kDownEx, kTargets
};

// The base tensor of target t (its entry in the table of tensor names).
model::TensorId target_tensor(int t);

// A stack target: the routed experts', or k_b's and v_b's heads.
bool is_stack(int t);

// A stack target's matrices.
const model::ExpertStack& stack_of(const model::LayerWeights& L, int t);

// The base matrix of a 2-D target, or expert (head) 0's of a stack.
kernels::WeightMatrix base_matrix(const model::LayerWeights& L, int t);

// Whether the shape's switches adapt target t.
bool wanted(const LoraShape& s, int t);

// One adapted matrix.
struct LoraSlot {
  std::string target;
  kernels::WeightMatrix w;  // the base matrix (expert 0's for a stack)
  int64_t n_expert = 0;     // 0: a 2-D matrix; else an expert stack
  bool shared = false;      // a stack whose experts share one pair of factors
  size_t offset = 0;        // of A in params (every expert's A, then every expert's B)
  int64_t rank = 0;
  bool adapted = false;
  // Pairs of factors in params: one per expert of a stack unless shared.
  int64_t n_pairs() const { return shared ? 1 : std::max<int64_t>(1, n_expert); }
  // Expert e's factors (e = 0 for a 2-D matrix; every expert's are the
  // same pair when shared, so their gradients add up in it).
  LoraWeights at(const std::vector<float>& p, float scale, int64_t e = 0) const;
};

}  // namespace frugal::finetune
