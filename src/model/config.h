// Model hyperparameters of every supported architecture, read from and written
// to the standard llama.cpp GGUF keys (<arch>.embedding_length, ...), and the
// list of tensors (names, ggml-order shapes, roles) that a model of a given
// configuration must hold. The forward pass, the numpy references, `synth`,
// `train` and `inspect` all size themselves from this one description.
#pragma once
#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "gguf/tensor_names.h"
#include "gguf/value.h"

namespace frugal::gguf {
class Reader;
struct TensorInfo;
}

namespace frugal::model {

// How RoPE pairs the dimensions of a head: kNormal rotates (x[2i], x[2i+1])
// (llama, deepseek2, ernie4_5-moe); kNeox rotates (x[i], x[i + rope_dim/2]) (qwen*, olmoe).
enum class RopeLayout { kNormal, kNeox };

// <arch>.rope.scaling.type: "none", "linear", "yarn".
enum class RopeScaling { kNone, kLinear, kYarn };

// <arch>.expert_gating_func: how router logits become expert scores
// (deepseek4: sqrt(softplus(l))).
enum class GatingFunc { kSoftmax = 1, kSigmoid = 2, kSqrtSoftplus = 4 };

// The gated unit of the FFNs: kSilu h = silu(g) * u; kSwigluOai (gpt-oss)
// h = g' * sigmoid(1.702 g') * (u' + 1) with g' = min(g, 7) and
// u' = clamp(u, -7, 7).
enum class FfnActivation { kSilu, kSwigluOai };

// Query/key RMSNorm: none; per head over head_dim (qwen3, qwen3moe, dots1); over the
// whole q (n_head*head_dim) and whole k (n_head_kv*head_dim) vectors (olmoe,
// minimax-m2);
// per head without a weight, on the RoPE layers only (llama4 Scout).
enum class QkNorm { kNone, kPerHead, kWhole, kPerHeadUnweighted };

struct ModelConfig {
  std::string arch;  // general.architecture: llama qwen2 qwen3 qwen2moe qwen3moe olmoe deepseek2 gpt-oss glm4moe llama4 qwen3next qwen35moe deepseek4 minimax-m2 dots1 ernie4_5-moe
  std::string name;  // general.name (informational)

  int64_t n_vocab = 0;
  int64_t n_embd = 0;
  int64_t n_layer = 0;      // blocks that run (block_count less n_nextn_layer)
  // <arch>.nextn_predict_layers (glm4moe): blocks after the n_layer that
  // run, each a next-token-prediction (MTP) head: checked at load, not run.
  int64_t n_nextn_layer = 0;
  int64_t n_head = 0;
  int64_t n_head_kv = 0;
  int64_t head_dim = 0;    // key length per head (deepseek2: qk_nope_head_dim + qk_rope_head_dim)
  int64_t v_head_dim = 0;  // value length per head
  int64_t n_ff = 0;        // dense FFN width (dense models, deepseek2 leading dense layers)
  int64_t n_ctx_train = 0;
  float norm_eps = 1e-5f;

