// The KV cache types: q8_0 logits stay close to f32's for every
// architecture (latent attention's padded rows included); a prompt long
// enough to cross a flash-attention block and several tiles gives the same logits in
// one batch, token by token and in odd chunks, for every cache type; a q8_0
// cache for heads that do not start on blocks is refused.
#include "runtime/kv_cache.h"

#include <gtest/gtest.h>

#include <cmath>
#include <string>

#include "base/error.h"
#include "model/forward_test_model.h"
#include "runtime/engine.h"
#include "runtime/engine_test_util.h"

namespace frugal::runtime {
namespace {

using model::testing::TempModel;
using model::testing::write_test_model;
using testing::max_rel_diff;
using testing::run_steps;

std::vector<int32_t> long_prompt(int32_t n_vocab, size_t n) {
  std::vector<int32_t> ids;
  for (size_t i = 0; i < n; ++i) ids.push_back(static_cast<int32_t>((i * 7919 + 13) % static_cast<size_t>(n_vocab)));
  return ids;
}


TEST(KvCache, LongPromptAgreesAcrossBatchingForEveryCacheType) {
  for (const auto& [arch, preset] : model::testing::tiny_presets()) {
    TempModel f("kvlong" + arch + preset);
    write_test_model(model::find_preset(arch, preset).config, f.path);
    const auto m = model::Model::load(f.path);
    const auto ids = long_prompt(static_cast<int32_t>(m->config().n_vocab), 70);  // past a block of 64
    // Every architecture in f32; the converting cache types on one standard
    // and one latent-attention model (the kernel is shared by all).
    std::vector<KvType> types = {KvType::kF32};
    if (preset == "tiny" && (arch == "qwen3moe" || arch == "deepseek2")) types = {KvType::kF16, KvType::kQ8_0};
    for (KvType t : types) {
      EngineOptions o;
      o.n_ctx = 80;
      o.kv_type = t;
      Engine batch(*m, o), inc(*m, o), chunked(*m, o);
      const auto a = run_steps(batch, ids, ids.size()), b = run_steps(inc, ids, 1), c = run_steps(chunked, ids, 23);
      for (float x : a) ASSERT_TRUE(std::isfinite(x)) << arch;
      EXPECT_LT(max_rel_diff(a, b), 1e-4) << arch << " " << preset << " " << model::kv_type_name(t);
      EXPECT_LT(max_rel_diff(a, c), 1e-4) << arch << " " << preset << " " << model::kv_type_name(t);
    }
  }
}

TEST(KvCache, Q8LogitsStayCloseToF32) {
  for (const auto& [arch, preset] : model::testing::tiny_presets()) {
    TempModel f("kvq8" + arch + preset);
    write_test_model(model::find_preset(arch, preset).config, f.path);
    const auto m = model::Model::load(f.path);
    if (!model::kv_type_unsupported(m->config(), KvType::kQ8_0).empty()) continue;  // deepseek4: f32/f16 only
    const auto ids = long_prompt(static_cast<int32_t>(m->config().n_vocab), 40);
    EngineOptions o;
    o.n_ctx = 48;
    Engine full(*m, o);
    o.kv_type = KvType::kQ8_0;
    Engine q8(*m, o);
    const double d = max_rel_diff(run_steps(full, ids, 5), run_steps(q8, ids, 5));
    EXPECT_LT(d, 5e-2) << arch << " " << preset;
    EXPECT_GT(d, 0.0) << arch << " " << preset;  // the q8_0 path really ran
  }
}

TEST(KvCache, Q8NeedsHeadsOnBlockBoundaries) {
  model::ModelConfig c = model::find_preset("qwen3moe", "tiny").config;
  c.head_dim = c.v_head_dim = 40;
  try {
    KvCache kv(c, 16, 1, KvType::kQ8_0);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("multiples of 32"), std::string::npos) << e.what();
  }
  KvCache f16(c, 16, 1, KvType::kF16);  // any head size is fine in f16
  EXPECT_EQ(f16.bytes_per_sequence(), size_t(c.n_layer) * 16 * (2 * c.n_head_kv * 40) * 2);
  EXPECT_EQ(model::kv_type_from_name("q8_0"), KvType::kQ8_0);
  EXPECT_THROW(model::kv_type_from_name("q4_0"), Error);
}

}  // namespace
}  // namespace frugal::runtime
