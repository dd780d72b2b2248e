// The flags `frugal run` and `frugal chat` share (model, context, threads,
// sampling, stop strings), and loading what they need: the model, its
// tokenizer and an inference engine.
#pragma once
#include <CLI/CLI.hpp>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "model/model.h"
#include "runtime/engine.h"
#include "runtime/generator.h"
#include "tokenizer/tokenizer.h"

namespace frugal::cli {

struct GenerationFlags {
  std::string model;  // empty: the default model
  int n_predict = 128;
  float temperature = 0.8f;
  int top_k = 40;
  float top_p = 0.95f;
  float min_p = 0.05f;
  float repeat_penalty = 1.0f;
  int repeat_last_n = 64;
  float presence_penalty = 0;
  float frequency_penalty = 0;
  std::optional<uint64_t> seed;  // unset: a random seed (logged with -v)
  std::vector<std::string> stop;
  int threads = 0;
  int n_ctx = 0;
  std::string kv_type = "f16";
  bool repack = false;  // row-interleaved repacking at load (model/repack_weights.h)
  bool mmap = false;    // weights read from the file mapping, not copied into memory on huge pages
  std::string lora;       // a LoRA adapter (GGUF) applied to the model, or none
  float lora_scale = 1.0f;
};

void add_generation_flags(CLI::App& app, GenerationFlags& f);

// Sampling and stop settings from the flags (a random seed when none given).
runtime::GenerateParams generate_params(const GenerationFlags& f);

// The model, its tokenizer and an engine for n_seq_max sequences.
struct LoadedModel {
  std::string path;  // the file loaded (the default model's when no -m)
  std::unique_ptr<model::Model> model;
  std::optional<tokenizer::Tokenizer> tokenizer;
  std::unique_ptr<runtime::Engine> engine;
};
// prefix_blocks: see runtime::EngineOptions (0: no prefix cache, -1: the default pool).
LoadedModel load_for_generation(const GenerationFlags& f, int n_seq_max = 1, int prefix_blocks = 0);

// Prints "prompt: ... tok/s | generation: ... tok/s | stop: ..." to stderr.
void print_generation_stats(const runtime::GenerateStats& s);

}  // namespace frugal::cli