  // Mixture of experts (n_expert == 0: dense model).
  int64_t n_expert = 0;
  int64_t n_expert_used = 0;
  int64_t n_ff_exp = 0;          // width of one routed expert
  int64_t n_ff_shexp = 0;        // total width of the shared expert(s) FFN (0: none)
  int64_t n_expert_shared = 0;   // deepseek2: number of shared experts (n_ff_shexp = n * n_ff_exp)
  int64_t n_leading_dense = 0;   // deepseek2: first layers with a dense FFN instead of MoE
  GatingFunc gating = GatingFunc::kSoftmax;
  bool expert_weights_norm = false;   // renormalise the top-k weights to sum to 1
  float expert_weights_scale = 1.0f;  // routed scaling factor (deepseek2)
  int64_t n_expert_groups = 0;        // deepseek group-limited routing (0 or 1: off)
  int64_t n_group_used = 0;
  bool expert_score_bias = false;     // exp_probs_b.bias (DeepSeek-V3 selection bias)
  bool shared_expert_gate = false;    // qwen2moe: sigmoid(x . ffn_gate_inp_shexp) scales the shared expert
  bool router_bias = false;           // gpt-oss: ffn_gate_inp.bias added to the router logits
  bool expert_bias = false;           // gpt-oss: ffn_{gate,up,down}_exps.bias per expert
  FfnActivation ffn_act = FfnActivation::kSilu;
  // DeepSeek's MoE description (deepseek2, glm4moe, deepseek4, dots1): shared
  // experts counted by expert_shared_count (n_ff_shexp = count * n_ff_exp),
  // and the gating, weights norm/scale, group and leading-dense keys written.
  bool deepseek_moe_keys = false;
  // llama4: <arch>.interleave_moe_layer_step: layer il has routed experts
  // when (il + 1) % step == 0 (0 or 1: every layer), a dense FFN otherwise.
  int64_t n_moe_layer_step = 0;
  // llama4: each chosen expert's weight sigmoid(logit) scales its input rather
  // than its output.
  bool expert_weight_on_input = false;
  // Key traits (from the table of architectures): interleave_moe_layer_step read and written
  // (llama4, ernie4_5-moe); leading_dense_block_count written (DeepSeek's
  // MoE, ernie4_5-moe); expert_shared_feed_forward_length written (the gated
  // shared experts of qwen2moe, qwen3next, qwen35moe; ernie4_5-moe's, with
  // expert_shared_count).
  bool moe_step_key = false;
  bool leading_dense_key = false;
  bool shared_width_key = false;

  // Rotary position embedding.
  float rope_freq_base = 10000.0f;
  int64_t rope_dim = 0;  // dimensions rotated per head (deepseek2: qk_rope_head_dim)
  RopeLayout rope_layout = RopeLayout::kNormal;
  RopeScaling rope_scaling = RopeScaling::kNone;
  float rope_scaling_factor = 1.0f;
  int64_t rope_orig_ctx = 0;          // rope.scaling.original_context_length
  float yarn_attn_factor = 1.0f;      // rope.scaling.attn_factor
  float yarn_log_multiplier = 0.0f;   // rope.scaling.yarn_log_multiplier (deepseek2: 0.1 * mscale_all_dim)
  float yarn_beta_fast = 32.0f;
  float yarn_beta_slow = 1.0f;

  // Multi-head latent attention (deepseek2).
  int64_t q_lora_rank = 0;  // 0: plain attn_q (V2-Lite)
  int64_t kv_lora_rank = 0;
  int64_t qk_rope_head_dim = 0;
  int64_t qk_nope_head_dim = 0;
  // How the latent's expansion is stored (from the tensors, like tied_output):
  // false: one attn_kv_b [rank, n_head * (nope + v)]; true: split as current
  // converters write it, attn_k_b [nope, rank, n_head] (per head: rank rows
  // of nope, the key rows transposed, ready to absorb into the query) and
  // attn_v_b [rank, v, n_head] (per head: the value rows). Files written with
  // the split also describe MLA as one kv head of width rank + rope
  // (attention.key_length) with the per-head sizes in the *_mla keys.
  bool mla_split_kv_b = false;

  // Shape details fixed by the architecture (not GGUF keys; from its table entry).
  bool tied_output = false;  // no output.weight: the LM head is token_embd (from the file's tensors)
  bool attn_bias = false;    // attn_q/k/v.bias (qwen2 family, gpt-oss)
  bool fused_qkv = false;    // attn_qkv holds the rows of attn_q, attn_k, attn_v (bailingmoe2)
  bool qk_norm_after_rope = false;  // hunyuan-moe: q/k heads normalised after RoPE
  bool attn_out_bias = false;  // attn_output.bias (gpt-oss)
  bool attn_sinks = false;   // attn_sinks.weight: one learned logit per head in the softmax's denominator (gpt-oss)
  QkNorm qk_norm = QkNorm::kNone;
  // The FFN's pre-norm tensor: ffn_norm, or post_attention_norm (gpt-oss's
  // converter names it after the Hugging Face module).
  gguf::TensorId ffn_norm = gguf::TensorId::kFfnNorm;

