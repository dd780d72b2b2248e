// Presets of the families frugal first ran, and of hunyuan-moe and
// mistral4, which share their layers. Published models' values come from
// their config.json (as llama.cpp's converter writes them to GGUF keys); the
// tiny presets keep every architectural feature at a size that builds in
// milliseconds and keeps row lengths multiples of 32 (q8_0/q4_0 blocks).
#include <cmath>

#include "model/preset_builders.h"

namespace frugal::model::preset_builders {

void add_early_presets(std::vector<Preset>& p) {
  // llama: dense Llama-2-7B, Mixtral 8x7B (feed_forward_length is the expert width).
  {
    ModelConfig c = base({.arch = "llama", .name = "tiny", .vocab = 512, .embd = 128, .layers = 2,
                          .heads = 4, .heads_kv = 2, .ctx = 256, .eps = 1e-5f, .theta = 10000.0f});
    c.n_ff = 128;
    set_experts(c, 4, 2, 128);
    p.push_back(make("Mixtral-style MoE, 4 experts top-2, 2 layers, n_embd 128", c));
  }
  {
    ModelConfig c = base({.arch = "llama", .name = "tiny-dense", .vocab = 512, .embd = 128, .layers = 2,
                          .heads = 4, .heads_kv = 2, .ctx = 256, .eps = 1e-5f, .theta = 10000.0f});
    c.n_ff = 256;
    p.push_back(make("dense llama, 2 layers, n_embd 128", c));
  }
  {
    ModelConfig c = base({.arch = "llama", .name = "llama-7b", .vocab = 32000, .embd = 4096, .layers = 32,
                          .heads = 32, .heads_kv = 32, .ctx = 4096, .eps = 1e-5f, .theta = 10000.0f});
    c.n_ff = 11008;
    p.push_back(make("Llama-2-7B shape: dense, 32 layers, n_embd 4096, n_ff 11008", c));
  }
  {
    ModelConfig c = base({.arch = "llama", .name = "mixtral-8x7b", .vocab = 32000, .embd = 4096, .layers = 32,
                          .heads = 32, .heads_kv = 8, .ctx = 32768, .eps = 1e-5f, .theta = 1000000.0f});
    c.n_ff = 14336;
    set_experts(c, 8, 2, 14336);
    p.push_back(make("Mixtral-8x7B: 8 experts top-2, 32 layers, n_embd 4096, GQA 32/8", c));
  }

  // qwen2 (dense, attention biases; the small models tie the LM head).
  {
    ModelConfig c = base({.arch = "qwen2", .name = "tiny", .vocab = 512, .embd = 128, .layers = 2,
                          .heads = 4, .heads_kv = 2, .ctx = 256, .eps = 1e-6f, .theta = 1000000.0f});
    c.n_ff = 256;
    c.tied_output = true;
    p.push_back(make("dense qwen2 with q/k/v biases and a tied LM head, 2 layers, n_embd 128", c));
  }
  {
    ModelConfig c = base({.arch = "qwen2", .name = "qwen2-7b", .vocab = 152064, .embd = 3584, .layers = 28,
                          .heads = 28, .heads_kv = 4, .ctx = 32768, .eps = 1e-6f, .theta = 1000000.0f});
    c.n_ff = 18944;
    p.push_back(make("Qwen2-7B: 28 layers, n_embd 3584, GQA 28/4, n_ff 18944", c));
  }

  // qwen3 (dense, per-head q/k norm, head_dim independent of n_embd / n_head).
  {
    ModelConfig c = base({.arch = "qwen3", .name = "tiny", .vocab = 512, .embd = 128, .layers = 2,
                          .heads = 4, .heads_kv = 2, .ctx = 256, .eps = 1e-6f, .theta = 1000000.0f});
    set_head_dim(c, 64);
    c.n_ff = 256;
    p.push_back(make("dense qwen3 with per-head q/k norm, head_dim 64 (q width 256 != n_embd 128)", c));
  }
  {
    ModelConfig c = base({.arch = "qwen3", .name = "qwen3-8b", .vocab = 151936, .embd = 4096, .layers = 36,
                          .heads = 32, .heads_kv = 8, .ctx = 40960, .eps = 1e-6f, .theta = 1000000.0f});
    set_head_dim(c, 128);
    c.n_ff = 12288;
    p.push_back(make("Qwen3-8B: 36 layers, n_embd 4096, GQA 32/8, n_ff 12288", c));
  }

  // qwen2moe: softmax over all experts, no renormalisation, gated shared expert.
  {
    ModelConfig c = base({.arch = "qwen2moe", .name = "tiny", .vocab = 512, .embd = 128, .layers = 2,
                          .heads = 4, .heads_kv = 4, .ctx = 256, .eps = 1e-6f, .theta = 1000000.0f});
    c.n_ff = 256;
    set_experts(c, 8, 2, 64);
    c.n_ff_shexp = 256;
    c.n_expert_shared = 1;
    p.push_back(make("qwen2moe: 8 experts top-2 plus a gated shared expert, 2 layers, n_embd 128", c));
  }
  {
    ModelConfig c = base({.arch = "qwen2moe", .name = "qwen1.5-moe-a2.7b", .vocab = 151936, .embd = 2048, .layers = 24,
                          .heads = 16, .heads_kv = 16, .ctx = 8192, .eps = 1e-6f, .theta = 1000000.0f});
    c.n_ff = 5632;
    set_experts(c, 60, 4, 1408);
    c.n_ff_shexp = 5632;
    c.n_expert_shared = 1;
    p.push_back(make("Qwen1.5-MoE-A2.7B: 60 experts top-4, shared expert 5632, 24 layers, n_embd 2048", c));
  }

  // qwen3moe: per-head q/k norm, top-k renormalised.
  {
    ModelConfig c = base({.arch = "qwen3moe", .name = "tiny", .vocab = 512, .embd = 128, .layers = 2,
                          .heads = 4, .heads_kv = 2, .ctx = 256, .eps = 1e-6f, .theta = 1000000.0f});
    set_head_dim(c, 32);
    c.n_ff = 256;
    set_experts(c, 8, 2, 64);
    p.push_back(make("qwen3moe: 8 experts top-2, per-head q/k norm, 2 layers, n_embd 128", c));
  }
  {
    ModelConfig c = base({.arch = "qwen3moe", .name = "qwen3-30b-a3b", .vocab = 151936, .embd = 2048, .layers = 48,
                          .heads = 32, .heads_kv = 4, .ctx = 40960, .eps = 1e-6f, .theta = 1000000.0f});
    set_head_dim(c, 128);
    c.n_ff = 6144;
    set_experts(c, 128, 8, 768);
    p.push_back(make("Qwen3-30B-A3B: 128 experts top-8, 48 layers, n_embd 2048, GQA 32/4", c));
  }

  // olmoe: whole-vector q/k norm, no renormalisation (feed_forward_length is the expert width).
  {
    ModelConfig c = base({.arch = "olmoe", .name = "tiny", .vocab = 512, .embd = 128, .layers = 2,
                          .heads = 4, .heads_kv = 4, .ctx = 256, .eps = 1e-5f, .theta = 10000.0f});
    c.n_ff = 64;
    set_experts(c, 8, 2, 64);
    p.push_back(make("olmoe: 8 experts top-2, whole-vector q/k norm, 2 layers, n_embd 128", c));
  }
  {
    ModelConfig c = base({.arch = "olmoe", .name = "olmoe-1b-7b", .vocab = 50304, .embd = 2048, .layers = 16,
                          .heads = 16, .heads_kv = 16, .ctx = 4096, .eps = 1e-5f, .theta = 10000.0f});
    c.n_ff = 1024;
    set_experts(c, 64, 8, 1024);
    p.push_back(make("OLMoE-1B-7B: 64 experts top-8, 16 layers, n_embd 2048", c));
  }

  // deepseek2: latent attention, leading dense layers, shared experts, YaRN.
  {
    ModelConfig c = base({.arch = "deepseek2", .name = "tiny", .vocab = 512, .embd = 128, .layers = 3,
                          .heads = 4, .heads_kv = 4, .ctx = 256, .eps = 1e-6f, .theta = 10000.0f});
    set_mla(c, 0, 64, 16, 32, 32);
    c.n_ff = 256;
    set_experts(c, 8, 2, 64);
    c.n_expert_shared = 2;
    c.n_ff_shexp = 128;
    c.n_leading_dense = 1;
    c.n_expert_groups = 1;
    c.n_group_used = 1;
    set_yarn(c, 4.0f, 64, 0.0707f);
    p.push_back(make("DeepSeek-V2-Lite style: MLA (kv_lora 64), 1 dense + 2 MoE layers, 8 experts top-2, 2 shared",
                     c));
  }
  {
    ModelConfig c = base({.arch = "deepseek2", .name = "tiny-v3", .vocab = 512, .embd = 128, .layers = 3,
                          .heads = 4, .heads_kv = 4, .ctx = 256, .eps = 1e-6f, .theta = 10000.0f});
    set_mla(c, 96, 64, 16, 32, 32);
    c.n_ff = 256;
    set_experts(c, 8, 2, 64);
    set_v3_routing(c, 1, 2.5f);
    c.n_expert_groups = 4;
    c.n_group_used = 2;
    set_yarn(c, 4.0f, 64, 0.1f);
    p.push_back(make("DeepSeek-V3 style: sigmoid router with score bias, 4 groups use 2, q_lora 96, MLA", c));
  }
  {
    ModelConfig c = base({.arch = "deepseek2", .name = "deepseek-v2-lite", .vocab = 102400, .embd = 2048, .layers = 27,
                          .heads = 16, .heads_kv = 16, .ctx = 163840, .eps = 1e-6f, .theta = 10000.0f});
    set_mla(c, 0, 512, 64, 128, 128);
    c.n_ff = 10944;
    set_experts(c, 64, 6, 1408);
    c.n_expert_shared = 2;
    c.n_ff_shexp = 2 * 1408;
    c.n_leading_dense = 1;
    c.n_expert_groups = 1;
    c.n_group_used = 1;
    set_yarn(c, 40.0f, 4096, 0.0707f);
    p.push_back(make("DeepSeek-V2-Lite: MLA kv_lora 512, 64 experts top-6 + 2 shared, 27 layers, n_embd 2048", c));
  }
  {
    ModelConfig c = base({.arch = "deepseek2", .name = "deepseek-v3", .vocab = 129280, .embd = 7168, .layers = 61,
                          .heads = 128, .heads_kv = 128, .ctx = 163840, .eps = 1e-6f, .theta = 10000.0f});
    set_mla(c, 1536, 512, 64, 128, 128);
    c.n_ff = 18432;
    set_experts(c, 256, 8, 2048);
    set_v3_routing(c, 3, 2.5f);
    c.n_expert_groups = 8;
    c.n_group_used = 4;
    set_yarn(c, 40.0f, 4096, 0.1f);
    p.push_back(make("DeepSeek-V3 (671B): 256 experts top-8 in 8 groups, sigmoid router, 61 layers", c));
  }

  // Kimi-K2: DeepSeek-V3's design with 384 experts, one leading dense layer,
  // a single expert group, 64 heads; its files split kv_b.
  {
    ModelConfig c = base({.arch = "deepseek2", .name = "tiny-k2", .vocab = 512, .embd = 128, .layers = 3,
                          .heads = 4, .heads_kv = 4, .ctx = 256, .eps = 1e-6f, .theta = 50000.0f});
    set_mla(c, 96, 64, 16, 32, 32);
    c.mla_split_kv_b = true;
    c.n_ff = 256;
    set_experts(c, 12, 2, 64);
    set_v3_routing(c, 1, 2.827f);
    c.n_expert_groups = 1;
    c.n_group_used = 1;
    set_yarn(c, 4.0f, 64, 0.1f);
    p.push_back(make("Kimi-K2 style: kv_b split into attn_k_b/attn_v_b, sigmoid router, one group, q_lora 96", c));
  }
  {
    ModelConfig c = base({.arch = "deepseek2", .name = "kimi-k2", .vocab = 163840, .embd = 7168, .layers = 61,
                          .heads = 64, .heads_kv = 64, .ctx = 131072, .eps = 1e-6f, .theta = 50000.0f});
    set_mla(c, 1536, 512, 64, 128, 128);
    c.mla_split_kv_b = true;
    c.n_ff = 18432;
    set_experts(c, 384, 8, 2048);
    set_v3_routing(c, 1, 2.827f);
    c.n_expert_groups = 1;
    c.n_group_used = 1;
    set_yarn(c, 32.0f, 4096, 0.1f);
    c.yarn_beta_fast = c.yarn_beta_slow = 1.0f;
    p.push_back(make("Kimi-K2 (1T): 384 experts top-8 + 1 shared, 61 layers, 64 heads, kv_b split", c));
  }

  // hunyuan-moe (Hunyuan-A13B): per-head q/k norm after RoPE, a softmax
  // router over all experts whose top-k is renormalised, one ungated shared
  // expert, a tied embedding; its dynamic NTK RoPE (alpha 1000) as the base
  // its converter writes: 10000 * alpha^(d / (d - 2)).
  {
    ModelConfig c = base({.arch = "hunyuan-moe", .name = "tiny", .vocab = 512, .embd = 128, .layers = 2, .heads = 4,
                          .heads_kv = 2, .ctx = 256, .eps = 1e-5f, .theta = 10000.0f});
    set_head_dim(c, 32);
    c.n_ff = 64;
    set_experts(c, 8, 2, 64);
    set_shared_experts(c, 1);
    c.expert_weights_norm = true;
    c.tied_output = true;
    p.push_back(make("Hunyuan-A13B style: per-head q/k norm after RoPE, GQA 4/2 of 32, softmax router top-2 of 8 "
                     "renormalised + 1 shared, tied embedding",
                     c));
  }
  {
    ModelConfig c = base({.arch = "hunyuan-moe", .name = "hunyuan-a13b", .vocab = 128167, .embd = 4096, .layers = 32,
                          .heads = 32, .heads_kv = 8, .ctx = 32768, .eps = 1e-5f,
                          .theta = float(10000.0 * std::pow(1000.0, 128.0 / 126.0))});
    c.n_ff = 3072;
    set_experts(c, 64, 8, 3072);
    set_shared_experts(c, 1);
    c.expert_weights_norm = true;
    c.tied_output = true;
    p.push_back(make("Hunyuan-A13B (80B, 13B active): 64 experts top-8 + 1 shared, 32 layers, n_embd 4096, GQA 32/8 "
                     "of 128, tied embedding",
                     c));
  }

  // mistral4 (Mistral Small 4): DeepSeek-V2's latent attention with low-rank
  // queries and kv_b split, a softmax router over 128 experts (top-4,
  // renormalised), one shared expert, no dense layer, YaRN.
  {
    ModelConfig c = base({.arch = "mistral4", .name = "tiny", .vocab = 512, .embd = 128, .layers = 2, .heads = 4,
                          .heads_kv = 4, .ctx = 256, .eps = 1e-6f, .theta = 10000.0f});
    set_mla(c, 96, 64, 16, 16, 32);
    c.mla_split_kv_b = true;
    c.n_ff = 256;
    set_experts(c, 8, 2, 64);
    set_shared_experts(c, 1);
    c.expert_weights_norm = true;
    set_yarn(c, 4.0f, 64, 0.1f);
    p.push_back(make("Mistral Small 4 style: MLA (q_lora 96, kv_lora 64, kv_b split), softmax router top-2 of 8 "
                     "renormalised + 1 shared, 2 MoE layers, YaRN",
                     c));
  }
  {
    ModelConfig c = base({.arch = "mistral4", .name = "mistral-small-4", .vocab = 131072, .embd = 4096, .layers = 36,
                          .heads = 32, .heads_kv = 32, .ctx = 1048576, .eps = 1e-6f, .theta = 10000.0f});
    set_mla(c, 1024, 256, 64, 64, 128);
    c.mla_split_kv_b = true;
    c.n_ff = 12288;
    set_experts(c, 128, 4, 2048);
    set_shared_experts(c, 1);
    c.expert_weights_norm = true;
    set_yarn(c, 128.0f, 8192, 0.1f);
    p.push_back(make("Mistral-Small-4-119B (119B, 6.5B active): 128 experts top-4 + 1 shared, 36 layers, MLA kv_lora "
                     "256, n_embd 4096",
                     c));
  }
}

}  // namespace frugal::model::preset_builders
