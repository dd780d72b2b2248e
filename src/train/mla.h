// Multi-head latent attention (deepseek2) for training: the plain,
// unabsorbed form of what model/forward_mla.cc computes at inference.
// Per token: the query directly (attn_q) or through a low rank (attn_q_a ->
// RMSNorm -> attn_q_b), each head's [nope | rope] parts; the latent
// [c | k_pe] = attn_kv_a_mqa x, c RMSNormed and expanded by attn_kv_b to each
// head's key nope part and value; k_pe (one rope part shared by every head)
// and each head's q rope part rotated. Head h attends with key
// [k_nope_h | k_pe] and value v_h (v_head_dim wide, zero-padded to the key
// width for the shared attention kernel); attn_output maps the heads' values
// back. The softmax scale is model::attention_scale (YaRN's mscale squared).
#pragma once
#include <cstdint>
#include <vector>

#include "base/thread_pool.h"
#include "model/config.h"
#include "train/train_model.h"

namespace frugal::train {

struct MlaActs {
  std::vector<float> q_a, q_a_rstd, q_a_normed;  // N x q_rank (low-rank queries only)
  std::vector<float> q;                          // N x H*hd, rope parts rotated
  std::vector<float> c_pre, c_rstd, c_normed;    // N x rank: the latent
  std::vector<float> k_pe;                       // N x rdim, rotated
  std::vector<float> kv;                         // N x H*(nope + vhd): kv_b's expansion
  std::vector<float> k, v;                       // N x H*hd: full keys; values padded to hd
  std::vector<float> probs;                      // n_seq x H x t x t
  std::vector<float> att;                        // N x H*hd (padded); the first vhd of each head used
  std::vector<float> att_v;                      // N x H*vhd: attn_output's input
};

struct MlaShape {
  int64_t n_seq, t;
  const int32_t* pos;   // N positions
  const float* rope;    // t x rdim cos/sin table
};

// out (N x n_embd) = the attention block's output for xn (N x n_embd).
void mla_forward(const model::ModelConfig& c, const LayerView& P, const MlaShape& s, const float* xn, MlaActs& a,
                 float* out, ThreadPool* pool);
// Adds to d_xn and to GP's gradients, from d_out (N x n_embd).
void mla_backward(const model::ModelConfig& c, const LayerView& P, const LayerView& GP, const MlaShape& s,
                  const float* xn, const MlaActs& a, const float* d_out, float* d_xn, ThreadPool* pool);

}  // namespace frugal::train
