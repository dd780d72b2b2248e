// A loaded model: the GGUF file (mmap'd), its configuration, and every weight
// bound by name to where it lies in the mapping. Weights are never copied:
// matrices are WeightMatrix views into the file, in the file's tensor types.
// Only 1-D parameter vectors (norm weights, biases) stored in a type other
// than f32 are converted to a small f32 copy at load.
//
// Model::load checks every tensor against expected_tensors(config) (name,
// shape, a type the kernels can read) before any work, and fails with a
// frugal::Error naming the tensor and the expected vs actual shape or type.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "base/anonymous_memory.h"
#include "gguf/reader.h"
#include "kernels/matmul.h"
#include "model/config.h"

namespace frugal::model {

// What load-time repacking and copying did (model/repack_weights.h).
struct RepackReport {
  int64_t tensors = 0;  // matrices repacked (an expert stack counts once)
  uint64_t bytes = 0;   // repacked
  uint64_t copied_bytes = 0;  // copied as they were into memory
  double seconds = 0;
  std::string skipped;  // why it did not run, when it could have
};

// A 1-D f32 parameter vector (norm weight, bias); data == nullptr when absent.
struct ParamVector {
  const float* data = nullptr;
  int64_t n = 0;
  explicit operator bool() const { return data != nullptr; }
};

// n_expert matrices stored as one 3-D GGUF tensor [n_in, n_out, n_expert]:
// expert e's matrix is n_out rows of n_in elements starting at
// data + e * expert_bytes.
struct ExpertStack {
  TensorType type = TensorType::F32;
  const uint8_t* data = nullptr;
  int64_t n_in = 0;
  int64_t n_out = 0;
  int64_t n_expert = 0;
  size_t expert_bytes = 0;
  kernels::WeightMatrix expert(int64_t e) const {
    return {type, data + static_cast<size_t>(e) * expert_bytes, n_out, n_in};
  }
};

// One transformer block. Which fields are set depends on the architecture
// (a WeightMatrix with data == nullptr is absent).
struct LayerWeights {
  ParamVector attn_norm;
  // Standard attention (llama, qwen*, olmoe).
  kernels::WeightMatrix wq, wk, wv, wo;
  ParamVector bq, bk, bv;        // qwen2 family, gpt-oss
  ParamVector bo;                // gpt-oss: attn_output.bias
  ParamVector sinks;             // gpt-oss: one logit per head (n_head)
  ParamVector q_norm, k_norm;    // qwen3 (per head, head_dim) / olmoe (whole vector)
  // Multi-head latent attention (deepseek2); wq is used when q_lora_rank == 0.
  kernels::WeightMatrix wq_a, wq_b, wkv_a_mqa, wkv_b;
  // Or kv_b split (config.mla_split_kv_b): one matrix per head, head h at
  // .expert(h): k_b's has kv_lora_rank rows of qk_nope_head_dim, v_b's
  // v_head_dim rows of kv_lora_rank.
  ExpertStack wk_b, wv_b;
  ParamVector q_a_norm, kv_a_norm;
  // Gated DeltaNet (ModelConfig::layer_is_recurrent): ssm_in (q, k, v, z
  // grouped per key head) and ssm_ba, or as qwen35moe splits them, wqkv,
  // wgate (z), ssm_beta and ssm_alpha; the causal convolution's taps
  // (conv_kernel per channel), dt bias and A (negative) per value head, the
  // output norm (v_head_dim) and projection.
  kernels::WeightMatrix ssm_in, ssm_ba, wqkv, wgate, ssm_beta, ssm_alpha, ssm_out;
  ParamVector ssm_conv, ssm_dt, ssm_a, ssm_norm;

  // DeepSeek-V4 (ModelConfig's deepseek4 fields): hyper-connection mixing
  // for the attention and FFN sublayers (fn: n_mix rows of n_hc * n_embd;
  // base: n_mix; scale: 3), the shared key/value projection (wkv: head_dim
  // rows) and its norm (kv_a_norm), the grouped output (wo_a: n_out_groups *
  // out_lora_rank rows of n_head * head_dim / n_out_groups, group g's rows
  // from g * out_lora_rank; wo_b), the compressors (kv and gate, the gate's
  // position embedding ape: ratio rows, and the entries' norm) of the
  // attention and of the indexer, the indexer's query (idx_q_b) and head
  // weights (idx_proj), and the hash layers' expert table (token t's
  // n_expert_used ids at tid2eid + t * n_expert_used).
  kernels::WeightMatrix hc_attn_fn, hc_ffn_fn;
  ParamVector hc_attn_base, hc_attn_scale, hc_ffn_base, hc_ffn_scale;
  kernels::WeightMatrix wkv, wo_a, wo_b;
  kernels::WeightMatrix comp_kv, comp_gate, idx_comp_kv, idx_comp_gate, idx_q_b, idx_proj;
  ParamVector comp_ape, comp_norm, idx_comp_ape, idx_comp_norm;
  const int32_t* tid2eid = nullptr;

