// frugal lora-merge: a model with a LoRA adapter merged into its weights
// (the adapted matrices written in f32, everything else copied as it is).
#include <cstdio>
#include <memory>
#include <string>

#include "cli/command.h"
#include "model/lora.h"
#include "model/model.h"

namespace frugal::cli {
namespace {

struct LoraMergeArgs {
  std::string model, lora, output;
  float scale = 1.0f;
};

int run_lora_merge(const LoraMergeArgs& a) {
  const auto model = model::Model::load(a.model);
  const auto adapter = model::LoraAdapter::load(a.lora, *model, a.scale);
  model::merge_lora(*model, *adapter, a.output);
  std::printf("%s: %zu matrices merged (rank %lld, scale %g) -> %s\n", a.lora.c_str(), adapter->targets().size(),
              static_cast<long long>(adapter->rank()), static_cast<double>(adapter->scale()), a.output.c_str());
  return 0;
}

const CommandRegistration kLoraMerge{
    "lora-merge", "write a model with a LoRA adapter merged into its weights", [](CLI::App& app) {
      auto a = std::make_shared<LoraMergeArgs>();
      app.add_option("-m,--model", a->model, "the base model (GGUF)")->required();
      app.add_option("--lora", a->lora, "the LoRA adapter (llama.cpp's GGUF adapter format)")->required();
      app.add_option("-o,--output", a->output, "the merged model to write")->required();
      app.add_option("--lora-scale", a->scale, "scale of the adapter's product (default 1)");
      return [a] { return run_lora_merge(*a); };
    }};

}  // namespace
}  // namespace frugal::cli
