// config.json -> configuration for the families of hf_layout.h: the keys
// every family shares, the MoE keys its table row names, DeepSeek's latent
// attention and routing keys, and rope_scaling (the way back, config_to_hf,
// is hf_config_write.cc).
#include <algorithm>
#include <cmath>
#include <string_view>

#include "base/error.h"
#include "convert/hf_layout.h"

namespace frugal::convert {
namespace {

using json = nlohmann::json;
using model::ModelConfig;

// Strict readers of config.json keys.
struct HfConfig {
  const json& j;
  const std::string& where;
  bool has(const char* key) const { return j.contains(key) && !j[key].is_null(); }
  int64_t count(const char* key) const {
    if (!has(key)) fail(where, ": key '", key, "' is missing");
    if (!j[key].is_number_integer() || j[key].get<int64_t>() < 0)
      fail(where, ": key '", key, "' must be a non-negative integer");
    return j[key].get<int64_t>();
  }
  int64_t count_or(const char* key, int64_t fallback) const { return has(key) ? count(key) : fallback; }
  double number_or(const char* key, double fallback) const {
    if (!has(key)) return fallback;
    if (!j[key].is_number()) fail(where, ": key '", key, "' must be a number");
    return j[key].get<double>();
  }
  bool flag_or(const char* key, bool fallback) const {
    if (!has(key)) return fallback;
    if (!j[key].is_boolean()) fail(where, ": key '", key, "' must be true or false");
    return j[key].get<bool>();
  }
};

// rope_scaling: linear and YaRN as the rope.scaling.* keys, Llama 3.1's
// as rope_freqs.weight (llama3_rope_factors); the rest is refused.
void read_rope_scaling(const json& rs, const HfFamily& fam, const std::string& where, ModelConfig& c) {
  if (!rs.is_object()) fail(where, ": rope_scaling is not an object");
  const HfConfig r{rs, where};
  const std::string type = rs.value("rope_type", rs.value("type", std::string()));
  auto refuse_extra = [&](std::initializer_list<const char*> known) {
    for (auto it = rs.begin(); it != rs.end(); ++it) {
      bool ok = false;
      for (const char* k : known) ok = ok || it.key() == k;
      if (!ok) fail(where, ": rope_scaling key '", it.key(), "' (with rope_type ", type, ") is not converted");
    }
  };
  const double factor = r.number_or("factor", 0.0);
  if ((type == "linear" || type == "yarn" || type == "llama3") && !(factor >= 1.0))
    fail(where, ": rope_scaling factor must be a number of at least 1");
  if (type == "linear") {
    refuse_extra({"rope_type", "type", "factor"});
    c.rope_scaling = model::RopeScaling::kLinear;
    c.rope_scaling_factor = float(factor);
    c.rope_orig_ctx = c.n_ctx_train;
  } else if (type == "yarn") {
    const bool deepseek = fam.keys == HfKeys::kDeepseek || fam.keys == HfKeys::kDeepseekV4;
    if (deepseek) {
      // DeepSeek's YaRN: logits scaled by mscale_all_dim's correction squared
      // (rope.scaling.yarn_log_multiplier = 0.1 * mscale_all_dim), cos/sin by
      // mscale's over mscale_all_dim's, which frugal (as llama.cpp) takes as 1.
      refuse_extra({"rope_type", "type", "factor", "original_max_position_embeddings", "beta_fast", "beta_slow",
                    "mscale", "mscale_all_dim"});
      const double all_dim = r.number_or("mscale_all_dim", 0.0);
      if (r.number_or("mscale", all_dim) != all_dim)
        fail(where, ": rope_scaling mscale other than mscale_all_dim is not converted");
      c.yarn_log_multiplier = float(0.1 * all_dim);
    } else if (fam.keys == HfKeys::kGptOss) {
      // gpt-oss says truncate: false (its correction range not rounded to
      // whole dimensions); llama.cpp's converter drops the key and its
      // engines round, and so does frugal.
      refuse_extra({"rope_type", "type", "factor", "original_max_position_embeddings", "beta_fast", "beta_slow",
                    "truncate"});
    } else {
      refuse_extra({"rope_type", "type", "factor", "original_max_position_embeddings", "beta_fast", "beta_slow"});
    }
    c.rope_scaling = model::RopeScaling::kYarn;
    c.rope_scaling_factor = float(factor);
    c.rope_orig_ctx = r.count_or("original_max_position_embeddings", c.n_ctx_train);
    c.yarn_beta_fast = float(r.number_or("beta_fast", 32.0));
    c.yarn_beta_slow = float(r.number_or("beta_slow", 1.0));
  } else if (type == "llama3" && fam.llama3_rope) {
    refuse_extra({"rope_type", "type", "factor", "low_freq_factor", "high_freq_factor",
                  "original_max_position_embeddings"});
    c.rope_freq_factors = true;
  } else if (type != "default") {
    fail(where, ": rope_scaling type '", type, "' is not converted for ", fam.hf_class);
  }
}

// DeepSeek's MoE keys (DeepSeek-V2/V3, GLM-4.5): shared experts of the
// routed width, leading dense layers, the router's scores, group limit and
// scaling.
void read_deepseek_moe(const HfConfig& h, ModelConfig& c, const char* default_scoring, const char* default_method);

// DeepSeek-V2/V3's latent attention and routing keys.
void read_deepseek(const HfConfig& h, ModelConfig& c) {
  c.q_lora_rank = h.count_or("q_lora_rank", 0);
  c.kv_lora_rank = h.count("kv_lora_rank");
  c.qk_rope_head_dim = h.count("qk_rope_head_dim");
  c.qk_nope_head_dim = h.count("qk_nope_head_dim");
  c.head_dim = c.qk_nope_head_dim + c.qk_rope_head_dim;
  c.v_head_dim = h.count("v_head_dim");
  c.rope_dim = c.qk_rope_head_dim;
  c.n_head_kv = c.n_head;  // every head reads the shared latent
  read_deepseek_moe(h, c, "softmax", "greedy");
}

// partial_rotary_factor: RoPE on that share of each head's dimensions.
void read_partial_rotary(const HfConfig& h, ModelConfig& c, double fallback) {
  const double partial = h.number_or("partial_rotary_factor", fallback);
  c.rope_dim = int64_t(double(c.head_dim) * partial);
  if (double(c.rope_dim) != double(c.head_dim) * partial || c.rope_dim % 2 != 0)
    fail(h.where, ": partial_rotary_factor ", partial, " of head_dim ", c.head_dim, " is not an even whole number");
}

// Qwen3-Next: Gated DeltaNet layers (linear_*) with every
// full_attention_interval-th layer gated full attention (layer_types, when
// given, must say so; without the interval, its first full_attention layer
// gives it), RoPE on partial_rotary_factor of each head (default as given).
void read_qwen3next(const HfConfig& h, ModelConfig& c, double partial_rotary = 0.25) {
  const std::string& where = h.where;
  if (h.flag_or("attention_bias", false)) fail(where, ": Qwen3-Next with attention_bias is not converted");
  read_partial_rotary(h, c, partial_rotary);
  int64_t interval = 4;
  if (h.has("layer_types") && h.j["layer_types"].is_array())
    for (size_t il = 0; il < h.j["layer_types"].size(); ++il)
      if (h.j["layer_types"][il] == "full_attention") {
        interval = int64_t(il) + 1;
        break;
      }
  c.n_full_attn_interval = h.count_or("full_attention_interval", interval);
  if (c.n_full_attn_interval < 1) fail(where, ": full_attention_interval must be at least 1");
  c.ssm_conv_kernel = h.count("linear_conv_kernel_dim");
  c.ssm_k_head_dim = h.count("linear_key_head_dim");
  c.ssm_v_head_dim = h.count("linear_value_head_dim");
  c.ssm_n_k_head = h.count("linear_num_key_heads");
  c.ssm_n_v_head = h.count("linear_num_value_heads");
  if (h.has("layer_types") && h.j["layer_types"] != qwen3next_layer_types(c))
    fail(where, ": layer_types ", h.j["layer_types"].dump(), " is not converted (full_attention_interval ",
         c.n_full_attn_interval, " implies ", qwen3next_layer_types(c).dump(), ")");
}

// Qwen3.5-MoE: Qwen3-Next's keys, RoPE's base and share of each head in
// rope_parameters (newer configs) or at the top level, the output gate
// (attn_output_gate) always on, the next-token-prediction block's layers
// (mtp_num_hidden_layers; one at most, sharing the embedding). Its
// interleaved multimodal RoPE (mrope_section) rotates text as plain RoPE
// does, every section at the token's position.
void read_qwen35(const HfConfig& h, ModelConfig& c) {
  const std::string& where = h.where;
  double partial = 0.25;
  if (h.has("rope_parameters")) {
    const json& rp = h.j["rope_parameters"];
    if (!rp.is_object()) fail(where, ": rope_parameters is not an object");
    for (auto it = rp.begin(); it != rp.end(); ++it)
      if (it.key() != "rope_type" && it.key() != "rope_theta" && it.key() != "partial_rotary_factor" &&
          it.key() != "mrope_section" && it.key() != "mrope_interleaved")
        fail(where, ": rope_parameters key '", it.key(), "' is not converted");
    if (rp.value("rope_type", std::string("default")) != "default")
      fail(where, ": rope_parameters rope_type ", rp["rope_type"].dump(), " is not converted (only default)");
    const HfConfig r{rp, where + " rope_parameters"};
    c.rope_freq_base = float(r.number_or("rope_theta", c.rope_freq_base));
    partial = r.number_or("partial_rotary_factor", partial);
  }
  if (!h.flag_or("attn_output_gate", true)) fail(where, ": attn_output_gate false is not converted");
  read_qwen3next(h, c, partial);
  if (h.has("rope_parameters") && h.j["rope_parameters"].contains("mrope_section")) {
    const json& ms = h.j["rope_parameters"]["mrope_section"];
    int64_t sum = 0;
    bool ok = ms.is_array() && !ms.empty() && ms.size() <= 4;
    for (size_t i = 0; ok && i < ms.size(); ++i) {
      ok = ms[i].is_number_integer() && ms[i].get<int64_t>() >= 0;
      if (ok) sum += c.rope_sections[i] = ms[i].get<int64_t>();
    }
    if (!ok || sum != c.rope_dim / 2)
      fail(where, ": rope_parameters mrope_section ", ms.dump(), " does not split the ", c.rope_dim / 2,
           " rotary pairs into at most 4 sections");
  }
  c.n_nextn_layer = h.count_or("mtp_num_hidden_layers", 0);
  if (c.n_nextn_layer > 1) fail(where, ": mtp_num_hidden_layers ", c.n_nextn_layer, " is not converted (at most 1)");
  if (h.flag_or("mtp_use_dedicated_embeddings", false))
    fail(where, ": mtp_use_dedicated_embeddings true is not converted");
}

// GLM-4.5: partial RoPE, q/k/v biases, optional per-head q/k norm, the
// next-token-prediction layers after num_hidden_layers, DeepSeek-V3's MoE
// (its router always sigmoid with the correction bias).
void read_glm(const HfConfig& h, ModelConfig& c) {
  if (!h.flag_or("attention_bias", false)) fail(h.where, ": GLM-4.5 without attention_bias is not converted");
  read_partial_rotary(h, c, 0.5);
  c.qk_norm = h.flag_or("use_qk_norm", false) ? model::QkNorm::kPerHead : model::QkNorm::kNone;
  c.n_nextn_layer = h.count_or("num_nextn_predict_layers", 0);
  read_deepseek_moe(h, c, "sigmoid", "noaux_tc");
}

// MiniMax-M2: RoPE on rotary_dim of each head (or partial_rotary_factor's
// share), the q/k norm over whole vectors, a sigmoid router with its
// selection bias, full attention in every layer, no shared expert; what
// its configs can say otherwise is refused.
void read_minimax(const HfConfig& h, ModelConfig& c) {
  const std::string& where = h.where;
  if (h.has("rotary_dim")) c.rope_dim = h.count("rotary_dim");
  else read_partial_rotary(h, c, 1.0);
  if (h.flag_or("attention_bias", false)) fail(where, ": MiniMax-M2 with attention_bias is not converted");
  if (!h.flag_or("use_qk_norm", true)) fail(where, ": MiniMax-M2 without use_qk_norm is not converted");
  if (h.has("qk_norm_type") && h.j["qk_norm_type"] != "per_layer")
    fail(where, ": qk_norm_type ", h.j["qk_norm_type"].dump(), " is not converted (per_layer is)");
  if (h.has("scoring_func") && h.j["scoring_func"] != "sigmoid")
    fail(where, ": scoring_func ", h.j["scoring_func"].dump(), " is not converted (MiniMax-M2's router is a sigmoid)");
  if (!h.flag_or("use_routing_bias", true)) fail(where, ": MiniMax-M2 without use_routing_bias is not converted");
  if (h.count_or("shared_intermediate_size", 0) != 0)
    fail(where, ": shared_intermediate_size other than 0 (a shared expert) is not converted");
  if (h.has("attn_type_list")) {
    const json& types = h.j["attn_type_list"];
    if (!types.is_array() || int64_t(types.size()) != c.n_layer)
      fail(where, ": attn_type_list must list num_hidden_layers (", c.n_layer, ") entries");
    for (size_t il = 0; il < types.size(); ++il)
      if (types[il] != 1)
        fail(where, ": attn_type_list[", il, "] is ", types[il].dump(), " (converted: 1, full attention, in every layer)");
  }
  c.gating = model::GatingFunc::kSigmoid;
}

// dots.llm1: no attention biases, DeepSeek-V3's MoE keys with its router
// always a sigmoid choosing by score plus the correction bias.
void read_dots1(const HfConfig& h, ModelConfig& c) {
  const std::string& where = h.where;
  if (h.flag_or("attention_bias", false)) fail(where, ": dots.llm1 with attention_bias is not converted");
  if (h.has("scoring_func") && h.j["scoring_func"] != "sigmoid")
    fail(where, ": scoring_func ", h.j["scoring_func"].dump(), " is not converted (dots.llm1's router is a sigmoid)");
  if (h.has("topk_method") && h.j["topk_method"] != "noaux_tc")
    fail(where, ": topk_method ", h.j["topk_method"].dump(), " is not converted (dots.llm1 chooses as noaux_tc)");
  read_deepseek_moe(h, c, "sigmoid", "noaux_tc");
  // Its configs say n_group 1, topk_group 1: one group of all, no limit.
  if (c.n_expert_groups <= 1) c.n_expert_groups = c.n_group_used = 0;
}

// Ling 2.0: no biases, per-head q/k norm, partial RoPE, DeepSeek-V3's MoE
// under its own keys: num_shared_experts of moe_shared_expert_intermediate_size
// each, a sigmoid router (score_function) choosing by score plus the
// expert_bias (moe_router_enable_expert_bias) in n_group groups of which
// topk_group are used; what its configs can say otherwise is refused.
void read_bailing(const HfConfig& h, ModelConfig& c) {
  const std::string& where = h.where;
  if (h.flag_or("use_bias", false) || h.flag_or("use_qkv_bias", false))
    fail(where, ": Ling 2.0 with use_bias or use_qkv_bias is not converted");
  if (!h.flag_or("use_qk_norm", true)) fail(where, ": Ling 2.0 without use_qk_norm is not converted");
  if (h.has("score_function") && h.j["score_function"] != "sigmoid")
    fail(where, ": score_function ", h.j["score_function"].dump(), " is not converted (Ling 2.0's router is a sigmoid)");
  if (!h.flag_or("moe_router_enable_expert_bias", true))
    fail(where, ": moe_router_enable_expert_bias false (no expert_bias) is not converted");
  read_partial_rotary(h, c, 1.0);
  c.n_expert_shared = h.count_or("num_shared_experts", 0);
  c.n_ff_shexp = c.n_expert_shared * h.count_or("moe_shared_expert_intermediate_size", c.n_ff_exp);
  c.n_leading_dense = h.count_or("first_k_dense_replace", 0);
  c.expert_weights_scale = float(h.number_or("routed_scaling_factor", 1.0));
  c.gating = model::GatingFunc::kSigmoid;
  c.expert_score_bias = true;
  c.n_expert_groups = h.count_or("n_group", 0);
  c.n_group_used = h.count_or("topk_group", 0);
  if (c.n_expert_groups <= 1) c.n_expert_groups = c.n_group_used = 0;  // one group of all: no limit
}

// Hunyuan-A13B's per-layer MoE keys (moe_topk, moe_intermediate_size,
// num_shared_expert may be lists, a value per layer): a list whose values
// are all one is read as that value; other lists are refused.
json hunyuan_scalars(const json& j, const std::string& where) {
  json out = j;
  for (const char* key : {"moe_topk", "moe_intermediate_size", "num_shared_expert", "num_experts"}) {
    if (!j.contains(key) || !j[key].is_array()) continue;
    const json& list = j[key];
    if (list.empty() || std::any_of(list.begin(), list.end(), [&](const json& v) { return v != list[0]; }))
      fail(where, ": key '", key, "' ", list.dump(), " differs by layer, which is not converted");
    out[key] = list[0];
  }
  return out;
}

// Hunyuan-A13B: per-head q/k norm (after RoPE), no biases, no cross-layer
// attention, a softmax router renormalised, num_shared_expert FFNs of
// intermediate_size as one, RoPE's base raised by rope_scaling's alpha
// ("dynamic" NTK: base * alpha^(d / (d - 2)), as its rotary embedding
// computes it once); the rest of what its configs can say is refused.
void read_hunyuan(const HfConfig& h, ModelConfig& c) {
  const std::string& where = h.where;
  if (!h.flag_or("use_qk_norm", true)) fail(where, ": Hunyuan without use_qk_norm is not converted");
  if (h.flag_or("use_cla", false)) fail(where, ": use_cla (cross-layer attention) is not converted");
  if (h.flag_or("attention_bias", false) || h.flag_or("mlp_bias", false))
    fail(where, ": Hunyuan with attention_bias or mlp_bias is not converted");
  c.n_expert_shared = h.count_or("num_shared_expert", 1);
  c.n_ff_shexp = c.n_expert_shared * c.n_ff;
  if (!h.has("rope_scaling")) return;
  const json& rs = h.j["rope_scaling"];
  if (!rs.is_object() || rs.value("type", rs.value("rope_type", std::string())) != "dynamic" || !rs.contains("alpha"))
    fail(where, ": rope_scaling ", rs.dump(), " is not converted (Hunyuan's is dynamic with an alpha)");
  const HfConfig r{rs, where + " rope_scaling"};
  for (auto it = rs.begin(); it != rs.end(); ++it)
    if (it.key() != "type" && it.key() != "rope_type" && it.key() != "alpha" && it.key() != "factor" &&
        it.key() != "beta_fast" && it.key() != "beta_slow" && it.key() != "mscale" && it.key() != "mscale_all_dim")
      fail(where, ": rope_scaling key '", it.key(), "' is not converted");
  if (r.number_or("factor", 1.0) != 1.0) fail(where, ": rope_scaling factor other than 1 is not converted");
  const double alpha = r.number_or("alpha", 1.0);
  if (!(alpha >= 1.0)) fail(where, ": rope_scaling alpha must be a number of at least 1");
  const double d = double(c.head_dim);
  c.rope_freq_base = float(double(c.rope_freq_base) * std::pow(alpha, d / (d - 2.0)));
}

// ERNIE-4.5-MoE: MoE layers from moe_layer_start_index to the last, every
// moe_layer_interval-th, shared experts of the routed width, a softmax
// router whose correction bias chooses, the top-k always renormalised; no
// biases; what its configs can say otherwise is refused.
void read_ernie(const HfConfig& h, ModelConfig& c) {
  const std::string& where = h.where;
  if (h.flag_or("use_bias", false)) fail(where, ": ERNIE-4.5 with use_bias is not converted");
  if (!h.flag_or("moe_use_aux_free", true))
    fail(where, ": moe_use_aux_free false (no e_score_correction_bias) is not converted");
  c.n_leading_dense = h.count_or("moe_layer_start_index", 0);
  c.n_moe_layer_step = h.count_or("moe_layer_interval", 1);
  if (c.n_moe_layer_step < 1) fail(where, ": moe_layer_interval must be at least 1");
  if (h.has("moe_layer_end_index")) {
    const json& end = h.j["moe_layer_end_index"];
    if (!end.is_number_integer() || (end.get<int64_t>() != -1 && end.get<int64_t>() != c.n_layer - 1))
      fail(where, ": moe_layer_end_index ", end.dump(), " is not converted (MoE layers run to the last, ",
           c.n_layer - 1, ", or -1)");
  }
  c.n_expert_shared = h.count_or("moe_num_shared_experts", 0);
  c.n_ff_shexp = c.n_expert_shared * c.n_ff_exp;
  c.gating = model::GatingFunc::kSoftmax;
  c.expert_weights_norm = true;
}

// The first of `keys` config.json has (DeepSeek-V4's indexer keys are
// spelled two ways), or nullptr.
const char* first_key(const HfConfig& h, std::initializer_list<const char*> keys) {
  for (const char* k : keys)
    if (h.has(k)) return k;
  return nullptr;
}

// DeepSeek-V4: one key/value head of head_dim with RoPE on its last
// qk_rope_head_dim, low-rank queries, the grouped output (o_groups of
// o_lora_rank), a sliding window in every layer, each layer's compression
// ratio (compress_ratios; a list that also counts the next-token-prediction
// layers is cut to the layers kept), the lightning indexer where a ratio is
// 4, hc_mult hyper-connection streams, a sqrt-softplus router with the
// selection bias (the first num_hash_layers layers by token id), shared
// experts of the routed width, the SwiGLU clamped at swiglu_limit.
void read_deepseek4(const HfConfig& h, ModelConfig& c) {
  const std::string& where = h.where;
  if (c.n_head_kv != 1) fail(where, ": num_key_value_heads ", c.n_head_kv, " is not converted (DeepSeek-V4 has 1)");
  c.v_head_dim = c.head_dim;
  c.rope_dim = h.count("qk_rope_head_dim");
  c.q_lora_rank = h.count("q_lora_rank");
  c.n_out_groups = h.count("o_groups");
  c.out_lora_rank = h.count("o_lora_rank");
  c.n_swa = h.count("sliding_window");
  const json& ratios = h.j.contains("compress_ratios") ? h.j["compress_ratios"] : json();
  if (!ratios.is_array() || int64_t(ratios.size()) < c.n_layer)
    fail(where, ": key 'compress_ratios' must list at least num_hidden_layers (", c.n_layer, ") ratios");
  c.compress_ratios.clear();
  for (int64_t il = 0; il < c.n_layer; ++il) {
    const json& r = ratios[size_t(il)];
    if (!r.is_number_integer() || r.get<int64_t>() < 0) fail(where, ": compress_ratios[", il, "] is not a ratio");
    c.compress_ratios.push_back(r.get<int64_t>());
  }
  c.compress_rope_base = float(h.number_or("compress_rope_theta", c.rope_freq_base));
  if (std::find(c.compress_ratios.begin(), c.compress_ratios.end(), 4) != c.compress_ratios.end()) {
    auto indexer = [&](std::initializer_list<const char*> keys) {
      const char* k = first_key(h, keys);
      if (k == nullptr) fail(where, ": key '", *keys.begin(), "' is missing (a layer compresses by 4)");
      return h.count(k);
    };
    c.n_indexer_head = indexer({"index_n_heads", "num_indexer_heads"});
    c.indexer_head_dim = indexer({"index_head_dim", "indexer_head_dim"});
    c.indexer_top_k = indexer({"index_topk", "indexer_topk"});
  }
  c.n_hc = h.count("hc_mult");
  c.hc_sinkhorn_iters = h.count("hc_sinkhorn_iters");
  c.hc_eps = float(h.number_or("hc_eps", 1e-6));
  c.n_hash_layers = h.count_or("num_hash_layers", 0);
  const float limit = float(h.number_or("swiglu_limit", 0.0));
  c.swiglu_limit_exp.assign(size_t(c.n_layer), limit);
  c.swiglu_limit_shexp = c.swiglu_limit_exp;
  if (h.has("scoring_func") && h.j["scoring_func"] != "sqrtsoftplus")
    fail(where, ": scoring_func ", h.j["scoring_func"].dump(), " is not converted (DeepSeek-V4's is sqrtsoftplus)");
  if (h.has("topk_method") && h.j["topk_method"] != "noaux_tc")
    fail(where, ": topk_method ", h.j["topk_method"].dump(), " is not converted (DeepSeek-V4 chooses as noaux_tc)");
  if (h.count_or("n_group", 1) > 1) fail(where, ": n_group above 1 is not converted for DeepSeek-V4");
  c.n_expert_shared = h.count_or("n_shared_experts", 0);
  c.n_ff_shexp = c.n_expert_shared * c.n_ff_exp;
  c.n_leading_dense = h.count_or("first_k_dense_replace", 0);
  c.expert_weights_scale = float(h.number_or("routed_scaling_factor", 1.0));
  c.gating = model::GatingFunc::kSqrtSoftplus;
  c.expert_score_bias = true;
}

// gpt-oss: a sliding window on the even layers (layer_types, when given,
// must say so), biases, the SwiGLU clamped at 7.
void read_gpt_oss(const HfConfig& h, ModelConfig& c) {
  const std::string& where = h.where;
  c.n_swa = h.count("sliding_window");
  if (!h.flag_or("attention_bias", true)) fail(where, ": gpt-oss without attention_bias is not converted");
  if (h.number_or("swiglu_limit", 7.0) != 7.0) fail(where, ": swiglu_limit other than 7 is not converted");
  if (h.has("layer_types")) {
    const json& types = h.j["layer_types"];
    if (!types.is_array() || int64_t(types.size()) != c.n_layer)
      fail(where, ": layer_types must list num_hidden_layers (", c.n_layer, ") entries");
    for (size_t il = 0; il < types.size(); ++il)
      if (types[il] != (il % 2 == 0 ? "sliding_attention" : "full_attention"))
        fail(where, ": layer_types[", il, "] is ", types[il].dump(),
             " (converted: sliding_attention on even layers, full_attention on odd ones)");
  }
}

// Llama 4: MoE layers every interleave_moe_layer_step-th, NoPE layers every
// 4th (no_rope_layers, when listed, must say so: 1 for a RoPE layer),
// chunked attention on the others, the NoPE layers' queries tempered by
// position (attn_temperature_tuning: attn_scale per floor_scale positions),
// the unweighted q/k norm of the RoPE layers, which frugal's files (as
// llama.cpp's) imply for every model but Maverick's 128 experts.
void read_llama4(const HfConfig& h, ModelConfig& c) {
  const std::string& where = h.where;
  if (h.flag_or("attention_bias", false)) fail(where, ": Llama 4 with attention_bias is not converted");
  c.n_moe_layer_step = h.count_or("interleave_moe_layer_step", 1);
  if (c.n_moe_layer_step < 1) fail(where, ": interleave_moe_layer_step must be at least 1");
  c.n_attn_chunk = h.count_or("attention_chunk_size", 8192);
  if (h.count_or("no_rope_layer_interval", c.n_nope_layer_step) != c.n_nope_layer_step)
    fail(where, ": no_rope_layer_interval other than ", c.n_nope_layer_step, " is not converted");
  // Older configs say 4 for true.
  bool tuning = true;
  if (h.has("attn_temperature_tuning")) {
    const json& v = h.j["attn_temperature_tuning"];
    if (!v.is_boolean() && !v.is_number()) fail(where, ": attn_temperature_tuning must be true, false or a number");
    tuning = v.is_boolean() ? v.get<bool>() : v.get<double>() != 0.0;
  }
  const double floor_scale = h.number_or("floor_scale", 8192.0);
  c.attn_temp_length = int64_t(floor_scale);
  if (double(c.attn_temp_length) != floor_scale || c.attn_temp_length < 1)
    fail(where, ": floor_scale must be a positive whole number");
  c.attn_temp_scale = tuning ? float(h.number_or("attn_scale", 0.1)) : 0.0f;
  const bool qk_norm = h.flag_or("use_qk_norm", true);
  if (qk_norm != (c.n_expert != 128))
    fail(where, ": use_qk_norm ", qk_norm ? "true" : "false", " with ", c.n_expert,
         " experts is not converted (llama4 files imply the q/k norm for every expert count but 128)");
  c.qk_norm = qk_norm ? model::QkNorm::kPerHeadUnweighted : model::QkNorm::kNone;
  // Per-layer lists that, when given, must agree with the pattern the file implies.
  auto check_layers = [&](const char* key, auto expected) {
    if (!h.has(key) || h.j[key].empty()) return;
    json want = json::array();
    for (int64_t il = 0; il < c.n_layer; ++il) want.push_back(expected(il));
    if (h.j[key] != want) fail(where, ": ", key, " ", h.j[key].dump(), " is not converted (", want.dump(), " is)");
  };
  check_layers("no_rope_layers", [&](int64_t il) { return c.layer_has_rope(il) ? 1 : 0; });
  json moe_layers = json::array();
  for (int64_t il = 0; il < c.n_layer; ++il)
    if (c.layer_is_moe(il)) moe_layers.push_back(il);
  if (h.has("moe_layers") && h.j["moe_layers"] != moe_layers)
    fail(where, ": moe_layers ", h.j["moe_layers"].dump(), " disagrees with interleave_moe_layer_step (",
         moe_layers.dump(), ")");
}

void read_deepseek_moe(const HfConfig& h, ModelConfig& c, const char* default_scoring, const char* default_method) {
  const std::string& where = h.where;
  c.n_expert_shared = h.count_or("n_shared_experts", 0);
  c.n_ff_shexp = c.n_expert_shared * c.n_ff_exp;
  c.n_leading_dense = h.count_or("first_k_dense_replace", 0);
  if (h.count_or("moe_layer_freq", 1) != 1) fail(where, ": moe_layer_freq other than 1 is not converted");
  c.expert_weights_scale = float(h.number_or("routed_scaling_factor", 1.0));
  const std::string scoring = h.has("scoring_func") ? h.j["scoring_func"].get<std::string>() : default_scoring;
  const std::string method = h.has("topk_method") ? h.j["topk_method"].get<std::string>() : default_method;
  if (scoring != "softmax" && scoring != "sigmoid") fail(where, ": scoring_func '", scoring, "' is not converted");
  c.gating = scoring == "sigmoid" ? model::GatingFunc::kSigmoid : model::GatingFunc::kSoftmax;
  c.n_expert_groups = h.count_or("n_group", 0);
  c.n_group_used = h.count_or("topk_group", 0);
  if (method == "greedy") {
    // Groups play no part in greedy selection; one group of all is the same.
    if (c.n_expert_groups > 1) c.n_expert_groups = c.n_group_used = 0;
  } else if (method != "group_limited_greedy" && method != "noaux_tc") {
    fail(where, ": topk_method '", method, "' is not converted");
  }
  // noaux_tc chooses by score + e_score_correction_bias (exp_probs_b) over
  // sigmoid scores; frugal pairs the bias with the sigmoid router.
  c.expert_score_bias = method == "noaux_tc";
  if (c.expert_score_bias != (c.gating == model::GatingFunc::kSigmoid))
    fail(where, ": scoring_func ", scoring, " with topk_method ", method, " is not converted");
}

}  // namespace

json qwen3next_layer_types(const ModelConfig& c) {
  json types = json::array();
  for (int64_t il = 0; il < c.n_layer; ++il)
    types.push_back((il + 1) % c.n_full_attn_interval == 0 ? "full_attention" : "linear_attention");
  return types;
}

std::vector<float> llama3_rope_factors(const json& j, const ModelConfig& c) {
  const json& rs = j["rope_scaling"];
  const HfConfig r{rs, "config.json"};
  const double factor = r.number_or("factor", 8.0), low = r.number_or("low_freq_factor", 1.0);
  const double high = r.number_or("high_freq_factor", 4.0);
  const double old_ctx = double(r.count_or("original_max_position_embeddings", 8192));
  // Llama 4 Scout's has high == low: no band between the two wavelengths.
  if (!(high >= low)) fail("config.json: rope_scaling high_freq_factor must not be below low_freq_factor");
  const double low_wavelen = old_ctx / low, high_wavelen = old_ctx / high;
  std::vector<float> out;
  for (int64_t i = 0; i < c.rope_dim / 2; ++i) {
    const double freq = std::pow(double(c.rope_freq_base), -double(2 * i) / double(c.rope_dim));
    const double wavelen = 2 * M_PI / freq;
    if (wavelen < high_wavelen || (high == low && wavelen <= low_wavelen)) {
      out.push_back(1.0f);
    } else if (wavelen > low_wavelen) {
      out.push_back(float(factor));
    } else {
      const double smooth = (old_ctx / wavelen - low) / (high - low);
      out.push_back(float(1.0 / ((1 - smooth) / factor + smooth)));
    }
  }
  return out;
}

const json& hf_model_keys(const json& cfg) {
  return *hf_family_for_class(cfg.at("architectures").at(0).get<std::string>()).text_config ? cfg.at("text_config")
                                                                                               : cfg;
}

ModelConfig config_from_hf(const json& root, const std::string& where) {
  if (!root.is_object()) fail(where, ": not a JSON object");
  if (!root.contains("architectures") || !root["architectures"].is_array() || root["architectures"].empty() ||
      !root["architectures"][0].is_string())
    fail(where, ": key 'architectures' is missing or not a list of class names");
  const HfFamily* found = nullptr;
  try {
    found = &hf_family_for_class(root["architectures"][0].get<std::string>());
  } catch (const Error& e) {
    fail(where, ": ", e.what());
  }
  const HfFamily& fam = *found;
  if (*fam.text_config && (!root.contains("text_config") || !root["text_config"].is_object()))
    fail(where, ": key 'text_config' is missing or not an object");
  json scalars;  // Hunyuan's uniform per-layer lists as values
  if (fam.keys == HfKeys::kHunyuan) scalars = hunyuan_scalars(hf_model_keys(root), where);
  const json& j = fam.keys == HfKeys::kHunyuan ? scalars : hf_model_keys(root);
  const std::string keys_where = *fam.text_config ? where + " text_config" : where;
  const HfConfig h{j, keys_where};
  ModelConfig c;
  c.arch = fam.arch;
  c.name = root.value("_name_or_path", "");
  c.n_vocab = h.count("vocab_size");
  c.n_embd = h.count("hidden_size");
  c.n_layer = h.count("num_hidden_layers");
  c.n_head = h.count("num_attention_heads");
  if (c.n_head == 0) fail(keys_where, ": key 'num_attention_heads' must be positive");
  c.n_head_kv = h.count_or("num_key_value_heads", c.n_head);
  c.head_dim = h.count_or("head_dim", c.n_embd / c.n_head);
  c.v_head_dim = c.head_dim;
  c.rope_dim = c.head_dim;
  c.n_ff = *fam.dense_ff_key ? h.count(fam.dense_ff_key) : 0;  // Qwen3.5-MoE: no dense FFN
  c.n_ctx_train = h.count("max_position_embeddings");
  c.norm_eps = float(h.number_or("rms_norm_eps", 1e-6));
  c.rope_freq_base = float(h.number_or("rope_theta", 10000.0));
  c.tied_output = h.flag_or("tie_word_embeddings", HfConfig{root, where}.flag_or("tie_word_embeddings", false));
  if (h.has("hidden_act") && j["hidden_act"] != "silu")
    fail(keys_where, ": hidden_act ", j["hidden_act"].dump(), " is not converted (only silu)");
  if (h.flag_or("use_sliding_window", false)) fail(keys_where, ": use_sliding_window is not converted");
  if (fam.permute_qk && h.flag_or("attention_bias", false)) fail(keys_where, ": attention_bias is not converted for llama");
  if (h.has("clip_qkv")) fail(keys_where, ": clip_qkv is not converted");
  if (fam.moe) {
    c.n_expert = h.count(fam.expert_count_key);
    c.n_expert_used = h.count(fam.expert_used_key);
    c.n_ff_exp = *fam.expert_ff_key ? h.count(fam.expert_ff_key) : c.n_ff;
    if (*fam.shared_ff_key) c.n_ff_shexp = h.count_or(fam.shared_ff_key, 0);
    if (h.count_or("decoder_sparse_step", 1) != 1) fail(keys_where, ": decoder_sparse_step other than 1 is not converted");
    if (h.has("mlp_only_layers") && !j["mlp_only_layers"].empty()) fail(keys_where, ": mlp_only_layers is not converted");
  }
  model::apply_architecture_defaults(c);
  switch (fam.keys) {
    case HfKeys::kCommon: break;
    case HfKeys::kDeepseek: read_deepseek(h, c); break;
    case HfKeys::kGlm: read_glm(h, c); break;
    case HfKeys::kGptOss: read_gpt_oss(h, c); break;
    case HfKeys::kLlama4: read_llama4(h, c); break;
    case HfKeys::kQwen3Next: read_qwen3next(h, c); break;
    case HfKeys::kQwen35: read_qwen35(h, c); break;
    case HfKeys::kMiniMax: read_minimax(h, c); break;
    case HfKeys::kDots1: read_dots1(h, c); break;
    case HfKeys::kErnie: read_ernie(h, c); break;
    case HfKeys::kDeepseekV4: read_deepseek4(h, c); break;
    case HfKeys::kBailing: read_bailing(h, c); break;
    case HfKeys::kHunyuan: read_hunyuan(h, c); break;
  }
  if (h.has("rope_scaling") && fam.keys != HfKeys::kHunyuan) read_rope_scaling(j["rope_scaling"], fam, keys_where, c);
  if (fam.norm_topk_key) c.expert_weights_norm = h.flag_or("norm_topk_prob", false);
  try {
    model::validate_config(c);
  } catch (const Error& e) {
    fail(keys_where, ": ", e.what());
  }
  return c;
}

}  // namespace frugal::convert
