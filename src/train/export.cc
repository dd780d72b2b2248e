#include "train/export.h"

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

void export_gguf(const std::string& path, const ParamLayout& layout, const float* params,
                 const gguf::Metadata& tokenizer, TensorType type) {
  if (type != TensorType::F32 && type != TensorType::F16 && type != TensorType::Q8_0)
    fail("train: export type must be f32, f16 or q8_0 (got ", tensor_type_name(type), ")");
  if (!tokenizer.has("tokenizer.ggml.tokens")) fail("train: the tokenizer has no tokenizer.ggml.tokens");
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
  w.write(path);
}

ImportedModel import_gguf(const std::string& path) {
  gguf::Reader file = gguf::Reader::open(path);
  ImportedModel m;
  m.config = model::config_from_file(file);
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