  // Sliding-window attention (gpt-oss: <arch>.attention.sliding_window):
  // n_swa > 0 makes every even layer attend to its last n_swa positions
  // only (the query's own included); odd layers attend to all.
  int64_t n_swa = 0;
  // llama4: every n_nope_layer_step-th layer ((il + 1) % step == 0) has no
  // RoPE and attends to all positions, its queries scaled by
  // 1 + attn_temp_scale * ln(floor((pos + 1) / attn_temp_length) + 1);
  // the others attend within chunks of n_attn_chunk positions.
  int64_t n_nope_layer_step = 0;
  int64_t n_attn_chunk = 0;
  float attn_temp_scale = 0.0f;
  int64_t attn_temp_length = 0;
  // rope_freqs.weight (from the tensors, like tied_output): rope_dim/2
  // factors that divide each pair's frequency (llama 3.1 and llama4 Scout).
  bool rope_freq_factors = false;
  // Gated attention (qwen3next, qwen35moe): attn_q holds, per head, the
  // query then as many gate logits; the heads' output is multiplied by
  // sigmoid(gate) before attn_output.
  bool attn_output_gate = false;
  // qwen35moe's interleaved multimodal RoPE: rotary pairs per section (text,
  // height, width, unused; <arch>.rope.dimension_sections, summing to
  // rope_dim/2). Text puts every section at the token's position, which is
  // plain RoPE, so the forward pass never reads it; it is kept so that files
  // round-trip and other engines, whose loaders require it, read frugal's.
  std::array<int64_t, 4> rope_sections{};

  // Gated DeltaNet linear attention (qwen3next, qwen35moe): every layer
  // whose index + 1 is not a multiple of n_full_attn_interval is recurrent
  // (model/forward_deltanet.cc); the others are gated full attention.
  // The <arch>.ssm.* keys: conv_kernel, state_size (key head width),
  // group_count (key heads), time_step_rank (value heads), inner_size
  // (value heads * value head width).
  int64_t n_full_attn_interval = 0;  // 0: no recurrent layers
  int64_t ssm_conv_kernel = 0;
  int64_t ssm_k_head_dim = 0;
  int64_t ssm_n_k_head = 0;
  int64_t ssm_n_v_head = 0;
  int64_t ssm_v_head_dim = 0;
  // How the file lays out a recurrent layer. false (qwen3next): ssm_in
  // holds per key head [q, k, v, z] of that head's group of value heads,
  // ssm_ba per key head [beta, alpha] of its value heads, and value head h
  // reads key head h / (n_v / n_k). true (qwen35moe): attn_qkv [all q, all k,
  // all v], attn_gate z, ssm_beta and ssm_alpha apart, and value head h
  // reads key head h % n_k.
  bool ssm_split_proj = false;

