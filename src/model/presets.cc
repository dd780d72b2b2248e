// The registry of presets: every family's table (presets_early.cc,
// presets_newer.cc) built once, looked up by architecture and name.
#include "model/presets.h"

#include "base/error.h"
#include "model/architectures.h"
#include "model/preset_builders.h"

namespace frugal::model {
namespace {

std::vector<Preset> build_presets() {
  std::vector<Preset> p;
  preset_builders::add_early_presets(p);
  preset_builders::add_newer_presets(p);
  return p;
}

}  // namespace

const std::vector<Preset>& all_presets() {
  static const std::vector<Preset> presets = build_presets();
  return presets;
}

std::string preset_names(std::string_view arch) {
  std::string out;
  for (const auto& p : all_presets())
    if (p.arch == arch) out += (out.empty() ? "" : ", ") + p.name;
  return out;
}

const Preset& find_preset(std::string_view arch, std::string_view name) {
  architecture(arch);  // throws, listing the architectures
  for (const auto& p : all_presets())
    if (p.arch == arch && p.name == name) return p;
  fail("unknown preset '", name, "' for architecture ", arch, " (available: ", preset_names(arch), ")");
}

}  // namespace frugal::model
