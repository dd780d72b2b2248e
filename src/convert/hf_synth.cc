// `frugal synth --format hf`: synth's random weights under Hugging Face names
// and layout, the exact inverse of what convert does with them (but for
// rope_freqs.weight, which checkpoints hold as rope_scaling).
#include <cstdio>
#include <cmath>
#include <cstring>
#include <functional>
#include <filesystem>
#include <memory>
#include <set>
#include <nlohmann/json.hpp>

#include "base/error.h"
#include "base/output_file.h"
#include "convert/convert.h"
#include "convert/fp8_blocks.h"
#include "convert/mxfp4_layout.h"
#include "convert/hf_layout.h"
#include "convert/safetensors.h"
#include "model/synth.h"
#include "quant/quant.h"

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

// One row of n values quantised to MXFP4 as synth quantises it, as a
// checkpoint's n / 32 blocks of 16 code bytes and their n / 32 scale bytes
// (either nullptr: not wanted).
void mxfp4_row_to_hf(const float* row, int64_t n, uint8_t* blocks, uint8_t* scales) {
  const int64_t n_blocks = n / quant::QK_MXFP4;
  std::vector<quant::BlockMXFP4> q(static_cast<size_t>(n_blocks));
  quant::quantize_rows(TensorType::MXFP4, row, q.data(), 1, n);
  uint8_t scratch[16], scale_scratch = 0;
  for (int64_t b = 0; b < n_blocks; ++b)
    mxfp4_block_to_hf(q[size_t(b)], blocks ? blocks + b * 16 : scratch, scales ? scales + b : &scale_scratch);
}

// DeepSeek-V4's FP4 expert `name` (values: its [rows, cols] matrix): I8
// [rows, cols / 2] codes and F8_E8M0 [rows, cols / 32] scales.
void add_fp4_expert(const std::function<void(float*)>& values, int64_t rows, int64_t cols, const std::string& name,
                    const std::string& scale_name, std::vector<StWriteTensor>& tensors) {
  if (cols % quant::QK_MXFP4 != 0) fail("synth: FP4 expert '", name, "' has rows of ", cols, ", not in blocks of 32");
  auto produce = [values, rows, cols](uint8_t* blocks, uint8_t* scales) {
    std::vector<float> w(size_t(rows * cols));
    values(w.data());
    const int64_t n_blocks = cols / quant::QK_MXFP4;
    for (int64_t r = 0; r < rows; ++r)
      mxfp4_row_to_hf(w.data() + r * cols, cols, blocks ? blocks + r * n_blocks * 16 : nullptr,
                      scales ? scales + r * n_blocks : nullptr);
  };
  tensors.push_back({.name = name, .dtype = StDtype::kI8, .shape = {rows, cols / 2},
                     .produce = [produce](std::span<uint8_t> out) { produce(out.data(), nullptr); }});
  tensors.push_back({.name = scale_name, .dtype = StDtype::kE8M0, .shape = {rows, cols / quant::QK_MXFP4},
                     .produce = [produce](std::span<uint8_t> out) { produce(nullptr, out.data()); }});
}

