// Forward and backward pass of the training model (train_model.h) over a
// batch of n_seq sequences of t tokens, llm.c style: every activation the
// backward pass needs is kept in a buffer named for what it holds.
//
// Router (per MoE layer, per token): p = softmax(router logits); the top-k
// experts by p (+ an optional per-expert selection bias, DeepSeek-V3's
// auxiliary-loss-free balancing: the bias picks, it never weighs); weights
// p_j / sum of the chosen p (qwen3moe's renormalisation). Dropless: every
// chosen expert processes every token routed to it.
// Losses added to the mean cross-entropy, per MoE layer:
//   aux (Switch/GShard load balancing) = aux_coef * E * sum_e f_e * P_e, with
//     f_e the share of the layer's routed slots that went to expert e and
//     P_e the mean router probability of e (f is a constant for the gradient);
//   z (router z-loss, ST-MoE) = z_coef * mean over tokens of logsumexp(logits)^2.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "base/thread_pool.h"
#include "train/train_model.h"

namespace frugal::train {

struct RouterOptions {
  float aux_coef = 0.01f;
  float z_coef = 0.001f;
};

struct ForwardResult {
  double ce_loss = 0.0;   // mean cross-entropy over the batch's targets
  double aux_loss = 0.0;  // sum over layers, times aux_coef
  double z_loss = 0.0;    // sum over layers, times z_coef
  double total_loss() const { return ce_loss + aux_loss + z_loss; }
  std::vector<std::vector<int64_t>> expert_tokens;  // [layer][expert]: tokens routed to it
  std::vector<double> router_entropy;               // [layer]: mean entropy of p (nats)
  uint64_t routing_hash = 0;  // of every chosen expert: tells whether two passes routed alike
};

class Transformer {
 public:
  Transformer(const ParamLayout& layout, int64_t n_seq, int64_t t, ThreadPool* pool);
  ~Transformer();

  int64_t n_seq() const { return n_seq_; }
  int64_t seq_len() const { return t_; }

  // tokens: n_seq x t ids; targets: the same or null (no loss; logits only).
  // selection_bias: n_layer x n_expert, or null.
  ForwardResult forward(const float* params, const float* selection_bias, const int32_t* tokens,
                        const int32_t* targets, const RouterOptions& opts);
  // Adds loss_scale * d(total loss)/d(params) to grads; needs the last
  // forward() with targets. done (may be empty) is told each time a part of
  // grads is final, in the order the pass finishes them: the head (output
  // norm and output: kHeadGradients), then each layer from the last to the
  // first; the token embedding is final when backward returns. A
  // data-parallel trainer starts summing a part there, while the pass goes on.
  static constexpr int64_t kHeadGradients = -1;
  void backward(const float* params, float* grads, float loss_scale,
                const std::function<void(int64_t layer)>& done = {});

  const float* logits() const;  // n_seq*t rows x n_vocab, from the last forward

  struct Acts;
 private:
  const ParamLayout& layout_;
  int64_t n_seq_, t_;
  ThreadPool* pool_;
  std::unique_ptr<Acts> a_;
};

}  // namespace frugal::train
