// The table of tensor names (gguf/tensor_names.h): one name per tensor, names
// and aliases read back to the tensor they name, and nothing else read as one.
#include "gguf/tensor_names.h"

#include <gtest/gtest.h>

#include <set>
#include <string>

#include "base/error.h"

namespace frugal::gguf {
namespace {

constexpr int kCount = static_cast<int>(TensorId::kCount);

TensorId id_at(int i) { return static_cast<TensorId>(i); }

// A block index for names of block tensors, -1 for global ones.
int64_t block_for(TensorId id, int64_t block) { return tensor_info(id).per_block ? block : -1; }

TEST(TensorNames, EveryIdHasItsOwnEntryAndName) {
  std::set<std::string> names;
  for (int i = 0; i < kCount; ++i) {
    const TensorNameInfo& t = tensor_info(id_at(i));
    EXPECT_EQ(t.id, id_at(i));
    EXPECT_STRNE(t.stem, "");
    const std::string name = tensor_name(t.id, 7);
    EXPECT_TRUE(names.insert(name).second) << "two tensors named " << name;
    EXPECT_EQ(name.starts_with("blk.7."), t.per_block) << name;
  }
  EXPECT_EQ(names.size(), static_cast<size_t>(kCount));
}

TEST(TensorNames, NamesAndAliasesReadBackToTheirTensor) {
  std::set<std::string> all;  // names and aliases together: none may name two tensors
  for (int i = 0; i < kCount; ++i) {
    const TensorId id = id_at(i);
    for (int64_t block : {0, 3, 61}) {
      const std::string name = tensor_name(id, block);
      const auto ref = parse_tensor_name(name);
      ASSERT_TRUE(ref.has_value()) << name;
      EXPECT_EQ(*ref, (TensorRef{.id = id, .block = block_for(id, block)})) << name;
      EXPECT_EQ(tensor_name(ref->id, ref->block), name);
      EXPECT_TRUE(is_tensor(name, id));
      EXPECT_EQ(tensor_block(name), block_for(id, block));
      const std::string alias = tensor_alias_name(id, block);
      if (alias.empty()) continue;
      EXPECT_EQ(parse_tensor_name(alias, true), ref) << alias;
      if (alias != name) {
        EXPECT_FALSE(parse_tensor_name(alias).has_value()) << alias << " read without aliases";
      }
    }
    EXPECT_TRUE(all.insert(tensor_name(id, 0)).second) << tensor_name(id, 0);
    const std::string alias = tensor_alias_name(id, 0);
    if (!alias.empty()) {
      EXPECT_TRUE(all.insert(alias).second) << "alias " << alias << " is another tensor's name";
    }
  }
}

TEST(TensorNames, OtherNamesAreNotTensors) {
  for (const char* name : {"", "blk.", "blk.0", "blk.0.", "blk..attn_q.weight", "blk.x.attn_q.weight",
                           "attn_q.weight", "blk.0.token_embd.weight", "blk.0.attn_q.weight.lora_a",
                           "blk.0.attn_q", "blk.0.attn_qq.weight", "output", "token_embd.bias"}) {
    EXPECT_FALSE(parse_tensor_name(name, true).has_value()) << name;
    EXPECT_EQ(tensor_block(name) >= 0, std::string(name).starts_with("blk.0.")) << name;
  }
}

TEST(TensorNames, ABlockTensorNeedsABlock) {
  EXPECT_THROW(tensor_name(TensorId::kAttnQ), Error);
  EXPECT_EQ(tensor_name(TensorId::kTokenEmbd, 5), "token_embd.weight");
  EXPECT_THROW(tensor_info(TensorId::kCount), Error);
}

TEST(TensorNames, WhatTheRecipesReadOfATensor) {
  // Norms, biases and routers stay f32 by role; a few matrices by the table.
  EXPECT_TRUE(tensor_stays_f32(TensorId::kAttnNorm));
  EXPECT_TRUE(tensor_stays_f32(TensorId::kFfnGateExpsBias));
  EXPECT_TRUE(tensor_stays_f32(TensorId::kFfnGateInpShexp));
  EXPECT_TRUE(tensor_stays_f32(TensorId::kSsmConv1d));
  EXPECT_TRUE(tensor_stays_f32(TensorId::kHcFfnFn));
  EXPECT_FALSE(tensor_stays_f32(TensorId::kAttnQ));
  EXPECT_FALSE(tensor_stays_f32(TensorId::kFfnDownExps));
  EXPECT_EQ(tensor_info(TensorId::kAttnKvB).kv, KvPart::kValues);
  EXPECT_EQ(tensor_info(TensorId::kAttnKB).kv, KvPart::kKeys);
  EXPECT_TRUE(tensor_info(TensorId::kFfnDownShexp).ffn_down);
  EXPECT_TRUE(tensor_info(TensorId::kIndexerQB).recipe_attention);
  EXPECT_FALSE(tensor_info(TensorId::kIndexerProj).recipe_attention);
}

}  // namespace
}  // namespace frugal::gguf
