// libFuzzer target for the GGUF reader: any byte string either parses or
// throws frugal::Error. On success every tensor's data range and every
// metadata value is touched, so ASan catches a range the reader let through
// that is not inside the input.
//
// With FRUGAL_FUZZ_WRITE_SEEDS=DIR in the environment the binary instead
// writes a seed corpus of small valid files (made by the project's writer)
// into DIR and exits: scripts/fuzz makes the corpus this way at fuzz time.
#include <cstdint>
#include <cstdlib>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "base/error.h"
#include "gguf/reader.h"
#include "gguf/writer.h"
#include "fuzz_seeds.h"

namespace {

using frugal::TensorType;
using frugal::gguf::Value;
using frugal::gguf::ValueType;
using frugal::gguf::Writer;

volatile uint64_t g_sink;

uint64_t touch(const Value& v) {
  uint64_t h = static_cast<uint64_t>(v.type) + v.u + static_cast<uint64_t>(v.i) + v.s.size();
  for (unsigned char c : v.s) h = h * 31 + c;
  for (const auto& item : v.items) h += touch(item);
  return h;
}

void write_seeds(const std::string& dir) {
  std::vector<float> f32(64);
  for (size_t k = 0; k < f32.size(); ++k) f32[k] = static_cast<float>(k) * 0.25f - 3;
  std::vector<uint8_t> blocks(4 * 144, 0x5a);  // room for a few blocks of any type used below

  // 1: a tiny "model": architecture keys, a byte vocabulary, tensors of several types.
  {
    Writer w;
    w.set("general.architecture", Value::make_string("llama"));
    w.set("general.name", Value::make_string("seed"));
    w.set("llama.block_count", Value::make_u32(1));
    w.set("llama.embedding_length", Value::make_u32(32));
    w.set("llama.attention.layer_norm_rms_epsilon", Value::make_f32(1e-5f));
    std::vector<std::string> tokens;
    for (int k = 0; k < 8; ++k) tokens.push_back(std::string(1, static_cast<char>('a' + k)));
    w.set("tokenizer.ggml.tokens", Value::make_string_array(tokens));
    w.set("tokenizer.ggml.token_type", Value::make_i32_array({1, 1, 1, 1, 1, 1, 3, 3}));
    w.set("tokenizer.ggml.scores", Value::make_f32_array({0, -1, -2, -3, -4, -5, 0, 0}));
    w.add_tensor_data("token_embd.weight", TensorType::F32, {8, 8}, f32.data());
    w.add_tensor_data("blk.0.attn_q.weight", TensorType::Q8_0, {32, 2}, blocks.data());
    w.add_tensor_data("blk.0.ffn_up_exps.weight", TensorType::Q4_0, {32, 2, 2}, blocks.data());
    w.add_tensor_data("output.weight", TensorType::Q4_K, {256, 1}, blocks.data());
    w.add_tensor_data("norm.weight", TensorType::F16, {16}, f32.data());
    w.write(dir + "/model.gguf");
  }
  // 2: every scalar type and nested arrays, no tensors.
  {
    Writer w;
    w.set("u8", Value::make_u8(1));
    w.set("i8", Value::make_i8(-1));
    w.set("u16", Value::make_u16(2));
    w.set("i16", Value::make_i16(-2));
    w.set("u32", Value::make_u32(3));
    w.set("i32", Value::make_i32(-3));
    w.set("f32", Value::make_f32(0.5f));
    w.set("bool", Value::make_bool(true));
    w.set("str", Value::make_string("text"));
    w.set("u64", Value::make_u64(4));
    w.set("i64", Value::make_i64(-4));
    w.set("f64", Value::make_f64(0.25));
    w.set("nested", Value::make_array(ValueType::ARRAY, {Value::make_i32_array({1, 2}), Value::make_string_array({"x"})}));
    w.write(dir + "/values.gguf");
  }
  // 3: a non-default alignment and a 4-D tensor.
  {
    Writer w(64);
    w.set("general.architecture", Value::make_string("qwen3moe"));
    w.set("qwen3moe.expert_count", Value::make_u32(2));
    w.add_tensor_data("a", TensorType::F32, {2, 2, 2, 2}, f32.data());
    w.add_tensor_data("b", TensorType::BF16, {3}, f32.data());
    w.write(dir + "/aligned.gguf");
  }
  // 4: the first file again as version 2 (same layout, version field patched).
  {
    const std::string src = dir + "/model.gguf";
    FILE* in = std::fopen(src.c_str(), "rb");
    if (!in) frugal::fail("cannot read back ", src);
    std::vector<uint8_t> bytes;
    for (int c; (c = std::fgetc(in)) != EOF;) bytes.push_back(static_cast<uint8_t>(c));
    std::fclose(in);
    bytes[4] = 2;
    const std::string dst = dir + "/model_v2.gguf";
    FILE* out = std::fopen(dst.c_str(), "wb");
    if (!out) frugal::fail("cannot write ", dst);
    std::fwrite(bytes.data(), 1, bytes.size(), out);
    std::fclose(out);
  }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  frugal::fuzz::write_seeds_if_asked(write_seeds);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    const auto r = frugal::gguf::Reader::parse(data, size, "fuzz");
    uint64_t h = r.version() + r.alignment() + r.data_offset();
    for (const auto& [key, value] : r.metadata().entries()) h += key.size() + touch(value);
    for (const auto& t : r.tensors()) {
      h += t.rows() + t.n_elements;
      if (t.n_bytes > 0) h += t.data[0] + t.data[t.n_bytes - 1];
    }
    h += r.architecture().size();
    g_sink = h;
  } catch (const frugal::Error&) {
  }
  return 0;
}
