// The training model: a decoder-only MoE transformer in the qwen3moe layout
// (the architecture frugal serves): token embedding, per layer RMSNorm ->
// attention (q/k/v projections, per-head q/k RMSNorm, NeoX RoPE, GQA, causal
// softmax, output projection) -> residual -> RMSNorm -> MoE FFN (softmax
// router, top-k renormalised, SwiGLU experts, dropless) -> residual; final
// RMSNorm and an untied LM head. One expert with top-1 is the dense baseline.
// qwen3moe has no shared expert; a model with one is written in the qwen2moe
// layout instead (what GGUF readers know for it): q/k/v biases and no q/k
// norm, a shared SwiGLU expert scaled by sigmoid(x . ffn_gate_inp_shexp), and
// the top-k weights not renormalised (qwen2moe's router).
// A file of another MoE architecture continues training as it is (--init):
// olmoe (q/k RMSNorm over the whole q and k vectors, weights not
// renormalised), Mixtral-style llama (no q/k norm, llama's RoPE pairing) and
// deepseek2; new models are made in the olmoe and llama layouts too
// (ModelShape::arch); ParamLayout refuses by name what the model cannot
// represent.
//
// Parameters live in one flat f32 array, tensor after tensor in the order
// and ggml shapes of model::expected_tensors(config), so an F32 export is a
// straight copy and a GGUF written by frugal can be loaded back for
// fine-tuning. Gradients use the same layout.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "model/config.h"

namespace frugal::train {

// Hyperparameters a user chooses (the rest of model::ModelConfig follows).
struct ModelShape {
  int64_t n_vocab = 256;
  int64_t n_embd = 128;
  int64_t n_layer = 2;
  int64_t n_head = 4;
  int64_t n_head_kv = 2;
  int64_t head_dim = 32;
  int64_t n_expert = 4;
  int64_t n_expert_used = 2;
  int64_t n_ff_exp = 128;
  int64_t n_ctx = 128;
  int64_t n_ff_shexp = 0;  // shared expert FFN width; > 0 selects the qwen2moe layout
  // The layout of a new model: one of new_model_architecture_names(); empty:
  // qwen3moe (qwen2moe with a shared expert).
  std::string arch;
};

// The architectures a model can be made in from scratch (Training::kNew in
// model/architectures.cc), "llama, qwen2moe, ..." (deepseek2's latent
// attention has shape choices of its own: such models come from files, --init).
std::string new_model_architecture_names();

// A ModelConfig of this shape in shape.arch's layout (norm eps 1e-6, rope
// base 10000). Errors name an unknown architecture or a shared expert the
// layout has no place for.
model::ModelConfig make_config(const ModelShape& shape);

// Where one tensor sits in the flat parameter array.
struct ParamTensor {
  std::string name;
  std::vector<int64_t> shape;  // ggml order
  model::TensorRole role;
  int layer = -1;
  model::TensorId id = model::TensorId::kCount;  // its entry in the table of tensor names
  size_t offset = 0;  // in floats
  size_t size = 0;    // elements
};

// Views of one layer's tensors in a flat array (parameters or gradients).
struct LayerView {
  float* attn_norm;  // n_embd
  float* wq;         // n_embd_q rows of n_embd (deepseek2 with a q rank: null)
  float* wk;         // n_embd_k rows of n_embd
  float* wv;         // n_embd_v rows of n_embd
  float* q_norm;     // head_dim (olmoe: n_embd_q; null in qwen2moe, llama)
  float* k_norm;     // head_dim (olmoe: n_embd_k; null in qwen2moe, llama)
  float* bq;         // n_embd_q (q/k/v biases: qwen2moe only, else null)
  float* bk;         // n_embd_k
  float* bv;         // n_embd_k
  float* wo;         // n_embd rows of n_embd_q
  float* ffn_norm;   // n_embd
  float* router;     // n_expert rows of n_embd
  float* gate_exps;  // per expert n_ff_exp rows of n_embd
  float* up_exps;    // per expert n_ff_exp rows of n_embd
  float* down_exps;  // per expert n_embd rows of n_ff_exp
  float* shexp_gate_inp;  // n_embd: the shared expert's sigmoid gate (null without one)
  float* gate_shexp;      // n_ff_shexp rows of n_embd
  float* up_shexp;        // n_ff_shexp rows of n_embd
  float* down_shexp;      // n_embd rows of n_ff_shexp
  // deepseek2's latent attention (train/mla.h; else null): wq_a (q_rank rows
  // of n_embd), q_a_norm, wq_b (H*hd rows of q_rank) when queries are low
  // rank; wkv_a (rank + rope rows of n_embd), kv_a_norm (rank), wkv_b
  // (H*(nope + v) rows of rank). wk, wv are null.
  // Split files hold wk_b (per head rank rows of nope: the key rows
  // transposed) and wv_b (per head v rows of rank) instead of wkv_b.
  float *wq_a, *q_a_norm, *wq_b, *wkv_a, *kv_a_norm, *wkv_b, *wk_b, *wv_b;
  // A dense layer's SwiGLU FFN (deepseek2's leading layers; n_ff wide); the
  // router and expert tensors are then null.
  float *ffn_gate, *ffn_up, *ffn_down;
};
struct ModelView {
  float* token_embd;   // n_vocab rows of n_embd
  float* output_norm;  // n_embd
  float* output;       // n_vocab rows of n_embd
  std::vector<LayerView> layers;
};

class ParamLayout {
 public:
  explicit ParamLayout(const model::ModelConfig& cfg);  // frugal::Error unless trainable (see above)
  const model::ModelConfig& config() const { return cfg_; }
  const std::vector<ParamTensor>& tensors() const { return tensors_; }
  size_t n_params() const { return n_params_; }
  const ParamTensor& find(const std::string& name) const;  // frugal::Error if absent
  ModelView view(float* base) const;

 private:
  model::ModelConfig cfg_;
  std::vector<ParamTensor> tensors_;
  size_t n_params_ = 0;
};

// Deterministic initialisation from a seed: weight matrices ~ N(0, 0.02)
// (the residual outputs attn_output and ffn_down scaled by 1/sqrt(2 n_layer)),
// norm weights 1.
void init_params(const ParamLayout& layout, uint64_t seed, float* params);

// A small deterministic random number generator (splitmix64 + Box-Muller),
// the same on every platform.
struct Rng {
  uint64_t state;
  explicit Rng(uint64_t seed) : state(seed) {}
  uint64_t next_u64();
  float uniform();  // [0, 1)
  float normal();
};

}  // namespace frugal::train
