// Parameter and byte counts of `frugal inspect`, and the value summaries.
#include <gtest/gtest.h>
#include <unistd.h>

#include <vector>

#include "base/error.h"
#include "gguf/reader.h"
#include "gguf/summary.h"
#include "gguf/value_format.h"
#include "gguf/writer.h"

namespace frugal::gguf {
namespace {

std::string temp_path(const std::string& name) {
  return testing::TempDir() + "/gguf_summary_" + std::to_string(::getpid()) + "_" + name + ".gguf";
}

// A 1-layer MoE-shaped file: vocab 64, embd 32, 4 experts of width 32, 2 used.
Reader write_moe(const std::string& name, bool with_output, uint32_t used) {
  std::vector<uint8_t> zeros(64 * 1024);
  Writer w;
  w.set("general.architecture", Value::make_string("qwen3moe"));
  w.set("qwen3moe.expert_count", Value::make_u32(4));
  w.set("qwen3moe.expert_used_count", Value::make_u32(used));
  w.add_tensor_data("token_embd.weight", TensorType::Q8_0, {32, 64}, zeros.data());  // 64 rows of 34 bytes
  w.add_tensor_data("blk.0.attn_q.weight", TensorType::F16, {32, 32}, zeros.data());
  w.add_tensor_data("blk.0.ffn_gate_inp.weight", TensorType::F32, {32, 4}, zeros.data());
  w.add_tensor_data("blk.0.ffn_up_exps.weight", TensorType::Q8_0, {32, 32, 4}, zeros.data());
  w.add_tensor_data("blk.0.ffn_down_exps.weight", TensorType::Q4_0, {32, 32, 4}, zeros.data());
  if (with_output) w.add_tensor_data("output.weight", TensorType::Q8_0, {32, 64}, zeros.data());
  const std::string path = temp_path(name);
  w.write(path);
  Reader r = Reader::open(path);
  ::unlink(path.c_str());  // the mapping stays valid
  return r;
}

TEST(GgufSummary, MoeCountsAndBytesPerToken) {
  const Reader r = write_moe("moe", true, 2);
  const FileSummary s = summarize(r);
  EXPECT_EQ(s.architecture, "qwen3moe");
  EXPECT_TRUE(s.moe);
  EXPECT_FALSE(s.tied_output);
  EXPECT_EQ(s.tensors, 6u);
  const uint64_t embd = 32 * 64, q = 32 * 32, router = 32 * 4, exps = 32 * 32 * 4;
  EXPECT_EQ(s.parameters, embd + q + router + 2 * exps + embd);
  EXPECT_EQ(s.expert_parameters, 2 * exps);
  EXPECT_EQ(s.active_parameters, embd + q + router + 2 * exps / 2 + embd);
  // Bytes: one embedding row (34), attn 2048, router 512, half of each expert
  // tensor (q8_0: 128 blocks * 34 / 2; q4_0: 128 blocks * 18 / 2), output 64 rows * 34.
  EXPECT_EQ(s.bytes_per_token, 34u + 2048 + 512 + 128 * 34 / 2 + 128 * 18 / 2 + 64 * 34);
  EXPECT_EQ(s.bytes, 64u * 34 + 2048 + 512 + 128 * 34 + 128 * 18 + 64 * 34);
  ASSERT_EQ(s.by_type.size(), 4u);
  EXPECT_EQ(s.by_type[0].type, TensorType::Q8_0);  // largest first
  EXPECT_EQ(s.by_type[0].tensors, 3u);
}

TEST(GgufSummary, WeightBytesPerDecodeStepGrowWithTheBatchTowardAllExperts) {
  const Reader r = write_moe("steps", true, 2);
  const FileSummary s = summarize(r);
  const double experts = 128 * 34 + 128 * 18;  // both expert tensors, all 4 experts
  EXPECT_EQ(s.expert_bytes, uint64_t(experts));
  EXPECT_DOUBLE_EQ(weight_bytes_per_step(s, 1), double(s.bytes_per_token));
  // Two tokens each choosing 2 of 4 experts: an expert is read unless both
  // missed it, probability 1 - (1/2)^2 = 3/4.
  const double others = double(s.bytes_per_token) - experts / 2;
  EXPECT_DOUBLE_EQ(weight_bytes_per_step(s, 2), others + experts * 0.75);
  EXPECT_NEAR(weight_bytes_per_step(s, 64), others + experts, 1e-6);
  EXPECT_EQ(weight_bytes_per_step(s, 0), 0.0);
}

TEST(GgufSummary, TiedEmbeddingIsReadWhole) {
  const Reader r = write_moe("tied", false, 4);
  const FileSummary s = summarize(r);
  EXPECT_TRUE(s.tied_output);
  EXPECT_EQ(s.active_parameters, s.parameters);  // all experts used
  EXPECT_EQ(s.bytes_per_token, s.bytes);
}

TEST(GgufSummary, NextTokenPredictionBlocksAreCountedApart) {
  // GLM-4.5's layout: block_count 12 of which the last (11) is a
  // next-token-prediction block.
  std::vector<uint8_t> zeros(64 * 1024);
  Writer w;
  w.set("general.architecture", Value::make_string("glm4moe"));
  w.set("glm4moe.block_count", Value::make_u32(12));
  w.set("glm4moe.nextn_predict_layers", Value::make_u32(1));
  w.set("glm4moe.expert_count", Value::make_u32(4));
  w.set("glm4moe.expert_used_count", Value::make_u32(2));
  w.add_tensor_data("token_embd.weight", TensorType::F32, {32, 64}, zeros.data());
  w.add_tensor_data("blk.1.attn_q.weight", TensorType::F32, {32, 32}, zeros.data());  // runs (not "blk.11")
  w.add_tensor_data("blk.1.ffn_up_exps.weight", TensorType::F32, {32, 32, 4}, zeros.data());
  w.add_tensor_data("blk.11.attn_q.weight", TensorType::F32, {32, 32}, zeros.data());
  w.add_tensor_data("blk.11.ffn_up_exps.weight", TensorType::F32, {32, 32, 4}, zeros.data());
  w.add_tensor_data("blk.11.nextn.eh_proj.weight", TensorType::F32, {64, 32}, zeros.data());
  const std::string path = temp_path("nextn");
  w.write(path);
  Reader r = Reader::open(path);
  ::unlink(path.c_str());
  const FileSummary s = summarize(r);
  EXPECT_EQ(s.parameters, 2048u + 1024 + 4096 + 1024 + 4096 + 2048);
  EXPECT_EQ(s.nextn_parameters, 1024u + 4096 + 2048);
  EXPECT_EQ(s.expert_parameters, 4096u);               // block 1's only
  EXPECT_EQ(s.active_parameters, 2048u + 1024 + 2048);  // the MTP block is not run
}

TEST(GgufSummary, BadExpertUsedCountIsAnError) {
  const Reader r = write_moe("bad", true, 5);
  EXPECT_THROW(summarize(r), Error);
}

TEST(GgufSummary, DenseFile) {
  std::vector<float> x(64);
  Writer w;
  w.set("general.architecture", Value::make_string("llama"));
  w.add_tensor_data("token_embd.weight", TensorType::F32, {4, 16}, x.data());
  w.add_tensor_data("blk.0.ffn_up.weight", TensorType::F32, {4, 4}, x.data());
  const std::string path = temp_path("dense");
  w.write(path);
  const Reader r = Reader::open(path);
  ::unlink(path.c_str());
  const FileSummary s = summarize(r);
  EXPECT_FALSE(s.moe);
  EXPECT_EQ(s.parameters, 80u);
  EXPECT_EQ(s.bytes_per_token, 320u);  // tied: the whole embedding is the output matrix
}

TEST(GgufSummary, ValueFormat) {
  std::vector<std::string> vocab;
  for (int k = 0; k < 151936; ++k) vocab.push_back(k == 1 ? "\"" : std::string(1, static_cast<char>('!' + k % 90)));
  EXPECT_EQ(format_value(Value::make_string_array(vocab)), "[151936 strings: \"!\", \"\\\"\", \"#\", ...]");
  EXPECT_EQ(format_value(Value::make_i32_array({1, -2})), "[1, -2]");
  EXPECT_EQ(format_value(Value::make_f32(1e-6f)), "1e-06");
  EXPECT_EQ(format_value(Value::make_f32(0.1f)), "0.1");
  EXPECT_EQ(format_value(Value::make_f64(0.1)), "0.1");
  EXPECT_EQ(format_value(Value::make_bool(false)), "false");
  EXPECT_EQ(format_value(Value::make_u64(18446744073709551615ull)), "18446744073709551615");
  EXPECT_EQ(format_value(Value::make_string("a\nb\x01")), "\"a\\nb\\x01\"");
  ValueFormat f;
  f.max_string = 4;
  EXPECT_EQ(format_value(Value::make_string("abcdefgh"), f), "\"abcd\"... (8 bytes)");
  EXPECT_EQ(format_value(Value::make_string("ab\xc3\xa9"), ValueFormat{8, 3, 3}), "\"ab\"... (4 bytes)");  // no half é
  EXPECT_EQ(format_value(Value::make_array(ValueType::ARRAY, {Value::make_i32_array({1}), Value::make_i32_array({})})),
            "[[1], []]");
}

}  // namespace
}  // namespace frugal::gguf
