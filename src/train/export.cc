#include "train/export.h"

#include <cstring>

#include "base/error.h"
#include "gguf/reader.h"
#include "gguf/writer.h"
#include "quant/quant.h"

namespace frugal::train {

gguf::Metadata tokenizer_keys(const gguf::Metadata& md) {
  gguf::Metadata out;
  for (const auto& [key, value] : md.entries())
    if (key.rfind("tokenizer.", 0) == 0) out.set(key, value);
  return out;
}

void check_export_type(const ParamLayout& layout, TensorType type) {
  if (type != TensorType::F32 && type != TensorType::F16 && type != TensorType::Q8_0)
    fail("train: export type must be f32, f16 or q8_0 (got ", tensor_type_name(type), ")");
  if (type != TensorType::Q8_0) return;
  for (const ParamTensor& t : layout.tensors())
    if (t.shape.size() >= 2 && t.shape[0] % 32 != 0)
      fail("train: --type q8_0 needs row lengths that are multiples of 32; ", t.name, " has rows of ", t.shape[0],
           " (choose --embd, --head-dim, --ff-exp as multiples of 32, or --type f16)");
}

void export_gguf(const std::string& path, const ParamLayout& layout, const float* params,
                 const gguf::Metadata& tokenizer, TensorType type, std::span<const float> selection_bias) {
  check_export_type(layout, type);
  if (!tokenizer.has("tokenizer.ggml.tokens")) fail("train: the tokenizer has no tokenizer.ggml.tokens");
  const model::ModelConfig& cfg = layout.config();
  if (!selection_bias.empty() && selection_bias.size() != static_cast<size_t>(cfg.n_layer * cfg.n_expert))
    fail("train: the selection bias has ", selection_bias.size(), " values, expected n_layer x n_expert = ",
         cfg.n_layer * cfg.n_expert);
  gguf::Writer w;
  model::config_to_metadata(layout.config(), w.metadata());
  for (const auto& [key, value] : tokenizer.entries())
    if (key.rfind("tokenizer.", 0) == 0) w.set(key, value);
  for (const ParamTensor& t : layout.tensors()) {
    const TensorType tt = t.shape.size() >= 2 ? type : TensorType::F32;
    const int64_t row = t.shape[0];
    const int64_t rows = static_cast<int64_t>(t.size) / row;
    if (tt == TensorType::Q8_0 && row % 32 != 0)
      fail("train: q8_0 export needs row lengths that are multiples of 32; ", t.name, " has rows of ", row);
    std::vector<uint64_t> shape(t.shape.begin(), t.shape.end());
    const float* src = params + t.offset;
    w.add_tensor(t.name, tt, shape, [src, tt, rows, row](std::span<uint8_t> out) {
      quant::quantize_rows(tt, src, out.data(), rows, row);
    });
  }
  if (!selection_bias.empty()) {
    for (int64_t il = 0; il < cfg.n_layer; ++il) {
      if (!cfg.layer_is_moe(il)) continue;  // a dense layer routes nothing (its entries stay 0)
      const float* src = selection_bias.data() + il * cfg.n_expert;
      const int64_t n = cfg.n_expert;
      w.add_tensor(gguf::tensor_name(model::TensorId::kExpProbsB, il), TensorType::F32, {static_cast<uint64_t>(n)},
                   [src, n](std::span<uint8_t> out) { std::memcpy(out.data(), src, static_cast<size_t>(n) * 4); });
    }
  }
  w.write(path);
}

ImportedModel import_gguf(const std::string& path) {
  gguf::Reader file = gguf::Reader::open(path);
  ImportedModel m;
  m.config = model::config_from_file(file);
  if (m.config.expert_score_bias) {  // the selection bias is not a trained parameter: kept apart
    m.selection_bias.resize(static_cast<size_t>(m.config.n_layer * m.config.n_expert));
    for (int64_t il = 0; il < m.config.n_layer; ++il) {
      if (!m.config.layer_is_moe(il) || m.config.layer_is_hashed(il)) continue;  // hash layers have none
      const std::string name = gguf::tensor_name(model::TensorId::kExpProbsB, il);
      const gguf::TensorInfo& info = file.tensor(name);
      if (info.type != TensorType::F32 || info.n_elements != static_cast<uint64_t>(m.config.n_expert))
        fail("train: ", path, ": ", name, " must be ", m.config.n_expert, " F32 values");
      std::memcpy(m.selection_bias.data() + il * m.config.n_expert, info.data,
                  static_cast<size_t>(m.config.n_expert) * 4);
    }
    m.config.expert_score_bias = false;
  }
  ParamLayout layout(m.config);  // rejects what training cannot represent
  m.tokenizer = tokenizer_keys(file.metadata());
  m.params.resize(layout.n_params());
  for (const ParamTensor& t : layout.tensors()) {
    const gguf::TensorInfo& info = file.tensor(t.name);
    if (info.n_elements != t.size || info.shape.size() != t.shape.size())
      fail("train: ", path, ": tensor ", t.name, " has the wrong shape");
    if (!quant::can_dequantize(info.type))
      fail("train: ", path, ": tensor ", t.name, " has type ", tensor_type_name(info.type), " which cannot be read");
    quant::dequantize_rows(info.type, info.data, m.params.data() + t.offset,
                           static_cast<int64_t>(info.rows()), static_cast<int64_t>(info.shape[0]));
  }
  return m;
}

}  // namespace frugal::train