// gpt-oss's stacked experts: the Hugging Face tensors (MXFP4 blocks and
// scales, or a bias) that interleave the rows or elements of `parts` (the
// GGUF tensors whose source names[0] is the same; offset i for parts[i]).
void add_stacked_experts(const std::shared_ptr<const model::ModelConfig>& cfg, uint64_t seed,
                         const std::vector<model::TensorSpec>& parts, const HfSource& source,
                         std::vector<StWriteTensor>& tensors) {
  auto specs = std::make_shared<const std::vector<model::TensorSpec>>(parts);
  const int64_t n_expert = source.shape[0], hf_rows = source.shape[1], stride = source.stride;
  const int64_t n = parts[0].fan_in(), per_expert = parts[0].n_elements() / n / n_expert;
  FRUGAL_CHECK(int64_t(parts.size()) == stride);
  // GGUF row (e, r) of part k, as it appears in expert e's row r * stride + k.
  auto row = [cfg, seed, specs, per_expert](int64_t k, int64_t e, int64_t r, float* dst) {
    const int64_t g = e * per_expert + r;
    model::synth_rows(*cfg, (*specs)[size_t(k)], seed, g, g + 1, dst);
  };
  if (!source.mxfp4) {  // a bias [experts, stride * n]
    tensors.push_back({.name = source.names[0], .dtype = StDtype::kF32, .shape = source.shape,
                       .produce = [row, n_expert, n, stride](std::span<uint8_t> out) {
                         float* dst = reinterpret_cast<float*>(out.data());
                         std::vector<float> values(static_cast<size_t>(n));
                         for (int64_t e = 0; e < n_expert; ++e)
                           for (int64_t k = 0; k < stride; ++k) {
                             row(k, e, 0, values.data());
                             for (int64_t i = 0; i < n; ++i) dst[(e * n + i) * stride + k] = values[size_t(i)];
                           }
                       }});
    return;
  }
  const int64_t n_blocks = n / quant::QK_MXFP4;
  // Every row quantised to MXFP4 as synth quantises it, then split into the
  // checkpoint's blocks and scales.
  auto produce = [row, n_expert, hf_rows, stride, n, n_blocks](uint8_t* blocks, uint8_t* scales) {
    std::vector<float> values(static_cast<size_t>(n));
    for (int64_t e = 0; e < n_expert; ++e)
      for (int64_t hr = 0; hr < hf_rows; ++hr) {
        row(hr % stride, e, hr / stride, values.data());
        const int64_t at = (e * hf_rows + hr) * n_blocks;
        mxfp4_row_to_hf(values.data(), n, blocks ? blocks + at * 16 : nullptr, scales ? scales + at : nullptr);
      }
  };
  tensors.push_back({.name = source.names[0], .dtype = StDtype::kU8, .shape = source.shape,
                     .produce = [produce](std::span<uint8_t> out) { produce(out.data(), nullptr); }});
  tensors.push_back({.name = source.names[1], .dtype = StDtype::kU8,
                     .shape = {source.shape[0], source.shape[1], source.shape[2]},
                     .produce = [produce](std::span<uint8_t> out) { produce(nullptr, out.data()); }});
}

// Llama 4's fused experts: one tensor [experts, row length, columns] whose
// columns are the GGUF rows of `parts` (their sources' stride and offset).
void add_transposed_experts(const std::shared_ptr<const model::ModelConfig>& cfg, uint64_t seed,
                            const std::vector<std::pair<model::TensorSpec, HfSource>>& parts,
                            std::vector<StWriteTensor>& tensors) {
  const HfSource& first = parts[0].second;
  const int64_t in = first.shape[1], out = first.shape[2];
  tensors.push_back({.name = first.names[0], .dtype = StDtype::kF32, .shape = first.shape,
                     .produce = [cfg, seed, parts, in, out](std::span<uint8_t> bytes) {
                       float* dst = reinterpret_cast<float*>(bytes.data());
                       std::vector<float> row(static_cast<size_t>(in));
                       for (const auto& [spec, src] : parts) {
                         const int64_t rows = spec.n_elements() / in, per_expert = rows / src.shape[0];
                         for (int64_t g = 0; g < rows; ++g) {
                           model::synth_rows(*cfg, spec, seed, g, g + 1, row.data());
                           const int64_t e = g / per_expert, col = g % per_expert * src.stride + src.offset;
                           for (int64_t i = 0; i < in; ++i) dst[(e * in + i) * out + col] = row[size_t(i)];
                         }
                       }
                     }});
}

// Qwen3.5's stacked experts: one tensor whose rows are the GGUF rows of
// `parts` (gate and up) where their sources' source_row puts them.
void add_row_blocks(const std::shared_ptr<const model::ModelConfig>& cfg, uint64_t seed,
                    const std::vector<std::pair<model::TensorSpec, HfSource>>& parts,
                    std::vector<StWriteTensor>& tensors) {
  const HfSource& first = parts[0].second;
  tensors.push_back({.name = first.names[0], .dtype = StDtype::kF32, .shape = first.shape,
                     .produce = [cfg, seed, parts](std::span<uint8_t> bytes) {
                       float* dst = reinterpret_cast<float*>(bytes.data());
                       for (const auto& [spec, src] : parts) {
                         const int64_t n = spec.fan_in(), rows = spec.n_elements() / n;
                         for (int64_t g = 0; g < rows; ++g)
                           model::synth_rows(*cfg, spec, seed, g, g + 1, dst + src.source_row(g) * n);
                       }
                     }});
}

