// The pieces of a Gated DeltaNet layer (qwen3next, qwen35moe) that
// inference (model/forward_deltanet.cc) and the LoRA trainer
// (finetune/lora_deltanet.cc) compute alike: the grouped projections'
// layout, the gates, the q/k normalisation and one step of the delta rule.
// One place, so that a trained adapter sees the numbers inference runs.
#pragma once
#include <cmath>
#include <cstdint>

#include "model/config.h"
#include "model/model.h"

namespace frugal::model {

inline float softplus(float x) { return x > 20.0f ? x : std::log1p(std::exp(x)); }

// x *= scale / sqrt(sum x^2 + eps) (the q and k of a key head); returns
// that factor, which the backward pass reads.
float l2_normalize(float* x, int64_t n, float eps, float scale);

// qwen3next's ssm_in rows (per key head [q, k, v of its value heads, z of
// them]) and ssm_ba rows (per key head [b of its value heads, a of them])
// against the split layout every later step reads: qkv [all q, all k, all
// v], z, b and a. to_split copies grouped -> split, else split -> grouped
// (a permutation: the backward pass carries gradients back through it).
void delta_net_regroup(const ModelConfig& c, int64_t n, float* mixed, float* ba, float* qkv, float* z, float* b,
                       float* a, bool to_split);

// In place over n rows of nv: b -> beta = sigmoid(b), a -> decay =
// exp(softplus(a + ssm_dt) * ssm_a).
void delta_net_gates(const LayerWeights& L, int64_t n, int64_t nv, float* b, float* a);

// The key head that value head h reads.
inline int64_t delta_net_key_head(const ModelConfig& c, int64_t h) {
  return c.ssm_split_proj ? h % c.ssm_n_k_head : h / (c.ssm_n_v_head / c.ssm_n_k_head);
}

// One row of a value head's delta rule over its state S (dv x dk):
// S = decay S; S += beta (v - S k) k^T; o = S q.
void delta_rule_step(float* S, const float* q, const float* k, const float* v, float decay, float beta, int64_t dv,
                     int64_t dk, float* o);

}  // namespace frugal::model
