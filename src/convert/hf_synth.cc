// `frugal synth --format hf`: synth's random weights under Hugging Face names
// and layout, the exact inverse of what convert does with them.
#include <cstdio>
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>

#include "base/error.h"
#include "base/output_file.h"
#include "convert/convert.h"
#include "convert/fp8_blocks.h"
#include "convert/hf_layout.h"
#include "convert/safetensors.h"
#include "model/synth.h"

namespace frugal::convert {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

// synth's byte-level vocabulary (model/synth.h) as tokenizer.json: the 256
// byte pieces, <|bos|> and <|eos|> as special added tokens; convert pads it
// to vocab_size with the same <|unused_N|> tokens synth writes.
json byte_tokenizer_json() {
  json vocab = json::object();
  for (int b = 0; b < 256; ++b) vocab[model::byte_token_piece(uint8_t(b))] = b;
  json added = json::array();
  for (int id : {256, 257}) {
    const std::string text = id == 256 ? "<|bos|>" : "<|eos|>";
    vocab[text] = id;
    added.push_back({{"id", id}, {"content", text}, {"single_word", false}, {"lstrip", false}, {"rstrip", false},
                     {"normalized", false}, {"special", true}});
  }
  return {{"version", "1.0"},
          {"added_tokens", added},
          {"normalizer", nullptr},
          {"pre_tokenizer", {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"trim_offsets", true}, {"use_regex", true}}},
          {"post_processor", nullptr},
          {"decoder", {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"trim_offsets", true}, {"use_regex", true}}},
          {"model", {{"type", "BPE"}, {"vocab", vocab}, {"merges", json::array()}}}};
}

}  // namespace

void write_hf_synth(const model::ModelConfig& cfg_in, uint64_t seed, int n_shards, const std::string& dir,
                    int64_t fp8_block) {
  auto joint = cfg_in;
  joint.mla_split_kv_b = false;  // synth draws the split tensors from the joint one's values
  auto cfg = std::make_shared<const model::ModelConfig>(joint);
  model::validate_config(*cfg);
  const HfFamily& fam = hf_family_for_config(*cfg);
  if (n_shards < 1) fail("synth: --shards must be at least 1");
  fs::create_directories(dir);

  if (fp8_block < 0) fail("synth: --fp8-block must be positive");
  const Fp8Blocks fp8{.rows = fp8_block, .cols = fp8_block};
  std::vector<StWriteTensor> tensors;
  for (const model::TensorSpec& spec : model::expected_tensors(*cfg)) {
    auto source = std::make_shared<const HfSource>(hf_source(fam, *cfg, spec));
    auto shared_spec = std::make_shared<const model::TensorSpec>(spec);
    const int64_t n = spec.fan_in(), per_source = spec.n_elements() / n / int64_t(source->names.size());
    // Source k's values in its own (Hugging Face) row order.
    auto values = [cfg, source, shared_spec, seed, n, per_source](size_t k, float* dst) {
      // GGUF row r of this source goes to the row convert reads it from.
      for (int64_t r = 0; r < per_source; ++r) {
        const int64_t g = int64_t(k) * per_source + r;
        model::synth_rows(*cfg, *shared_spec, seed, g, g + 1, dst + source->source_row(r) * n);
      }
    };
    // The projections in fp8 blocks, as DeepSeek-V3's checkpoints hold them
    // (embeddings, norms, routers and the head stay as they are).
    const bool as_fp8 = fp8.enabled() && source->shape.size() == 2 && source->names[0].ends_with("_proj.weight");
    for (size_t k = 0; k < source->names.size(); ++k) {
      if (!as_fp8) {
        tensors.push_back({.name = source->names[k], .dtype = StDtype::kF32, .shape = source->shape,
                           .produce = [values, k](std::span<uint8_t> out) {
                             values(k, reinterpret_cast<float*>(out.data()));
                           }});
        continue;
      }
      const int64_t rows = source->shape[0], cols = source->shape[1];
      const auto scale_shape = fp8_scale_shape(source->shape, fp8);
      auto quantized = [values, k, rows, cols, fp8, scale_shape](std::span<uint8_t> q, std::span<float> scales) {
        std::vector<float> w(size_t(rows * cols));
        values(k, w.data());
        std::vector<uint8_t> q_tmp(q.empty() ? w.size() : 0);
        std::vector<float> s_tmp(scales.empty() ? size_t(scale_shape[0] * scale_shape[1]) : 0);
        quantize_fp8_blocks(w, rows, cols, fp8, q.empty() ? std::span<uint8_t>(q_tmp) : q,
                            scales.empty() ? std::span<float>(s_tmp) : scales);
      };
      tensors.push_back({.name = source->names[k], .dtype = StDtype::kF8E4M3, .shape = source->shape,
                         .produce = [quantized](std::span<uint8_t> out) { quantized(out, {}); }});
      tensors.push_back({.name = fp8_scale_name(source->names[k]), .dtype = StDtype::kF32, .shape = scale_shape,
                         .produce = [quantized](std::span<uint8_t> out) {
                           quantized({}, std::span<float>(reinterpret_cast<float*>(out.data()), out.size() / 4));
                         }});
    }
  }
  if (size_t(n_shards) > tensors.size()) fail("synth: ", n_shards, " shards for ", tensors.size(), " tensors");

  if (n_shards == 1) {
    write_safetensors((fs::path(dir) / "model.safetensors").string(), tensors);
  } else {
    json weight_map = json::object();
    uint64_t total = 0;
    for (int s = 0; s < n_shards; ++s) {
      char name[64];
      std::snprintf(name, sizeof name, "model-%05d-of-%05d.safetensors", s + 1, n_shards);
      const size_t begin = tensors.size() * size_t(s) / size_t(n_shards);
      const size_t end = tensors.size() * size_t(s + 1) / size_t(n_shards);
      std::vector<StWriteTensor> part(tensors.begin() + long(begin), tensors.begin() + long(end));
      for (const auto& t : part) {
        weight_map[t.name] = name;
        uint64_t bytes = st_dtype_bytes(t.dtype);
        for (int64_t d : t.shape) bytes *= uint64_t(d);
        total += bytes;
      }
      write_safetensors((fs::path(dir) / name).string(), part);
    }
    json index = {{"metadata", {{"total_size", total}}}, {"weight_map", weight_map}};
    write_output_file((fs::path(dir) / "model.safetensors.index.json").string(), index.dump(2) + "\n");
  }
  json hf_cfg = config_to_hf(*cfg, "float32");
  if (fp8.enabled())
    hf_cfg["quantization_config"] = {{"quant_method", "fp8"}, {"fmt", "e4m3"}, {"activation_scheme", "dynamic"},
                                     {"weight_block_size", {fp8.rows, fp8.cols}}};
  write_output_file((fs::path(dir) / "config.json").string(), hf_cfg.dump(2) + "\n");
  write_output_file((fs::path(dir) / "tokenizer.json").string(), byte_tokenizer_json().dump(2) + "\n");
  const json tok_cfg = {{"bos_token", "<|bos|>"}, {"eos_token", "<|eos|>"}, {"add_bos_token", true},
                        {"model_max_length", cfg->n_ctx_train}, {"tokenizer_class", "PreTrainedTokenizerFast"}};
  write_output_file((fs::path(dir) / "tokenizer_config.json").string(), tok_cfg.dump(2) + "\n");
}

}  // namespace frugal::convert
