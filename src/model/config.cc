// ModelConfig <-> GGUF keys: reading, writing and validating them (the tensors
// each configuration expects are in model_tensors.cc).
#include "model/config.h"

#include <algorithm>

#include "base/error.h"
#include "gguf/reader.h"
#include "model/architectures.h"

namespace frugal::model {
namespace {

using gguf::Metadata;
using gguf::Value;

struct Keys {
  std::string arch;
  std::string operator()(std::string_view suffix) const { return arch + "." + std::string(suffix); }
};

int64_t get_count(const Metadata& md, const std::string& key) {
  const uint64_t v = md.get_uint(key);
  if (v > (uint64_t{1} << 40)) fail("metadata key '", key, "' has an implausible value ", v);
  return static_cast<int64_t>(v);
}

int64_t get_count_or(const Metadata& md, const std::string& key, int64_t def) {
  return md.has(key) ? get_count(md, key) : def;
}

float get_float_or(const Metadata& md, const std::string& key, float def) {
  return static_cast<float>(md.get_float_or(key, def));
}

const char* scaling_name(RopeScaling s) {
  switch (s) {
    case RopeScaling::kNone: return "none";
    case RopeScaling::kLinear: return "linear";
    case RopeScaling::kYarn: return "yarn";
  }
  return "none";
}

void set_count(Metadata& md, const std::string& key, int64_t v) {
  if (v < 0 || v > 0xffffffffLL) fail("config: ", key, " = ", v, " does not fit a uint32 key");
  md.set(key, Value::make_u32(static_cast<uint32_t>(v)));
}

// A per-layer key that a file may give as one value for all layers or as an
// array of at least n_layer values (the first n_layer are kept).
std::vector<double> get_per_layer(const Metadata& md, const std::string& key, int64_t n_layer) {
  const Value* v = md.find(key);
  if (!v) fail("metadata key '", key, "' is missing");
  if (v->type != gguf::ValueType::ARRAY) return std::vector<double>(static_cast<size_t>(n_layer), md.get_float(key));
  std::vector<double> out = md.get_float_array(key);
  if (static_cast<int64_t>(out.size()) < n_layer)
    fail("metadata key '", key, "' has ", out.size(), " values, fewer than the ", n_layer, " layers");
  out.resize(static_cast<size_t>(n_layer));
  return out;
}

// DeepSeek-V4's keys (see ModelConfig's deepseek4 fields). block_count
// counts the next-token-prediction blocks too; the per-layer arrays cover them.
void read_deepseek4(const Metadata& md, const Keys& k, ModelConfig& c) {
  const int64_t n_blocks = c.n_layer + c.n_nextn_layer;
  if (!md.has(k("attention.head_count_kv"))) c.n_head_kv = 1;  // one shared key/value head
  c.q_lora_rank = get_count(md, k("attention.q_lora_rank"));
  c.n_swa = get_count(md, k("attention.sliding_window"));
  c.n_out_groups = get_count(md, k("attention.output_group_count"));
  c.out_lora_rank = get_count(md, k("attention.output_lora_rank"));
  c.compress_ratios.clear();
  for (double r : get_per_layer(md, k("attention.compress_ratios"), n_blocks)) {
    if (r < 0 || r != static_cast<double>(static_cast<int64_t>(r)) || r > 65536)
      fail("metadata key '", k("attention.compress_ratios"), "' holds ", r, ", not a compression ratio");
    c.compress_ratios.push_back(static_cast<int64_t>(r));
  }
  const float base = get_float_or(md, k("rope.freq_base"), 10000.0f);
  c.compress_rope_base =
      get_float_or(md, k("attention.compress_rope_freq_base"), get_float_or(md, k("rope.freq_base_swa"), base));
  c.n_hc = get_count(md, k("hyper_connection.count"));
  c.hc_sinkhorn_iters = get_count_or(md, k("hyper_connection.sinkhorn_iterations"), 3);
  c.hc_eps = get_float_or(md, k("hyper_connection.epsilon"), c.norm_eps);
  c.n_hash_layers = get_count_or(md, k("hash_layer_count"), 0);
  if (std::find(c.compress_ratios.begin(), c.compress_ratios.end(), 4) != c.compress_ratios.end()) {
    c.n_indexer_head = get_count(md, k("attention.indexer.head_count"));
    c.indexer_head_dim = get_count(md, k("attention.indexer.key_length"));
    c.indexer_top_k = get_count(md, k("attention.indexer.top_k"));
  }
  auto limits = [&](const std::string& key) {
    std::vector<float> out;
    for (double v : get_per_layer(md, key, n_blocks)) out.push_back(static_cast<float>(v));
    return out;
  };
  c.swiglu_limit_exp = limits(k("swiglu_clamp_exp"));
  c.swiglu_limit_shexp = md.has(k("swiglu_clamp_shexp")) ? limits(k("swiglu_clamp_shexp")) : c.swiglu_limit_exp;
}

void write_deepseek4(const ModelConfig& c, const Keys& k, Metadata& md) {
  set_count(md, k("attention.q_lora_rank"), c.q_lora_rank);
  set_count(md, k("attention.sliding_window"), c.n_swa);
  set_count(md, k("attention.output_group_count"), c.n_out_groups);
  set_count(md, k("attention.output_lora_rank"), c.out_lora_rank);
  std::vector<int32_t> ratios(c.compress_ratios.begin(), c.compress_ratios.end());
  md.set(k("attention.compress_ratios"), Value::make_i32_array(ratios));
  md.set(k("attention.compress_rope_freq_base"), Value::make_f32(c.compress_rope_base));
  set_count(md, k("hyper_connection.count"), c.n_hc);
  set_count(md, k("hyper_connection.sinkhorn_iterations"), c.hc_sinkhorn_iters);
  md.set(k("hyper_connection.epsilon"), Value::make_f32(c.hc_eps));
  set_count(md, k("hash_layer_count"), c.n_hash_layers);
  if (c.n_indexer_head > 0) {
    set_count(md, k("attention.indexer.head_count"), c.n_indexer_head);
    set_count(md, k("attention.indexer.key_length"), c.indexer_head_dim);
    set_count(md, k("attention.indexer.top_k"), c.indexer_top_k);
  }
  md.set(k("swiglu_clamp_exp"), Value::make_f32_array(c.swiglu_limit_exp));
  md.set(k("swiglu_clamp_shexp"), Value::make_f32_array(c.swiglu_limit_shexp));
}

}  // namespace

const std::vector<std::string>& supported_architectures() {
  static const std::vector<std::string> archs = [] {
    std::vector<std::string> names;
    for (const Architecture& a : architectures()) names.emplace_back(a.name);
    return names;
  }();
  return archs;
}

bool is_supported_architecture(std::string_view arch) { return find_architecture(arch) != nullptr; }

std::array<int64_t, 4> rope_sections(const ModelConfig& c) {
  if (c.rope_sections != std::array<int64_t, 4>{}) return c.rope_sections;
  const int64_t pairs = c.rope_dim / 2, first = (pairs + 2) / 3, second = (pairs - first + 1) / 2;
  return {first, second, pairs - first - second, 0};
}

void apply_architecture_defaults(ModelConfig& c) {
  const Architecture& a = architecture(c.arch);
  c.rope_layout = a.rope_layout;
  c.attn_bias = a.attn_bias;
  c.attn_out_bias = a.attn_out_bias;
  c.fused_qkv = a.fused_qkv;
  c.qk_norm_after_rope = a.qk_norm_after_rope;
  c.router_bias = a.router_bias;
  c.expert_bias = a.expert_bias;
  c.attn_sinks = a.attn_sinks;
  c.swa_every_layer = a.sliding_window == SlidingWindow::kEveryLayer;
  c.yarn_scale_in_softmax = a.yarn_scale_in_softmax;
  c.ffn_act = a.ffn_act;
  c.attn_output_gate = a.deltanet_keys;
  c.ssm_split_proj = a.ssm_split_proj;
  if (!a.deltanet_keys) c.n_full_attn_interval = 0;
  c.ffn_norm = a.ffn_norm;
  // GLM-4.5's tensors and Llama 4's expert count decide (config_from_file, config_from_metadata).
  if (!a.qk_norm_from_tensors && !a.llama4_keys) c.qk_norm = a.qk_norm;
  c.n_nope_layer_step = a.nope_layer_step;
  c.expert_weight_on_input = a.expert_weight_on_input;
  if (c.is_moe()) {
    if (a.gating_fixed) c.gating = a.gating;
    if (a.shared_expert == SharedExpert::kRoutedWidth) {
      c.n_expert_shared = 1;
      c.n_ff_shexp = c.n_ff_exp;
    }
  }
  c.deepseek_moe_keys = a.deepseek_moe_keys;
  c.moe_step_key = a.moe_step_key;
  c.leading_dense_key = a.leading_dense_key;
  if (a.score_bias == ScoreBias::kAlways) c.expert_score_bias = c.is_moe();
  c.shared_expert_gate = a.shared_expert == SharedExpert::kGated && c.n_ff_shexp > 0;
  c.shared_width_key = a.shared_width_key || c.shared_expert_gate;
  // Files with DeepSeek's MoE keys say in a key whether the top-k is renormalised.
  if (!c.deepseek_moe_keys) c.expert_weights_norm = a.expert_weights_norm;
}

ModelConfig config_from_metadata(const Metadata& md) {
  ModelConfig c;
  c.arch = md.get_string("general.architecture");
  const Architecture& a = architecture(c.arch);  // rejects an unknown architecture early
  apply_architecture_defaults(c);
  c.name = md.get_string_or("general.name", "");
  const Keys k{c.arch};

  c.n_ctx_train = get_count(md, k("context_length"));
  c.n_embd = get_count(md, k("embedding_length"));
  c.n_layer = get_count(md, k("block_count"));
  c.n_nextn_layer = get_count_or(md, k("nextn_predict_layers"), 0);
  if (c.n_nextn_layer >= c.n_layer)
    fail("metadata key '", k("nextn_predict_layers"), "' = ", c.n_nextn_layer, " leaves no block of the ", c.n_layer,
         " to run");
  c.n_layer -= c.n_nextn_layer;
  c.n_head = get_count(md, k("attention.head_count"));
  c.n_head_kv = get_count_or(md, k("attention.head_count_kv"), c.n_head);
  c.norm_eps = static_cast<float>(md.get_float(k("attention.layer_norm_rms_epsilon")));
  if (c.n_head <= 0) fail("metadata key '", k("attention.head_count"), "' must be positive");
  c.head_dim = get_count_or(md, k("attention.key_length"), c.n_embd / c.n_head);
  c.v_head_dim = get_count_or(md, k("attention.value_length"), c.head_dim);

  if (md.has(k("vocab_size"))) {
    c.n_vocab = get_count(md, k("vocab_size"));
  } else if (md.has("tokenizer.ggml.tokens")) {
    c.n_vocab = static_cast<int64_t>(md.get_array("tokenizer.ggml.tokens").items.size());
  } else {
    fail("metadata key '", k("vocab_size"), "' is missing (and there is no tokenizer.ggml.tokens)");
  }

  // Experts. llama (Mixtral) and olmoe size their experts with
  // feed_forward_length; the others have expert_feed_forward_length.
  c.n_expert = get_count_or(md, k("expert_count"), 0);
  c.n_ff = get_count_or(md, k("feed_forward_length"), 0);
  if (c.n_expert > 0) {
    c.n_expert_used = get_count(md, k("expert_used_count"));
    c.n_ff_exp = get_count_or(md, k("expert_feed_forward_length"), c.n_ff);
    if (c.n_ff_exp == 0) fail("metadata key '", k("expert_feed_forward_length"), "' is missing");
    c.n_leading_dense = get_count_or(md, k("leading_dense_block_count"), 0);
    if (c.moe_step_key) c.n_moe_layer_step = get_count(md, k("interleave_moe_layer_step"));
    // DeepSeek's and GLM's files always say how many shared experts they have.
    c.n_expert_shared = c.deepseek_moe_keys ? get_count(md, k("expert_shared_count"))
                                            : get_count_or(md, k("expert_shared_count"), 0);
    c.n_ff_shexp = get_count_or(md, k("expert_shared_feed_forward_length"), 0);
    if (c.deepseek_moe_keys) {
      // Shared experts as wide as a routed one, or (bailingmoe2) as the key says.
      const int64_t each = a.shared_width_key && c.n_ff_shexp > 0 ? c.n_ff_shexp : c.n_ff_exp;
      c.n_ff_shexp = c.n_expert_shared * each;
    }
    if (a.shared_expert == SharedExpert::kGated && c.n_ff_shexp > 0) c.n_expert_shared = 1;
    // hunyuan-moe's converter writes the shared FFN's width alone.
    if (a.shared_expert == SharedExpert::kUngated && c.n_ff_shexp > 0 && c.n_expert_shared == 0) c.n_expert_shared = 1;
    c.expert_weights_scale = get_float_or(md, k("expert_weights_scale"), 1.0f);
    if (c.expert_weights_scale == 0.0f) c.expert_weights_scale = 1.0f;  // 0 means "unset" in older files
    c.expert_weights_norm = md.get_bool_or(k("expert_weights_norm"), c.expert_weights_norm);
    // Files of GLM-4.5, MiniMax-M2 and dots.llm1 may lack the key; their router is a sigmoid.
    const uint64_t gating = md.get_uint_or(k("expert_gating_func"), static_cast<uint64_t>(a.gating));
    if (gating != 1 && gating != 2 && gating != 4)
      fail("metadata key '", k("expert_gating_func"), "' = ", gating,
           ": expected 1 (softmax), 2 (sigmoid) or 4 (sqrt of softplus)");
    c.gating = static_cast<GatingFunc>(gating);
    c.n_expert_groups = get_count_or(md, k("expert_group_count"), 0);
    c.n_group_used = get_count_or(md, k("expert_group_used_count"), 0);
    c.expert_score_bias = a.score_bias == ScoreBias::kAlways ||
                          (a.score_bias == ScoreBias::kSigmoidThenTensor && c.gating == GatingFunc::kSigmoid);
  }
  if (c.n_ff == 0 && (c.n_expert == 0 || c.n_leading_dense > 0 || c.n_moe_layer_step > 1))
    fail("metadata key '", k("feed_forward_length"), "' is missing");

  // Multi-head latent attention.
  if (a.mla_keys) {
    // Newer converters describe MLA as multi-query attention over the latent
    // (key_length = kv_lora_rank + rope) and keep the per-head sizes in *_mla keys.
    c.head_dim = get_count_or(md, k("attention.key_length_mla"), c.head_dim);
    c.v_head_dim = get_count_or(md, k("attention.value_length_mla"), c.v_head_dim);
    c.q_lora_rank = get_count_or(md, k("attention.q_lora_rank"), 0);
    c.kv_lora_rank = get_count(md, k("attention.kv_lora_rank"));
    c.qk_rope_head_dim = get_count(md, k("rope.dimension_count"));
    if (!md.has(k("attention.key_length_mla")) && c.head_dim == c.kv_lora_rank + c.qk_rope_head_dim)
      fail("metadata key '", k("attention.key_length"), "' = ", c.head_dim,
           " is the latent's width (kv_lora_rank + rope), and '", k("attention.key_length_mla"),
           "', which should give the per-head key size, is missing");
    c.qk_nope_head_dim = c.head_dim - c.qk_rope_head_dim;
    // head_count_kv is 1 in those files (the latent is shared); every head
    // reads it, so frugal counts MLA's kv heads as its query heads.
    c.n_head_kv = c.n_head;
  }

  // Sliding-window attention (every other layer).
  if (a.sliding_window == SlidingWindow::kEvenLayers) c.n_swa = get_count(md, k("attention.sliding_window"));
  if (a.deepseek4_keys) read_deepseek4(md, k, c);
  if (a.llama4_keys) {
    // Published files carry neither key: 8192 for both (the chunk is frugal's
    // key, for small test models). Scout normalises q/k on its RoPE layers,
    // Maverick (128 experts) does not; no key says which.
    c.n_attn_chunk = get_count_or(md, k("attention.chunk_size"), 8192);
    c.attn_temp_scale = get_float_or(md, k("attention.temperature_scale"), 0.1f);
    c.attn_temp_length = get_count_or(md, k("attention.temperature_length"), 8192);
    c.qk_norm = c.n_expert == 128 ? QkNorm::kNone : QkNorm::kPerHeadUnweighted;
  }

  // Gated DeltaNet (qwen3next's files carry no interval key: every 4th
  // layer is full attention).
  if (c.attn_output_gate) {
    c.n_full_attn_interval = get_count_or(md, k("full_attention_interval"), 4);
    c.ssm_conv_kernel = get_count(md, k("ssm.conv_kernel"));
    c.ssm_k_head_dim = get_count(md, k("ssm.state_size"));
    c.ssm_n_k_head = get_count(md, k("ssm.group_count"));
    c.ssm_n_v_head = get_count(md, k("ssm.time_step_rank"));
    const int64_t inner = get_count(md, k("ssm.inner_size"));
    if (c.ssm_n_v_head <= 0 || inner % c.ssm_n_v_head != 0)
      fail("metadata key '", k("ssm.inner_size"), "' = ", inner, " is not a multiple of '", k("ssm.time_step_rank"),
           "' = ", c.ssm_n_v_head);
    c.ssm_v_head_dim = inner / c.ssm_n_v_head;
  }

  // RoPE.
  c.rope_freq_base = get_float_or(md, k("rope.freq_base"), 10000.0f);
  c.rope_dim = get_count_or(md, k("rope.dimension_count"), c.head_dim);
  if (c.ssm_split_proj && md.has(k("rope.dimension_sections"))) {
    const std::vector<int64_t> s = md.get_int_array(k("rope.dimension_sections"));
    int64_t sum = 0;
    for (int64_t v : s) sum += v;
    if (s.empty() || s.size() > 4 || std::any_of(s.begin(), s.end(), [](int64_t v) { return v < 0; }) ||
        sum != c.rope_dim / 2)
      fail("metadata key '", k("rope.dimension_sections"), "' does not split the ", c.rope_dim / 2,
           " rotary pairs of '", k("rope.dimension_count"), "' into at most 4 sections");
    std::copy(s.begin(), s.end(), c.rope_sections.begin());
  }
  const std::string scaling = md.get_string_or(k("rope.scaling.type"), "none");
  if (scaling == "none") c.rope_scaling = RopeScaling::kNone;
  else if (scaling == "linear") c.rope_scaling = RopeScaling::kLinear;
  else if (scaling == "yarn") c.rope_scaling = RopeScaling::kYarn;
  else fail("metadata key '", k("rope.scaling.type"), "' = '", scaling, "': expected none, linear or yarn");
  c.rope_scaling_factor = get_float_or(md, k("rope.scaling.factor"), 1.0f);
  if (c.rope_scaling_factor == 0.0f) c.rope_scaling_factor = 1.0f;
  c.rope_orig_ctx = get_count_or(md, k("rope.scaling.original_context_length"), c.n_ctx_train);
  c.yarn_attn_factor = get_float_or(md, k("rope.scaling.attn_factor"), 1.0f);
  c.yarn_log_multiplier = get_float_or(md, k("rope.scaling.yarn_log_multiplier"), 0.0f);
  c.yarn_beta_fast = get_float_or(md, k("rope.scaling.yarn_beta_fast"), 32.0f);
  c.yarn_beta_slow = get_float_or(md, k("rope.scaling.yarn_beta_slow"), 1.0f);

  apply_architecture_defaults(c);  // again: shared_expert_gate depends on n_ff_shexp
  c.expert_weights_norm = md.get_bool_or(k("expert_weights_norm"), c.expert_weights_norm);
  validate_config(c);
  return c;
}

std::string tensor_alias(std::string_view arch, const std::string& name) {
  const Architecture* a = find_architecture(arch);
  if (a == nullptr || !a->tensor_aliases) return {};
  const auto ref = gguf::parse_tensor_name(name);
  return ref ? gguf::tensor_alias_name(ref->id, ref->block) : std::string();
}

const gguf::TensorInfo* find_model_tensor(const gguf::Reader& file, std::string_view arch, const std::string& name) {
  if (const gguf::TensorInfo* t = file.find_tensor(name)) return t;
  const std::string alias = tensor_alias(arch, name);
  return alias.empty() ? nullptr : file.find_tensor(alias);
}

namespace {

// deepseek4 files from some converters omit keys that their tensors or the
// published shapes tell; a copy of the metadata with those filled in (keys
// present are kept): the output groups and rank from attn_output_a/b, the
// hash layers from the ffn_gate_tid2eid run, the streams from hc_attn_fn,
// each layer's ratio from its compressor's position embedding, and for the
// published block counts (43: V4-Flash, 61: V4-Pro) 20 Sinkhorn steps,
// epsilon 1e-6 and the compressors' RoPE base 160000.
Metadata deepseek4_keys_from_tensors(const gguf::Reader& file, std::string_view arch) {
  Metadata md = file.metadata();
  const Keys k{std::string(arch)};
  auto find = [&](const std::string& name) { return find_model_tensor(file, arch, name); };
  auto fill = [&](const std::string& key, Value v) {
    if (!md.has(key)) md.set(key, std::move(v));
  };
  if (!md.has(k("block_count")) || !md.has(k("embedding_length")) || !md.has(k("attention.head_count"))) return md;
  const int64_t n_blocks = get_count(md, k("block_count")), n_embd = get_count(md, k("embedding_length"));
  const int64_t n_head = get_count(md, k("attention.head_count"));
  const int64_t head_dim = get_count_or(md, k("attention.key_length"), 0);
  const gguf::TensorInfo* oa = find(gguf::tensor_name(TensorId::kAttnOutputA, 0));
  const gguf::TensorInfo* ob = find(gguf::tensor_name(TensorId::kAttnOutputB, 0));
  if (oa && ob && oa->shape[0] > 0 && (n_head * head_dim) % static_cast<int64_t>(oa->shape[0]) == 0) {
    const int64_t groups = n_head * head_dim / static_cast<int64_t>(oa->shape[0]);
    if (groups > 0 && static_cast<int64_t>(ob->shape[0]) % groups == 0) {
      fill(k("attention.output_group_count"), Value::make_u32(static_cast<uint32_t>(groups)));
      fill(k("attention.output_lora_rank"), Value::make_u32(static_cast<uint32_t>(ob->shape[0] / groups)));
    }
  }
  int64_t hashed = 0;
  while (hashed < n_blocks && find(gguf::tensor_name(TensorId::kFfnGateTid2eid, hashed))) ++hashed;
  fill(k("hash_layer_count"), Value::make_u32(static_cast<uint32_t>(hashed)));
  if (const gguf::TensorInfo* fn = find(gguf::tensor_name(TensorId::kHcAttnFn, 0)); fn && n_embd > 0 && fn->shape[0] % n_embd == 0)
    fill(k("hyper_connection.count"), Value::make_u32(static_cast<uint32_t>(fn->shape[0] / n_embd)));
  std::vector<int32_t> ratios;
  for (int64_t il = 0; il < n_blocks; ++il) {
    const gguf::TensorInfo* ape = find(gguf::tensor_name(TensorId::kAttnCompressorApe, il));
    ratios.push_back(ape && ape->shape.size() == 2 ? static_cast<int32_t>(ape->shape[1]) : 0);
  }
  fill(k("attention.compress_ratios"), Value::make_i32_array(ratios));
  if (n_blocks == 43 || n_blocks == 61) {
    fill(k("hyper_connection.sinkhorn_iterations"), Value::make_u32(20));
    fill(k("hyper_connection.epsilon"), Value::make_f32(1e-6f));
    fill(k("attention.compress_rope_freq_base"), Value::make_f32(160000.0f));
  }
  return md;
}

}  // namespace

ModelConfig config_from_file(const gguf::Reader& file) {
  const std::string arch = file.metadata().get_string_or("general.architecture", "");
  const Architecture* a = find_architecture(arch);
  const bool dsv4 = a != nullptr && a->deepseek4_keys;
  ModelConfig c = config_from_metadata(dsv4 ? deepseek4_keys_from_tensors(file, arch) : file.metadata());
  // DeepSeek-V4-Flash files say nextn_predict_layers 1 over 43 blocks that
  // are all regular: the prediction block ships in a file of its own. Blocks
  // without the block's nextn tensors run.
  if (dsv4 && c.n_nextn_layer > 0 &&
      !file.find_tensor(gguf::tensor_name(TensorId::kNextnEhProj, c.n_layer))) {
    c.n_layer += c.n_nextn_layer;
    c.n_nextn_layer = 0;
    c.n_hash_layers = std::min(c.n_hash_layers, c.n_layer);
    validate_config(c);
  }
  c.tied_output = file.find_tensor(gguf::tensor_name(TensorId::kOutput)) == nullptr;
  // Current DeepSeek-V3/R1 and Kimi-K2 files split attn_kv_b; a file with
  // both keeps to the joint tensor.
  c.rope_freq_factors = file.find_tensor(gguf::tensor_name(TensorId::kRopeFreqs)) != nullptr;
  // GLM-4.5 normalises each query and key head; GLM-4.5-Air does not.
  if (a->qk_norm_from_tensors && file.find_tensor(gguf::tensor_name(TensorId::kAttnQNorm, 0)) != nullptr) c.qk_norm = QkNorm::kPerHead;
  if (c.is_mla())
    c.mla_split_kv_b = file.find_tensor(gguf::tensor_name(TensorId::kAttnKvB, 0)) == nullptr &&
                       file.find_tensor(gguf::tensor_name(TensorId::kAttnKB, 0)) != nullptr;
  // DeepSeek-V3's per-expert selection bias; frugal train writes the same
  // tensor into qwen3moe/qwen2moe files trained with --bias-balance.
  if ((a->score_bias == ScoreBias::kTensor || a->score_bias == ScoreBias::kSigmoidThenTensor) && c.is_moe()) {
    const std::string bias = gguf::tensor_name(TensorId::kExpProbsB, c.n_leading_dense);
    c.expert_score_bias = file.find_tensor(bias) != nullptr;
  }
  return c;
}

void config_to_metadata(const ModelConfig& c, Metadata& md) {
  validate_config(c);
  const Architecture& a = architecture(c.arch);
  const Keys k{c.arch};
  md.set("general.architecture", Value::make_string(c.arch));
  md.set("general.name", Value::make_string(c.name.empty() ? c.arch : c.name));
  set_count(md, k("vocab_size"), c.n_vocab);
  set_count(md, k("context_length"), c.n_ctx_train);
  set_count(md, k("embedding_length"), c.n_embd);
  set_count(md, k("block_count"), c.n_layer + c.n_nextn_layer);
  if (c.n_nextn_layer > 0) set_count(md, k("nextn_predict_layers"), c.n_nextn_layer);
  if (c.n_ff > 0) set_count(md, k("feed_forward_length"), c.n_ff);
  set_count(md, k("attention.head_count"), c.n_head);
  if (c.mla_split_kv_b) {
    // As the converters that split kv_b describe MLA: one kv head over the
    // cached latent and rope key, the per-head sizes in the *_mla keys.
    set_count(md, k("attention.head_count_kv"), 1);
    set_count(md, k("attention.key_length"), c.kv_lora_rank + c.qk_rope_head_dim);
    set_count(md, k("attention.value_length"), c.kv_lora_rank);
    set_count(md, k("attention.key_length_mla"), c.head_dim);
    set_count(md, k("attention.value_length_mla"), c.v_head_dim);
  } else {
    set_count(md, k("attention.head_count_kv"), c.n_head_kv);
    set_count(md, k("attention.key_length"), c.head_dim);
    set_count(md, k("attention.value_length"), c.v_head_dim);
  }
  md.set(k("attention.layer_norm_rms_epsilon"), Value::make_f32(c.norm_eps));
  md.set(k("rope.freq_base"), Value::make_f32(c.rope_freq_base));
  set_count(md, k("rope.dimension_count"), c.rope_dim);
  if (c.ssm_split_proj) {
    const std::array<int64_t, 4> s = rope_sections(c);
    md.set(k("rope.dimension_sections"), Value::make_i32_array({int32_t(s[0]), int32_t(s[1]), int32_t(s[2]), int32_t(s[3])}));
  }
  if (c.rope_scaling != RopeScaling::kNone) {
    md.set(k("rope.scaling.type"), Value::make_string(scaling_name(c.rope_scaling)));
    md.set(k("rope.scaling.factor"), Value::make_f32(c.rope_scaling_factor));
    set_count(md, k("rope.scaling.original_context_length"), c.rope_orig_ctx);
    if (c.rope_scaling == RopeScaling::kYarn) {
      md.set(k("rope.scaling.attn_factor"), Value::make_f32(c.yarn_attn_factor));
      md.set(k("rope.scaling.yarn_log_multiplier"), Value::make_f32(c.yarn_log_multiplier));
      md.set(k("rope.scaling.yarn_beta_fast"), Value::make_f32(c.yarn_beta_fast));
      md.set(k("rope.scaling.yarn_beta_slow"), Value::make_f32(c.yarn_beta_slow));
    }
  }
  if (c.is_moe()) {
    set_count(md, k("expert_count"), c.n_expert);
    set_count(md, k("expert_used_count"), c.n_expert_used);
    set_count(md, k("expert_feed_forward_length"), c.n_ff_exp);
    if (c.shared_width_key)
      set_count(md, k("expert_shared_feed_forward_length"),
                c.deepseek_moe_keys ? c.n_ff_shexp / std::max<int64_t>(1, c.n_expert_shared) : c.n_ff_shexp);
    // ERNIE-4.5's converter writes the count beside the width (an ungated shared FFN).
    if (c.shared_width_key && !c.shared_expert_gate) set_count(md, k("expert_shared_count"), c.n_expert_shared);
    if (c.moe_step_key) set_count(md, k("interleave_moe_layer_step"), c.n_moe_layer_step);
    if (c.leading_dense_key && !c.deepseek_moe_keys) set_count(md, k("leading_dense_block_count"), c.n_leading_dense);
    if (c.deepseek_moe_keys) {
      set_count(md, k("expert_shared_count"), c.n_expert_shared);
      set_count(md, k("leading_dense_block_count"), c.n_leading_dense);
      md.set(k("expert_weights_scale"), Value::make_f32(c.expert_weights_scale));
      md.set(k("expert_gating_func"), Value::make_u32(static_cast<uint32_t>(c.gating)));
      set_count(md, k("expert_group_count"), c.n_expert_groups);
      set_count(md, k("expert_group_used_count"), c.n_group_used);
    }
    // MiniMax-M2's converter writes the router's function without DeepSeek's other keys.
    if (a.gating_key) md.set(k("expert_gating_func"), Value::make_u32(static_cast<uint32_t>(c.gating)));
    md.set(k("expert_weights_norm"), Value::make_bool(c.expert_weights_norm));
  }
  if (a.sliding_window == SlidingWindow::kEvenLayers) set_count(md, k("attention.sliding_window"), c.n_swa);
  if (c.attn_output_gate) {
    set_count(md, k("full_attention_interval"), c.n_full_attn_interval);
    set_count(md, k("ssm.conv_kernel"), c.ssm_conv_kernel);
    set_count(md, k("ssm.state_size"), c.ssm_k_head_dim);
    set_count(md, k("ssm.group_count"), c.ssm_n_k_head);
    set_count(md, k("ssm.time_step_rank"), c.ssm_n_v_head);
    set_count(md, k("ssm.inner_size"), c.ssm_n_v_head * c.ssm_v_head_dim);
  }
  if (a.llama4_keys) {
    set_count(md, k("attention.chunk_size"), c.n_attn_chunk);
    md.set(k("attention.temperature_scale"), Value::make_f32(c.attn_temp_scale));
    set_count(md, k("attention.temperature_length"), c.attn_temp_length);
  }
  if (a.mla_keys) {
    if (c.q_lora_rank > 0) set_count(md, k("attention.q_lora_rank"), c.q_lora_rank);
    set_count(md, k("attention.kv_lora_rank"), c.kv_lora_rank);
  }
  if (a.deepseek4_keys) write_deepseek4(c, k, md);
}

namespace {

template <class Positive>
void validate_deepseek4(const ModelConfig& c, Positive positive) {
  const size_t n_blocks = static_cast<size_t>(c.n_layer + c.n_nextn_layer);
  positive(c.n_hc, "n_hc");
  if (c.n_hc > 8) fail("config: n_hc ", c.n_hc, " is above 8");
  positive(c.hc_sinkhorn_iters, "hc_sinkhorn_iters");
  if (!(c.hc_eps >= 0.0f)) fail("config: hc_eps must not be negative");
  positive(c.q_lora_rank, "q_lora_rank");
  positive(c.n_swa, "n_swa");
  positive(c.n_out_groups, "n_out_groups");
  positive(c.out_lora_rank, "out_lora_rank");
  if (!(c.compress_rope_base > 0.0f)) fail("config: compress_rope_base must be positive");
  if (c.n_head_kv != 1) fail("config: deepseek4 has one key/value head (n_head_kv ", c.n_head_kv, ")");
  if (c.v_head_dim != c.head_dim) fail("config: deepseek4's values are its keys (v_head_dim must equal head_dim)");
  if (c.rope_dim >= c.head_dim) fail("config: deepseek4 rotates the last rope_dim of head_dim, fewer than all");
  if ((c.n_head * c.head_dim) % c.n_out_groups != 0)
    fail("config: n_head * head_dim ", c.n_head * c.head_dim, " is not a multiple of n_out_groups ", c.n_out_groups);
  if (c.compress_ratios.size() != n_blocks || c.swiglu_limit_exp.size() != n_blocks ||
      c.swiglu_limit_shexp.size() != n_blocks)
    fail("config: deepseek4 needs a compression ratio and SwiGLU limits for each of the ", n_blocks, " blocks");
  bool csa = false;
  for (int64_t r : c.compress_ratios) {
    if (r < 0) fail("config: compression ratios must not be negative");
    csa = csa || r == 4;
  }
  if (csa) {
    positive(c.n_indexer_head, "n_indexer_head");
    positive(c.indexer_head_dim, "indexer_head_dim");
    positive(c.indexer_top_k, "indexer_top_k");
    if (c.rope_dim > c.indexer_head_dim) fail("config: rope_dim exceeds indexer_head_dim");
  }
  if (!c.is_moe()) fail("config: deepseek4 has experts");
  // DeepSeek-V4's layers are all MoE (the first ones hash-routed).
  if (c.n_leading_dense > 0)
    fail("config: deepseek4 with leading dense layers (leading_dense_block_count ", c.n_leading_dense,
         ") is not supported");
  if (c.n_hash_layers < 0 || c.n_hash_layers > c.n_layer)
    fail("config: n_hash_layers ", c.n_hash_layers, " must be in [0, n_layer ", c.n_layer, "]");
}

}  // namespace

void validate_config(const ModelConfig& c) {
  auto positive = [&](int64_t v, const char* field) {
    if (v <= 0) fail("config: ", field, " must be positive (got ", v, ")");
    if (v > (int64_t{1} << 31)) fail("config: ", field, " = ", v, " is too large");
  };
  const Architecture& a = architecture(c.arch);  // throws with the list of architectures
  positive(c.n_vocab, "n_vocab");
  positive(c.n_embd, "n_embd");
  positive(c.n_layer, "n_layer");
  positive(c.n_head, "n_head");
  positive(c.n_head_kv, "n_head_kv");
  positive(c.head_dim, "head_dim");
  positive(c.v_head_dim, "v_head_dim");
  positive(c.n_ctx_train, "n_ctx_train");
  if (!(c.norm_eps > 0.0f && c.norm_eps < 1.0f)) fail("config: norm_eps must be in (0, 1) (got ", c.norm_eps, ")");
  if (!(c.rope_freq_base > 0.0f)) fail("config: rope_freq_base must be positive");
  if (c.rope_dim <= 0 || c.rope_dim > c.head_dim || c.rope_dim % 2 != 0)
    fail("config: rope_dim ", c.rope_dim, " must be even and in (0, head_dim ", c.head_dim, "]");
  if (!c.is_mla() && c.n_head % c.n_head_kv != 0)
    fail("config: n_head ", c.n_head, " is not a multiple of n_head_kv ", c.n_head_kv);
  const bool any_dense = !c.is_moe() || c.n_leading_dense > 0 || c.n_moe_layer_step > 1;
  if (any_dense) positive(c.n_ff, "n_ff");
  if (c.is_moe()) {
    positive(c.n_ff_exp, "n_ff_exp");
    if (c.n_expert_used <= 0 || c.n_expert_used > c.n_expert)
      fail("config: n_expert_used ", c.n_expert_used, " must be in [1, n_expert ", c.n_expert, "]");
    if (c.n_leading_dense < 0 || c.n_leading_dense > c.n_layer)
      fail("config: n_leading_dense ", c.n_leading_dense, " must be in [0, n_layer ", c.n_layer, "]");
    if (c.n_expert_groups > 1) {
      if (c.n_expert % c.n_expert_groups != 0)
        fail("config: n_expert ", c.n_expert, " is not a multiple of n_expert_groups ", c.n_expert_groups);
      if (c.n_group_used <= 0 || c.n_group_used > c.n_expert_groups)
        fail("config: n_group_used ", c.n_group_used, " must be in [1, n_expert_groups ", c.n_expert_groups, "]");
      if (c.n_expert_used > c.n_group_used * (c.n_expert / c.n_expert_groups))
        fail("config: n_expert_used ", c.n_expert_used, " exceeds the experts in ", c.n_group_used, " groups");
    }
  } else if (c.n_expert_used != 0) {
    fail("config: n_expert_used ", c.n_expert_used, " without experts");
  }
  if (a.mla_keys) {
    positive(c.kv_lora_rank, "kv_lora_rank");
    positive(c.qk_rope_head_dim, "qk_rope_head_dim");
    positive(c.qk_nope_head_dim, "qk_nope_head_dim");
    if (c.head_dim != c.qk_nope_head_dim + c.qk_rope_head_dim)
      fail("config: head_dim ", c.head_dim, " != qk_nope_head_dim + qk_rope_head_dim");
    if (c.rope_dim != c.qk_rope_head_dim) fail("config: rope_dim must equal qk_rope_head_dim");
    if (c.q_lora_rank < 0) fail("config: q_lora_rank must not be negative");
  }
  if (c.mla_split_kv_b && !c.is_mla()) fail("config: a split attn_kv_b without latent attention");
  if (c.n_moe_layer_step < 0 || c.n_attn_chunk < 0 || c.n_nope_layer_step < 0)
    fail("config: layer steps and the attention chunk must not be negative");
  if (c.n_nope_layer_step > 0 && c.attn_temp_scale != 0.0f && c.attn_temp_length <= 0)
    fail("config: attn_temp_length must be positive (got ", c.attn_temp_length, ")");
  if (c.n_full_attn_interval < 0) fail("config: n_full_attn_interval must not be negative");
  if (c.has_recurrent_layers()) {
    positive(c.ssm_k_head_dim, "ssm_k_head_dim");
    positive(c.ssm_v_head_dim, "ssm_v_head_dim");
    positive(c.ssm_n_k_head, "ssm_n_k_head");
    positive(c.ssm_n_v_head, "ssm_n_v_head");
    if (c.ssm_conv_kernel < 1 || c.ssm_conv_kernel > 16)
      fail("config: ssm_conv_kernel must be in [1, 16] (got ", c.ssm_conv_kernel, ")");
    if (c.ssm_n_v_head % c.ssm_n_k_head != 0)
      fail("config: ssm_n_v_head ", c.ssm_n_v_head, " is not a multiple of ssm_n_k_head ", c.ssm_n_k_head);
  }
  if (c.n_nextn_layer < 0) fail("config: n_nextn_layer must not be negative (got ", c.n_nextn_layer, ")");
  if (a.deepseek4_keys) validate_deepseek4(c, positive);
  if (c.n_swa < 0) fail("config: n_swa must not be negative (got ", c.n_swa, ")");
  if (c.expert_bias && !c.is_moe()) fail("config: expert biases without experts");
  if (c.rope_scaling != RopeScaling::kNone && !(c.rope_scaling_factor > 0.0f))
    fail("config: rope_scaling_factor must be positive");
}

}  // namespace frugal::model
