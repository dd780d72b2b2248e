// Feed-forward layers: the dense SwiGLU FFN and the mixture of experts.
//
// Routing per architecture (router logits l over n_expert experts):
//   llama (Mixtral), qwen3moe: p = softmax(l); top-k of p; weights renormalised
//     to sum to 1 (for Mixtral this equals a softmax over the top-k logits).
//   qwen2moe, olmoe: p = softmax(l); top-k of p; weights not renormalised.
//   deepseek2 (V2): p = softmax(l); group-limited: the n_group_used groups
//     with the largest max(p) stay eligible; top-k; x expert_weights_scale.
//   deepseek2 (V3): p = sigmoid(l); selection uses p + exp_probs_b (the bias
//     picks experts, never weighs them); groups ranked by the sum of their
//     two best biased scores; top-k; weights p renormalised; x scale.
// The MoE layer then groups the batch's rows by expert and runs each chosen
// expert's gate/up/down once over its rows only.
#include <algorithm>
#include <cmath>
#include <limits>

#include "model/forward_layers.h"

namespace frugal::model {

using kernels::matmul;

void dense_ffn(const kernels::WeightMatrix& gate, const kernels::WeightMatrix& up,
               const kernels::WeightMatrix& down, const float* xn, int64_t n_rows, int64_t n_embd,
               Forward::Scratch& s, ThreadPool* pool, float* out) {
  const int64_t n_ff = gate.n_out;
  float* g = s.gate.get(n_rows * n_ff);
  float* u = s.up.get(n_rows * n_ff);
  matmul(gate, xn, n_embd, n_rows, g, n_ff, pool);
  matmul(up, xn, n_embd, n_rows, u, n_ff, pool);
  kernels::swiglu(g, u, g, n_rows * n_ff);
  matmul(down, g, n_ff, n_rows, out, n_embd, pool);
}

void route_row(const ModelConfig& c, const float* logits, const float* score_bias, int32_t* experts,
               float* weights) {
  const int64_t ne = c.n_expert, k = c.n_expert_used;
  std::vector<float> prob(logits, logits + ne);
  if (c.gating == GatingFunc::kSigmoid) {
    for (float& p : prob) p = kernels::sigmoid(p);
  } else {
    kernels::softmax(prob.data(), ne);
  }
  std::vector<float> select(prob);
  if (score_bias)
    for (int64_t e = 0; e < ne; ++e) select[e] += score_bias[e];

  if (c.n_expert_groups > 1) {
    const int64_t ng = c.n_expert_groups, per = ne / ng;
    std::vector<std::pair<float, int64_t>> group_score(static_cast<size_t>(ng));
    for (int64_t g = 0; g < ng; ++g) {
      std::vector<float> in(select.begin() + g * per, select.begin() + (g + 1) * per);
      std::sort(in.begin(), in.end(), std::greater<>());
      const float score = c.gating == GatingFunc::kSigmoid ? in[0] + (per > 1 ? in[1] : 0.0f) : in[0];
      group_score[g] = {score, g};
    }
    // Highest score first; ties go to the lower group index.
    std::stable_sort(group_score.begin(), group_score.end(),
                     [](const auto& a, const auto& b) { return a.first > b.first; });
    std::vector<bool> keep(static_cast<size_t>(ng), false);
    for (int64_t i = 0; i < c.n_group_used; ++i) keep[group_score[i].second] = true;
    for (int64_t e = 0; e < ne; ++e)
      if (!keep[e / per]) select[e] = -std::numeric_limits<float>::infinity();
  }

  std::vector<int32_t> order(static_cast<size_t>(ne));
  for (int64_t e = 0; e < ne; ++e) order[e] = static_cast<int32_t>(e);
  std::stable_sort(order.begin(), order.end(), [&](int32_t a, int32_t b) { return select[a] > select[b]; });
  double sum = 0;
  for (int64_t i = 0; i < k; ++i) {
    experts[i] = order[i];
    weights[i] = prob[order[i]];
    sum += weights[i];
  }
  if (c.expert_weights_norm)
    for (int64_t i = 0; i < k; ++i) weights[i] = static_cast<float>(weights[i] / sum);
  for (int64_t i = 0; i < k; ++i) weights[i] *= c.expert_weights_scale;
}

void moe_ffn(const Model& m, int64_t il, int64_t n_rows, Forward::Scratch& s, ThreadPool* pool, float* out) {
  const ModelConfig& c = m.config();
  const LayerWeights& L = m.weights().layers[static_cast<size_t>(il)];
  const int64_t ne = c.n_expert, k = c.n_expert_used, d = c.n_embd, ff = c.n_ff_exp;
  const float* xn = s.xn.v.data();

  // Route every row.
  float* logits = s.router.get(n_rows * ne);
  matmul(L.router, xn, d, n_rows, logits, ne, pool);
  s.sel_expert.resize(static_cast<size_t>(n_rows * k));
  s.sel_weight.resize(static_cast<size_t>(n_rows * k));
  for (int64_t r = 0; r < n_rows; ++r)
    route_row(c, logits + r * ne, L.expert_score_bias.data, s.sel_expert.data() + r * k, s.sel_weight.data() + r * k);

  // Rows of each expert (counting sort by expert id).
  std::vector<int64_t> start(static_cast<size_t>(ne + 1), 0);
  for (int32_t e : s.sel_expert) ++start[e + 1];
  for (int64_t e = 0; e < ne; ++e) start[e + 1] += start[e];
  std::vector<int64_t> fill(start.begin(), start.end() - 1);
  std::vector<int64_t> slot_row(static_cast<size_t>(n_rows * k));
  std::vector<float> slot_weight(static_cast<size_t>(n_rows * k));
  for (int64_t r = 0; r < n_rows; ++r)
    for (int64_t i = 0; i < k; ++i) {
      const int32_t e = s.sel_expert[r * k + i];
      slot_row[fill[e]] = r;
      slot_weight[fill[e]++] = s.sel_weight[r * k + i];
    }

  std::fill(out, out + n_rows * d, 0.0f);
  for (int64_t e = 0; e < ne; ++e) {
    const int64_t b = start[e], cnt = start[e + 1] - start[e];
    if (cnt == 0) continue;  // never touched
    float* in = s.ex_in.get(cnt * d);
    for (int64_t i = 0; i < cnt; ++i) std::copy_n(xn + slot_row[b + i] * d, d, in + i * d);
    float* g = s.gate.get(cnt * ff);
    float* u = s.up.get(cnt * ff);
    matmul(L.gate_exps.expert(e), in, d, cnt, g, ff, pool);
    matmul(L.up_exps.expert(e), in, d, cnt, u, ff, pool);
    kernels::swiglu(g, u, g, cnt * ff);
    float* y = s.ex_out.get(cnt * d);
    matmul(L.down_exps.expert(e), g, ff, cnt, y, d, pool);
    for (int64_t i = 0; i < cnt; ++i) kernels::axpy(slot_weight[b + i], y + i * d, out + slot_row[b + i] * d, d);
  }

  // Shared experts see every row; qwen2moe scales theirs by a sigmoid gate.
  if (c.n_ff_shexp > 0) {
    float* y = s.ex_out.get(n_rows * d);
    dense_ffn(L.gate_shexp, L.up_shexp, L.down_shexp, xn, n_rows, d, s, pool, y);
    for (int64_t r = 0; r < n_rows; ++r) {
      const float w = L.shexp_gate ? kernels::sigmoid(kernels::dot(xn + r * d, L.shexp_gate.data, d)) : 1.0f;
      kernels::axpy(w, y + r * d, out + r * d, d);
    }
  }
}

}  // namespace frugal::model
