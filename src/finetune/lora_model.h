// LoRA over a frozen base model: the loss of one example and the gradient
// of every adapter factor, with the base's matrices left in their file
// types (products by the inference kernels forward, a row block dequantised
// at a time backward: finetune/lora_grad.h).
//
// Architectures: llama (dense and Mixtral-style), qwen2, qwen3, qwen3moe,
// qwen2moe (q/k/v biases, routing weights not renormalised, a shared expert
// weighed by a sigmoid gate), olmoe (q/k RMSNorm over a token's whole q
// and k vectors, routing weights not renormalised) and glm4moe (q/k/v
// biases, RoPE on part of each head, leading dense layers, a sigmoid router
// whose selection bias only chooses, renormalised and scaled weights, an
// ungated shared expert), gpt-oss, llama4 and deepseek2 (latent attention,
// train/mla.h, in the absorbed form inference runs; kv_b joint or split
// per head), minimax-m2 (q/k RMSNorm over the whole q and k vectors,
// partial RoPE, a sigmoid router with a selection bias), dots1 (per-head
// q/k norm, DeepSeek-V3's MoE) and ernie4_5-moe (RoPE on interleaved pairs,
// dense and MoE layers alternating, a softmax router whose selection bias
// only chooses, ungated shared experts), qwen3next and qwen35moe (Gated
// DeltaNet layers, lora_deltanet.h, between attention layers with an
// output gate; a gated shared expert) and deepseek4 (hyper-connection
// streams, compressed attention, lora_dsv4.h), RoPE as inference applies it.
// The passes are per layer (lora_layer.h). Adapted
// matrices (LoraShape): the attention projections (the Gated DeltaNet's
// in-projections and ssm_out; deepseek2's q or q_a and
// q_b, kv_a_mqa, output, and kv_b or a split file's k_b and v_b, a pair of factors
// per head; deepseek4's q_a, q_b, kv, output_a and output_b), the dense FFN, the
// shared experts, the routed experts (a pair of factors per expert, or one
// pair for all of a layer's experts; stored as llama.cpp's 3-D factors) and
// the router (its adapter added to the
// logits before routing). What is not adapted stays frozen and the gradient
// flows through it, the routing weights included. Other architectures are
// refused with their name.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "finetune/sft_data.h"
#include "model/lora.h"
#include "model/model.h"

namespace frugal::finetune {

struct LoraSlot;  // one adapted matrix (finetune/lora_slot.h)

struct LoraShape {
  int64_t rank = 16;
  float alpha = 32.0f;
  uint64_t seed = 0;  // A ~ N(0, 1/n_in) from it; B = 0, so training starts at the base
  bool attn = true;   // adapt the attention projections
  bool ffn = true;    // adapt the dense FFNs
  bool shared = false;   // adapt the shared experts
  bool experts = false;  // adapt the routed experts (a pair of factors per expert)
  bool router = false;   // adapt the router
  // experts: one pair of factors shared by every expert of a layer's stack
  // instead of one per expert (--lora-experts shared): n_expert times fewer
  // values to train. Written as llama.cpp's per-expert 3-D factors with the
  // pair repeated for each expert, so any reader of that format applies it
  // to every expert.
  bool shared_experts = false;
};

// "each" or "shared" (the --lora-experts value) into shape.shared_experts.
void parse_expert_sharing(const std::string& mode, LoraShape& shape);

// "attn,ffn,shared,experts,router" (the --targets list) into shape's
// switches; anything else is an error naming it.
void parse_targets(const std::string& list, LoraShape& shape);

class LoraModel {
 public:
  LoraModel(const model::Model& base, const LoraShape& shape);
  ~LoraModel();

  // Every factor's values, then the same layout for gradients: per adapted
  // matrix A (rank x n_in) then B (n_out x rank); per expert stack every
  // expert's A, then every expert's B (one A and one B when the experts
  // share them).
  std::vector<float>& params() { return params_; }
  const std::vector<float>& params() const { return params_; }
  std::vector<float>& grads() { return grads_; }

  // Mean cross-entropy over the example's target tokens; with_grad adds its
  // gradient, times grad_weight, to grads() (a batch weighs each example by
  // its share of the batch's target tokens). all_logits, if given, gets the
  // logits of every position (T x n_vocab), as inference computes them.
  double loss(const SftExample& ex, bool with_grad, float grad_weight = 1.0f,
              std::vector<float>* all_logits = nullptr);

  // The factors, for model::write_lora_adapter.
  std::vector<model::LoraFactors> factors() const;
  const LoraShape& shape() const { return shape_; }

 private:
  const model::Model& base_;
  LoraShape shape_;
  std::vector<LoraSlot> slots_;
  std::vector<float> params_, grads_;
};

}  // namespace frugal::finetune
