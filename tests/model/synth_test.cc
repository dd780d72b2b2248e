// frugal synth's library: files the reader reads back with every expected
// tensor at the recipe's type, values that are a pure function of the seed,
// the byte-level vocabulary, and weight scales that keep activations finite.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <cstring>
#include <set>
#include <unistd.h>

#include "base/error.h"
#include "base/progress.h"
#include "gguf/reader.h"
#include "model/presets.h"
#include "model/synth.h"
#include "quant/quant.h"
#include "quant/recipe.h"

namespace frugal::model {
namespace {

std::string temp_path(const std::string& name) {
  return (std::filesystem::temp_directory_path() / ("frugal_synth_test_" + std::to_string(::getpid()) + "_" + name))
      .string();
}

std::string read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

SynthSummary write(const ModelConfig& c, const std::string& type, uint64_t seed, const std::string& path) {
  Progress::set_enabled(false);
  SynthOptions o;
  o.type = type;
  o.seed = seed;
  o.progress_label = "";
  return write_synth_model(c, gguf::Metadata{}, o, path);
}

TEST(Synth, EveryTinyPresetReadsBackWithEveryTensorAtItsType) {
  for (const auto& p : all_presets()) {
    if (p.name.rfind("tiny", 0) != 0) continue;
    SCOPED_TRACE(p.arch + "/" + p.name);
    const std::string path = temp_path(p.arch + "_" + p.name + ".gguf");
    const SynthSummary s = write(p.config, "q8_0", 7, path);
    const gguf::Reader r = gguf::Reader::open(path);
    EXPECT_EQ(r.architecture(), p.arch);
    const ModelConfig back = config_from_file(r);
    EXPECT_EQ(back.n_layer, p.config.n_layer);
    EXPECT_EQ(back.n_expert, p.config.n_expert);
    EXPECT_EQ(back.tied_output, p.config.tied_output);
    EXPECT_EQ(back.expert_score_bias, p.config.expert_score_bias);
    const auto specs = expected_tensors(p.config);
    EXPECT_EQ(r.tensors().size(), specs.size());
    EXPECT_EQ(s.tensors.size(), specs.size());
    for (const auto& spec : specs) {
      const gguf::TensorInfo* t = r.find_tensor(spec.name);
      ASSERT_NE(t, nullptr) << spec.name;
      EXPECT_EQ(std::vector<int64_t>(t->shape.begin(), t->shape.end()), spec.shape) << spec.name;
      const TensorType want = quant::choose_type("q8_0", spec.name, spec.shape, int(p.config.n_layer)).type;
      EXPECT_EQ(t->type, want) << spec.name;
      if (spec.role == TensorRole::kNorm || spec.role == TensorRole::kRouter || spec.role == TensorRole::kBias) {
        EXPECT_EQ(t->type, TensorType::F32) << spec.name;
      }
    }
    std::remove(path.c_str());
  }
}

TEST(Synth, F32FileHoldsExactlyTheGeneratedValues) {
  const ModelConfig& c = find_preset("qwen2moe", "tiny").config;
  const std::string path = temp_path("f32.gguf");
  write(c, "f32", 11, path);
  const gguf::Reader r = gguf::Reader::open(path);
  for (const auto& spec : expected_tensors(c)) {
    const gguf::TensorInfo& t = r.tensor(spec.name);
    ASSERT_EQ(t.type, TensorType::F32);
    const int64_t rows = spec.n_elements() / spec.fan_in();
    std::vector<float> want(size_t(spec.n_elements()));
    synth_rows(c, spec, 11, 0, rows, want.data());
    ASSERT_EQ(t.n_bytes, want.size() * 4);
    EXPECT_EQ(std::memcmp(t.data, want.data(), t.n_bytes), 0) << spec.name;
  }
  std::remove(path.c_str());
}

TEST(Synth, SameSeedSameBytesOtherSeedOtherBytes) {
  const ModelConfig& c = find_preset("deepseek2", "tiny").config;
  const std::string a = temp_path("a.gguf"), b = temp_path("b.gguf"), d = temp_path("d.gguf");
  write(c, "q4_0", 42, a);
  write(c, "q4_0", 42, b);
  write(c, "q4_0", 43, d);
  const std::string ba = read_bytes(a);
  EXPECT_GT(ba.size(), 100000u);
  EXPECT_EQ(ba, read_bytes(b));
  EXPECT_NE(ba, read_bytes(d));
  for (const auto& p : {a, b, d}) std::remove(p.c_str());
}

TEST(Synth, RowsAreIndependentOfHowTheyAreSplit) {
  const ModelConfig& c = find_preset("olmoe", "tiny").config;
  for (const auto& spec : expected_tensors(c)) {
    if (spec.name != "blk.1.ffn_up_exps.weight") continue;
    const int64_t n = spec.fan_in(), rows = spec.n_elements() / n;
    std::vector<float> whole(size_t(rows * n)), part(size_t(10 * n));
    synth_rows(c, spec, 5, 0, rows, whole.data());
    synth_rows(c, spec, 5, 100, 110, part.data());
    EXPECT_EQ(std::memcmp(part.data(), whole.data() + 100 * n, part.size() * 4), 0);
    EXPECT_THROW(synth_rows(c, spec, 5, rows - 1, rows + 1, part.data()), Error);
  }
}

TEST(Synth, ScalesAreRealistic) {
  const ModelConfig& c = find_preset("llama", "mixtral-8x7b").config;
  for (const auto& spec : expected_tensors(c)) {
    if (spec.layer > 0) break;
    const int64_t n = spec.fan_in();
    const int64_t rows = std::min<int64_t>(spec.n_elements() / n, 64);
    std::vector<float> v(size_t(rows * n));
    synth_rows(c, spec, 1, 0, rows, v.data());
    double sum = 0, sq = 0;
    for (float x : v) {
      ASSERT_TRUE(std::isfinite(x));
      sum += x;
    }
    const double mean = sum / double(v.size());
    for (float x : v) sq += (x - mean) * (x - mean);
    const double std = std::sqrt(sq / double(v.size()));
    const InitScale want = init_scale(c, spec);
    EXPECT_NEAR(mean, want.mean, 0.05 * want.std + 1e-3) << spec.name;
    EXPECT_NEAR(std, want.std, 0.05 * want.std) << spec.name;
    if (spec.role == TensorRole::kNorm) {
      EXPECT_NEAR(mean, 1.0, 0.02) << spec.name;
    }
    if (spec.name == "blk.0.attn_q.weight") {
      EXPECT_NEAR(std, 1.0 / 64.0, 0.001);
    }
    if (spec.name == "blk.0.attn_output.weight") {
      EXPECT_LT(std, 1.0 / 64.0 / 7.0);  // residual writes are damped
    }
  }
}

TEST(Synth, ByteLevelVocabulary) {
  gguf::Metadata md;
  add_byte_tokenizer(300, md);
  const auto tokens = md.get_string_array("tokenizer.ggml.tokens");
  ASSERT_EQ(tokens.size(), 300u);
  EXPECT_EQ(tokens['A'], "A");
  EXPECT_EQ(tokens[' '], "\xC4\xA0");   // U+0120, GPT-2's space
  EXPECT_EQ(tokens['\n'], "\xC4\x8A");  // U+010A
  EXPECT_EQ(tokens[0], "\xC4\x80");     // U+0100
  EXPECT_EQ(tokens[0xAD], "\xC5\x83");  // soft hyphen: the last remapped byte, U+0143
  EXPECT_EQ(tokens[0xFF], "\xC3\xBF");  // printable Latin-1 stays itself
  EXPECT_EQ(tokens[256], "<|bos|>");
  EXPECT_EQ(tokens[257], "<|eos|>");
  EXPECT_EQ(tokens[258], "<|unused_0|>");
  const auto types = md.get_int_array("tokenizer.ggml.token_type");
  EXPECT_EQ(types[65], 1);
  EXPECT_EQ(types[257], 3);
  EXPECT_EQ(types[299], 5);
  EXPECT_EQ(md.get_uint("tokenizer.ggml.bos_token_id"), 256u);
  EXPECT_EQ(md.get_uint("tokenizer.ggml.eos_token_id"), 257u);
  EXPECT_TRUE(md.get_bool("tokenizer.ggml.add_bos_token"));
  EXPECT_TRUE(md.get_string_array("tokenizer.ggml.merges").empty());
  std::set<std::string> distinct(tokens.begin(), tokens.end());
  EXPECT_EQ(distinct.size(), tokens.size());
  gguf::Metadata small;
  EXPECT_THROW(add_byte_tokenizer(200, small), Error);
}

TEST(Synth, TokenizerVocabularyIsPaddedToTheModel) {
  gguf::Metadata md;
  add_byte_tokenizer(260, md);
  ModelConfig c = find_preset("llama", "tiny").config;  // n_vocab 512
  fit_tokenizer_vocab(md, c);
  EXPECT_EQ(c.n_vocab, 512);
  EXPECT_EQ(md.get_string_array("tokenizer.ggml.tokens").size(), 512u);
  EXPECT_EQ(md.get_int_array("tokenizer.ggml.token_type").back(), 5);
  c.n_vocab = 259;
  fit_tokenizer_vocab(md, c);
  EXPECT_EQ(c.n_vocab, 512);  // raised to hold the vocabulary
}

TEST(Synth, UnknownTypeIsAnError) {
  const ModelConfig& c = find_preset("qwen3", "tiny").config;
  const std::string path = temp_path("bad.gguf");
  EXPECT_THROW(write(c, "q9_z", 1, path), Error);
  EXPECT_FALSE(std::filesystem::exists(path));
}

}  // namespace
}  // namespace frugal::model
