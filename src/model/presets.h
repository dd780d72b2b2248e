// Named model sizes for `frugal synth` (and tests, benchmarks, training):
// the real hyperparameters of published models of each architecture, plus a
// "tiny" preset of each (a few MB) for tests. Main dimensions can be
// overridden (the --layers, --embd, ... flags of synth).
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "model/config.h"

namespace frugal::model {

struct Preset {
  std::string arch;
  std::string name;         // "mixtral-8x7b", "tiny", ...
  std::string description;  // one line, for --help and error messages
  ModelConfig config;       // tied_output set where the real model ties its LM head
};

// All presets, grouped by architecture in supported_architectures() order.
const std::vector<Preset>& all_presets();
// The preset of that architecture; unknown arch or preset -> frugal::Error
// listing what exists.
const Preset& find_preset(std::string_view arch, std::string_view name);
// "tiny, llama-7b, mixtral-8x7b" for messages.
std::string preset_names(std::string_view arch);

// Flag overrides of the main dimensions; unset fields keep the preset's value.
struct ConfigOverrides {
  std::optional<int64_t> n_layer, n_embd, n_expert, n_expert_used, n_ff, n_ff_exp, n_head, n_head_kv, n_vocab,
      n_ctx;
  // deepseek2: write kv_b split into attn_k_b / attn_v_b (true) or joint.
  std::optional<bool> mla_split_kv_b;
  // qwen3next / qwen35moe: the Gated DeltaNet's key and value head width, and
  // the full-attention layer interval (every n-th layer; the others recurrent).
  std::optional<int64_t> ssm_head_dim, full_attn_interval;
};

// Applies the overrides and keeps derived dimensions consistent (head_dim
// follows n_embd / n_head where the preset derives it; an MHA preset stays MHA
// when only --heads is given; deepseek2's shared width follows n_ff_exp).
// The result is validated: an inconsistent combination -> frugal::Error.
void apply_overrides(ModelConfig& cfg, const ConfigOverrides& o);

}  // namespace frugal::model
