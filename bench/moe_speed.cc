// End-to-end speed of the forward pass on a (synth) model: prefill of one
// prompt as one batch, then decode one token at a time, timed inside one
// process so model loading and file output do not count. Built by hand
// against a build directory's libraries, so the same source times two
// builds side by side (see docs/PERFORMANCE_NOTES.md):
//   bench/moe_speed.sh BUILD_DIR MODEL.gguf [PROMPT_TOKENS] [DECODE_TOKENS] [THREADS] [KV_TYPE]
// and, so a machine without the frugal binary's libraries can make its own
// models: moe_speed synth ARCH PRESET LAYERS TYPE OUT.gguf
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "base/thread_pool.h"
#include "gguf/value.h"
#include "model/config_overrides.h"
#include "model/model.h"
#include "model/presets.h"
#include "model/synth.h"
#include "runtime/engine.h"

int main(int argc, char** argv) {
  using namespace frugal;
  if (argc == 7 && std::string(argv[1]) == "synth") {
    try {
      model::ModelConfig cfg = model::find_preset(argv[2], argv[3]).config;
      model::ConfigOverrides over;
      over.n_layer = std::atoi(argv[4]);
      model::apply_overrides(cfg, over);
      model::SynthOptions so;
      so.type = argv[5];
      so.progress_label = "";
      model::write_synth_model(cfg, gguf::Metadata{}, so, argv[6]);
      return 0;
    } catch (const std::exception& ex) {
      std::fprintf(stderr, "error: %s\n", ex.what());
      return 1;
    }
  }
  if (argc < 2) {
    std::fprintf(stderr, "usage: moe_speed MODEL [prompt_tokens] [decode_tokens] [threads] [kv f32|f16|...]\n");
    return 2;
  }
  const int n_prompt = argc > 2 ? std::atoi(argv[2]) : 512;
  const int n_decode = argc > 3 ? std::atoi(argv[3]) : 32;
  const int threads = argc > 4 ? std::atoi(argv[4]) : 2;
  const std::string kv = argc > 5 ? argv[5] : "f32";
  try {
    ThreadPool pool(threads);
    auto m = model::Model::load(argv[1]);
    runtime::EngineOptions o;
    o.n_ctx = n_prompt + n_decode + 1;
    o.pool = &pool;
    o.kv_type = kv == "f16" ? model::KvType::kF16 : model::KvType::kF32;
#ifdef FRUGAL_MOE_SPEED_KV_NAMES  // trees that have q8_0 (the script checks)
    o.kv_type = model::kv_type_from_name(kv);
#endif
    runtime::Engine e(*m, o);
    const int32_t nv = e.n_vocab();
    std::vector<runtime::BatchRow> rows;
    for (int i = 0; i < n_prompt; ++i) rows.push_back({0, i, (i * 7919 + 13) % nv, i == n_prompt - 1});
    std::vector<float> logits;
    using clock = std::chrono::steady_clock;
    const auto t0 = clock::now();
    e.forward(rows, logits);
    const auto t1 = clock::now();
    for (int i = 0; i < n_decode; ++i) {
      runtime::BatchRow r{0, n_prompt + i, (i * 31 + 5) % nv, true};
      e.forward({&r, 1}, logits);
    }
    const auto t2 = clock::now();
    const double pf = std::chrono::duration<double>(t1 - t0).count();
    const double dc = std::chrono::duration<double>(t2 - t1).count();
    std::printf("prefill %d tokens: %.3f s, %.2f tok/s; decode %d tokens: %.3f s, %.2f tok/s (threads %d, kv %s)\n",
                n_prompt, pf, n_prompt / pf, n_decode, dc, n_decode / dc, threads, kv.c_str());
  } catch (const std::exception& ex) {
    std::fprintf(stderr, "error: %s\n", ex.what());
    return 1;
  }
  return 0;
}
