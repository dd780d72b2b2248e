// A random-weight model (the qwen3moe "tiny" preset) with a 4,096-token
// context, written to a temporary file: its answers can run for thousands of
// tokens, long enough to leave, stop or shut down in the middle of one.
#pragma once
#include <unistd.h>

#include <filesystem>
#include <string>

#include "base/progress.h"
#include "model/presets.h"
#include "model/synth.h"

namespace frugal::server::testing {

struct LongModel {
  std::string path;
  LongModel() {
    Progress::set_enabled(false);
    path = (std::filesystem::temp_directory_path() / ("frugal_long_" + std::to_string(::getpid()) + ".gguf")).string();
    model::ModelConfig cfg = model::find_preset("qwen3moe", "tiny").config;
    cfg.n_ctx_train = 4096;
    model::SynthOptions opts;
    opts.type = "q8_0";
    opts.seed = 5;
    opts.progress_label = "";
    model::write_synth_model(cfg, gguf::Metadata{}, opts, path);
  }
  ~LongModel() { std::filesystem::remove(path); }
  LongModel(const LongModel&) = delete;
  LongModel& operator=(const LongModel&) = delete;
};

}  // namespace frugal::server::testing
