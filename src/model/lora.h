// LoRA adapters in llama.cpp's GGUF adapter format: general.type = "adapter",
// adapter.type = "lora", adapter.lora.alpha, and for each adapted matrix W
// (GGUF name N, e.g. "blk.0.attn_q.weight", shape [n_in, n_out]) two tensors
// "N.lora_a" of shape [n_in, rank] and "N.lora_b" of shape [rank, n_out]
// (ggml order). The adapted layer computes W x + scale * B (A x) with
// scale = user_scale * alpha / rank (user_scale alone when alpha is 0).
//
// Applied at inference to the attention projections (q, k, v, output) of the
// standard attention architectures, deepseek2's latent attention (q or
// q_a and q_b, kv_a_mqa, output, kv_b, or a split file's per-head k_b and
// v_b, 3-D factors as the experts'), the Gated DeltaNet layers' in- and
// output projections (qwen3next, qwen35moe), bailingmoe2's fused attn_qkv
// (its B's rows split among the q, k and v products, A x shared), the dense
// SwiGLU FFN, the shared experts, the routed experts (gpt-oss's biased and
// clamped ones and llama4's, weighted on their input, included) and the
// router (ffn_gate_inp, its logits adapted before routing). Any other tensor
// name in the file is a load error naming it, so an adapter is never half
// applied.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "base/thread_pool.h"
#include "gguf/reader.h"
#include "kernels/ffn.h"
#include "kernels/matmul.h"

namespace frugal::model {

class Model;

// One adapted matrix: a is rank rows of n_in, b is n_out rows of rank.
struct LoraPair {
  kernels::WeightMatrix a, b;
  explicit operator bool() const { return a.data != nullptr; }
};

// The factors of an expert stack (3-D tensors, one pair per expert, as
// llama.cpp stores them): a is [n_in, rank, n_expert], b [rank, n_out, n_expert].
struct LoraStack {
  LoraPair first;  // expert 0's pair
  size_t a_bytes = 0, b_bytes = 0;  // one expert's factor sizes
  explicit operator bool() const { return static_cast<bool>(first); }
  LoraPair expert(int64_t e) const {
    LoraPair p = first;
    p.a.data = static_cast<const uint8_t*>(p.a.data) + static_cast<size_t>(e) * a_bytes;
    p.b.data = static_cast<const uint8_t*>(p.b.data) + static_cast<size_t>(e) * b_bytes;
    return p;
  }
};

struct LayerLora {
  LoraPair wq, wk, wv, wo;
  LoraPair wq_a, wq_b, wkv_a, wkv_b;  // latent attention (deepseek2)
  LoraStack wk_b, wv_b;        // a split kv_b's heads: a pair of factors per head
  // deepseek4: the shared key/value projection and the grouped output (wo_a's
  // rows from g * out_lora_rank serve group g).
  LoraPair wkv, wo_a, wo_b;
  // Gated DeltaNet's projections (qwen3next: ssm_in, ssm_ba; qwen35moe:
  // attn_qkv, attn_gate, ssm_beta, ssm_alpha) and its output.
  LoraPair ssm_in, ssm_ba, wqkv, wgate, ssm_beta, ssm_alpha, ssm_out;
  LoraPair ffn_gate, ffn_up, ffn_down;
  LoraPair gate_shexp, up_shexp, down_shexp;
  LoraStack gate_exps, up_exps, down_exps;
  LoraPair router;  // added to the router's logits before routing
  bool adapts_router() const { return static_cast<bool>(router); }
  bool adapts_ffn() const { return ffn_gate || ffn_up || ffn_down; }
  bool adapts_shexp() const { return gate_shexp || up_shexp || down_shexp; }
  bool adapts_experts() const { return gate_exps || up_exps || down_exps; }
};

class LoraAdapter {
 public:
  // Maps the file and checks it against the base model: the keys, every
  // tensor name (a matrix this adapter can adapt), the a/b pairing, types
  // (f32 or f16) and shapes against the base tensor's. Errors name the file
  // and the tensor.
  static std::unique_ptr<LoraAdapter> load(const std::string& path, const Model& base, float user_scale = 1.0f);
  static std::unique_ptr<LoraAdapter> from_reader(gguf::Reader file, const Model& base, float user_scale = 1.0f);