  // DeepSeek-V4 (deepseek4; model/forward_dsv4.cc).
  // Hyper-connections: the residual stream is n_hc copies of n_embd; each
  // sublayer reads a weighted sum of them and writes back through a mixing
  // matrix made doubly stochastic by hc_sinkhorn_iters Sinkhorn steps
  // (<arch>.hyper_connection.count, .sinkhorn_iterations, .epsilon).
  int64_t n_hc = 0;  // 0: a plain residual stream
  int64_t hc_sinkhorn_iters = 0;
  float hc_eps = 0.0f;
  // Attention of one shared key/value head (K = V, head_dim wide) over a
  // sliding window of n_swa positions in every layer, plus compressed
  // entries of the earlier positions: layer il's compress_ratios[il] = 0
  // none; 4 (CSA) one entry per 4 positions pooled over 8 with overlap,
  // chosen per query by a lightning indexer (n_indexer_head heads of
  // indexer_head_dim, the indexer_top_k best); any other ratio r (HCA) one
  // entry per r positions, all visible ones attended.
  std::vector<int64_t> compress_ratios;
  float compress_rope_base = 0.0f;  // their RoPE base (YaRN applies to those layers only)
  int64_t n_indexer_head = 0;
  int64_t indexer_head_dim = 0;
  int64_t indexer_top_k = 0;
  // The heads' output projected per group: n_out_groups groups of
  // n_head * head_dim / n_out_groups values, each to out_lora_rank, then all
  // to n_embd (attn_output_a, attn_output_b).
  int64_t n_out_groups = 0;
  int64_t out_lora_rank = 0;
  // The first n_hash_layers MoE layers choose their experts by token id
  // (ffn_gate_tid2eid) instead of by score.
  int64_t n_hash_layers = 0;
  // <arch>.swiglu_clamp_exp / _shexp: per layer, h = min(silu(g), L) *
  // clamp(u, -L, L) in the routed experts / the shared expert and dense
  // FFNs (0: no clamp).
  std::vector<float> swiglu_limit_exp, swiglu_limit_shexp;
  // Every layer attends within the sliding window (deepseek4); otherwise
  // only the even layers (gpt-oss).
  bool swa_every_layer = false;
  // YaRN's magnitude correction goes into the softmax scale instead of the
  // rotation (deepseek2; attention_scale and rope_params).
  bool yarn_scale_in_softmax = false;

