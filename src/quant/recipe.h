// Which tensor type each tensor of a model gets under a quantisation recipe
// ("q4_k_m") or a plain type name ("q8_0", "f16", ...).
#pragma once
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "gguf/tensor_type.h"

namespace frugal::quant {

struct TensorTypeChoice {
  TensorType type;
  std::string reason;  // why, for display: "recipe", "norm stays f32", "row 96 not a multiple of 256"
};

// shape in ggml order (shape[0] = row length). Unknown recipe/type -> frugal::Error.
// tied_output: the model has no output.weight and multiplies by token_embd
// instead, so the recipes give token_embd the output's type. moe: the model
// has routed experts (some recipes then keep its attention at more bits).
TensorTypeChoice choose_type(std::string_view recipe_or_type, std::string_view tensor_name,
                             std::span<const int64_t> shape, int n_layer, bool tied_output = false,
                             bool moe = false);

// The recipes choose_type knows besides plain types (recipe.cc's table:
// q4_k_m, q3_k_m, iq2_xxs_mix, mxfp4_moe, ...).
bool is_recipe(std::string_view recipe_or_type);
// Their names, space-separated, in the table's order (for help texts).
std::string recipe_names();

// The value of general.file_type (the GGUF convention's "mostly X" code) for
// a recipe or plain type; frugal::Error for a name that has none (q8_k is an
// activation format, not a file type) or is unknown.
uint32_t file_type_code(std::string_view recipe_or_type);

}  // namespace frugal::quant
