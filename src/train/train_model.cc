#include "train/train_model.h"

#include <cmath>

#include "base/error.h"
#include "model/architectures.h"

namespace frugal::train {

std::string new_model_architecture_names() {
  return model::architecture_names([](const model::Architecture& a) { return a.training == model::Training::kNew; });
}

namespace {
// The family a new model without --arch takes (Architecture::train_default).
std::string default_architecture(bool shared_expert) {
  for (const model::Architecture& a : model::architectures())
    if (a.train_default && (a.shared_expert == model::SharedExpert::kGated) == shared_expert) return a.name;
  fail("train: no default architecture", shared_expert ? " with a shared expert" : "");
}
}  // namespace

model::ModelConfig make_config(const ModelShape& s) {
  model::ModelConfig c;
  c.arch = !s.arch.empty() ? s.arch : default_architecture(s.n_ff_shexp > 0);
  const model::Architecture* a = model::find_architecture(c.arch);
  if (a == nullptr || a->training != model::Training::kNew)
    fail("train: --arch ", c.arch, " cannot be made from scratch (", new_model_architecture_names(),
         "; a file of another trainable architecture continues with --init)");
  // A new model's shared expert is the gated one (ffn_gate_inp_shexp).
  if (s.n_ff_shexp > 0 && a->shared_expert != model::SharedExpert::kGated)
    fail("train: the ", c.arch, " layout has no shared expert (--shared-ff needs --arch ",
         model::architecture_names([](const model::Architecture& n) {
           return n.training == model::Training::kNew && n.shared_expert == model::SharedExpert::kGated;
         }),
         ")");
  c.name = "frugal-train";
  c.n_vocab = s.n_vocab;
  c.n_embd = s.n_embd;
  c.n_layer = s.n_layer;
  c.n_head = s.n_head;
  c.n_head_kv = s.n_head_kv;
  c.head_dim = c.v_head_dim = c.rope_dim = s.head_dim;
  c.n_ctx_train = c.rope_orig_ctx = s.n_ctx;
  c.n_expert = s.n_expert;
  c.n_expert_used = s.n_expert_used;
  c.n_ff_exp = s.n_ff_exp;
  c.n_ff = s.n_ff_exp * s.n_expert_used;  // informational: the active FFN width
  c.norm_eps = 1e-6f;
  c.rope_freq_base = 10000.0f;
  if (s.n_ff_shexp > 0) {
    c.n_ff_shexp = s.n_ff_shexp;
    c.n_expert_shared = 1;
  }
  model::apply_architecture_defaults(c);
  model::validate_config(c);
  return c;
}

namespace {
// What the training model cannot represent, by name (frugal::Error).
void check_trainable(const model::ModelConfig& c) {
  const model::Architecture& a = model::architecture(c.arch);
  if (a.training == model::Training::kNo)
    fail("train: the ", c.arch, " architecture cannot be trained yet (trainable: ",
         model::architecture_names([](const model::Architecture& t) { return t.training != model::Training::kNo; }),
         ")");
  if (!c.is_moe()) fail("train: the model has no experts (one expert with top-1 is the dense baseline)");
  if (c.n_ff_shexp > 0 && a.shared_expert == model::SharedExpert::kNone)
    fail("train: shared experts are not part of the ", c.arch, " layout");
  if (c.gating != model::GatingFunc::kSoftmax && c.gating != model::GatingFunc::kSigmoid)
    fail("train: only softmax and sigmoid routers can be trained");
  if (c.n_moe_layer_step > 1) fail("train: interleaved dense and MoE layers cannot be trained yet");
  if (c.qk_norm == model::QkNorm::kPerHeadUnweighted) fail("train: unweighted q/k norm cannot be trained");
  if (c.is_mla()) {
    if (c.v_head_dim > c.head_dim) fail("train: latent attention needs v_head_dim <= the key width");
  } else {
    if (c.rope_dim != c.head_dim || c.v_head_dim != c.head_dim)
      fail("train: rope_dim and v_head_dim must equal head_dim");
  }
  if (c.rope_scaling == model::RopeScaling::kLinear || c.rope_freq_factors)
    fail("train: linear RoPE scaling and rope_freqs are not supported in training");
  if (c.tied_output) fail("train: tied output is not supported (the model has its own output.weight)");
}
}  // namespace

ParamLayout::ParamLayout(const model::ModelConfig& cfg) : cfg_(cfg) {
  check_trainable(cfg);
  for (const model::TensorSpec& spec : model::expected_tensors(cfg)) {
    ParamTensor t;
    t.name = spec.name;
    t.shape = spec.shape;
    t.role = spec.role;
    t.layer = spec.layer;
    t.id = spec.id;
    t.offset = n_params_;
    t.size = static_cast<size_t>(spec.n_elements());
    n_params_ += t.size;
    tensors_.push_back(std::move(t));
  }
}

const ParamTensor& ParamLayout::find(const std::string& name) const {
  for (const ParamTensor& t : tensors_)
    if (t.name == name) return t;
  fail("train: no tensor '", name, "' in the model");
}

ModelView ParamLayout::view(float* base) const {
  ModelView v;
  using enum model::TensorId;
  // A tensor of the table, global (block -1) or of a block; maybe: null when absent.
  auto at = [&](model::TensorId id, int64_t block = -1) { return base + find(gguf::tensor_name(id, block)).offset; };
  auto maybe = [&](model::TensorId id, int64_t block = -1) -> float* {
    const std::string name = gguf::tensor_name(id, block);
    for (const ParamTensor& t : tensors_)
      if (t.name == name) return base + t.offset;
    return nullptr;
  };
  v.token_embd = at(kTokenEmbd);
  v.output_norm = at(kOutputNorm);
  v.output = at(kOutput);
  for (int64_t il = 0; il < cfg_.n_layer; ++il) {
    LayerView L;
    L.attn_norm = at(kAttnNorm, il);
    L.wq = maybe(kAttnQ, il);
    L.wk = maybe(kAttnK, il);
    L.wv = maybe(kAttnV, il);
    L.q_norm = maybe(kAttnQNorm, il);
    L.k_norm = maybe(kAttnKNorm, il);
    L.bq = maybe(kAttnQBias, il);
    L.bk = maybe(kAttnKBias, il);
    L.bv = maybe(kAttnVBias, il);
    L.wo = at(kAttnOutput, il);
    L.ffn_norm = at(cfg_.ffn_norm, il);
    L.router = maybe(kFfnGateInp, il);
    L.gate_exps = maybe(kFfnGateExps, il);
    L.up_exps = maybe(kFfnUpExps, il);
    L.down_exps = maybe(kFfnDownExps, il);
    L.shexp_gate_inp = maybe(kFfnGateInpShexp, il);
    L.gate_shexp = maybe(kFfnGateShexp, il);
    L.up_shexp = maybe(kFfnUpShexp, il);
    L.down_shexp = maybe(kFfnDownShexp, il);
    L.wq_a = maybe(kAttnQA, il);
    L.q_a_norm = maybe(kAttnQANorm, il);
    L.wq_b = maybe(kAttnQB, il);
    L.wkv_a = maybe(kAttnKvAMqa, il);
    L.kv_a_norm = maybe(kAttnKvANorm, il);
    L.wkv_b = maybe(kAttnKvB, il);
    L.wk_b = maybe(kAttnKB, il);
    L.wv_b = maybe(kAttnVB, il);
    L.ffn_gate = maybe(kFfnGate, il);
    L.ffn_up = maybe(kFfnUp, il);
    L.ffn_down = maybe(kFfnDown, il);
    v.layers.push_back(L);
  }
  return v;
}

uint64_t Rng::next_u64() {
  uint64_t z = (state += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

float Rng::uniform() { return static_cast<float>(next_u64() >> 40) * (1.0f / 16777216.0f); }

float Rng::normal() {
  // Box-Muller in double; u1 in (0, 1] so the log is finite.
  const double u1 = (static_cast<double>(next_u64() >> 11) + 1.0) * (1.0 / 9007199254740992.0);
  const double u2 = static_cast<double>(next_u64() >> 11) * (1.0 / 9007199254740992.0);
  return static_cast<float>(std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2));
}

void init_params(const ParamLayout& layout, uint64_t seed, float* params) {
  const float resid_scale = 1.0f / std::sqrt(2.0f * static_cast<float>(layout.config().n_layer));
  Rng rng(seed);
  for (const ParamTensor& t : layout.tensors()) {
    float* p = params + t.offset;
    if (t.role == model::TensorRole::kNorm) {
      for (size_t i = 0; i < t.size; ++i) p[i] = 1.0f;
      continue;
    }
    if (t.role == model::TensorRole::kBias) {
      for (size_t i = 0; i < t.size; ++i) p[i] = 0.0f;
      continue;
    }
    float std_dev = 0.02f;
    if (gguf::tensor_info(t.id).residual) std_dev *= resid_scale;
    for (size_t i = 0; i < t.size; ++i) p[i] = std_dev * rng.normal();
  }
}

}  // namespace frugal::train
