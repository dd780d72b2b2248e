// Tiny random-weight models for forward-pass tests, written to a temporary
// GGUF file with the same weights `frugal synth` draws, where a test may
// change any tensor's values or shape before it is written.
#pragma once
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "base/error.h"
#include "base/progress.h"
#include "gguf/writer.h"
#include "model/forward.h"
#include "model/presets.h"
#include "model/synth.h"
#include "quant/quant.h"

namespace frugal::model::testing {

// A file removed when the object goes out of scope.
struct TempModel {
  std::string path;
  explicit TempModel(const std::string& name)
      : path((std::filesystem::temp_directory_path() /
              ("frugal_forward_test_" + std::to_string(::getpid()) + "_" + name + ".gguf"))
                 .string()) {}
  ~TempModel() { std::filesystem::remove(path); }
  TempModel(const TempModel&) = delete;
  TempModel& operator=(const TempModel&) = delete;
};

// An f32 cache for one sequence of up to n_ctx positions (and the
// recurrent layers' states).
class OneSequenceKv : public KvStore {
 public:
  OneSequenceKv(const ModelConfig& c, int64_t n_ctx) : n_ctx_(n_ctx) {
    for (int64_t l = 0; l < c.n_layer; ++l) {
      k_.emplace_back(size_t(n_ctx * kv_key_width(c)));
      v_.emplace_back(size_t(n_ctx * std::max<int64_t>(1, kv_value_width(c))));
      state_.emplace_back(c.layer_is_recurrent(l) ? size_t(c.recurrent_state_floats()) : 0);
    }
  }
  KvType type() const override { return KvType::kF32; }
  KvSlice slice(int64_t layer, int32_t) override { return {k_[size_t(layer)].data(), v_[size_t(layer)].data(), n_ctx_}; }
  float* recurrent_state(int64_t layer, int32_t) override { return state_[size_t(layer)].data(); }

 private:
  int64_t n_ctx_;
  std::vector<std::vector<float>> k_, v_, state_;
};

// The message of the frugal::Error that f throws ("" when it throws none).
inline std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

// Per tensor: may change the f32 values (row-major, ggml order) and the
// shape; emptying the shape leaves the tensor out of the file.
using TensorEdit = std::function<void(const TensorSpec& spec, std::vector<float>& values, std::vector<uint64_t>& shape)>;

// Writes cfg's tensors (synth values for `seed`) of `type` (row lengths that
// the type cannot hold fall back to f32), with a byte-level vocabulary.
inline void write_test_model(const ModelConfig& cfg, const std::string& path, TensorType type = TensorType::F32,
                             uint64_t seed = 1, const TensorEdit& edit = nullptr) {
  Progress::set_enabled(false);
  gguf::Writer w;
  config_to_metadata(cfg, w.metadata());
  add_byte_tokenizer(cfg.n_vocab, w.metadata());
  // The writer streams lazily: keep every tensor's bytes alive until write().
  auto store = std::make_shared<std::vector<std::vector<uint8_t>>>();
  for (const TensorSpec& spec : expected_tensors(cfg)) {
    if (spec.role == TensorRole::kTokenExperts) {
      // deepseek4's i32 table: token t's experts 3t, 3t + 1, ... (mod n_expert).
      const int64_t k = spec.shape[0];
      auto& bytes = store->emplace_back(static_cast<size_t>(spec.n_elements()) * sizeof(int32_t));
      for (int64_t i = 0; i < spec.n_elements(); ++i) {
        const int32_t id = static_cast<int32_t>((i / k * 3 + i % k) % cfg.n_expert);
        std::memcpy(bytes.data() + i * sizeof(int32_t), &id, sizeof id);
      }
      w.add_tensor_data(spec.name, TensorType::I32, {uint64_t(spec.shape[0]), uint64_t(spec.shape[1])}, bytes.data());
      continue;
    }
    std::vector<float> values(static_cast<size_t>(spec.n_elements()));
    synth_rows(cfg, spec, seed, 0, spec.n_elements() / spec.fan_in(), values.data());
    std::vector<uint64_t> shape(spec.shape.begin(), spec.shape.end());
    if (edit) edit(spec, values, shape);
    if (shape.empty()) continue;
    TensorType t = type;
    if (spec.shape.size() == 1 || shape[0] % tensor_type_info(t).block_size != 0) t = TensorType::F32;
    const uint64_t rows = values.size() / shape[0];
    auto& bytes = store->emplace_back(row_bytes(t, shape[0]) * rows);
    quant::quantize_rows(t, values.data(), bytes.data(), static_cast<int64_t>(rows), static_cast<int64_t>(shape[0]));
    w.add_tensor_data(spec.name, t, shape, bytes.data());
  }
  w.write(path);
}

// The tiny preset of each architecture (and the variants that switch on
// different code: dense llama, DeepSeek-V3 routing, kv_b split as Kimi-K2's
// files, GLM-4.5 with and without q/k norm, llama4 interleaved and all-MoE,
// Gated DeltaNet in both files' layouts, DeepSeek-V4, MiniMax-M2, dots.llm1,
// ERNIE-4.5-MoE).
inline std::vector<std::pair<std::string, std::string>> tiny_presets() {
  return {{"llama", "tiny"},      {"llama", "tiny-dense"}, {"qwen2", "tiny"},     {"qwen3", "tiny"},
          {"qwen2moe", "tiny"},   {"qwen3moe", "tiny"},    {"olmoe", "tiny"},     {"deepseek2", "tiny"},
          {"deepseek2", "tiny-v3"}, {"deepseek2", "tiny-k2"}, {"gpt-oss", "tiny"},
          {"glm4moe", "tiny"},      {"glm4moe", "tiny-air"},  {"llama4", "tiny"},    {"llama4", "tiny-scout"},
          {"qwen3next", "tiny"},    {"qwen35moe", "tiny"},   {"deepseek4", "tiny"},   {"minimax-m2", "tiny"},
          {"dots1", "tiny"},        {"ernie4_5-moe", "tiny"}};
}

}  // namespace frugal::model::testing
