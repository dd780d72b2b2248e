// Per-tensor type choice. Norms, biases, routers and 1-D tensors stay F32
// (small, and precision-critical); the _m recipes spend 6 bits on the tensors
// whose error hurts most (attn_v, ffn_down on a subset of layers, output) and
// their base type on the rest.
#include "quant/recipe.h"

#include <algorithm>
#include <cctype>
#include <optional>
#include <string>

#include "base/error.h"

namespace frugal::quant {
namespace {

bool contains(std::string_view s, std::string_view part) { return s.find(part) != std::string_view::npos; }

bool stays_f32(std::string_view name, std::span<const int64_t> shape) {
  return shape.size() < 2 || contains(name, "_norm") || contains(name, ".bias") ||
         contains(name, "ffn_gate_inp") || contains(name, "exp_probs_b");
}

int layer_of(std::string_view name) {
  if (name.substr(0, 4) != "blk.") return -1;
  int v = 0;
  size_t i = 4;
  if (i >= name.size() || name[i] < '0' || name[i] > '9') return -1;
  for (; i < name.size() && name[i] >= '0' && name[i] <= '9'; ++i) v = v * 10 + (name[i] - '0');
  return v;
}

// First and last eighth of the layers, and every third layer in between.
bool more_bits_layer(int i, int n) {
  return i < n / 8 || i >= 7 * n / 8 || (i - n / 8) % 3 == 2;
}

// A type whose block fits a row of length n: k-quants need 256, else fall back.
TensorTypeChoice fit_row(TensorType want, int64_t n, std::string reason) {
  const auto bs = tensor_type_info(want).block_size;
  if (n % bs == 0) return {want, std::move(reason)};
  TensorType fb = TensorType::F16;
  switch (want) {
    case TensorType::Q2_K: case TensorType::Q3_K: case TensorType::Q4_K: case TensorType::IQ4_XS:
    case TensorType::IQ2_XXS: case TensorType::IQ2_XS: case TensorType::IQ3_XXS:
    case TensorType::IQ2_S: case TensorType::IQ3_S: case TensorType::IQ1_S: case TensorType::IQ1_M:
      fb = TensorType::Q4_0; break;
    case TensorType::Q5_K: fb = TensorType::Q5_0; break;
    case TensorType::Q6_K: case TensorType::Q8_K: fb = TensorType::Q8_0; break;
    default: break;
  }
  if (n % tensor_type_info(fb).block_size != 0) fb = TensorType::F16;
  return {fb, "row " + std::to_string(n) + " not a multiple of " + std::to_string(bs)};
}

struct Recipe {
  const char* name;
  TensorType base;  // most tensors
  uint32_t file_type;
  bool more_bits = true;         // output, attn_v / ffn_down on the more_bits_layer()s: Q6_K
  bool experts_mxfp4 = false;    // routed experts (*_exps) in MXFP4
};
constexpr Recipe kRecipes[] = {
    {.name = "q4_k_m", .base = TensorType::Q4_K, .file_type = 15},
    {.name = "q5_k_m", .base = TensorType::Q5_K, .file_type = 17},
    // As gpt-oss is published: its experts in MXFP4 (the format it was
    // trained for), everything else q8_0 (llama.cpp's MOSTLY_MXFP4_MOE).
    {.name = "mxfp4_moe", .base = TensorType::Q8_0, .file_type = 38, .more_bits = false, .experts_mxfp4 = true},
};

std::string lower(std::string_view s) {
  std::string r(s);
  std::transform(r.begin(), r.end(), r.begin(), [](unsigned char c) { return char(std::tolower(c)); });
  return r;
}

const Recipe* find_recipe(std::string_view name) {
  const std::string l = lower(name);
  for (const Recipe& r : kRecipes)
    if (l == r.name) return &r;
  return nullptr;
}

}  // namespace

bool is_recipe(std::string_view recipe_or_type) { return find_recipe(recipe_or_type) != nullptr; }

TensorTypeChoice choose_type(std::string_view recipe_or_type, std::string_view name, std::span<const int64_t> shape,
                             int n_layer, bool tied_output) {
  const Recipe* recipe = find_recipe(recipe_or_type);
  std::optional<TensorType> plain;
  if (!recipe) {
    plain = parse_tensor_type(recipe_or_type);
    if (!plain) fail("unknown quantisation type or recipe '", recipe_or_type, "'");
  }
  if (stays_f32(name, shape)) return {TensorType::F32, "norm/bias/router stays f32"};
  const int64_t n = shape[0];
  if (plain) return fit_row(*plain, n, "type");
  const std::string tag = recipe->name;
  if (recipe->experts_mxfp4 && contains(name, "_exps.")) return fit_row(TensorType::MXFP4, n, tag + ": expert");
  if (!recipe->more_bits) return fit_row(recipe->base, n, tag);
  const int layer = layer_of(name);
  if (name == "output.weight") return fit_row(TensorType::Q6_K, n, tag + ": output");
  if (tied_output && name == "token_embd.weight") return fit_row(TensorType::Q6_K, n, tag + ": tied output");
  if (layer >= 0 && (contains(name, "attn_v.") || contains(name, "ffn_down")) && more_bits_layer(layer, n_layer))
    return fit_row(TensorType::Q6_K, n, tag + ": attn_v/ffn_down layer");
  return fit_row(recipe->base, n, tag);
}

uint32_t file_type_code(std::string_view recipe_or_type) {
  if (const Recipe* r = find_recipe(recipe_or_type)) return r->file_type;
  const auto t = parse_tensor_type(recipe_or_type);
  if (!t) fail("unknown quantisation type or recipe '", recipe_or_type, "'");
  switch (*t) {
    case TensorType::F32: return 0;
    case TensorType::F16: return 1;
    case TensorType::Q4_0: return 2;
    case TensorType::Q4_1: return 3;
    case TensorType::Q8_0: return 7;
    case TensorType::Q5_0: return 8;
    case TensorType::Q5_1: return 9;
    case TensorType::Q2_K: return 10;
    case TensorType::Q3_K: return 11;  // "Q3_K_S": all Q3_K
    case TensorType::Q4_K: return 14;  // "Q4_K_S"
    case TensorType::Q5_K: return 16;  // "Q5_K_S"
    case TensorType::Q6_K: return 18;
    case TensorType::IQ4_NL: return 25;
    case TensorType::IQ4_XS: return 30;
    case TensorType::IQ2_XXS: return 19;
    case TensorType::IQ2_XS: return 20;
    case TensorType::IQ3_XXS: return 23;
    case TensorType::IQ3_S: return 26;
    case TensorType::IQ2_S: return 28;
    case TensorType::IQ1_S: return 24;
    case TensorType::IQ1_M: return 31;
    case TensorType::MXFP4: return 38;  // llama.cpp's MOSTLY_MXFP4_MOE, the nearest code
    case TensorType::BF16: return 32;
    default: fail("'", recipe_or_type, "' is not a type a model file can be quantised to");
  }
}

}  // namespace frugal::quant
