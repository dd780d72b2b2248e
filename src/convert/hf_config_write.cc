// Configuration -> config.json (frugal synth --format hf): the keys every
// family shares, its table row's MoE keys, each family's own and
// rope_scaling, as Hugging Face writes them; config_from_hf (hf_config.cc)
// reads them back.
#include <algorithm>
#include <charconv>
#include <cstdlib>

#include "base/error.h"
#include "convert/hf_layout.h"

namespace frugal::convert {
namespace {

using json = nlohmann::json;
using model::ModelConfig;

// A float as the shortest decimal that reads back to it (1e-06, not
// 9.999999974752427e-07), as Python's json writes Hugging Face's configs.
double json_float(float f) {
  char buf[32];
  const auto r = std::to_chars(buf, buf + sizeof buf - 1, f);
  *r.ptr = '\0';
  return std::strtod(buf, nullptr);
}

// DeepSeek-V4's keys as its configs spell them (read_deepseek4).
void write_deepseek4(const ModelConfig& c, json& j) {
  const float limit = c.swiglu_limit_exp.empty() ? 0.0f : c.swiglu_limit_exp[0];
  for (const auto* limits : {&c.swiglu_limit_exp, &c.swiglu_limit_shexp})
    for (float l : *limits)
      if (l != limit) fail("no Hugging Face DeepSeek-V4 config for SwiGLU limits that differ by layer");
  if (c.gating != model::GatingFunc::kSqrtSoftplus || !c.expert_score_bias || !c.expert_weights_norm)
    fail("no Hugging Face DeepSeek-V4 config for a router other than its renormalised, bias-chosen sqrt-softplus");
  j["qk_rope_head_dim"] = c.rope_dim;
  j["q_lora_rank"] = c.q_lora_rank;
  j["o_groups"] = c.n_out_groups;
  j["o_lora_rank"] = c.out_lora_rank;
  j["sliding_window"] = c.n_swa;
  const size_t n_ratios = std::min(c.compress_ratios.size(), size_t(c.n_layer));  // the layers that run
  j["compress_ratios"] = std::vector<int64_t>(c.compress_ratios.begin(), c.compress_ratios.begin() + long(n_ratios));
  j["compress_rope_theta"] = json_float(c.compress_rope_base);
  if (c.n_indexer_head > 0) {
    j["index_n_heads"] = c.n_indexer_head;
    j["index_head_dim"] = c.indexer_head_dim;
    j["index_topk"] = c.indexer_top_k;
  }
  j["hc_mult"] = c.n_hc;
  j["hc_sinkhorn_iters"] = c.hc_sinkhorn_iters;
  j["hc_eps"] = json_float(c.hc_eps);
  j["num_hash_layers"] = c.n_hash_layers;
  j["swiglu_limit"] = json_float(limit);
  j["scoring_func"] = "sqrtsoftplus";
  j["topk_method"] = "noaux_tc";
}

}  // namespace

json config_to_hf(const ModelConfig& c, const std::string& torch_dtype) {
  const HfFamily& fam = hf_family_for_config(c);
  json j = {
      {"architectures", json::array({fam.hf_class})},
      {"model_type", fam.model_type},
      {"vocab_size", c.n_vocab},
      {"hidden_size", c.n_embd},
      {"num_hidden_layers", c.n_layer},
      {"num_attention_heads", c.n_head},
      {"num_key_value_heads", c.n_head_kv},
      {"head_dim", c.head_dim},
      {"max_position_embeddings", c.n_ctx_train},
      {"rms_norm_eps", json_float(c.norm_eps)},
      {"rope_theta", json_float(c.rope_freq_base)},
      {"tie_word_embeddings", c.tied_output},
      {"hidden_act", "silu"},
      {"torch_dtype", torch_dtype},
  };
  if (!c.name.empty()) j["_name_or_path"] = c.name;
  if (*fam.dense_ff_key) j[fam.dense_ff_key] = c.n_ff;  // before the experts' key, which may be intermediate_size
  if (fam.moe) {
    j[fam.expert_count_key] = c.n_expert;
    j[fam.expert_used_key] = c.n_expert_used;
    if (*fam.expert_ff_key) j[fam.expert_ff_key] = c.n_ff_exp;
    if (*fam.shared_ff_key) j[fam.shared_ff_key] = c.n_ff_shexp;
    if (fam.norm_topk_key) j["norm_topk_prob"] = c.expert_weights_norm;
  }
  if (c.deepseek_moe_keys && c.is_moe()) {
    j["n_shared_experts"] = c.n_expert_shared;
    j["first_k_dense_replace"] = c.n_leading_dense;
    j["moe_layer_freq"] = 1;
    j["routed_scaling_factor"] = json_float(c.expert_weights_scale);
    j["n_group"] = c.n_expert_groups;
    j["topk_group"] = c.n_group_used;
  }
  if (fam.keys == HfKeys::kGlm) {
    j["attention_bias"] = true;
    j["partial_rotary_factor"] = json_float(float(c.rope_dim) / float(c.head_dim));
    j["use_qk_norm"] = c.qk_norm == model::QkNorm::kPerHead;
    j["num_nextn_predict_layers"] = c.n_nextn_layer;
  }
  if (fam.keys == HfKeys::kMiniMax) {
    if (c.gating != model::GatingFunc::kSigmoid || !c.expert_score_bias || !c.expert_weights_norm)
      fail("no Hugging Face MiniMax-M2 config for a router other than its renormalised, bias-chosen sigmoid");
    j["rotary_dim"] = c.rope_dim;
    j["scoring_func"] = "sigmoid";
    j["use_qk_norm"] = true;
    j["qk_norm_type"] = "per_layer";
    j["use_routing_bias"] = true;
    j["shared_intermediate_size"] = 0;
    j["attn_type_list"] = json(std::vector<int>(size_t(c.n_layer), 1));
  }
  if (fam.keys == HfKeys::kDots1) {
    if (c.gating != model::GatingFunc::kSigmoid || !c.expert_score_bias)
      fail("no Hugging Face dots.llm1 config for a router other than its bias-chosen sigmoid");
    j["attention_bias"] = false;
    j["scoring_func"] = "sigmoid";
    if (c.n_expert_groups <= 1) j["n_group"] = j["topk_group"] = 1;  // as its configs say no group limit
  }
  if (fam.keys == HfKeys::kErnie) {
    if (c.gating != model::GatingFunc::kSoftmax || !c.expert_score_bias || !c.expert_weights_norm)
      fail("no Hugging Face ERNIE-4.5 config for a router other than its renormalised, bias-chosen softmax");
    j["use_bias"] = false;
    j["moe_layer_start_index"] = c.n_leading_dense;
    j["moe_layer_end_index"] = c.n_layer - 1;
    j["moe_layer_interval"] = std::max<int64_t>(c.n_moe_layer_step, 1);
    j["moe_num_shared_experts"] = c.n_expert_shared;
  }
  if (fam.keys == HfKeys::kDeepseekV4) write_deepseek4(c, j);
  if (fam.keys == HfKeys::kHunyuan) {
    if (c.n_ff_shexp != c.n_expert_shared * c.n_ff)
      fail("no Hugging Face Hunyuan config for shared experts other than num_shared_expert of intermediate_size");
    j["num_shared_expert"] = c.n_expert_shared;
    j["use_qk_norm"] = true;
    j["use_cla"] = false;
    j["attention_bias"] = false;
    j["mlp_bias"] = false;
  }
  if (fam.keys == HfKeys::kBailing) {
    if (c.gating != model::GatingFunc::kSigmoid || !c.expert_score_bias)
      fail("no Hugging Face Ling 2.0 config for a router other than its bias-chosen sigmoid");
    j.erase("n_shared_experts");  // its own names for DeepSeek's keys
    j.erase("moe_layer_freq");
    j["num_shared_experts"] = c.n_expert_shared;
    j["moe_shared_expert_intermediate_size"] = c.n_ff_shexp / std::max<int64_t>(1, c.n_expert_shared);
    j["score_function"] = "sigmoid";
    j["moe_router_enable_expert_bias"] = true;
    j["use_qk_norm"] = true;
    j["use_bias"] = false;
    j["use_qkv_bias"] = false;
    j["partial_rotary_factor"] = json_float(float(c.rope_dim) / float(c.head_dim));
    j["num_nextn_predict_layers"] = 0;
  }
  if (fam.keys == HfKeys::kGptOss) {
    j["attention_bias"] = true;
    j["sliding_window"] = c.n_swa;
    json types = json::array();
    for (int64_t il = 0; il < c.n_layer; ++il) types.push_back(il % 2 == 0 ? "sliding_attention" : "full_attention");
    j["layer_types"] = types;
    j["swiglu_limit"] = 7.0;
    j["quantization_config"] = {{"quant_method", "mxfp4"},
                                {"modules_to_not_convert", {"model.layers.*.self_attn", "model.layers.*.mlp.router",
                                                            "model.embed_tokens", "lm_head"}}};
  }
  if (fam.keys == HfKeys::kLlama4) {
    j["attention_bias"] = false;
    j["interleave_moe_layer_step"] = c.n_moe_layer_step;
    j["attention_chunk_size"] = c.n_attn_chunk;
    j["attn_temperature_tuning"] = c.attn_temp_scale != 0.0f;
    j["attn_scale"] = json_float(c.attn_temp_scale);
    j["floor_scale"] = c.attn_temp_length;
    j["use_qk_norm"] = c.qk_norm != model::QkNorm::kNone;
    json no_rope = json::array(), moe_layers = json::array();
    for (int64_t il = 0; il < c.n_layer; ++il) {
      no_rope.push_back(c.layer_has_rope(il) ? 1 : 0);
      if (c.layer_is_moe(il)) moe_layers.push_back(il);
    }
    j["no_rope_layers"] = no_rope;
    j["moe_layers"] = moe_layers;
  }
  if (fam.keys == HfKeys::kQwen3Next || fam.keys == HfKeys::kQwen35) {
    j["attention_bias"] = false;
    j["partial_rotary_factor"] = json_float(float(c.rope_dim) / float(c.head_dim));
    j["full_attention_interval"] = c.n_full_attn_interval;
    j["layer_types"] = qwen3next_layer_types(c);
    j["linear_conv_kernel_dim"] = c.ssm_conv_kernel;
    j["linear_key_head_dim"] = c.ssm_k_head_dim;
    j["linear_value_head_dim"] = c.ssm_v_head_dim;
    j["linear_num_key_heads"] = c.ssm_n_k_head;
    j["linear_num_value_heads"] = c.ssm_n_v_head;
    if (fam.keys == HfKeys::kQwen3Next) {
      j["decoder_sparse_step"] = 1;
      j["mlp_only_layers"] = json::array();
    }
  }
  if (fam.keys == HfKeys::kQwen35) {
    // As the published configs write it: RoPE's keys in rope_parameters.
    j["rope_parameters"] = {{"rope_type", "default"},
                            {"rope_theta", j["rope_theta"]},
                            {"partial_rotary_factor", j["partial_rotary_factor"]},
                            {"mrope_interleaved", true}};
    const std::array<int64_t, 4> sections = rope_sections(c);
    json ms = json::array();
    for (int i = 0; i < (sections[3] ? 4 : 3); ++i) ms.push_back(sections[size_t(i)]);
    j["rope_parameters"]["mrope_section"] = ms;
    j.erase("rope_theta");
    j.erase("partial_rotary_factor");
    j.erase("full_attention_interval");
    j["attn_output_gate"] = true;
    j["mtp_num_hidden_layers"] = c.n_nextn_layer;
  }
  if (c.is_mla()) {
    if (c.q_lora_rank > 0) j["q_lora_rank"] = c.q_lora_rank;
    else j["q_lora_rank"] = nullptr;
    j["kv_lora_rank"] = c.kv_lora_rank;
    j["qk_rope_head_dim"] = c.qk_rope_head_dim;
    j["qk_nope_head_dim"] = c.qk_nope_head_dim;
    j["v_head_dim"] = c.v_head_dim;
    j.erase("head_dim");
    const bool sigmoid = c.gating == model::GatingFunc::kSigmoid;
    j["scoring_func"] = sigmoid ? "sigmoid" : "softmax";
    j["topk_method"] = c.expert_score_bias ? "noaux_tc" : c.n_expert_groups > 1 ? "group_limited_greedy" : "greedy";
  }
  if (c.rope_freq_factors) {
    // Checkpoints carry the factors as rope_scaling, from which convert
    // computes them: Llama 4 Scout's (synth's random factors are not kept).
    j["rope_scaling"] = {{"rope_type", "llama3"}, {"factor", 16.0}, {"low_freq_factor", 1.0},
                         {"high_freq_factor", 1.0}, {"original_max_position_embeddings", 8192}};
  }
  if (c.rope_scaling == model::RopeScaling::kLinear) {
    j["rope_scaling"] = {{"rope_type", "linear"}, {"factor", json_float(c.rope_scaling_factor)}};
  } else if (c.rope_scaling == model::RopeScaling::kYarn) {
    if (c.yarn_attn_factor != 1.0f) fail("no Hugging Face rope_scaling for a YaRN attn_factor other than 1");
    j["rope_scaling"] = {{"rope_type", "yarn"},
                         {"factor", json_float(c.rope_scaling_factor)},
                         {"original_max_position_embeddings", c.rope_orig_ctx},
                         {"beta_fast", json_float(c.yarn_beta_fast)},
                         {"beta_slow", json_float(c.yarn_beta_slow)}};
    if (c.is_mla() || c.yarn_log_multiplier != 0.0f) {
      // Read back as float(0.1 * mscale_all_dim): the short decimal when it
      // reads back exactly, else the double that does.
      double all_dim = json_float(c.yarn_log_multiplier * 10.0f);
      if (float(0.1 * all_dim) != c.yarn_log_multiplier) all_dim = double(c.yarn_log_multiplier) / 0.1;
      j["rope_scaling"]["mscale"] = all_dim;
      j["rope_scaling"]["mscale_all_dim"] = all_dim;
    }
  }
  if (!*fam.text_config) return j;
  // Multimodal (Llama 4, Qwen3.5): the language model's keys under text_config.
  json text = j;
  for (const char* key : {"architectures", "torch_dtype", "tie_word_embeddings", "_name_or_path"}) text.erase(key);
  text["model_type"] = fam.text_config;
  json root = {{"architectures", j["architectures"]}, {"model_type", fam.model_type}, {"text_config", text},
               {"tie_word_embeddings", c.tied_output}, {"torch_dtype", torch_dtype}};
  if (!c.name.empty()) root["_name_or_path"] = c.name;
  return root;
}

}  // namespace frugal::convert
