// What every part of a layer's forward and backward pass over one example
// reads: the frozen base, the adapter slots, the factors and their
// gradients, the example's length and its RoPE tables; and the products
// through an adapted matrix that all the parts share. One per call of
// LoraModel::loss, so that the attention, latent attention, MoE and dense
// FFN files need no more than it to run.
#pragma once
#include <array>
#include <cstdint>
#include <vector>

#include "finetune/lora_slot.h"
#include "kernels/ops.h"
#include "model/model.h"

namespace frugal::finetune {

using F = std::vector<float>;
inline F zeros(int64_t n) { return F(static_cast<size_t>(n), 0.0f); }

// A x of each adapted product of a layer, by target (per slot, in expert
// order, for the expert stacks), kept for backward.
using Kept = std::array<F, kTargets>;

struct LoraPass {
  LoraPass(const model::ModelConfig& c, const model::ModelWeights& W, const std::vector<LoraSlot>& slots,
           const std::vector<float>& params, std::vector<float>& grads, const LoraShape& shape,
           const std::vector<int32_t>& tokens);

  const model::ModelConfig& c;
  const model::ModelWeights& W;
  const std::vector<LoraSlot>& slots;
  const std::vector<float>& params;
  std::vector<float>& grads;
  const int32_t* tokens;  // the example's (deepseek4's hash layers route by them)
  const int64_t T, r;     // the example's tokens, the adapters' rank
  const float scale;   // alpha / rank
  // RoPE as inference applies it (pairing, scaling, frequency factors, on
  // the first rope_dim values of each head: glm4moe rotates half of each,
  // the rest passes unturned); backward rotates by the transpose: the same
  // table with sines negated. rope_dim values per position.
  kernels::RopeParams rp;
  F rope, rope_back;

  const LoraSlot& slot(int64_t il, int t) const { return slots[static_cast<size_t>(il * kTargets + t)]; }
  // The gradient of the factor value at p (a pointer into params).
  float* grad_of(const float* p) const { return grads.data() + (p - params.data()); }

  // Expert e's product (e = 0 for a 2-D matrix) over n rows:
  // y = W x (+ the adapter), keeping A x (n x rank) for backward.
  void product(int64_t il, int t, int64_t e, const float* x, int64_t n, float* y, float* ax) const;
  // d_x += d_y W (+ the adapter's part); the factors' gradients added.
  void product_back(int64_t il, int t, int64_t e, const float* x, const float* ax, const float* d_y, int64_t n,
                    float* d_x) const;
  // The same over the example's T rows of a 2-D matrix.
  void linear(int64_t il, int t, const float* x, F& y, F& ax) const;
  void linear_back(int64_t il, int t, const float* x, const F& ax, const float* d_y, float* d_x) const;

  // y = RMSNorm(x) over rows of width, keeping each row's 1/rms for backward.
  void rmsnorm(const float* x, const float* w, int64_t rows, int64_t width, F& y, F& rstd) const;
  // Each of the T rows' heads (head_dim apart) rotated by table (rope or rope_back).
  void rotate(float* x, int64_t heads, const F& table) const;
};

}  // namespace frugal::finetune
