// The q4_k_m recipe and plain-type choices, including row-length fallbacks.
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
  EXPECT_THROW(choose_type("q9_z", "blk.0.attn_q.weight", w, 4), Error);
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

TEST(Recipe, FileTypeCodes) {
  EXPECT_EQ(file_type_code("f32"), 0u);
  EXPECT_EQ(file_type_code("f16"), 1u);
  EXPECT_EQ(file_type_code("q8_0"), 7u);
  EXPECT_EQ(file_type_code("q4_k_m"), 15u);
  EXPECT_EQ(file_type_code("q5_k_m"), 17u);
  EXPECT_EQ(file_type_code("q6_k"), 18u);
  EXPECT_EQ(file_type_code("iq4_xs"), 30u);
  EXPECT_EQ(file_type_code("bf16"), 32u);
  EXPECT_THROW(file_type_code("q8_k"), Error);
  EXPECT_THROW(file_type_code("nonsense"), Error);
}

}  // namespace
}  // namespace frugal::quant
