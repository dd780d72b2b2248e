// From the training model to GGUF and back: export writes the qwen3moe
// keys (model::config_to_metadata), the tokenizer's tokenizer.* keys and
// every tensor (weight matrices in F32, F16 or Q8_0; norm vectors always
// F32); import reads a GGUF of the trainable layout into flat parameters
// (dequantising), for fine-tuning.
#pragma once
#include <span>
#include <string>
#include <vector>

#include "gguf/tensor_type.h"
#include "gguf/value.h"
#include "train/train_model.h"

namespace frugal::train {

// tokenizer: metadata holding the tokenizer.* keys (others are ignored).
// type: F32, F16 or Q8_0 (Q8_0 needs every matrix row length a multiple of 32:
// check_export_type says so before any work).
// selection_bias: empty, or n_layer x n_expert floats (the --bias-balance
// bias), written as F32 tensors blk.N.exp_probs_b.bias, the name DeepSeek-V3
// files give theirs, so the file routes as the trained model did (frugal's
// loader reads it for qwen3moe/qwen2moe too; see docs/usage/train.md for
// other runtimes).
void export_gguf(const std::string& path, const ParamLayout& layout, const float* params,
                 const gguf::Metadata& tokenizer, TensorType type, std::span<const float> selection_bias = {});

// frugal::Error unless every tensor of the layout can be written as `type`.
void check_export_type(const ParamLayout& layout, TensorType type);

struct ImportedModel {
  model::ModelConfig config;
  gguf::Metadata tokenizer;  // the file's tokenizer.* keys
  std::vector<float> params;  // in ParamLayout(config) order
  std::vector<float> selection_bias;  // n_layer x n_expert from exp_probs_b.bias, or empty
};
// frugal::Error for a file that is not a trainable qwen3moe model.
ImportedModel import_gguf(const std::string& path);

// Copies the tokenizer.* keys of md.
gguf::Metadata tokenizer_keys(const gguf::Metadata& md);

}  // namespace frugal::train
