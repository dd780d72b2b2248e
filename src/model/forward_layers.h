// Internal to the forward pass: the scratch buffers of one batch and the
// layer functions that forward.cc composes. Each layer function reads the
// normalised rows `xn` (n_rows x n_embd) from the scratch and writes its
// output (n_rows x n_embd) to `out`, which the caller adds to the residual.
#pragma once
#include <cstdint>
#include <span>
#include <vector>

#include "base/thread_pool.h"
#include "kernels/matmul.h"
#include "kernels/ops.h"
#include "model/forward.h"
#include "model/lora.h"

namespace frugal::model {

// A float buffer that grows to the largest size asked for and is reused.
struct Buffer {
  std::vector<float> v;
  float* get(int64_t n) {
    if (v.size() < static_cast<size_t>(n)) v.resize(static_cast<size_t>(n));
    return v.data();
  }
};

struct Forward::Scratch {
  Buffer x, xn, out;            // residual stream, normalised rows, layer output (n_rows x n_embd)
  Buffer rope;                  // per row: rope_dim/2 (cos, sin) pairs
  Buffer q, k, v, q_a, att;     // attention projections and head outputs
  Buffer q_latent, att_latent;  // MLA: queries and outputs in latent space
  Buffer gate, up;              // FFN intermediates
  Buffer router;                // router logits, n_rows x n_expert
  Buffer attn_gate;             // gated attention: sigmoid(gate) per head output
  // Gated DeltaNet: the input projections as the file lays them out, then
  // per row the conv input/output (q, k, v channels), z, beta, decay.
  Buffer ssm_proj, ssm_proj2, ssm_qkv, ssm_conv, ssm_z, ssm_beta, ssm_decay;
  Buffer ex_in, ex_out;         // one expert's gathered rows and its output
  // Each row's LoRA adapter (BatchRow::lora, else the model's; null: none),
  // and whether any row has one.
  std::vector<const LoraAdapter*> row_lora;
  bool any_lora = false;
  std::vector<int32_t> row_tokens;  // deepseek4: each row's token (its hash layers route by it)
  Buffer hc_post, hc_comb, hc_mix, hc_normed;  // deepseek4: hyper-connection weights (forward_dsv4.cc)
  std::vector<int32_t> sel_expert;  // n_rows x n_expert_used chosen experts
  std::vector<float> sel_weight;    // and their weights
  std::vector<KvSlice> slices;      // per row: its sequence's cache for the current layer
  std::vector<Buffer> thread_scores;  // per thread: attention scores
  std::vector<Buffer> thread_row;     // per thread: a dequantised weight row
  std::vector<Buffer> thread_tmp;     // per thread: FFN slice scratch
  std::vector<Buffer> thread_acc;     // per thread: a column slice of the FFN output, all rows
  Buffer down_y;                      // small batches: every job's down output, rows x n_embd
  // Per FFN job: its input rows encoded for gate (and up, if typed
  // differently) and its hidden rows encoded for down (forward_moe.cc).
  std::vector<kernels::EncodedRows> enc_in, enc_in_up, enc_h;
  bool advise_experts = false;  // Forward::set_advise_experts
  std::vector<uint64_t> expert_rows;  // Forward::expert_rows: layer * n_expert + expert
};

// RoPE parameters of the model (YaRN, linear scaling, pairing) as llama.cpp
// derives them from the GGUF keys.
kernels::RopeParams rope_params(const ModelConfig& cfg);
// The softmax scale of attention scores (1/sqrt(head_dim), times YaRN's
// mscale^2 for deepseek2).
float attention_scale(const ModelConfig& cfg);

// Writes a row of n floats into a cache entry of type t.
void kv_store_row(KvType t, void* dst, const float* src, int64_t n);
// Pointer to element i of a cache buffer of type t (q8_0: i a multiple of 32).
void* kv_at(KvType t, void* base, int64_t i);

// Where one layer's queries, outputs and cached rows are, for
// flash_attention: query of (row r, head h) at q + r * q_row + h * q_head,
// output likewise; kv head g of a row's cache at element g * k_head (keys)
// and g * v_head (values) of its sequence's slice, positions k_row / v_row
// elements apart. Heads h of one kv head: h / (n_head / n_kv_head).
struct AttentionLayout {
  int64_t n_head = 0, n_kv_head = 0, dk = 0, dv = 0;
  float scale = 1.0f;
  const float* q = nullptr;
  int64_t q_row = 0, q_head = 0;
  float* out = nullptr;
  int64_t out_row = 0, out_head = 0;
  int64_t k_row = 0, v_row = 0, k_head = 0, v_head = 0;
  bool values_in_keys = false;  // latent attention: the value is the head of the key row
  int64_t window = 0;            // > 0: a row at pos attends to positions > pos - window only
  int64_t chunk = 0;             // > 0: a row at pos attends to its own chunk, positions >= pos / chunk * chunk
  const float* sinks = nullptr;  // per head: a logit in the softmax's denominator (or none)
};
// Every (row, head) attends causally to positions 0..pos of its sequence
// (the last `window` of them when a.window > 0)
// (s.slices holds each row's slice). Rows of one sequence at consecutive
// positions form tiles that walk the cache together; tiles x head ranges
// are the parallel tasks.
void flash_attention(const AttentionLayout& a, KvType type, std::span<const BatchRow> rows, Forward::Scratch& s,
                     ThreadPool* pool);

// Each run of the batch's rows that share an adapter: apply(layer il's
// LayerLora, its scale, the run's first row, its row count); rows without
// an adapter are skipped.
template <class Apply>
void for_each_lora_run(const Forward::Scratch& s, int64_t il, int64_t n, Apply apply) {
  if (!s.any_lora) return;
  for_each_run(n, [&](int64_t r) { return s.row_lora[static_cast<size_t>(r)]; },
               [&](const LoraAdapter* a, int64_t b, int64_t cnt) {
                 if (a) apply(a->layers()[static_cast<size_t>(il)], a->scale(), b, cnt);
               });
}

// Attention, standard (llama, qwen*, olmoe) and multi-head latent (deepseek2).
void attention_layer(const Model& m, int64_t il, std::span<const BatchRow> rows, KvStore& kv,
                     Forward::Scratch& s, ThreadPool* pool, float* out);
void mla_attention_layer(const Model& m, int64_t il, std::span<const BatchRow> rows, KvStore& kv,
                         Forward::Scratch& s, ThreadPool* pool, float* out);
// Gated DeltaNet linear attention (qwen3next, qwen35moe): its state per
// sequence in kv.recurrent_state (model/forward_deltanet.cc).
void delta_net_layer(const Model& m, int64_t il, std::span<const BatchRow> rows, KvStore& kv, Forward::Scratch& s,
                     ThreadPool* pool, float* out);

// FFNs: dense SwiGLU (and shared experts), and the routed mixture of experts.
void dense_ffn(const kernels::WeightMatrix& gate, const kernels::WeightMatrix& up,
               const kernels::WeightMatrix& down, const float* xn, int64_t n_rows, int64_t n_embd,
               Forward::Scratch& s, ThreadPool* pool, float* out);
void moe_ffn(const Model& m, int64_t il, int64_t n_rows, Forward::Scratch& s, ThreadPool* pool, float* out);

// Expert choice for one row: router logits -> (expert ids, weights) per the
// architecture's gating (see forward_moe.cc). Exposed for tests.
void route_row(const ModelConfig& cfg, const float* logits, const float* score_bias, int32_t* experts,
               float* weights);
// deepseek4's hash layers: the experts `ids` (the token's row of
// ffn_gate_tid2eid) weighed by their scores as route_row weighs its choice.
void route_row_by_token(const ModelConfig& cfg, const float* logits, const int32_t* ids, int32_t* experts,
                        float* weights);
float sqrt_softplus(float l);

// DeepSeek-V4's forward pass (model/forward_dsv4.cc): hyper-connections,
// the compressed sliding-window attention, its cache rows (dsv4_row_layout).
void dsv4_forward(const Model& m, std::span<const BatchRow> rows, KvStore& kv, Forward::Scratch& s,
                  ThreadPool* pool, std::vector<float>& logits);
// Where deepseek4 keeps its per-position state in a cache row (elements):
// the roped key/value (head_dim), the attention compressor's kv and gate
// inputs of this position (comp_width each), the compressed entry of the
// block this position ends (head_dim), then the indexer's likewise.
struct Dsv4RowLayout {
  int64_t kv = 0, comp_kv = 0, comp_score = 0, comp_entry = 0, idx_kv = 0, idx_score = 0, idx_entry = 0;
  int64_t comp_width = 0, idx_width = 0, width = 0;
};
Dsv4RowLayout dsv4_row_layout(const ModelConfig& cfg);
// RoPE of a deepseek4 layer: compressing layers (and every compressor and
// indexer) use compress_rope_freq_base with the file's scaling at unit
// magnitude, the others rope.freq_base unscaled.
kernels::RopeParams dsv4_rope(const ModelConfig& cfg, bool compressed);
// Hyper-connection mixing weights of one row from its mix logits m (n_mix):
// pre (n), post (n), comb (n x n, row j = source stream, column i =
// destination): the rows softmaxed (+ eps), then normalised 2 x
// hc_sinkhorn_iters - 1 times (eps + the line's sum), columns first and
// rows and columns in turn. With states set, the comb after the softmax and
// after each normalisation k goes to states + k n^2 (2 x hc_sinkhorn_iters
// matrices: what training's backward walks).
void dsv4_hc_weights(const ModelConfig& cfg, const float* m, const float* scale, const float* base, float* pre,
                     float* post, float* comb, float* states = nullptr);
// Normalisation k (k = 1, 2, ...) of that sequence: columns when k is odd.
inline bool dsv4_sinkhorn_normalises_columns(int64_t k) { return k % 2 == 1; }
// The compressed entries a query keeps, in entries: all of them, or the
// top_k of the indexer's scores (highest first, ties to the earlier entry).
void dsv4_top_entries(const std::vector<float>& score, int64_t top_k, std::vector<int64_t>& entries);

}  // namespace frugal::model
