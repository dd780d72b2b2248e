// Per-tensor type choice. Norms, biases, routers and 1-D tensors stay F32
// (small, and precision-critical); the recipes spend more bits on the tensors
// whose error hurts most (output, attention, shared experts, ffn_down on some
// layers) and their base type on the rest, the routed experts above all.
#include "quant/recipe.h"

#include <algorithm>
#include <cctype>
#include <optional>
#include <string>

#include "base/error.h"
#include "gguf/tensor_names.h"

namespace frugal::quant {
namespace {

using gguf::TensorId;

// What the table of tensor names says of a name (by its own name or another
// converter's): nullopt for a tensor no architecture holds, which the
// recipes treat as a plain matrix.
std::optional<gguf::TensorRef> tensor_of(std::string_view name) { return gguf::parse_tensor_name(name, true); }

// 1-D tensors, and the table's f32 tensors (norms, biases, routers, the
// recurrent layers' short convolution, the hyper-connections' mixing).
bool stays_f32(const std::optional<gguf::TensorRef>& t, std::span<const int64_t> shape) {
  return shape.size() < 2 || (t && gguf::tensor_stays_f32(t->id));
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

// A recipe: the type of each role a tensor can play. A tensor that plays
// several roles (an ffn_down of a first layer that is also a shared expert)
// gets the one with the most bits per weight; a tensor with no role set by the
// recipe gets the base type. Unset roles (nullopt) defer to the others.
struct Recipe {
  const char* name;
  TensorType base;  // routed experts and every matrix no role below names
  uint32_t file_type;
  std::optional<TensorType> output = std::nullopt;          // output.weight, and token_embd when tied to it
  std::optional<TensorType> token_embd = std::nullopt;      // an untied token_embd
  std::optional<TensorType> attention = std::nullopt;       // every attn_* matrix (MLA's q_a, kv_b, ... too)
  std::optional<TensorType> attn_v = std::nullopt;          // the values: attn_v, MLA's attn_kv_b / attn_v_b
  std::optional<TensorType> shared_experts = std::nullopt;  // ffn_*_shexp
  std::optional<TensorType> ffn_down = std::nullopt;        // every ffn_down (dense, shared and routed)
  std::optional<TensorType> first_ffn_down = std::nullopt;  // ffn_down in the first eighth of the layers (at least one)
  std::optional<TensorType> more_bits = std::nullopt;       // attn_v and ffn_down on the more_bits_layer()s
  std::optional<TensorType> routed_experts = std::nullopt;  // *_exps (else the base type)
  // In a model with routed experts only: the attention output, and the keys
  // and values (attn_k, attn_v, MLA's attn_kv_b / attn_k_b / attn_v_b).
  // Attention is a few percent of such a model's weights, so more bits there
  // cost little file size and buy much of the accuracy.
  std::optional<TensorType> moe_attn_output = std::nullopt;
  std::optional<TensorType> moe_keys_values = std::nullopt;
};

// The llama.cpp file types of the same name set the file type codes (so the
// files read as what they are); the per-tensor mixes follow the same idea
// (output, attention values, early ffn_down at more bits) and, for MoE models,
// keep all of attention and the shared experts above the routed experts:
// those are a few percent of a large MoE's weights, read for every token.
constexpr Recipe kRecipes[] = {
    // q4_k_m and q5_k_m as llama.cpp's Q4_K_M / Q5_K_M lay out an 8-expert
    // model: attention output at Q5_K, keys and values at Q8_0 (here for MoE
    // models of any expert count).
    {.name = "q4_k_m", .base = TensorType::Q4_K, .file_type = 15, .output = TensorType::Q6_K,
     .more_bits = TensorType::Q6_K, .moe_attn_output = TensorType::Q5_K, .moe_keys_values = TensorType::Q8_0},
    {.name = "q5_k_m", .base = TensorType::Q5_K, .file_type = 17, .output = TensorType::Q6_K,
     .more_bits = TensorType::Q6_K, .moe_attn_output = TensorType::Q5_K, .moe_keys_values = TensorType::Q8_0},
    {.name = "q3_k_s", .base = TensorType::Q3_K, .file_type = 11, .output = TensorType::Q6_K,
     .attention = TensorType::Q4_K, .shared_experts = TensorType::Q4_K, .first_ffn_down = TensorType::Q4_K},
    {.name = "q3_k_m", .base = TensorType::Q3_K, .file_type = 12, .output = TensorType::Q6_K,
     .attention = TensorType::Q4_K, .attn_v = TensorType::Q5_K, .shared_experts = TensorType::Q5_K,
     .ffn_down = TensorType::Q4_K, .first_ffn_down = TensorType::Q5_K},
    {.name = "q3_k_l", .base = TensorType::Q3_K, .file_type = 13, .output = TensorType::Q6_K,
     .attention = TensorType::Q5_K, .shared_experts = TensorType::Q5_K, .ffn_down = TensorType::Q5_K},
    {.name = "q2_k_s", .base = TensorType::Q2_K, .file_type = 21, .output = TensorType::Q6_K,
     .attention = TensorType::Q3_K, .attn_v = TensorType::Q4_K, .shared_experts = TensorType::Q4_K,
     .first_ffn_down = TensorType::Q4_K},
    // The lattice mixes: named after their base type with _mix, since the
    // plain names (iq2_xxs ...) stay one type for every matrix.
    {.name = "iq1_s_mix", .base = TensorType::IQ1_S, .file_type = 24, .output = TensorType::Q5_K,
     .token_embd = TensorType::Q2_K, .attention = TensorType::Q4_K, .shared_experts = TensorType::Q4_K,
     .first_ffn_down = TensorType::Q2_K},
    {.name = "iq1_m_mix", .base = TensorType::IQ1_M, .file_type = 31, .output = TensorType::Q5_K,
     .token_embd = TensorType::Q2_K, .attention = TensorType::Q4_K, .shared_experts = TensorType::Q4_K,
     .first_ffn_down = TensorType::Q2_K},
    {.name = "iq2_xxs_mix", .base = TensorType::IQ2_XXS, .file_type = 19, .output = TensorType::Q5_K,
     .token_embd = TensorType::Q2_K, .attention = TensorType::Q4_K, .shared_experts = TensorType::Q4_K,
     .first_ffn_down = TensorType::Q2_K},
    {.name = "iq2_xs_mix", .base = TensorType::IQ2_XS, .file_type = 20, .output = TensorType::Q5_K,
     .token_embd = TensorType::Q2_K, .attention = TensorType::Q4_K, .shared_experts = TensorType::Q4_K,
     .first_ffn_down = TensorType::Q2_K},
    {.name = "iq2_s_mix", .base = TensorType::IQ2_S, .file_type = 28, .output = TensorType::Q5_K,
     .token_embd = TensorType::IQ3_S, .attention = TensorType::Q4_K, .shared_experts = TensorType::Q4_K,
     .first_ffn_down = TensorType::IQ3_S},
    {.name = "iq3_xxs_mix", .base = TensorType::IQ3_XXS, .file_type = 23, .output = TensorType::Q5_K,
     .token_embd = TensorType::IQ3_S, .attention = TensorType::Q4_K, .shared_experts = TensorType::Q4_K,
     .first_ffn_down = TensorType::Q4_K},
    {.name = "iq3_s_mix", .base = TensorType::IQ3_S, .file_type = 26, .output = TensorType::Q6_K,
     .attention = TensorType::Q4_K, .shared_experts = TensorType::Q4_K, .first_ffn_down = TensorType::Q4_K},
    // As gpt-oss is published: its experts in MXFP4 (the format it was
    // trained for), everything else q8_0 (llama.cpp's MOSTLY_MXFP4_MOE).
    {.name = "mxfp4_moe", .base = TensorType::Q8_0, .file_type = 38, .routed_experts = TensorType::MXFP4},
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

double bits_per_weight(TensorType t) {
  const auto& info = tensor_type_info(t);
  return 8.0 * info.block_bytes / info.block_size;
}

// The recipe's type for a matrix: of the roles the tensor plays that the
// recipe sets, the one with the most bits per weight (the first on a tie).
TensorTypeChoice choose_in_recipe(const Recipe& r, const std::optional<gguf::TensorRef>& t, int64_t n, int n_layer,
                                  bool tied_output, bool moe) {
  const int layer = t ? static_cast<int>(t->block) : -1;
  auto is = [&](TensorId id) { return t && t->id == id; };
  const gguf::TensorNameInfo* info = t ? &gguf::tensor_info(t->id) : nullptr;
  const bool ffn_down = info && info->ffn_down;
  const bool values = info && info->kv == gguf::KvPart::kValues;
  const bool keys_values = info && info->kv != gguf::KvPart::kNone;
  std::optional<TensorType> best;
  const char* why = "";
  auto consider = [&](const std::optional<TensorType>& type, const char* role, bool plays) {
    if (!plays || !type) return;
    if (!best || bits_per_weight(*type) > bits_per_weight(*best)) {
      best = type;
      why = role;
    }
  };
  consider(r.output, "output", is(TensorId::kOutput));
  consider(r.output, "tied output", tied_output && is(TensorId::kTokenEmbd));
  consider(r.token_embd, "token_embd", !tied_output && is(TensorId::kTokenEmbd));
  consider(r.attention, "attention", info && info->recipe_attention);
  consider(r.attn_v, "attention values", values);
  consider(r.shared_experts, "shared expert", info && info->role == gguf::TensorRole::kSharedExpert);
  consider(r.ffn_down, "ffn_down", ffn_down);
  consider(r.first_ffn_down, "first layers' ffn_down", ffn_down && layer >= 0 && layer < std::max(1, n_layer / 8));
  consider(r.more_bits, "attn_v/ffn_down layer",
           layer >= 0 && (is(TensorId::kAttnV) || ffn_down) && more_bits_layer(layer, n_layer));
  consider(r.routed_experts, "expert", info && info->role == gguf::TensorRole::kExpert);
  consider(r.moe_attn_output, "MoE attention output", moe && is(TensorId::kAttnOutput));
  consider(r.moe_keys_values, "MoE attention keys/values", moe && keys_values);
  const std::string tag = r.name;
  return best ? fit_row(*best, n, tag + ": " + why) : fit_row(r.base, n, tag);
}

}  // namespace

bool is_recipe(std::string_view recipe_or_type) { return find_recipe(recipe_or_type) != nullptr; }

std::string recipe_names() {
  std::string names;
  for (const Recipe& r : kRecipes) names += (names.empty() ? "" : " ") + std::string(r.name);
  return names;
}

TensorTypeChoice choose_type(std::string_view recipe_or_type, std::string_view name, std::span<const int64_t> shape,
                             int n_layer, bool tied_output, bool moe) {
  const Recipe* recipe = find_recipe(recipe_or_type);
  std::optional<TensorType> plain;
  if (!recipe) {
    plain = parse_tensor_type(recipe_or_type);
    if (!plain) fail("unknown quantisation type or recipe '", recipe_or_type, "'");
  }
  const auto t = tensor_of(name);
  if (t && gguf::tensor_role(t->id) == gguf::TensorRole::kTokenExperts)
    return {TensorType::I32, "expert ids stay i32"};  // deepseek4's hash table
  if (stays_f32(t, shape)) return {TensorType::F32, "norm/bias/router stays f32"};
  const int64_t n = shape[0];
  if (plain) return fit_row(*plain, n, "type");
  return choose_in_recipe(*recipe, t, n, n_layer, tied_output, moe);
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
