// Row-interleaved weights in a whole model: a q4_k_m file repacked at load,
// and the same file written by `frugal quantize --repack`, give the very
// logits of the file as it is (the repacked kernels' sums are the base
// kernels' integers), for prefill and decode rows, in MoE and dense layers;
// weights copied into memory at load give them too; and requantising the
// repacked file without --repack gives back the original tensors byte for
// byte.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <initializer_list>
#include <string>
#include <vector>

#include "base/progress.h"
#include "forward_test_model.h"
#include "gguf/reader.h"
#include "model/config_overrides.h"
#include "model/forward.h"
#include "model/model.h"
#include "model/presets.h"
#include "model/repack_weights.h"
#include "model/synth.h"
#include "quant/repack.h"
#include "quant/requantize.h"

namespace frugal::model {
namespace {

using testing::OneSequenceKv;
using testing::TempModel;

// Logits of 9 prompt rows, then 1 decode row, on one sequence.
std::vector<float> logits_of(const Model& m) {
  OneSequenceKv kv(m.config(), 16);
  Forward fwd(m);
  std::vector<BatchRow> rows;
  const int32_t tokens[] = {256, 72, 101, 108, 108, 111, 32, 119, 111};
  for (int32_t i = 0; i < 9; ++i) rows.push_back({0, i, tokens[i], true});
  std::vector<float> prompt, step;
  fwd.run(rows, kv, nullptr, prompt);
  const std::vector<BatchRow> next = {{0, 9, 114, true}};
  fwd.run(next, kv, nullptr, step);
  prompt.insert(prompt.end(), step.begin(), step.end());
  return prompt;
}

TEST(RepackModel, SameLogitsRepackedAtLoadAndInTheFile) {
  Progress::set_enabled(false);
  for (const char* arch : {"olmoe", "llama"}) {
    SCOPED_TRACE(arch);
    ModelConfig cfg = find_preset(arch, "tiny").config;
    ConfigOverrides o;  // rows of whole Q4_K blocks and 16-row groups
    o.n_embd = 256;
    o.n_head = 4;
    o.n_head_kv = 4;
    if (cfg.n_expert > 0) {
      o.n_ff_exp = 256;
    } else {
      o.n_ff = 512;
    }
    apply_overrides(cfg, o);
    TempModel plain(std::string("repack_plain_") + arch), packed(std::string("repack_file_") + arch);
    SynthOptions so;
    so.type = "q4_k_m";
    so.seed = 5;
    so.progress_label = "";
    write_synth_model(cfg, gguf::Metadata{}, so, plain.path);

    const auto as_is = Model::load(plain.path);
    EXPECT_EQ(as_is->repacked().tensors, 0);
    const std::vector<float> want = logits_of(*as_is);

    // A Q4_K matrix of layer 0: q4_k_m keeps an MoE model's attention at
    // Q5_K, its experts at Q4_K.
    auto q4k_matrix_type = [&](const Model& m) {
      const LayerWeights& L = m.weights().layers[0];
      return cfg.n_expert > 0 ? L.up_exps.type : L.wq.type;
    };
    const auto at_load = Model::load(plain.path, {.repack = true});
    if (repacking_pays(TensorType::Q4_K)) {
      EXPECT_GT(at_load->repacked().tensors, 0);
      EXPECT_EQ(q4k_matrix_type(*at_load), TensorType::Q4_K_R16);
    } else {
      EXPECT_EQ(at_load->repacked().tensors, 0);
    }
    EXPECT_EQ(at_load->weights().token_embd.type, as_is->weights().token_embd.type);
    EXPECT_EQ(logits_of(*at_load), want);

    // Copied into memory as they are, and repacked with the rest copied:
    // every matrix leaves the file mapping, the logits stay the same.
    for (const bool repack : {false, true}) {
      SCOPED_TRACE(repack ? "repacked and copied" : "copied");
      const auto in_memory = Model::load(plain.path, {.repack = repack, .in_memory = true, .threads = 3});
      const RepackReport& r = in_memory->repacked();
      EXPECT_TRUE(r.skipped.empty()) << r.skipped;
      EXPECT_GT(r.copied_bytes + r.bytes, 0u);
      if (!repack) {
        EXPECT_EQ(r.bytes, 0u);
      }
      const gguf::Reader& file = in_memory->file();
      const uint8_t* begin = file.mapping()->data();
      const uint8_t* end = begin + file.mapping()->size();
      const LayerWeights& L = in_memory->weights().layers[0];
      for (const void* p : std::initializer_list<const void*>{L.wq.data, L.wo.data, L.ffn_gate.data, L.gate_exps.data, L.down_exps.data}) {
        if (!p) continue;
        EXPECT_FALSE(p >= static_cast<const void*>(begin) && p < static_cast<const void*>(end));
      }
      const void* embd = in_memory->weights().token_embd.data;  // read row by row: left in the file
      EXPECT_TRUE(embd >= static_cast<const void*>(begin) && embd < static_cast<const void*>(end));
      EXPECT_EQ(r.tensors > 0, repack && repacking_pays(TensorType::Q4_K));
      EXPECT_EQ(logits_of(*in_memory), want);
    }

    quant::RequantizeOptions ro;
    ro.recipe_or_type = "q4_k_m";
    ro.keep_quantized = true;
    ro.repack = true;
    ro.progress_label = "";
    const quant::RequantizeSummary s = quant::requantize_file(plain.path, packed.path, ro);
    int n_repacked = 0;
    for (const auto& t : s.tensors) {
      if (quant::interleaved_rows(t.to) > 1) ++n_repacked;
      if (t.name == "token_embd.weight") {
        EXPECT_EQ(quant::interleaved_rows(t.to), 1);
      }
    }
    EXPECT_GT(n_repacked, 0);
    const auto from_file = Model::load(packed.path, {.repack = false});
    EXPECT_EQ(q4k_matrix_type(*from_file), TensorType::Q4_K_R16);
    EXPECT_EQ(logits_of(*from_file), want);

    // Requantised again without --repack, every tensor is the original's, byte for byte.
    TempModel back(std::string("repack_back_") + arch);
    ro.keep_quantized = false;
    ro.repack = false;
    quant::requantize_file(packed.path, back.path, ro);
    const gguf::Reader a = gguf::Reader::open(plain.path), b = gguf::Reader::open(back.path);
    ASSERT_EQ(a.tensors().size(), b.tensors().size());
    for (const gguf::TensorInfo& t : a.tensors()) {
      const gguf::TensorInfo* u = b.find_tensor(t.name);
      ASSERT_NE(u, nullptr) << t.name;
      EXPECT_EQ(u->type, t.type) << t.name;
      ASSERT_EQ(u->n_bytes, t.n_bytes) << t.name;
      EXPECT_EQ(0, std::memcmp(u->data, t.data, t.n_bytes)) << t.name;
    }
  }
}

}  // namespace
}  // namespace frugal::model