  bool is_moe() const { return n_expert > 0; }
  bool is_mla() const { return kv_lora_rank > 0; }
  // Whether layer il has a routed-expert FFN (false for dense models and
  // deepseek2's leading dense layers).
  bool layer_is_moe(int64_t il) const {
    return n_expert > 0 && il >= n_leading_dense && (n_moe_layer_step <= 1 || (il + 1) % n_moe_layer_step == 0);
  }
  // Whether layer il rotates its queries and keys (llama4's NoPE layers do not).
  bool layer_has_rope(int64_t il) const { return n_nope_layer_step <= 0 || (il + 1) % n_nope_layer_step != 0; }
  // Whether layer il is a Gated DeltaNet layer (a recurrent state per
  // sequence instead of keys and values per position).
  bool layer_is_recurrent(int64_t il) const {
    return n_full_attn_interval > 0 && il < n_layer && (il + 1) % n_full_attn_interval != 0;
  }
  bool has_recurrent_layers() const { return n_full_attn_interval > 1; }
  // Channels of the recurrent layers' causal convolution (q, k and v).
  int64_t ssm_conv_channels() const { return 2 * ssm_n_k_head * ssm_k_head_dim + ssm_n_v_head * ssm_v_head_dim; }
  // Floats of one recurrent layer's state for one sequence: the last
  // conv_kernel - 1 inputs of the convolution, then per value head a
  // v_head_dim x k_head_dim matrix.
  int64_t recurrent_state_floats() const {
    return (ssm_conv_kernel - 1) * ssm_conv_channels() + ssm_n_v_head * ssm_v_head_dim * ssm_k_head_dim;
  }
  // Chunk length of layer il's attention (0: none).
  int64_t layer_chunk(int64_t il) const { return layer_has_rope(il) ? n_attn_chunk : 0; }
  // Positions layer il attends to before the query's own (0: all).
  int64_t layer_window(int64_t il) const { return n_swa > 0 && (swa_every_layer || il % 2 == 0) ? n_swa : 0; }
  // deepseek4: layer il's compression ratio (0: none), whether it is a CSA
  // layer (ratio 4: overlapping blocks, the indexer), whether it chooses its
  // experts by token id.
  int64_t layer_compress_ratio(int64_t il) const {
    return il >= 0 && il < static_cast<int64_t>(compress_ratios.size()) ? compress_ratios[static_cast<size_t>(il)] : 0;
  }
  bool layer_has_indexer(int64_t il) const { return layer_compress_ratio(il) == 4; }
  bool layer_is_hashed(int64_t il) const { return il < n_hash_layers && layer_is_moe(il); }
  bool has_hyper_connections() const { return n_hc > 0; }
  int64_t n_embd_q() const { return n_head * head_dim; }      // width of all query heads
  int64_t n_embd_k() const { return n_head_kv * head_dim; }   // width of all key heads
  int64_t n_embd_v() const { return n_head_kv * v_head_dim; } // width of all value heads
  // Parameters of the model that runs, as model cards count them (the
  // next-token-prediction blocks left out) / used per token (routed experts:
  // only top-k) / in the next-token-prediction blocks.
  int64_t n_params() const;
  int64_t n_active_params() const;
  int64_t n_nextn_params() const;
};

// The supported architectures, in the order of model/architectures.h's table.
const std::vector<std::string>& supported_architectures();
bool is_supported_architecture(std::string_view arch);

// Fills the fixed-by-architecture fields from cfg.arch's entry in the table
// of architectures; unknown arch -> frugal::Error listing the supported ones.
void apply_architecture_defaults(ModelConfig& cfg);

// Reads general.architecture and the <arch>.* keys. n_vocab comes from
// <arch>.vocab_size or else the length of tokenizer.ggml.tokens. Unknown
// architecture or a missing required key -> frugal::Error naming the key.
// tied_output stays false: only the tensors can tell (see config_from_file).
ModelConfig config_from_metadata(const gguf::Metadata& md);
// config_from_metadata plus what the tensors tell: tied_output (no
// output.weight) and n_vocab from token_embd when no key gives it.
ModelConfig config_from_file(const gguf::Reader& file);

// Writes general.architecture, general.name and every <arch>.* key the
// architecture uses; config_from_metadata(config_to_metadata(c)) == c for
// every field a file can carry. Invalid dimensions -> frugal::Error.
void config_to_metadata(const ModelConfig& cfg, gguf::Metadata& md);

// Checks dimensions for consistency (positive sizes, n_head % n_head_kv == 0,
// n_expert_used <= n_expert, rope_dim <= head_dim, ...); frugal::Error naming
// the field otherwise.
void validate_config(const ModelConfig& cfg);

// qwen35moe's RoPE sections: cfg.rope_sections when a file or checkpoint
// gave them, else the split Qwen3.5's checkpoints use (rope_dim/2 pairs in
// thirds, the larger ones first: 64 rotated dimensions -> 11, 11, 10, 0).
std::array<int64_t, 4> rope_sections(const ModelConfig& cfg);

// Tensor names and roles come from the table in gguf/tensor_names.h.
using gguf::TensorId;
using gguf::TensorRole;
using gguf::tensor_role_name;

struct TensorSpec {
  std::string name;              // "blk.3.attn_q.weight"
  std::vector<int64_t> shape;    // ggml order: shape[0] is the row length
  TensorRole role;
  int layer = -1;                // block index, -1 for global tensors
  TensorId id = TensorId::kCount;  // its entry in the table of tensor names
  int64_t n_elements() const;
  // Input features of one row (shape[0]); for weights used as x·W this is the fan-in.
  int64_t fan_in() const { return shape.empty() ? 0 : shape[0]; }
};

// Every tensor a model of this configuration holds, in file order (global
// tensors first, then block by block). Omits output.weight when tied_output.
std::vector<TensorSpec> expected_tensors(const ModelConfig& cfg);

// Another spelling of a tensor's name that files of the architecture use
// ("" if none): deepseek4 files from some converters drop the .weight/.bias
// suffix of small tensors and name the compressors attn_compress_* and
// indexer.compress_*, the head's mixing hc_head_*, the key attn_kv_latent.
// Loading looks for the name expected_tensors gives, then this one.
std::string tensor_alias(std::string_view arch, const std::string& name);
// The file's tensor of that name or of its alias (nullptr if neither).
const gguf::TensorInfo* find_model_tensor(const gguf::Reader& file, std::string_view arch, const std::string& name);

}  // namespace frugal::model
