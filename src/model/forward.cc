// The forward pass, top to bottom: embed every row, then per block
// RMSNorm -> attention -> residual add -> RMSNorm -> FFN (dense or MoE) ->
// residual add, then the final norm and the LM head for the rows that want
// logits. The architectures differ only in what the configuration switches on
// (biases, q/k norm, latent attention, routing, shared experts), so one
// composition serves them all; the differing parts live in forward_attention.cc,
// forward_mla.cc and forward_moe.cc.
#include "model/forward.h"

#include "base/error.h"
#include "model/forward_layers.h"
#include "model/expert_parallel.h"
#include "model/lora.h"

namespace frugal::model {

const char* kv_type_name(KvType t) { return kernels::cache_type_name(t); }

KvType kv_type_from_name(const std::string& name) {
  for (KvType t : {KvType::kF32, KvType::kF16, KvType::kQ8_0})
    if (name == kv_type_name(t)) return t;
  fail("unknown KV cache type '", name, "' (expected f32, f16 or q8_0)");
}

std::string kv_type_unsupported(const ModelConfig& c, KvType t) {
  // q8_0 blocks must not straddle heads: each key/value head starts a block.
  // Latent attention keeps one row per position, so any width works.
  if (t == KvType::kQ8_0 && c.has_hyper_connections())
    return "a q8_0 KV cache needs rows of keys and values alone; deepseek4's rows also hold its compressors' "
           "gate scores (use f32 or f16)";
  if (t != KvType::kQ8_0 || c.is_mla()) return {};
  if (c.head_dim % 32 != 0 || c.v_head_dim % 32 != 0)
    return "a q8_0 KV cache needs key and value head sizes that are multiples of 32 (this model's are " +
           std::to_string(c.head_dim) + " and " + std::to_string(c.v_head_dim) + ")";
  return {};
}

int64_t kv_key_width(const ModelConfig& c) {
  if (c.has_hyper_connections()) return dsv4_row_layout(c).width;
  return c.is_mla() ? c.kv_lora_rank + c.qk_rope_head_dim : c.n_embd_k();
}
int64_t kv_value_width(const ModelConfig& c) { return c.is_mla() || c.has_hyper_connections() ? 0 : c.n_embd_v(); }

float* KvStore::recurrent_state(int64_t layer, int32_t) {
  fail("this KV store keeps no recurrent state (layer ", layer, " of the model is recurrent)");
}

Forward::Forward(const Model& model) : model_(model), s_(std::make_unique<Scratch>()) {}
Forward::~Forward() = default;

void Forward::set_advise_experts(bool on) { s_->advise_experts = on; }
const std::vector<uint64_t>& Forward::expert_rows() const { return s_->expert_rows; }
void Forward::reset_expert_rows() { std::fill(s_->expert_rows.begin(), s_->expert_rows.end(), 0); }

void Forward::run(std::span<const BatchRow> rows, KvStore& kv, ThreadPool* pool, std::vector<float>& logits) {
  const ModelConfig& c = model_.config();
  const ModelWeights& w = model_.weights();
  Scratch& s = *s_;
  const int64_t n = static_cast<int64_t>(rows.size());
  const int64_t d = c.n_embd;
  logits.clear();
  if (n == 0) {
    // Attention data-parallel: a rank without rows still computes its
    // experts over the other ranks' rows, layer by layer with them (every
    // layer of deepseek4's is a MoE layer).
    if (attention_data_parallel(model_))
      for (int64_t il = 0; il < c.n_layer; ++il)
        if (c.layer_is_moe(il) || c.has_hyper_connections()) moe_ffn(model_, il, 0, s, pool, nullptr);
    return;
  }
  // Each row's adapter (its own, else the model's), for every family.
  s.row_lora.resize(static_cast<size_t>(n));
  s.any_lora = false;
  for (int64_t r = 0; r < n; ++r) {
    s.row_lora[r] = rows[r].lora ? rows[r].lora : model_.lora();
    s.any_lora = s.any_lora || s.row_lora[r];
  }
  if (c.has_hyper_connections()) {
    dsv4_forward(model_, rows, kv, s, pool, logits);
    return;
  }

  float* x = s.x.get(n * d);
  float* xn = s.xn.get(n * d);
  float* out = s.out.get(n * d);
  for (int64_t r = 0; r < n; ++r) model_.embed(rows[r].token, x + r * d);

  // The rotation angles of each row's position, shared by every layer.
  kernels::RopeParams rp = rope_params(c);
  rp.freq_factors = w.rope_freqs.data;
  float* rope = s.rope.get(n * c.rope_dim);
  for (int64_t r = 0; r < n; ++r) kernels::rope_angles(rp, rows[r].pos, rope + r * c.rope_dim);

  for (int64_t il = 0; il < c.n_layer; ++il) {
    const LayerWeights& L = w.layers[static_cast<size_t>(il)];
    for (int64_t r = 0; r < n; ++r) kernels::rmsnorm(x + r * d, L.attn_norm.data, xn + r * d, d, c.norm_eps);
    if (c.layer_is_recurrent(il)) {
      delta_net_layer(model_, il, rows, kv, s, pool, out);
    } else if (c.is_mla()) {
      mla_attention_layer(model_, il, rows, kv, s, pool, out);
    } else {
      attention_layer(model_, il, rows, kv, s, pool, out);
    }
    kernels::add(out, x, n * d);

    for (int64_t r = 0; r < n; ++r) kernels::rmsnorm(x + r * d, L.ffn_norm.data, xn + r * d, d, c.norm_eps);
    if (c.layer_is_moe(il)) {
      moe_ffn(model_, il, n, s, pool, out);
    } else if (s.any_lora && any_adapts(s.row_lora, il, &LayerLora::adapts_ffn)) {
      // Each run of rows with one adapter through its adapted FFN (rows
      // without one through the same products, unadapted).
      std::fill(out, out + n * d, 0.0f);
      for_each_run(n, [&](int64_t r) { return s.row_lora[r]; }, [&](const LoraAdapter* a, int64_t b, int64_t cnt) {
        const LayerLora none, &LL = a ? a->layers()[static_cast<size_t>(il)] : none;
        lora_swiglu(L.ffn_gate, L.ffn_up, L.ffn_down, LL.ffn_gate, LL.ffn_up, LL.ffn_down, a ? a->scale() : 1.0f,
                    xn + b * d, cnt, nullptr, out + b * d, pool);
      });
    } else {
      dense_ffn(L.ffn_gate, L.ffn_up, L.ffn_down, xn, n, d, s, pool, out);
    }
    kernels::add(out, x, n * d);
  }

  // Final norm and LM head over the rows that want logits only.
  int64_t n_out = 0;
  for (int64_t r = 0; r < n; ++r) {
    if (!rows[r].want_logits) continue;
    kernels::rmsnorm(x + r * d, w.output_norm.data, xn + n_out * d, d, c.norm_eps);
    ++n_out;
  }
  logits.resize(static_cast<size_t>(n_out * c.n_vocab));
  if (n_out > 0) kernels::matmul(w.output, xn, d, n_out, logits.data(), c.n_vocab, pool);
}

}  // namespace frugal::model
