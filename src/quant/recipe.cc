// Per-tensor type choice. Norms, biases, routers and 1-D tensors stay F32
// (small, and precision-critical); q4_k_m spends 6 bits on the tensors whose
// error hurts most (attn_v, ffn_down on a subset of layers, output).
#include "quant/recipe.h"

#include <optional>

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
      fb = TensorType::Q4_0; break;
    case TensorType::Q5_K: fb = TensorType::Q5_0; break;
    case TensorType::Q6_K: case TensorType::Q8_K: fb = TensorType::Q8_0; break;
    default: break;
  }
  if (n % tensor_type_info(fb).block_size != 0) fb = TensorType::F16;
  return {fb, "row " + std::to_string(n) + " not a multiple of " + std::to_string(bs)};
}

}  // namespace

TensorTypeChoice choose_type(std::string_view recipe, std::string_view name, std::span<const int64_t> shape,
                             int n_layer) {
  std::optional<TensorType> plain;
  if (recipe != "q4_k_m" && recipe != "Q4_K_M") {
    plain = parse_tensor_type(recipe);
    if (!plain) fail("unknown quantisation type or recipe '", recipe, "'");
  }
  if (stays_f32(name, shape)) return {TensorType::F32, "norm/bias/router stays f32"};
  const int64_t n = shape[0];
  if (plain) return fit_row(*plain, n, "type");
  const int layer = layer_of(name);
  if (name == "output.weight") return fit_row(TensorType::Q6_K, n, "q4_k_m: output");
  if (layer >= 0 && (contains(name, "attn_v.") || contains(name, "ffn_down")) && more_bits_layer(layer, n_layer))
    return fit_row(TensorType::Q6_K, n, "q4_k_m: attn_v/ffn_down layer");
  return fit_row(TensorType::Q4_K, n, "q4_k_m");
}

}  // namespace frugal::quant
