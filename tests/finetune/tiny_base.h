// The frozen base of the fine-tuning tests: a tiny synth preset in Q8_0,
// written to a temporary file and loaded.
#pragma once
#include <cstdint>
#include <memory>
#include <string>

#include "base/progress.h"
#include "model/forward_test_model.h"
#include "model/model.h"
#include "model/presets.h"
#include "model/synth.h"

namespace frugal::finetune::testing {

struct TinyBase {
  model::testing::TempModel file;
  std::unique_ptr<model::Model> m;
  TinyBase(const std::string& name, const std::string& arch, uint64_t seed) : file(name) {
    Progress::set_enabled(false);
    model::SynthOptions o;
    o.type = "q8_0";
    o.seed = seed;
    o.progress_label = "";
    model::write_synth_model(model::find_preset(arch, "tiny").config, gguf::Metadata{}, o, file.path);
    m = model::Model::load(file.path);
  }
};

}  // namespace frugal::finetune::testing