  float alpha() const { return alpha_; }
  int64_t rank() const { return rank_; }
  float scale() const { return scale_; }  // user_scale * alpha / rank
  const std::vector<LayerLora>& layers() const { return layers_; }
  const gguf::Reader& file() const { return file_; }
  // Base tensor name of each adapted matrix, in file order.
  const std::vector<std::string>& targets() const { return targets_; }

 private:
  explicit LoraAdapter(gguf::Reader file) : file_(std::move(file)) {}
  gguf::Reader file_;
  float alpha_ = 0, scale_ = 1;
  int64_t rank_ = 0;
  std::vector<LayerLora> layers_;
  std::vector<std::string> targets_;
};

// Runs of consecutive items with the same key (a batch's rows by adapter):
// f(key, first, count) for each, in order.
template <class Key, class F>
void for_each_run(int64_t n, Key key, F f) {
  for (int64_t b = 0; b < n;) {
    const auto k = key(b);
    int64_t e = b + 1;
    while (e < n && key(e) == k) ++e;
    f(k, b, e - b);
    b = e;
  }
}

// Whether any of the adapters (null: none) adapts layer il as `adapts` says.
inline bool any_adapts(const std::vector<const LoraAdapter*>& adapters, int64_t il,
                       bool (LayerLora::*adapts)() const) {
  for (const LoraAdapter* a : adapters)
    if (a && (a->layers()[static_cast<size_t>(il)].*adapts)()) return true;
  return false;
}


// The pair restricted to n of its output rows from first (B's rows; A whole):
// the part of a fused or grouped matrix's adapter that one of its products gets.
LoraPair lora_rows(const LoraPair& p, int64_t first, int64_t n);

// y (n_rows x ldy, first b.n_out columns) += scale * B (A x) for each row of x.
void lora_apply(const LoraPair& p, float scale, const float* x, int64_t ldx, int64_t n_rows, float* y, int64_t ldy,
                ThreadPool* pool);

// out (n_rows x down.n_out) += weight[r] (1 when weights is null) *
// down(silu(gate x) * up x) with each matrix's adapter product added (pairs
// may be empty): the dense FFN, a shared expert or a routed expert of an
// adapted layer. glu: the gated unit and the gate/up biases added before it
// (gpt-oss's experts: kernels/ffn.h); down_bias: added to down's output
// before the weight.
void lora_swiglu(const kernels::WeightMatrix& gate, const kernels::WeightMatrix& up, const kernels::WeightMatrix& down,
                 const LoraPair& lora_gate, const LoraPair& lora_up, const LoraPair& lora_down, float scale,
                 const float* x, int64_t n_rows, const float* weights, float* out, ThreadPool* pool,
                 const kernels::GluOptions& glu = {}, const float* down_bias = nullptr);

// One adapted matrix's factors in f32, for writing an adapter: per expert,
// a is rank rows of n_in and b n_out rows of rank (experts one after another).
struct LoraFactors {
  std::string target;     // the base tensor, e.g. "blk.0.attn_q.weight"
  int64_t n_in = 0, n_out = 0;
  int64_t n_expert = 0;   // 0: a 2-D matrix; else an expert stack (3-D factors)
  std::vector<float> a, b;
};
// Writes an adapter file in llama.cpp's format (f32 factors) that
// LoraAdapter::load reads back.
void write_lora_adapter(const std::string& path, const std::string& arch, float alpha, int64_t rank,
                        const std::vector<LoraFactors>& factors);

// Writes `base` with the adapter merged in: every adapted matrix becomes
// W + scale * B A in f32, every other tensor and all metadata are copied as
// they are.
void merge_lora(const Model& base, const LoraAdapter& adapter, const std::string& out_path);

}  // namespace frugal::model
