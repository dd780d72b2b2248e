// ModelConfig <-> GGUF keys for every preset, expected tensor shapes of each
// architecture, and the errors for unknown architectures and missing keys.
#include <gtest/gtest.h>

#include <map>

#include "base/error.h"
#include "model/config.h"
#include "model/config_overrides.h"
#include "model/forward_test_model.h"
#include "model/presets.h"

namespace frugal::model {
namespace {

using testing::error_of;

void expect_same(const ModelConfig& a, const ModelConfig& b, const std::string& what) {
  SCOPED_TRACE(what);
  EXPECT_EQ(a.arch, b.arch);
  EXPECT_EQ(a.n_vocab, b.n_vocab);
  EXPECT_EQ(rope_sections(a), rope_sections(b));
  EXPECT_EQ(a.n_embd, b.n_embd);
  EXPECT_EQ(a.n_layer, b.n_layer);
  EXPECT_EQ(a.n_head, b.n_head);
  EXPECT_EQ(a.n_head_kv, b.n_head_kv);
  EXPECT_EQ(a.head_dim, b.head_dim);
  EXPECT_EQ(a.v_head_dim, b.v_head_dim);
  EXPECT_EQ(a.n_ff, b.n_ff);
  EXPECT_EQ(a.n_ctx_train, b.n_ctx_train);
  EXPECT_FLOAT_EQ(a.norm_eps, b.norm_eps);
  EXPECT_EQ(a.n_expert, b.n_expert);
  EXPECT_EQ(a.n_expert_used, b.n_expert_used);
  EXPECT_EQ(a.n_ff_exp, b.n_ff_exp);
  EXPECT_EQ(a.n_ff_shexp, b.n_ff_shexp);
  EXPECT_EQ(a.n_expert_shared, b.n_expert_shared);
  EXPECT_EQ(a.n_leading_dense, b.n_leading_dense);
  EXPECT_EQ(a.gating, b.gating);
  EXPECT_EQ(a.expert_weights_norm, b.expert_weights_norm);
  EXPECT_FLOAT_EQ(a.expert_weights_scale, b.expert_weights_scale);
  EXPECT_EQ(a.n_expert_groups, b.n_expert_groups);
  EXPECT_EQ(a.n_group_used, b.n_group_used);
  EXPECT_EQ(a.expert_score_bias, b.expert_score_bias);
  EXPECT_EQ(a.shared_expert_gate, b.shared_expert_gate);
  EXPECT_FLOAT_EQ(a.rope_freq_base, b.rope_freq_base);
  EXPECT_EQ(a.rope_dim, b.rope_dim);
  EXPECT_EQ(a.rope_layout, b.rope_layout);
  EXPECT_EQ(a.rope_scaling, b.rope_scaling);
  EXPECT_FLOAT_EQ(a.rope_scaling_factor, b.rope_scaling_factor);
  EXPECT_EQ(a.rope_orig_ctx, b.rope_orig_ctx);
  EXPECT_FLOAT_EQ(a.yarn_attn_factor, b.yarn_attn_factor);
  EXPECT_FLOAT_EQ(a.yarn_log_multiplier, b.yarn_log_multiplier);
  EXPECT_FLOAT_EQ(a.yarn_beta_fast, b.yarn_beta_fast);
  EXPECT_FLOAT_EQ(a.yarn_beta_slow, b.yarn_beta_slow);
  EXPECT_EQ(a.q_lora_rank, b.q_lora_rank);
  EXPECT_EQ(a.kv_lora_rank, b.kv_lora_rank);
  EXPECT_EQ(a.qk_rope_head_dim, b.qk_rope_head_dim);
  EXPECT_EQ(a.qk_nope_head_dim, b.qk_nope_head_dim);
  EXPECT_EQ(a.attn_bias, b.attn_bias);
  EXPECT_EQ(a.qk_norm, b.qk_norm);
  EXPECT_EQ(a.attn_output_gate, b.attn_output_gate);
  EXPECT_EQ(a.n_full_attn_interval, b.n_full_attn_interval);
  EXPECT_EQ(a.ssm_conv_kernel, b.ssm_conv_kernel);
  EXPECT_EQ(a.ssm_k_head_dim, b.ssm_k_head_dim);
  EXPECT_EQ(a.ssm_v_head_dim, b.ssm_v_head_dim);
  EXPECT_EQ(a.ssm_n_k_head, b.ssm_n_k_head);
  EXPECT_EQ(a.ssm_n_v_head, b.ssm_n_v_head);
  EXPECT_EQ(a.ssm_split_proj, b.ssm_split_proj);
}

TEST(Config, EveryPresetRoundTripsThroughMetadata) {
  ASSERT_GE(all_presets().size(), 14u);
  for (const auto& p : all_presets()) {
    gguf::Metadata md;
    config_to_metadata(p.config, md);
    EXPECT_EQ(md.get_string("general.architecture"), p.arch);
    ModelConfig back = config_from_metadata(md);
    // GLM-4.5's q/k norm is told by the tensors (config_from_file), not a key.
    if (p.arch == "glm4moe") back.qk_norm = p.config.qk_norm;
    expect_same(p.config, back, p.arch + "/" + p.name);
  }
}

TEST(Config, VocabFallsBackToTokenizerTokens) {
  ModelConfig c = find_preset("olmoe", "tiny").config;
  gguf::Metadata md;
  config_to_metadata(c, md);
  md.erase("olmoe.vocab_size");
  md.set("tokenizer.ggml.tokens", gguf::Value::make_string_array(std::vector<std::string>(300, "x")));
  EXPECT_EQ(config_from_metadata(md).n_vocab, 300);
}

TEST(Config, DeepSeekMlaKeysOfNewerConverters) {
  const ModelConfig& c = find_preset("deepseek2", "deepseek-v2-lite").config;
  gguf::Metadata md;
  config_to_metadata(c, md);
  md.set("deepseek2.attention.key_length", gguf::Value::make_u32(576));  // latent as MQA
  md.set("deepseek2.attention.value_length", gguf::Value::make_u32(512));
  md.set("deepseek2.attention.key_length_mla", gguf::Value::make_u32(192));
  md.set("deepseek2.attention.value_length_mla", gguf::Value::make_u32(128));
  const ModelConfig back = config_from_metadata(md);
  EXPECT_EQ(back.head_dim, 192);
  EXPECT_EQ(back.v_head_dim, 128);
  EXPECT_EQ(back.qk_nope_head_dim, 128);
  // The latent's width without the per-head size is an error naming the key.
  md.erase("deepseek2.attention.key_length_mla");
  EXPECT_NE(error_of([&] { config_from_metadata(md); }).find("deepseek2.attention.key_length_mla"), std::string::npos);
}

TEST(Config, UnknownArchitectureAndMissingKeysNameWhatIsWrong) {
  gguf::Metadata md;
  config_to_metadata(find_preset("qwen3moe", "tiny").config, md);
  gguf::Metadata bad_arch = md;
  bad_arch.set("general.architecture", gguf::Value::make_string("gpt-7"));
  EXPECT_NE(error_of([&] { config_from_metadata(bad_arch); }).find("unknown architecture 'gpt-7'"),
            std::string::npos);
  for (const char* key : {"qwen3moe.embedding_length", "qwen3moe.block_count", "qwen3moe.attention.head_count",
                          "qwen3moe.expert_used_count", "qwen3moe.context_length",
                          "qwen3moe.attention.layer_norm_rms_epsilon"}) {
    gguf::Metadata m = md;
    m.erase(key);
    const std::string err = error_of([&] { config_from_metadata(m); });
    EXPECT_NE(err.find(key), std::string::npos) << key << ": " << err;
  }
  gguf::Metadata no_arch = md;
  no_arch.erase("general.architecture");
  EXPECT_NE(error_of([&] { config_from_metadata(no_arch); }).find("general.architecture"), std::string::npos);

  gguf::Metadata ds;
  config_to_metadata(find_preset("deepseek2", "deepseek-v2-lite").config, ds);
  ds.erase("deepseek2.attention.kv_lora_rank");
  EXPECT_NE(error_of([&] { config_from_metadata(ds); }).find("deepseek2.attention.kv_lora_rank"), std::string::npos);
}

TEST(Config, InconsistentDimensionsAreRejected) {
  ModelConfig c = find_preset("llama", "tiny").config;
  c.n_head_kv = 3;
  EXPECT_NE(error_of([&] { validate_config(c); }).find("n_head_kv"), std::string::npos);
  c = find_preset("llama", "tiny").config;
  c.n_expert_used = 9;
  EXPECT_NE(error_of([&] { validate_config(c); }).find("n_expert_used"), std::string::npos);
  c = find_preset("deepseek2", "tiny-v3").config;
  c.n_group_used = 5;
  EXPECT_NE(error_of([&] { validate_config(c); }).find("n_group_used"), std::string::npos);
}

std::map<std::string, TensorSpec> by_name(const ModelConfig& c) {
  std::map<std::string, TensorSpec> m;
  for (auto& t : expected_tensors(c)) EXPECT_TRUE(m.emplace(t.name, t).second) << "duplicate " << t.name;
  return m;
}

using Shape = std::vector<int64_t>;

TEST(ExpectedTensors, MixtralShapes) {
  const ModelConfig& c = find_preset("llama", "mixtral-8x7b").config;
  auto m = by_name(c);
  EXPECT_EQ(m.size(), 3u + 32u * 10u);
  EXPECT_EQ(m.at("token_embd.weight").shape, (Shape{4096, 32000}));
  EXPECT_EQ(m.at("output.weight").shape, (Shape{4096, 32000}));
  EXPECT_EQ(m.at("blk.0.attn_k.weight").shape, (Shape{4096, 1024}));
  EXPECT_EQ(m.at("blk.31.attn_output.weight").shape, (Shape{4096, 4096}));
  EXPECT_EQ(m.at("blk.5.ffn_gate_inp.weight").shape, (Shape{4096, 8}));
  EXPECT_EQ(m.at("blk.5.ffn_gate_inp.weight").role, TensorRole::kRouter);
  EXPECT_EQ(m.at("blk.5.ffn_up_exps.weight").shape, (Shape{4096, 14336, 8}));
  EXPECT_EQ(m.at("blk.5.ffn_down_exps.weight").shape, (Shape{14336, 4096, 8}));
  EXPECT_EQ(m.at("blk.5.ffn_down_exps.weight").layer, 5);
  EXPECT_EQ(m.count("blk.0.attn_q.bias"), 0u);
  // Mixtral 8x7B: 46.7B parameters, 12.9B active per token.
  EXPECT_NEAR(double(c.n_params()) / 1e9, 46.70, 0.05);
  EXPECT_NEAR(double(c.n_active_params()) / 1e9, 12.88, 0.05);
  EXPECT_NEAR(double(find_preset("llama", "llama-7b").config.n_params()) / 1e9, 6.74, 0.01);
}

TEST(ExpectedTensors, Qwen2MoeSharedExpertAndBiases) {
  const ModelConfig& c = find_preset("qwen2moe", "qwen1.5-moe-a2.7b").config;
  auto m = by_name(c);
  EXPECT_EQ(m.at("blk.0.attn_q.bias").shape, (Shape{2048}));
  EXPECT_EQ(m.at("blk.0.attn_v.bias").role, TensorRole::kBias);
  EXPECT_EQ(m.at("blk.0.ffn_gate_inp.weight").shape, (Shape{2048, 60}));
  EXPECT_EQ(m.at("blk.0.ffn_gate_exps.weight").shape, (Shape{2048, 1408, 60}));
  EXPECT_EQ(m.at("blk.0.ffn_gate_inp_shexp.weight").shape, (Shape{2048}));
  EXPECT_EQ(m.at("blk.0.ffn_up_shexp.weight").shape, (Shape{2048, 5632}));
  EXPECT_EQ(m.at("blk.23.ffn_down_shexp.weight").shape, (Shape{5632, 2048}));
  EXPECT_EQ(m.at("blk.23.ffn_down_shexp.weight").role, TensorRole::kSharedExpert);
  EXPECT_FALSE(c.expert_weights_norm);
  EXPECT_EQ(c.rope_layout, RopeLayout::kNeox);
  // Qwen1.5-MoE-A2.7B: 14.3B parameters, 2.7B active.
  EXPECT_NEAR(double(c.n_params()) / 1e9, 14.3, 0.1);
  EXPECT_NEAR(double(c.n_active_params()) / 1e9, 2.7, 0.2);
}

TEST(ExpectedTensors, Qwen3MoePerHeadNorms) {
  const ModelConfig& c = find_preset("qwen3moe", "qwen3-30b-a3b").config;
  auto m = by_name(c);
  EXPECT_EQ(m.at("blk.0.attn_q.weight").shape, (Shape{2048, 4096}));
  EXPECT_EQ(m.at("blk.0.attn_k.weight").shape, (Shape{2048, 512}));
  EXPECT_EQ(m.at("blk.0.attn_output.weight").shape, (Shape{4096, 2048}));
  EXPECT_EQ(m.at("blk.0.attn_q_norm.weight").shape, (Shape{128}));
  EXPECT_EQ(m.at("blk.0.attn_k_norm.weight").shape, (Shape{128}));
  EXPECT_EQ(m.at("blk.47.ffn_gate_exps.weight").shape, (Shape{2048, 768, 128}));
  EXPECT_TRUE(c.expert_weights_norm);
  EXPECT_EQ(c.qk_norm, QkNorm::kPerHead);
  // Qwen3-30B-A3B: 30.5B parameters, 3.3B active.
  EXPECT_NEAR(double(c.n_params()) / 1e9, 30.5, 0.1);
  EXPECT_NEAR(double(c.n_active_params()) / 1e9, 3.3, 0.1);
}

TEST(ExpectedTensors, OlmoeWholeVectorNorms) {
  const ModelConfig& c = find_preset("olmoe", "olmoe-1b-7b").config;
  auto m = by_name(c);
  EXPECT_EQ(m.at("blk.0.attn_q_norm.weight").shape, (Shape{2048}));
  EXPECT_EQ(m.at("blk.0.attn_k_norm.weight").shape, (Shape{2048}));
  EXPECT_EQ(m.at("blk.0.ffn_gate_exps.weight").shape, (Shape{2048, 1024, 64}));
  EXPECT_EQ(m.at("token_embd.weight").shape, (Shape{2048, 50304}));
  EXPECT_EQ(c.qk_norm, QkNorm::kWhole);
  EXPECT_FALSE(c.expert_weights_norm);
  // OLMoE-1B-7B: 6.9B parameters, 1.3B active.
  EXPECT_NEAR(double(c.n_params()) / 1e9, 6.92, 0.05);
  EXPECT_NEAR(double(c.n_active_params()) / 1e9, 1.28, 0.05);
}

TEST(ExpectedTensors, DeepSeekV2LiteLatentAttention) {
  const ModelConfig& c = find_preset("deepseek2", "deepseek-v2-lite").config;
  auto m = by_name(c);
  EXPECT_EQ(m.at("blk.0.attn_q.weight").shape, (Shape{2048, 16 * 192}));
  EXPECT_EQ(m.count("blk.0.attn_q_a.weight"), 0u);
  EXPECT_EQ(m.at("blk.0.attn_kv_a_mqa.weight").shape, (Shape{2048, 512 + 64}));
  EXPECT_EQ(m.at("blk.0.attn_kv_a_norm.weight").shape, (Shape{512}));
  EXPECT_EQ(m.at("blk.0.attn_kv_b.weight").shape, (Shape{512, 16 * (128 + 128)}));
  EXPECT_EQ(m.at("blk.0.attn_output.weight").shape, (Shape{16 * 128, 2048}));
  EXPECT_EQ(m.at("blk.0.ffn_gate.weight").shape, (Shape{2048, 10944}));  // leading dense layer
  EXPECT_EQ(m.count("blk.0.ffn_gate_exps.weight"), 0u);
  EXPECT_EQ(m.at("blk.1.ffn_gate_exps.weight").shape, (Shape{2048, 1408, 64}));
  EXPECT_EQ(m.at("blk.1.ffn_gate_shexp.weight").shape, (Shape{2048, 2 * 1408}));
  EXPECT_EQ(m.count("blk.1.ffn_gate_inp_shexp.weight"), 0u);
  EXPECT_EQ(m.count("blk.1.exp_probs_b.bias"), 0u);
  EXPECT_EQ(c.rope_layout, RopeLayout::kNormal);
  EXPECT_EQ(c.rope_scaling, RopeScaling::kYarn);
  // DeepSeek-V2-Lite: 15.7B parameters, 2.4B active.
  EXPECT_NEAR(double(c.n_params()) / 1e9, 15.7, 0.1);
  EXPECT_NEAR(double(c.n_active_params()) / 1e9, 2.66, 0.3);
}

TEST(ExpectedTensors, KimiK2SplitsKvBPerHead) {
  const ModelConfig& c = find_preset("deepseek2", "kimi-k2").config;
  auto m = by_name(c);
  EXPECT_EQ(m.count("blk.0.attn_kv_b.weight"), 0u);
  EXPECT_EQ(m.at("blk.0.attn_k_b.weight").shape, (Shape{128, 512, 64}));  // per head: rank rows of nope
  EXPECT_EQ(m.at("blk.0.attn_v_b.weight").shape, (Shape{512, 128, 64}));  // per head: v rows of rank
  EXPECT_EQ(m.at("blk.0.ffn_gate.weight").shape, (Shape{7168, 18432}));   // one leading dense layer
  EXPECT_EQ(m.at("blk.1.ffn_gate_exps.weight").shape, (Shape{7168, 2048, 384}));
  EXPECT_EQ(m.at("blk.1.exp_probs_b.bias").shape, (Shape{384}));
  // Kimi-K2: 1T parameters, 32B active.
  EXPECT_NEAR(double(c.n_params()) / 1e12, 1.03, 0.01);
  EXPECT_NEAR(double(c.n_active_params()) / 1e9, 32.9, 0.1);
  // Written as those files describe MLA: one kv head of the latent and rope
  // key, the per-head sizes in the *_mla keys; read back the same.
  gguf::Metadata md;
  config_to_metadata(c, md);
  EXPECT_EQ(md.get_uint("deepseek2.attention.head_count_kv"), 1u);
  EXPECT_EQ(md.get_uint("deepseek2.attention.key_length"), 576u);
  EXPECT_EQ(md.get_uint("deepseek2.attention.value_length"), 512u);
  EXPECT_EQ(md.get_uint("deepseek2.attention.key_length_mla"), 192u);
  EXPECT_EQ(md.get_uint("deepseek2.attention.value_length_mla"), 128u);
  EXPECT_EQ(md.get_uint("deepseek2.expert_gating_func"), 2u);
  EXPECT_EQ(md.get_uint("deepseek2.leading_dense_block_count"), 1u);
  EXPECT_TRUE(md.get_bool_or("deepseek2.expert_weights_norm", false));
  const ModelConfig back = config_from_metadata(md);
  EXPECT_EQ(back.n_head_kv, 64);
  EXPECT_EQ(back.head_dim, 192);
  EXPECT_EQ(back.v_head_dim, 128);
  EXPECT_FLOAT_EQ(back.expert_weights_scale, 2.827f);
  EXPECT_FLOAT_EQ(back.yarn_log_multiplier, 0.1f);
  EXPECT_FLOAT_EQ(back.yarn_beta_fast, 1.0f);
}

TEST(ExpectedTensors, Glm45AirLayersAndNextTokenBlock) {
  const ModelConfig& c = find_preset("glm4moe", "glm-4.5-air").config;
  auto m = by_name(c);
  EXPECT_EQ(m.at("blk.0.attn_q.weight").shape, (Shape{4096, 96 * 128}));
  EXPECT_EQ(m.at("blk.0.attn_q.bias").shape, (Shape{96 * 128}));
  EXPECT_EQ(m.at("blk.0.attn_k.bias").shape, (Shape{8 * 128}));
  EXPECT_EQ(m.count("blk.0.attn_q_norm.weight"), 0u);  // 4.5-Air has no q/k norm
  EXPECT_EQ(m.at("blk.0.post_attention_norm.weight").shape, (Shape{4096}));
  EXPECT_EQ(m.at("blk.0.ffn_gate.weight").shape, (Shape{4096, 10944}));  // one leading dense layer
  EXPECT_EQ(m.at("blk.1.ffn_gate_exps.weight").shape, (Shape{4096, 1408, 128}));
  EXPECT_EQ(m.at("blk.1.ffn_gate_shexp.weight").shape, (Shape{4096, 1408}));
  EXPECT_EQ(m.at("blk.1.exp_probs_b.bias").shape, (Shape{128}));
  // Block 46 is the next-token-prediction head: a whole MoE block and its projection.
  EXPECT_EQ(m.at("blk.46.ffn_gate_exps.weight").shape, (Shape{4096, 1408, 128}));
  EXPECT_EQ(m.at("blk.46.nextn.eh_proj.weight").shape, (Shape{2 * 4096, 4096}));
  EXPECT_EQ(m.at("blk.46.nextn.enorm.weight").shape, (Shape{4096}));
  EXPECT_EQ(m.count("blk.47.attn_norm.weight"), 0u);
  EXPECT_EQ(c.rope_layout, RopeLayout::kNeox);
  EXPECT_EQ(c.rope_dim, 64);
  // GLM-4.5-Air: 106B parameters (without the MTP block), 12B active
  // (without the embedding table and the LM head, as its card counts).
  EXPECT_NEAR(double(c.n_params()) / 1e9, 106.85, 0.01);
  EXPECT_NEAR(double(c.n_nextn_params()) / 1e9, 2.38, 0.01);
  EXPECT_NEAR(double(c.n_active_params() - 2 * 151552 * 4096) / 1e9, 12.18, 0.01);
  gguf::Metadata md;
  config_to_metadata(c, md);
  EXPECT_EQ(md.get_uint("glm4moe.block_count"), 47u);
  EXPECT_EQ(md.get_uint("glm4moe.nextn_predict_layers"), 1u);
  EXPECT_EQ(md.get_uint("glm4moe.expert_shared_count"), 1u);
  EXPECT_EQ(md.get_uint("glm4moe.expert_gating_func"), 2u);
  const ModelConfig back = config_from_metadata(md);
  EXPECT_EQ(back.n_layer, 46);
  EXPECT_EQ(back.n_nextn_layer, 1);
  EXPECT_EQ(back.n_ff_shexp, 1408);
  EXPECT_TRUE(back.expert_score_bias);
  // A file without the gating key still routes by a sigmoid; a next-token
  // count that leaves nothing to run is an error.
  md.erase("glm4moe.expert_gating_func");
  EXPECT_EQ(config_from_metadata(md).gating, GatingFunc::kSigmoid);
  md.set("glm4moe.nextn_predict_layers", gguf::Value::make_u32(47));
  EXPECT_NE(error_of([&] { config_from_metadata(md); }).find("nextn_predict_layers"), std::string::npos);
  md.set("glm4moe.nextn_predict_layers", gguf::Value::make_u32(1));
  md.erase("glm4moe.expert_shared_count");
  EXPECT_NE(error_of([&] { config_from_metadata(md); }).find("glm4moe.expert_shared_count"), std::string::npos);
}

TEST(ExpectedTensors, Glm45PerHeadQkNorm) {
  const ModelConfig& c = find_preset("glm4moe", "glm-4.5").config;
  auto m = by_name(c);
  EXPECT_EQ(m.at("blk.0.attn_q_norm.weight").shape, (Shape{128}));
  EXPECT_EQ(m.at("blk.0.attn_k_norm.weight").shape, (Shape{128}));
  EXPECT_EQ(m.at("blk.3.ffn_gate_exps.weight").shape, (Shape{5120, 1536, 160}));
  EXPECT_EQ(m.count("blk.2.ffn_gate_exps.weight"), 0u);  // three leading dense layers
  // GLM-4.5: 355B total (352.8B without the MTP block, 356.8B with it), 32B active.
  EXPECT_NEAR(double(c.n_params()) / 1e9, 352.8, 0.1);
  EXPECT_NEAR(double(c.n_active_params() - 2 * 151552 * 5120) / 1e9, 32.1, 0.1);
}

TEST(ExpectedTensors, Llama4ScoutAndMaverick) {
  const ModelConfig& scout = find_preset("llama4", "llama4-scout").config;
  auto m = by_name(scout);
  EXPECT_EQ(m.at("rope_freqs.weight").shape, (Shape{64}));
  EXPECT_EQ(m.at("blk.0.ffn_gate_exps.weight").shape, (Shape{5120, 8192, 16}));  // every layer MoE
  EXPECT_EQ(m.at("blk.0.ffn_gate_shexp.weight").shape, (Shape{5120, 8192}));
  EXPECT_EQ(m.count("blk.0.attn_q_norm.weight"), 0u);  // Scout's q/k norm has no weight
  EXPECT_EQ(scout.qk_norm, QkNorm::kPerHeadUnweighted);
  EXPECT_TRUE(scout.layer_has_rope(2));
  EXPECT_FALSE(scout.layer_has_rope(3));
  EXPECT_EQ(scout.layer_chunk(0), 8192);
  EXPECT_EQ(scout.layer_chunk(3), 0);
  // Scout: 108B in its language model (the card's 109B counts the vision
  // encoder too), 17B active.
  EXPECT_NEAR(double(scout.n_params()) / 1e9, 107.8, 0.1);
  EXPECT_NEAR(double(scout.n_active_params()) / 1e9, 17.2, 0.1);

  const ModelConfig& mav = find_preset("llama4", "llama4-maverick").config;
  auto mm = by_name(mav);
  EXPECT_EQ(mm.at("blk.0.ffn_gate.weight").shape, (Shape{5120, 16384}));  // dense
  EXPECT_EQ(mm.at("blk.1.ffn_gate_exps.weight").shape, (Shape{5120, 8192, 128}));
  EXPECT_EQ(mm.count("blk.1.ffn_gate.weight"), 0u);
  EXPECT_EQ(mm.count("rope_freqs.weight"), 0u);
  // Maverick: 400B parameters, 17B active.
  EXPECT_NEAR(double(mav.n_params()) / 1e9, 400.7, 0.1);
  EXPECT_NEAR(double(mav.n_active_params()) / 1e9, 17.2, 0.1);
  gguf::Metadata md;
  config_to_metadata(mav, md);
  EXPECT_EQ(md.get_uint("llama4.interleave_moe_layer_step"), 2u);
  const ModelConfig back = config_from_metadata(md);
  EXPECT_EQ(back.qk_norm, QkNorm::kNone);  // 128 experts: Maverick, no q/k norm
  EXPECT_EQ(back.gating, GatingFunc::kSigmoid);
  EXPECT_TRUE(back.expert_weight_on_input);
  EXPECT_EQ(back.n_ff_shexp, 8192);
  // Published files carry no chunk or temperature keys: 8192 and 0.1.
  md.erase("llama4.attention.chunk_size");
  md.erase("llama4.attention.temperature_scale");
  md.erase("llama4.attention.temperature_length");
  const ModelConfig plain = config_from_metadata(md);
  EXPECT_EQ(plain.n_attn_chunk, 8192);
  EXPECT_FLOAT_EQ(plain.attn_temp_scale, 0.1f);
  EXPECT_EQ(plain.attn_temp_length, 8192);
  md.erase("llama4.interleave_moe_layer_step");
  EXPECT_NE(error_of([&] { config_from_metadata(md); }).find("llama4.interleave_moe_layer_step"), std::string::npos);
}

TEST(ExpectedTensors, DeepSeekV3StyleRouterAndQLora) {
  const ModelConfig& c = find_preset("deepseek2", "tiny-v3").config;
  auto m = by_name(c);
  EXPECT_EQ(m.at("blk.0.attn_q_a.weight").shape, (Shape{128, 96}));
  EXPECT_EQ(m.at("blk.0.attn_q_a_norm.weight").shape, (Shape{96}));
  EXPECT_EQ(m.at("blk.0.attn_q_b.weight").shape, (Shape{96, 4 * 48}));
  EXPECT_EQ(m.at("blk.1.exp_probs_b.bias").shape, (Shape{8}));
  EXPECT_EQ(m.count("blk.0.exp_probs_b.bias"), 0u);
  EXPECT_EQ(c.gating, GatingFunc::kSigmoid);
  EXPECT_NEAR(double(find_preset("deepseek2", "deepseek-v3").config.n_params()) / 1e9, 671.0, 1.0);
}

TEST(ExpectedTensors, TiedOutputAndDenseArchitectures) {
  const ModelConfig& q2 = find_preset("qwen2", "tiny").config;
  auto m = by_name(q2);
  EXPECT_EQ(m.count("output.weight"), 0u);
  EXPECT_EQ(m.at("blk.1.ffn_down.weight").shape, (Shape{256, 128}));
  EXPECT_EQ(m.at("blk.1.ffn_down.weight").role, TensorRole::kDenseFfn);
  const ModelConfig& q3 = find_preset("qwen3", "tiny").config;
  auto m3 = by_name(q3);
  EXPECT_EQ(m3.at("blk.0.attn_q.weight").shape, (Shape{128, 256}));
  EXPECT_EQ(m3.at("blk.0.attn_output.weight").shape, (Shape{256, 128}));
  EXPECT_EQ(m3.at("blk.0.attn_q_norm.weight").shape, (Shape{64}));
  EXPECT_NEAR(double(find_preset("qwen3", "qwen3-8b").config.n_params()) / 1e9, 8.19, 0.05);
  EXPECT_NEAR(double(find_preset("qwen2", "qwen2-7b").config.n_params()) / 1e9, 7.62, 0.05);
}

TEST(Presets, UnknownNamesListWhatExists) {
  EXPECT_NE(error_of([] { find_preset("llama", "nope"); }).find("mixtral-8x7b"), std::string::npos);
  EXPECT_NE(error_of([] { find_preset("gpt2", "tiny"); }).find("unknown architecture"), std::string::npos);
  for (const auto& arch : supported_architectures()) EXPECT_NO_THROW(find_preset(arch, "tiny")) << arch;
}

TEST(Presets, OverridesKeepDerivedDimensionsConsistent) {
  ModelConfig c = find_preset("llama", "tiny").config;
  ConfigOverrides o;
  o.n_layer = 5;
  o.n_embd = 256;
  o.n_expert = 6;
  o.n_expert_used = 3;
  o.n_ff_exp = 96;
  apply_overrides(c, o);
  EXPECT_EQ(c.n_layer, 5);
  EXPECT_EQ(c.head_dim, 64);  // 256 / 4 heads
  EXPECT_EQ(c.rope_dim, 64);
  EXPECT_EQ(c.n_expert, 6);
  EXPECT_EQ(c.n_ff_exp, 96);
  EXPECT_EQ(c.n_ff, 96);  // llama's experts are sized by feed_forward_length

  ModelConfig q3 = find_preset("qwen3", "tiny").config;
  ConfigOverrides o3;
  o3.n_embd = 256;
  apply_overrides(q3, o3);
  EXPECT_EQ(q3.head_dim, 64);  // qwen3 keeps its explicit head_dim

  ModelConfig ds = find_preset("deepseek2", "tiny").config;
  ConfigOverrides od;
  od.n_ff_exp = 32;
  od.n_layer = 1;
  apply_overrides(ds, od);
  EXPECT_EQ(ds.n_ff_shexp, 64);  // 2 shared experts of 32
  EXPECT_EQ(ds.n_leading_dense, 1);

  ModelConfig bad = find_preset("olmoe", "tiny").config;
  ConfigOverrides ob;
  ob.n_expert_used = 9;
  EXPECT_NE(error_of([&] { apply_overrides(bad, ob); }).find("n_expert_used"), std::string::npos);
  ConfigOverrides oz;
  oz.n_layer = 0;
  EXPECT_NE(error_of([&] { apply_overrides(bad, oz); }).find("--layers"), std::string::npos);
}

// --ssm-head-dim and --attn-interval (the shapes the peer check in
// tests/model/llama_cpp_deltanet_test.sh needs: ik_llama.cpp's DeltaNet
// kernel is right for heads of 64 and 128 only, and its qwen3next loader
// puts full attention on every 4th layer whatever the file says).
TEST(Presets, HybridOverridesSetTheDeltaNetShape) {
  ModelConfig c = find_preset("qwen3next", "tiny").config;
  ConfigOverrides o;
  o.ssm_head_dim = 64;
  o.full_attn_interval = 4;
  apply_overrides(c, o);
  EXPECT_EQ(c.ssm_k_head_dim, 64);
  EXPECT_EQ(c.ssm_v_head_dim, 64);
  EXPECT_EQ(c.head_dim, 32);  // the attention layers keep theirs
  EXPECT_EQ(c.ssm_conv_channels(), 2 * 2 * 64 + 4 * 64);
  EXPECT_TRUE(c.layer_is_recurrent(0));
  EXPECT_TRUE(c.layer_is_recurrent(1));
  EXPECT_TRUE(c.layer_is_recurrent(2));
  EXPECT_FALSE(c.layer_is_recurrent(3));
  gguf::Metadata md;
  config_to_metadata(c, md);
  const ModelConfig back = config_from_metadata(md);
  EXPECT_EQ(back.ssm_k_head_dim, 64);
  EXPECT_EQ(back.ssm_v_head_dim, 64);
  EXPECT_EQ(back.n_full_attn_interval, 4);

  ModelConfig dense = find_preset("qwen3moe", "tiny").config;
  ConfigOverrides od;
  od.ssm_head_dim = 64;
  EXPECT_NE(error_of([&] { apply_overrides(dense, od); }).find("no Gated DeltaNet"), std::string::npos);
  ModelConfig q35 = find_preset("qwen35moe", "tiny").config;
  ConfigOverrides oi;
  oi.full_attn_interval = 1;
  EXPECT_NE(error_of([&] { apply_overrides(q35, oi); }).find("--attn-interval"), std::string::npos);
}

// llama.cpp's loader requires qwen35moe.rope.dimension_sections; Qwen3.5's
// checkpoints split their 32 rotary pairs 11, 11, 10.
TEST(Config, Qwen35MoeWritesRopeSections) {
  ModelConfig c = find_preset("qwen35moe", "tiny").config;
  c.head_dim = 256;
  c.rope_dim = 64;
  gguf::Metadata md;
  config_to_metadata(c, md);
  EXPECT_EQ(md.get_int_array("qwen35moe.rope.dimension_sections"), (std::vector<int64_t>{11, 11, 10, 0}));
  md.set("qwen35moe.rope.dimension_sections", gguf::Value::make_i32_array({12, 10, 10}));
  EXPECT_EQ(config_from_metadata(md).rope_sections, (std::array<int64_t, 4>{12, 10, 10, 0}));
  md.set("qwen35moe.rope.dimension_sections", gguf::Value::make_i32_array({11, 11, 11, 0}));
  EXPECT_NE(error_of([&] { config_from_metadata(md); }).find("rope.dimension_sections"), std::string::npos);
}

}  // namespace
}  // namespace frugal::model