// Shard s of n's file name (model.safetensors when n is 1).
std::string shard_name(int s, int n) {
  if (n == 1) return "model.safetensors";
  char name[64];
  std::snprintf(name, sizeof name, "model-%05d-of-%05d.safetensors", s + 1, n);
  return name;
}

// A folder holding weights this checkpoint would not overwrite (another
// shard count's files, or an index beside one file) would read as a mix of
// two checkpoints: refused.
void check_no_other_weights(const std::string& dir, int n_shards) {
  std::set<std::string> ours;
  for (int s = 0; s < n_shards; ++s) ours.insert(shard_name(s, n_shards));
  if (n_shards > 1) ours.insert("model.safetensors.index.json");
  for (const auto& entry : fs::directory_iterator(dir)) {
    const std::string name = entry.path().filename().string();
    if ((name.ends_with(".safetensors") || name == "model.safetensors.index.json") && !ours.contains(name))
      fail("synth: ", dir, " already holds ", name, ", which this checkpoint would not replace; use an empty folder");
  }
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
  check_no_other_weights(dir, n_shards);

  if (fp8_block < 0) fail("synth: --fp8-block must be positive");
  const Fp8Blocks fp8{.rows = fp8_block, .cols = fp8_block};
  std::vector<StWriteTensor> tensors;
  const std::vector<model::TensorSpec> specs = model::expected_tensors(*cfg);
  std::set<std::string> stacked_done;
  for (const model::TensorSpec& spec : specs) {
    // Checkpoints carry the RoPE factors as rope_scaling (config_to_hf's),
    // from which convert computes this tensor.
    if (spec.id == model::TensorId::kRopeFreqs) continue;
    auto source = std::make_shared<const HfSource>(hf_source(fam, *cfg, spec));
    if (spec.role == model::TensorRole::kTokenExperts) {  // DeepSeek-V4's hash table: I32, as synth's
      tensors.push_back({.name = source->names[0], .dtype = StDtype::kI32, .shape = source->shape,
                         .produce = [cfg, spec, seed](std::span<uint8_t> out) {
                           std::vector<int32_t> ids(out.size() / sizeof(int32_t));
                           model::synth_token_experts(*cfg, spec, seed, ids);
                           std::memcpy(out.data(), ids.data(), out.size());
                         }});
      continue;
    }
    if (source->transposed || source->block_rows > 0) {  // one checkpoint tensor holds several of these
      if (!stacked_done.insert(source->names[0]).second) continue;
      std::vector<std::pair<model::TensorSpec, HfSource>> parts;
      for (const model::TensorSpec& other : specs)
        if (other.layer == spec.layer)
          if (HfSource o = hf_source(fam, *cfg, other); o.names[0] == source->names[0]) parts.emplace_back(other, o);
      if (source->transposed)
        add_transposed_experts(cfg, seed, parts, tensors);
      else
        add_row_blocks(cfg, seed, parts, tensors);
      continue;
    }
    if (source->mxfp4 || source->strided_elements) {
      if (!stacked_done.insert(source->names[0]).second) continue;
      std::vector<model::TensorSpec> parts(size_t(source->stride));
      for (const model::TensorSpec& other : specs)
        if (other.layer == spec.layer) {
          const HfSource o = hf_source(fam, *cfg, other);
          if (o.names[0] == source->names[0]) parts[size_t(o.offset)] = other;
        }
      add_stacked_experts(cfg, seed, parts, *source, tensors);
      continue;
    }
    auto shared_spec = std::make_shared<const model::TensorSpec>(spec);
    const int64_t n = spec.fan_in(), per_source = spec.n_elements() / n / int64_t(source->names.size());
    // Source k's values in its own (Hugging Face) row order.
    auto values = [cfg, source, shared_spec, seed, n, per_source](size_t k, float* dst) {
      // GGUF row r of this source goes to the row convert reads it from.
      for (int64_t r = 0; r < per_source; ++r) {
        const int64_t g = int64_t(k) * per_source + r;
        float* row = dst + source->source_row(r) * n;
        model::synth_rows(*cfg, *shared_spec, seed, g, g + 1, row);
        if (source->v_heads.columns) {  // GGUF element i to the checkpoint's source(i)
          const std::vector<float> gguf(row, row + n);
          for (int64_t i = 0; i < n; ++i) row[source->v_heads.source(i)] = gguf[size_t(i)];
        }
        if (source->value != HfValue::kCopy)
          for (int64_t i = 0; i < n; ++i) row[i] = hf_value_from_gguf(source->value, row[i]);
      }
    };
    // The projections in fp8 blocks, as DeepSeek-V3's and MiniMax-M2's
    // checkpoints hold them (the experts' too, whatever their names: w1, w3,
    // w2); embeddings, norms, routers and the head stay as they are.
    // DeepSeek-V4's: its experts in FP4, its projections (named without
    // _proj) in fp8 with power-of-two scales as F8_E8M0.
    const bool fp4 = fp8.enabled() && fam.fp4_experts && spec.role == model::TensorRole::kExpert;
    const bool v4_projection = fam.fp4_experts && (spec.role == model::TensorRole::kAttention ||
                                                   spec.role == model::TensorRole::kSharedExpert) &&
                               !gguf::tensor_stays_f32(spec.id);
    const bool as_fp8 = fp8.enabled() && source->shape.size() == 2 &&
                        (source->names[0].ends_with("_proj.weight") || spec.role == model::TensorRole::kExpert ||
                         v4_projection);
    const bool e8m0 = fam.fp8_scales == Fp8ScaleName::kScale;
    for (size_t k = 0; k < source->names.size(); ++k) {
      if (fp4) {
        add_fp4_expert([values, k](float* dst) { values(k, dst); }, source->shape[0], source->shape[1],
                       source->names[k], fp8_scale_name(source->names[k], fam.fp8_scales), tensors);
        continue;
      }
      if (!as_fp8) {
        tensors.push_back({.name = source->names[k], .dtype = StDtype::kF32, .shape = source->shape,
                           .produce = [values, k](std::span<uint8_t> out) {
                             values(k, reinterpret_cast<float*>(out.data()));
                           }});
        continue;
      }
      const int64_t rows = source->shape[0], cols = source->shape[1];
      const auto scale_shape = fp8_scale_shape(source->shape, fp8);
      auto quantized = [values, k, rows, cols, fp8, scale_shape, e8m0](std::span<uint8_t> q, std::span<float> scales) {
        std::vector<float> w(size_t(rows * cols));
        values(k, w.data());
        std::vector<uint8_t> q_tmp(q.empty() ? w.size() : 0);
        std::vector<float> s_tmp(scales.empty() ? size_t(scale_shape[0] * scale_shape[1]) : 0);
        quantize_fp8_blocks(w, rows, cols, fp8, q.empty() ? std::span<uint8_t>(q_tmp) : q,
                            scales.empty() ? std::span<float>(s_tmp) : scales, e8m0);
      };
      tensors.push_back({.name = source->names[k], .dtype = StDtype::kF8E4M3, .shape = source->shape,
                         .produce = [quantized](std::span<uint8_t> out) { quantized(out, {}); }});
      const std::string scale_name = fp8_scale_name(source->names[k], fam.fp8_scales);
      if (e8m0) {  // each power of two as its exponent byte
        tensors.push_back({.name = scale_name, .dtype = StDtype::kE8M0, .shape = scale_shape,
                           .produce = [quantized](std::span<uint8_t> out) {
                             std::vector<float> scales(out.size());
                             quantized({}, scales);
                             for (size_t i = 0; i < out.size(); ++i) out[i] = uint8_t(std::ilogb(scales[i]) + 127);
                           }});
        continue;
      }
      tensors.push_back({.name = scale_name, .dtype = StDtype::kF32, .shape = scale_shape,
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
      const std::string name = shard_name(s, n_shards);
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
  if (fp8.enabled() && fam.fp8_scales == Fp8ScaleName::kScale) hf_cfg["quantization_config"]["scale_fmt"] = "ue8m0";
  write_output_file((fs::path(dir) / "config.json").string(), hf_cfg.dump(2) + "\n");
  write_output_file((fs::path(dir) / "tokenizer.json").string(), byte_tokenizer_json().dump(2) + "\n");
  const json tok_cfg = {{"bos_token", "<|bos|>"}, {"eos_token", "<|eos|>"}, {"add_bos_token", true},
                        {"model_max_length", cfg->n_ctx_train}, {"tokenizer_class", "PreTrainedTokenizerFast"}};
  write_output_file((fs::path(dir) / "tokenizer_config.json").string(), tok_cfg.dump(2) + "\n");
}

}  // namespace frugal::convert
