// Multi-head latent attention (deepseek2) for training, in the absorbed
// form that model/forward_mla.cc computes at inference, so that a trainer's
// forward gives inference's numbers (over quantised weights too: the same
// products, with the same activations rounded the same way).
// Per token: the query directly (attn_q) or through a low rank (attn_q_a ->
// RMSNorm -> attn_q_b), each head's [nope | rope] parts; the latent
// [c | k_pe] = attn_kv_a_mqa x, c RMSNormed, k_pe (one rope part shared by
// every head) and each head's q rope part rotated. kv_b's key rows of head h
// (Wk_h, nope x rank) are absorbed into its query, q_lat_h = Wk_h^T q_nope_h,
// since q_nope . (Wk_h c) = (Wk_h^T q_nope) . c; every head then attends
// with [q_lat_h | q_pe_h] over the one key row [c | k_pe] of each position,
// its output the weighted sum of the latents c (the key's first rank
// values), which kv_b's value rows of the head (Wv_h, v_head_dim x rank)
// expand; attn_output maps the heads' values back. The softmax scale is
// model::attention_scale (YaRN's mscale squared).
//
// The products through the matrices are the caller's (MlaProducts): the
// full trainer's f32 weights and their gradients (f32_mla_products), or
// LoRA fine-tuning's frozen file weights and their adapters
// (finetune/lora_model.cc), so both train this one attention.
#pragma once
#include <cstdint>
#include <functional>
#include <vector>

#include "base/thread_pool.h"
#include "model/config.h"
#include "train/train_model.h"

namespace frugal::train {

// The latent attention's matrices. kKB and kVB are per head (head h):
// kKB maps q_nope_h (nope) to q_lat_h (rank): Wk_h^T, kv_b's key rows
// transposed (the split attn_k_b holds them so already); kVB maps a head's
// latent output (rank) to its value (v_head_dim): kv_b's value rows, or
// attn_v_b's.
enum class MlaMatrix { kQ, kQA, kQB, kKvA, kKB, kVB, kO };

// Inputs and outputs of each matrix: n_in and n_out.
struct MlaMatrixShape {
  int64_t n_in, n_out;
};
MlaMatrixShape mla_matrix_shape(const model::ModelConfig& c, MlaMatrix m);

struct MlaProducts {
  // y (n x n_out) = the product of x (n x n_in) through matrix m (head h
  // for kKB, kVB), rows contiguous.
  std::function<void(MlaMatrix m, int64_t h, const float* x, int64_t n, float* y)> forward;
  // d_x (n x n_in) += d_y (n x n_out) through m transposed; the gradients of
  // what trains (the matrix, or its adapter) added from x and d_y.
  std::function<void(MlaMatrix m, int64_t h, const float* x, const float* d_y, int64_t n, float* d_x)> backward;
  // The RMSNorm weights, and where backward adds their gradients (a scratch
  // when they are frozen).
  const float* q_a_norm = nullptr;
  const float* kv_a_norm = nullptr;
  float* d_q_a_norm = nullptr;
  float* d_kv_a_norm = nullptr;
};

// The full trainer's: P's f32 weights, gradients into GP (null: forward only).
MlaProducts f32_mla_products(const model::ModelConfig& c, const LayerView& P, const LayerView* GP);

struct MlaActs {
  std::vector<float> q_a, q_a_rstd, q_a_normed;  // N x q_rank (low-rank queries only)
  std::vector<float> q;                          // N x H*hd, rope parts rotated
  std::vector<float> c_pre, c_rstd;              // N x rank: the latent before its norm
  std::vector<float> q_full;                     // N x H*(rank + rdim): [q_lat_h | q_pe_h]
  std::vector<float> k, v;                       // N x (rank + rdim): [c | k_pe], [c | 0]
  std::vector<float> lse;                        // n_seq x H x t (train/attention.h)
  std::vector<float> att;                        // N x H*(rank + rdim); the first rank of each head used
  std::vector<float> att_v;                      // N x H*vhd: attn_output's input
};

struct MlaShape {
  int64_t n_seq, t;
  const int32_t* pos;   // N positions
  const float* rope;    // t x rdim cos/sin table
};

// out (N x n_embd) = the attention block's output for xn (N x n_embd).
void mla_forward(const model::ModelConfig& c, const MlaProducts& w, const MlaShape& s, const float* xn, MlaActs& a,
                 float* out, ThreadPool* pool);
// Adds to d_xn and, through w, to the gradients, from d_out (N x n_embd).
void mla_backward(const model::ModelConfig& c, const MlaProducts& w, const MlaShape& s, const float* xn,
                  const MlaActs& a, const float* d_out, float* d_xn, ThreadPool* pool);

}  // namespace frugal::train
