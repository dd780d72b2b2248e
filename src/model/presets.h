// Named model sizes for `frugal synth` (and tests, benchmarks, training):
// the real hyperparameters of published models of each architecture, plus a
// "tiny" preset of each (a few MB) for tests. Their main dimensions can be
// overridden (config_overrides.h: the --layers, --embd, ... flags of synth).
#pragma once
#include <cstdint>
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

}  // namespace frugal::model
