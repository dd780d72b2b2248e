// From the training model to GGUF and back: export writes the qwen3moe
// keys (model::config_to_metadata), the tokenizer's tokenizer.* keys and
// every tensor (weight matrices in F32, F16 or Q8_0; norm vectors always
// F32); import reads a GGUF of the trainable layout into flat parameters
// (dequantising), for fine-tuning.
#pragma once
#include <string>
#include <vector>

#include "gguf/tensor_type.h"
#include "gguf/value.h"
#include "train/train_model.h"

namespace frugal::train {

// tokenizer: metadata holding the tokenizer.* keys (others are ignored).
// type: F32, F16 or Q8_0 (Q8_0 needs every matrix row length a multiple of 32).
void export_gguf(const std::string& path, const ParamLayout& layout, const float* params,
                 const gguf::Metadata& tokenizer, TensorType type);

struct ImportedModel {
  model::ModelConfig config;
  gguf::Metadata tokenizer;  // the file's tokenizer.* keys
  std::vector<float> params;  // in ParamLayout(config) order
};
// frugal::Error for a file that is not a trainable qwen3moe model.
ImportedModel import_gguf(const std::string& path);

// Copies the tokenizer.* keys of md.
gguf::Metadata tokenizer_keys(const gguf::Metadata& md);

}  // namespace frugal::train
