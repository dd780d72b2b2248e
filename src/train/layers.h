// The training model's layers, forward and backward, on row-major f32 rows.
// Backward functions ADD into the gradients they are given (d_in, d_weight),
// so a gradient shared by several uses accumulates; callers zero them first.
// Matrix products: linear.h (OpenBLAS in f32, or bf16 products).
#pragma once
#include <cstdint>

#include "base/thread_pool.h"
#include "train/attention.h"
#include "train/linear.h"

namespace frugal::train {

// The row-wise and element-wise layers below split their rows over pool
// when one is given (null: the calling thread). Every result is the same bits
// with or without a pool, whatever its size: rows are independent, and
// RMSNorm's weight gradient sums fixed blocks of rows in a fixed order.

// RMSNorm of n rows of width d: y = w * x / sqrt(mean(x^2) + eps); rstd gets
// each row's 1 / sqrt(mean(x^2) + eps).
void rmsnorm_forward(const float* x, const float* w, float* y, float* rstd, int64_t n, int64_t d, float eps,
                     ThreadPool* pool = nullptr);
void rmsnorm_backward(const float* d_y, const float* x, const float* w, const float* rstd, float* d_x, float* d_w,
                      int64_t n, int64_t d, ThreadPool* pool = nullptr);

// RoPE on n rows of n_heads heads of head_dim: pair i of a head at position
// pos[row] rotates by angle i of cos_sin (rope_table); the pair is
// (i, i + head_dim/2) with neox (qwen*, olmoe), else (2i, 2i + 1) (llama).
// Forward rotates by +angle, backward (of a gradient) by -angle, in place.
void rope_table(int64_t n_ctx, int64_t head_dim, float freq_base, float* cos_sin);  // n_ctx x head_dim
void rope_forward(float* x, const int32_t* pos, const float* cos_sin, int64_t n, int64_t n_heads, int64_t head_dim,
                  bool neox = true, ThreadPool* pool = nullptr);
void rope_backward(float* d_x, const int32_t* pos, const float* cos_sin, int64_t n, int64_t n_heads,
                   int64_t head_dim, bool neox = true, ThreadPool* pool = nullptr);

// SwiGLU: h = silu(g) * u.
void swiglu_forward(const float* g, const float* u, float* h, int64_t n, ThreadPool* pool = nullptr);
void swiglu_backward(const float* d_h, const float* g, const float* u, float* d_g, float* d_u, int64_t n,
                     ThreadPool* pool = nullptr);
// gpt-oss's gated unit (kernels::swiglu_oai, forward): h = g' sigmoid(alpha
// g') (u' + 1), g' = min(g, limit), u' = clamp(u, -limit, limit); the
// gradient is zero where the clamps hold.
void swiglu_oai_backward(const float* d_h, const float* g, const float* u, float* d_g, float* d_u, int64_t n,
                         ThreadPool* pool = nullptr);

// Softmax cross-entropy of n rows of n_vocab logits against targets:
// probs gets the softmax, the return value is the sum of -log p[target].
// Backward: d_logits = scale * (probs - onehot(target)).
double cross_entropy_forward(const float* logits, const int32_t* targets, float* probs, int64_t n, int64_t n_vocab,
                             ThreadPool* pool = nullptr);
void cross_entropy_backward(const float* probs, const int32_t* targets, float* d_logits, int64_t n, int64_t n_vocab,
                            float scale, ThreadPool* pool = nullptr);

}  // namespace frugal::train

namespace frugal::train {
// Threads OpenBLAS uses inside each GEMM (fixed, so runs are deterministic).
void set_blas_threads(int n);
}  // namespace frugal::train

namespace frugal::train {

// The MoE router's backward for n rows: from d_out (n x d, the gradient of
// the layer's output x_out = x + sum_j w_j y_j) to each chosen slot's d y
// (w_j d_out) and to the router logits. w_j = scale p_j / S (S the sum of
// the chosen p when renormalised, else 1); p = softmax(logits) or
// sigmoid(logits). The aux loss adds aux_scale * f_e to d q_e with q = p
// (softmax) or p / sum p (sigmoid); the z-loss adds z_scale * lse *
// softmax(logits).
struct RouterBackward {
  int64_t n, n_expert, k, d;
  bool sigmoid, renormalise;
  float scale, aux_scale, z_scale;
  const float* probs;        // n x E: p
  const float* logits;       // n x E
  const float* lse;          // n: logsumexp of the logits
  const float* psum;         // n: sum of p (sigmoid), else 1
  const int32_t* experts;    // n x k chosen
  const float* weights;      // n x k: w_j
  const float* chosen_sum;   // n: S
  const int64_t* slot_of;    // n x k: each choice's slot
  const double* load_share;  // E: f_e
  const float* expert_out;   // slots x d: each slot's expert output
};
void router_backward(const RouterBackward& r, const float* d_out, float* d_slot_y, float* d_logits);

// out += s_r y_r with s_r = sigmoid(x_r . gate_w) (qwen2moe's shared-expert
// gate) or 1 (gate_w null): d_y = s d_out; with a gate also d_x += dl gate_w
// and d_gate_w += dl x, dl = <d_out, y> s (1 - s).
void scaled_output_backward(const float* d_out, const float* y, const float* s, const float* x, const float* gate_w,
                            float* d_y, float* d_x, float* d_gate_w, int64_t n, int64_t d);

}  // namespace frugal::train
