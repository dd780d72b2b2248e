// The recipes' and plain types' choices, including row-length fallbacks.
#include <gtest/gtest.h>

#include "base/error.h"
#include "quant/recipe.h"

namespace frugal::quant {
namespace {

TEST(Recipe, Q4KM) {
  const int64_t w[2] = {256, 512}, norm[1] = {256}, odd[2] = {96, 64}, router[2] = {256, 8};
  EXPECT_EQ(choose_type("q4_k_m", "blk.0.attn_norm.weight", norm, 16).type, TensorType::F32);
  EXPECT_EQ(choose_type("q4_k_m", "blk.3.ffn_gate_inp.weight", router, 16).type, TensorType::F32);
  EXPECT_EQ(choose_type("q4_k_m", "output.weight", w, 16).type, TensorType::Q6_K);
  EXPECT_EQ(choose_type("q4_k_m", "token_embd.weight", w, 16).type, TensorType::Q4_K);
  EXPECT_EQ(choose_type("q4_k_m", "blk.0.attn_v.weight", w, 16).type, TensorType::Q6_K);   // first eighth
  EXPECT_EQ(choose_type("q4_k_m", "blk.15.ffn_down_exps.weight", w, 16).type, TensorType::Q6_K);  // last eighth
  EXPECT_EQ(choose_type("q4_k_m", "blk.4.ffn_down.weight", w, 16).type, TensorType::Q6_K);  // (4-2)%3==2
  EXPECT_EQ(choose_type("q4_k_m", "blk.5.ffn_down.weight", w, 16).type, TensorType::Q4_K);
  EXPECT_EQ(choose_type("q4_k_m", "blk.5.attn_q.weight", w, 16).type, TensorType::Q4_K);
  EXPECT_EQ(choose_type("q4_k_m", "blk.5.attn_q.weight", odd, 16).type, TensorType::Q4_0);  // 96 % 256 != 0
}

TEST(Recipe, PlainTypes) {
  const int64_t w[2] = {64, 8}, odd[2] = {40, 8}, norm[1] = {64};
  EXPECT_EQ(choose_type("q8_0", "blk.0.attn_q.weight", w, 4).type, TensorType::Q8_0);
  EXPECT_EQ(choose_type("q8_0", "blk.0.attn_q.weight", odd, 4).type, TensorType::F16);
  EXPECT_EQ(choose_type("q6_k", "blk.0.attn_q.weight", w, 4).type, TensorType::Q8_0);
  EXPECT_EQ(choose_type("q4_0", "output_norm.weight", norm, 4).type, TensorType::F32);
  // The recurrent layers' convolution stays f32 at any type: llama.cpp reads it only so.
  const int64_t conv[2] = {4, 768};
  EXPECT_EQ(choose_type("f16", "blk.0.ssm_conv1d.weight", conv, 4).type, TensorType::F32);
  EXPECT_EQ(choose_type("q4_k_m", "blk.0.ssm_conv1d.weight", conv, 4).type, TensorType::F32);
  EXPECT_THROW(choose_type("q9_z", "blk.0.attn_q.weight", w, 4), Error);
}

// In a model with routed experts, q4_k_m and q5_k_m keep the attention
// output at Q5_K and the keys and values at Q8_0 (llama.cpp's layout for
// 8-expert models); a dense model's attention follows the plain recipe.
TEST(Recipe, KMRecipesKeepMoEAttentionAtMoreBits) {
  const int64_t w[2] = {256, 512};
  for (const char* recipe : {"q4_k_m", "q5_k_m"}) {
    EXPECT_EQ(choose_type(recipe, "blk.5.attn_output.weight", w, 16, false, true).type, TensorType::Q5_K);
    EXPECT_EQ(choose_type(recipe, "blk.5.attn_k.weight", w, 16, false, true).type, TensorType::Q8_0);
    EXPECT_EQ(choose_type(recipe, "blk.5.attn_v.weight", w, 16, false, true).type, TensorType::Q8_0);
    EXPECT_EQ(choose_type(recipe, "blk.0.attn_v.weight", w, 16, false, true).type, TensorType::Q8_0);  // over Q6_K
    EXPECT_EQ(choose_type(recipe, "blk.5.attn_kv_b.weight", w, 16, false, true).type, TensorType::Q8_0);
    EXPECT_EQ(choose_type(recipe, "output.weight", w, 16, false, true).type, TensorType::Q6_K);
    EXPECT_EQ(choose_type(recipe, "blk.5.attn_k.weight", w, 16, false, false).type,
              std::string(recipe) == "q4_k_m" ? TensorType::Q4_K : TensorType::Q5_K);
  }
  EXPECT_EQ(choose_type("q4_k_m", "blk.5.ffn_up_exps.weight", w, 16, false, true).type, TensorType::Q4_K);
  EXPECT_EQ(choose_type("q4_k_m", "blk.5.attn_q.weight", w, 16, false, true).type, TensorType::Q4_K);
  EXPECT_EQ(choose_type("q4_k_m", "blk.5.attn_output.weight", w, 16, false, false).type, TensorType::Q4_K);
}

TEST(Recipe, Q5KMUsesQ5KWhereQ4KMUsesQ4K) {
  const int64_t w[2] = {256, 512};
  EXPECT_TRUE(is_recipe("q5_k_m") && is_recipe("Q4_K_M") && !is_recipe("q4_k"));
  EXPECT_EQ(choose_type("q5_k_m", "blk.5.attn_q.weight", w, 16).type, TensorType::Q5_K);
  EXPECT_EQ(choose_type("Q5_K_M", "blk.0.attn_v.weight", w, 16).type, TensorType::Q6_K);
  EXPECT_EQ(choose_type("q5_k_m", "output.weight", w, 16).type, TensorType::Q6_K);
}

TEST(Recipe, TiedEmbeddingGetsTheOutputType) {
  const int64_t w[2] = {256, 512};
  EXPECT_EQ(choose_type("q4_k_m", "token_embd.weight", w, 16, true).type, TensorType::Q6_K);
  EXPECT_EQ(choose_type("q4_k_m", "token_embd.weight", w, 16, false).type, TensorType::Q4_K);
  EXPECT_EQ(choose_type("q4_0", "token_embd.weight", w, 16, true).type, TensorType::Q4_0);  // plain types: no recipe
}

// The mixes keep attention, the shared experts, the output and the first
// layers' ffn_down above the routed experts (DeepSeek-style names, 16 layers).
TEST(Recipe, MixesKeepAttentionAndSharedExpertsAboveRoutedExperts) {
  const int64_t w[2] = {256, 512};
  struct Case {
    const char* recipe;
    TensorType expert, attn, values, shexp, first_down, later_down, output, embd;
  };
  const Case cases[] = {
      {"q2_k_s", TensorType::Q2_K, TensorType::Q3_K, TensorType::Q4_K, TensorType::Q4_K, TensorType::Q4_K,
       TensorType::Q2_K, TensorType::Q6_K, TensorType::Q2_K},
      {"q3_k_s", TensorType::Q3_K, TensorType::Q4_K, TensorType::Q4_K, TensorType::Q4_K, TensorType::Q4_K,
       TensorType::Q3_K, TensorType::Q6_K, TensorType::Q3_K},
      {"q3_k_m", TensorType::Q3_K, TensorType::Q4_K, TensorType::Q5_K, TensorType::Q5_K, TensorType::Q5_K,
       TensorType::Q4_K, TensorType::Q6_K, TensorType::Q3_K},
      {"q3_k_l", TensorType::Q3_K, TensorType::Q5_K, TensorType::Q5_K, TensorType::Q5_K, TensorType::Q5_K,
       TensorType::Q5_K, TensorType::Q6_K, TensorType::Q3_K},
      {"iq1_s_mix", TensorType::IQ1_S, TensorType::Q4_K, TensorType::Q4_K, TensorType::Q4_K, TensorType::Q2_K,
       TensorType::IQ1_S, TensorType::Q5_K, TensorType::Q2_K},
      {"iq1_m_mix", TensorType::IQ1_M, TensorType::Q4_K, TensorType::Q4_K, TensorType::Q4_K, TensorType::Q2_K,
       TensorType::IQ1_M, TensorType::Q5_K, TensorType::Q2_K},
      {"iq2_xxs_mix", TensorType::IQ2_XXS, TensorType::Q4_K, TensorType::Q4_K, TensorType::Q4_K, TensorType::Q2_K,
       TensorType::IQ2_XXS, TensorType::Q5_K, TensorType::Q2_K},
      {"iq2_xs_mix", TensorType::IQ2_XS, TensorType::Q4_K, TensorType::Q4_K, TensorType::Q4_K, TensorType::Q2_K,
       TensorType::IQ2_XS, TensorType::Q5_K, TensorType::Q2_K},
      {"iq2_s_mix", TensorType::IQ2_S, TensorType::Q4_K, TensorType::Q4_K, TensorType::Q4_K, TensorType::IQ3_S,
       TensorType::IQ2_S, TensorType::Q5_K, TensorType::IQ3_S},
      {"iq3_xxs_mix", TensorType::IQ3_XXS, TensorType::Q4_K, TensorType::Q4_K, TensorType::Q4_K, TensorType::Q4_K,
       TensorType::IQ3_XXS, TensorType::Q5_K, TensorType::IQ3_S},
      {"iq3_s_mix", TensorType::IQ3_S, TensorType::Q4_K, TensorType::Q4_K, TensorType::Q4_K, TensorType::Q4_K,
       TensorType::IQ3_S, TensorType::Q6_K, TensorType::IQ3_S},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.recipe);
    ASSERT_TRUE(is_recipe(c.recipe));
    auto type = [&](const char* name) { return choose_type(c.recipe, name, w, 16).type; };
    EXPECT_EQ(type("blk.5.ffn_gate_exps.weight"), c.expert);
    EXPECT_EQ(type("blk.5.ffn_up_exps.weight"), c.expert);
    EXPECT_EQ(type("blk.5.ffn_down_exps.weight"), c.later_down);
    EXPECT_EQ(type("blk.1.ffn_down_exps.weight"), c.first_down);  // 16 layers: the first two
    EXPECT_EQ(type("blk.2.ffn_down_exps.weight"), c.later_down);
    EXPECT_EQ(type("blk.5.attn_q_a.weight"), c.attn);
    EXPECT_EQ(type("blk.5.attn_output.weight"), c.attn);
    EXPECT_EQ(type("blk.5.attn_kv_b.weight"), c.values);
    EXPECT_EQ(type("blk.5.attn_v.weight"), c.values);
    EXPECT_EQ(type("blk.5.ffn_gate_shexp.weight"), c.shexp);
    EXPECT_EQ(type("output.weight"), c.output);
    EXPECT_EQ(type("token_embd.weight"), c.embd);
    EXPECT_EQ(choose_type(c.recipe, "token_embd.weight", w, 16, true).type, c.output);  // tied
    EXPECT_EQ(choose_type(c.recipe, "blk.5.attn_norm.weight", std::span<const int64_t>(w, 1), 16).type,
              TensorType::F32);
  }
  // A tensor of two roles gets the larger: a first layer's shared ffn_down
  // under q3_k_m is both a shared expert and an early ffn_down (Q5_K each),
  // a later one a shared expert (Q5_K) and an ffn_down (Q4_K).
  EXPECT_EQ(choose_type("q3_k_m", "blk.9.ffn_down_shexp.weight", w, 16).type, TensorType::Q5_K);
  EXPECT_EQ(choose_type("iq2_xxs_mix", "blk.0.ffn_down_shexp.weight", w, 16).type, TensorType::Q4_K);
  EXPECT_EQ(choose_type("iq2_xxs_mix", "blk.0.ffn_down_shexp.weight", w, 16).reason, "iq2_xxs_mix: shared expert");
  // A model of fewer than 8 layers still has a first layer.
  EXPECT_EQ(choose_type("q2_k_s", "blk.0.ffn_down.weight", w, 3).type, TensorType::Q4_K);
  EXPECT_EQ(choose_type("q2_k_s", "blk.1.ffn_down.weight", w, 3).type, TensorType::Q2_K);
  // Rows that do not fit a 256-value block fall back as for plain types.
  const int64_t odd[2] = {96, 64};
  EXPECT_EQ(choose_type("iq2_xxs_mix", "blk.5.ffn_up_exps.weight", odd, 16).type, TensorType::Q4_0);
  // The plain lattice type names stay one type for every matrix.
  EXPECT_FALSE(is_recipe("iq2_xxs"));
  EXPECT_EQ(choose_type("iq2_xxs", "blk.5.attn_q.weight", w, 16).type, TensorType::IQ2_XXS);
  EXPECT_NE(recipe_names().find("q3_k_m"), std::string::npos);
}

TEST(Recipe, FileTypeCodes) {
  EXPECT_EQ(file_type_code("f32"), 0u);
  EXPECT_EQ(file_type_code("f16"), 1u);
  EXPECT_EQ(file_type_code("q8_0"), 7u);
  EXPECT_EQ(file_type_code("q4_k_m"), 15u);
  EXPECT_EQ(file_type_code("q5_k_m"), 17u);
  EXPECT_EQ(file_type_code("q6_k"), 18u);
  EXPECT_EQ(file_type_code("iq4_xs"), 30u);
  EXPECT_EQ(file_type_code("bf16"), 32u);
  // The mixes carry llama.cpp's codes of the file types of the same name.
  EXPECT_EQ(file_type_code("q3_k_s"), 11u);
  EXPECT_EQ(file_type_code("q3_k_m"), 12u);
  EXPECT_EQ(file_type_code("q3_k_l"), 13u);
  EXPECT_EQ(file_type_code("q2_k_s"), 21u);
  EXPECT_EQ(file_type_code("iq2_xxs_mix"), 19u);
  EXPECT_EQ(file_type_code("iq2_xs_mix"), 20u);
  EXPECT_EQ(file_type_code("iq3_xxs_mix"), 23u);
  EXPECT_EQ(file_type_code("iq1_s_mix"), 24u);
  EXPECT_EQ(file_type_code("iq3_s_mix"), 26u);
  EXPECT_EQ(file_type_code("iq2_s_mix"), 28u);
  EXPECT_EQ(file_type_code("iq1_m_mix"), 31u);
  EXPECT_THROW(file_type_code("q8_k"), Error);
  EXPECT_THROW(file_type_code("nonsense"), Error);
}

}  // namespace
}  // namespace frugal::quant
