// Synthetic weights are drawn at a scale that keeps activations finite and
// logits at unit scale through many layers: every architecture, 24 layers
// deep, written by write_synth_model at q8_0 and run through the forward pass.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>

#include "base/progress.h"
#include "model/config_overrides.h"
#include "model/forward.h"
#include "model/presets.h"
#include "model/synth.h"
#include "model/forward_test_model.h"

namespace frugal::model {
namespace {

using testing::OneSequenceKv;

TEST(SynthForward, DeepModelsKeepFiniteUnitScaleLogits) {
  Progress::set_enabled(false);
  for (const auto& p : all_presets()) {
    if (p.name.rfind("tiny", 0) != 0) continue;
    SCOPED_TRACE(p.arch + "/" + p.name);
    ModelConfig cfg = p.config;
    ConfigOverrides o;
    o.n_layer = 24;
    apply_overrides(cfg, o);
    const std::string path = (std::filesystem::temp_directory_path() /
                              ("frugal_synth_forward_" + std::to_string(::getpid()) + "_" + p.arch + p.name + ".gguf"))
                                 .string();
    SynthOptions opts;
    opts.type = "q8_0";
    opts.seed = 17;
    opts.progress_label = "";
    write_synth_model(cfg, gguf::Metadata{}, opts, path);
    const auto model = Model::load(path);
    OneSequenceKv kv(model->config(), 16);
    Forward fwd(*model);
    std::vector<BatchRow> rows;
    const int32_t tokens[] = {256, 72, 101, 108, 108, 111, 32, 119};
    for (int32_t i = 0; i < 8; ++i) rows.push_back({0, i, tokens[i], true});
    std::vector<float> logits;
    fwd.run(rows, kv, nullptr, logits);
    const size_t n_vocab = size_t(cfg.n_vocab);
    ASSERT_EQ(logits.size(), 8 * n_vocab);
    for (size_t r = 0; r < 8; ++r) {
      double sum = 0, sq = 0;
      for (size_t j = 0; j < n_vocab; ++j) {
        const float x = logits[r * n_vocab + j];
        ASSERT_TRUE(std::isfinite(x)) << "row " << r;
        sum += x;
        sq += double(x) * x;
      }
      const double mean = sum / double(n_vocab);
      const double std = std::sqrt(sq / double(n_vocab) - mean * mean);
      EXPECT_GT(std, 0.3) << "row " << r;
      EXPECT_LT(std, 3.0) << "row " << r;
    }
    std::filesystem::remove(path);
  }
}

}  // namespace
}  // namespace frugal::model