  ParamVector ffn_norm;
  // Dense SwiGLU FFN (dense models, deepseek2 leading layers).
  kernels::WeightMatrix ffn_gate, ffn_up, ffn_down;
  // Mixture of experts.
  kernels::WeightMatrix router;      // n_expert rows of n_embd
  ParamVector expert_score_bias;     // deepseek-v3 exp_probs_b (selection only)
  ExpertStack gate_exps, up_exps, down_exps;
  ParamVector router_bias;           // gpt-oss: added to the router logits
  // gpt-oss: expert e's biases at data + e * n_ff_exp (gate, up) and
  // data + e * n_embd (down).
  ParamVector gate_exps_b, up_exps_b, down_exps_b;
  kernels::WeightMatrix gate_shexp, up_shexp, down_shexp;
  ParamVector shexp_gate;            // qwen2moe: sigmoid(x . shexp_gate) scales the shared expert
};

struct ModelWeights {
  kernels::WeightMatrix token_embd;  // n_vocab rows of n_embd
  ParamVector output_norm;
  kernels::WeightMatrix output;      // LM head: n_vocab rows of n_embd (token_embd when tied)
  ParamVector rope_freqs;            // rope_dim/2 frequency divisors (config.rope_freq_factors)
  // deepseek4: the head's hyper-connection weights (fn: n_hc rows of n_hc * n_embd).
  kernels::WeightMatrix hc_head_fn;
  ParamVector hc_head_base, hc_head_scale;
  std::vector<LayerWeights> layers;
};

struct LoadOptions {
  // Repack the matrices whose types have a row-interleaved layout with
  // kernels at this CPU's SIMD level (model/repack_weights.h), when the
  // repacked copy fits in the memory available. Off by default: filling
  // fresh memory with a whole model takes seconds (`frugal quantize --repack`
  // does it once, ahead of time).
  bool repack = false;
  // Copy the matrices (those not repacked) out of the file mapping into
  // memory on huge pages, when they fit in the memory available: faster
  // batched decoding, about a second more to load a page-cached 4 GB file.
  bool in_memory = false;
  int threads = 0;  // for repacking and copying; <= 0: one per core
};

class LoraAdapter;

class Model {
 public:
  // Maps the file, reads the configuration and binds and validates every tensor.
  static std::unique_ptr<Model> load(const std::string& gguf_path, const LoadOptions& options = {});
  // Same over an already opened file (tests parse files from memory).
  static std::unique_ptr<Model> from_reader(gguf::Reader file, const LoadOptions& options = {});

  const ModelConfig& config() const { return config_; }
  const gguf::Reader& file() const { return file_; }
  const ModelWeights& weights() const { return weights_; }
  // What load-time repacking did (zero tensors when it did not run).
  const RepackReport& repacked() const { return repacked_; }

  // The LoRA adapter applied in the forward pass (model/lora.h), or null.
  const LoraAdapter* lora() const { return lora_.get(); }
  void set_lora(std::shared_ptr<const LoraAdapter> adapter) { lora_ = std::move(adapter); }

  // Copies token's embedding row (n_embd floats) to out; token must be in [0, n_vocab).
  void embed(int32_t token, float* out) const;

 private:
  explicit Model(gguf::Reader file);
  void bind();

  gguf::Reader file_;
  ModelConfig config_;
  ModelWeights weights_;
  std::vector<std::vector<float>> converted_;  // f32 copies of non-f32 1-D vectors
  AnonymousMemory repacked_memory_;            // the repacked matrices, if any
  RepackReport repacked_;
  std::shared_ptr<const LoraAdapter> lora_;
};

// Checks the file's tensors against expected_tensors(cfg): each must exist
// with that exact shape and a type the kernels can read (1-D vectors: any
// dequantisable type). Throws frugal::Error naming the first bad tensor with
// the expected and actual shape or type.
void validate_tensors(const ModelConfig& cfg, const gguf::Reader& file);

}  // namespace frugal::model
