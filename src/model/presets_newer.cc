// Presets of the newer families: glm4moe, llama4, qwen3next and qwen35moe,
// gpt-oss, deepseek4, minimax-m2, dots1, ernie4_5-moe, bailingmoe2. As in
// presets_early.cc: published models' values from their config.json, tiny
// presets with every feature at a size that builds in milliseconds.
#include "model/preset_builders.h"

namespace frugal::model::preset_builders {

void add_newer_presets(std::vector<Preset>& p) {
  // glm4moe (GLM-4.5/4.6/4.5-Air): q/k/v biases, RoPE on half of each head
  // (NeoX pairing), leading dense layers, a sigmoid router with a selection
  // bias, renormalised top-k, one shared expert; one next-token-prediction
  // block after the others (block_count counts it). GLM-4.5 and 4.6
  // normalise each q/k head, 4.5-Air does not.
  {
    ModelConfig c = base({.arch = "glm4moe", .name = "tiny", .vocab = 512, .embd = 128, .layers = 3,
                          .heads = 4, .heads_kv = 2, .ctx = 256, .eps = 1e-5f, .theta = 1000000.0f});
    set_head_dim(c, 64);
    c.rope_dim = 32;
    c.qk_norm = QkNorm::kPerHead;
    c.n_ff = 256;
    set_experts(c, 8, 2, 64);
    set_v3_routing(c, 1, 2.5f);
    c.n_nextn_layer = 1;
    p.push_back(make("GLM-4.5 style: partial RoPE (32 of 64), q/k/v biases, per-head q/k norm, 1 dense + 2 MoE "
                     "layers, sigmoid router with bias, 1 shared expert, an MTP block",
                     c));
  }
  {
    ModelConfig c = base({.arch = "glm4moe", .name = "tiny-air", .vocab = 512, .embd = 128, .layers = 3,
                          .heads = 4, .heads_kv = 2, .ctx = 256, .eps = 1e-5f, .theta = 1000000.0f});
    set_head_dim(c, 64);
    c.rope_dim = 32;
    c.n_ff = 256;
    set_experts(c, 16, 2, 64);
    set_v3_routing(c, 1, 1.0f);
    c.n_nextn_layer = 1;
    p.push_back(make("GLM-4.5-Air style: as tiny without q/k norm, 16 experts top-2, routed scale 1", c));
  }
  {
    ModelConfig c = base({.arch = "glm4moe", .name = "glm-4.5-air", .vocab = 151552, .embd = 4096, .layers = 46,
                          .heads = 96, .heads_kv = 8, .ctx = 131072, .eps = 1e-5f, .theta = 1000000.0f});
    set_head_dim(c, 128);
    c.rope_dim = 64;
    c.n_ff = 10944;
    set_experts(c, 128, 8, 1408);
    set_v3_routing(c, 1, 1.0f);
    c.n_nextn_layer = 1;
    p.push_back(make("GLM-4.5-Air (106B): 128 experts top-8 + 1 shared, 46 layers + MTP, n_embd 4096, GQA 96/8", c));
  }
  {
    ModelConfig c = base({.arch = "glm4moe", .name = "glm-4.5", .vocab = 151552, .embd = 5120, .layers = 92,
                          .heads = 96, .heads_kv = 8, .ctx = 131072, .eps = 1e-5f, .theta = 1000000.0f});
    set_head_dim(c, 128);
    c.rope_dim = 64;
    c.qk_norm = QkNorm::kPerHead;
    c.n_ff = 12288;
    set_experts(c, 160, 8, 1536);
    set_v3_routing(c, 3, 2.5f);
    c.n_nextn_layer = 1;
    p.push_back(make("GLM-4.5 (355B): 160 experts top-8 + 1 shared, 92 layers + MTP, q/k norm, n_embd 5120", c));
  }

  // llama4 (Scout, Maverick): NoPE layers every 4th (attention over all
  // positions, queries tempered by position), chunked attention on the others
  // with an unweighted q/k norm (Scout), top-1 sigmoid routing that scales the
  // expert's input, a shared expert, MoE and dense layers interleaved
  // (Maverick). The tiny presets cut the chunk and the temperature length so
  // that short prompts reach both.
  {
    ModelConfig c = base({.arch = "llama4", .name = "tiny", .vocab = 512, .embd = 128, .layers = 4,
                          .heads = 4, .heads_kv = 2, .ctx = 256, .eps = 1e-5f, .theta = 500000.0f});
    set_head_dim(c, 32);
    c.n_ff = 256;
    set_experts(c, 8, 1, 64);
    set_llama4(c, 2, 8, 4);
    c.rope_freq_factors = true;
    c.qk_norm = QkNorm::kPerHeadUnweighted;
    p.push_back(make("llama4: 4 layers (3 chunked by 8 with q/k norm, 1 NoPE), dense and MoE interleaved, 8 experts "
                     "top-1 + shared, rope_freqs",
                     c));
  }
  {
    ModelConfig c = base({.arch = "llama4", .name = "tiny-scout", .vocab = 512, .embd = 128, .layers = 4,
                          .heads = 4, .heads_kv = 2, .ctx = 256, .eps = 1e-5f, .theta = 500000.0f});
    set_head_dim(c, 32);
    c.n_ff = 256;
    set_experts(c, 16, 1, 64);
    set_llama4(c, 1, 8, 4);
    c.qk_norm = QkNorm::kPerHeadUnweighted;
    p.push_back(make("llama4 Scout style: every layer MoE (16 experts top-1 + shared), chunk 8, q/k norm", c));
  }
  {
    ModelConfig c = base({.arch = "llama4", .name = "llama4-scout", .vocab = 202048, .embd = 5120, .layers = 48,
                          .heads = 40, .heads_kv = 8, .ctx = 10485760, .eps = 1e-5f, .theta = 500000.0f});
    set_head_dim(c, 128);
    c.n_ff = 16384;
    set_experts(c, 16, 1, 8192);
    set_llama4(c, 1, 8192, 8192);
    c.rope_freq_factors = true;
    c.qk_norm = QkNorm::kPerHeadUnweighted;
    p.push_back(make("Llama-4-Scout-17B-16E: 16 experts top-1 + shared, 48 layers, n_embd 5120, GQA 40/8", c));
  }
  {
    ModelConfig c = base({.arch = "llama4", .name = "llama4-maverick", .vocab = 202048, .embd = 5120, .layers = 48,
                          .heads = 40, .heads_kv = 8, .ctx = 1048576, .eps = 1e-5f, .theta = 500000.0f});
    set_head_dim(c, 128);
    c.n_ff = 16384;
    set_experts(c, 128, 1, 8192);
    set_llama4(c, 2, 8192, 8192);
    p.push_back(make("Llama-4-Maverick-17B-128E: 128 experts top-1 + shared on every other layer, 48 layers", c));
  }

  // qwen3next (Qwen3-Next-80B-A3B) and qwen35moe (Qwen3.5-MoE, its layout of
  // the recurrent layers' projections and a next-token-prediction block).
  {
    ModelConfig c = base({.arch = "qwen3next", .name = "tiny", .vocab = 512, .embd = 128, .layers = 4,
                          .heads = 4, .heads_kv = 2, .ctx = 256, .eps = 1e-6f, .theta = 10000000.0f});
    set_experts(c, 8, 2, 64);
    set_hybrid(c, {.head_dim = 32, .rope_dim = 16, .interval = 2, .n_k_heads = 2,
                   .n_v_heads = 4, .k_head_dim = 32, .v_head_dim = 32});
    p.push_back(make("Qwen3-Next style: 4 layers alternating Gated DeltaNet (2 key / 4 value heads of 32) and gated "
                     "attention (RoPE on 16 of 32), 8 experts top-2 + gated shared expert",
                     c));
  }
  {
    ModelConfig c = base({.arch = "qwen3next", .name = "qwen3-next-80b-a3b", .vocab = 151936, .embd = 2048,
                          .layers = 48, .heads = 16, .heads_kv = 2, .ctx = 262144, .eps = 1e-6f, .theta = 10000000.0f});
    c.n_ff = 5120;
    set_experts(c, 512, 10, 512);
    set_hybrid(c, {.head_dim = 256, .rope_dim = 64, .interval = 4, .n_k_heads = 16,
                   .n_v_heads = 32, .k_head_dim = 128, .v_head_dim = 128});
    p.push_back(make("Qwen3-Next-80B-A3B: 512 experts top-10 + shared, 48 layers (36 Gated DeltaNet, 12 gated "
                     "attention), n_embd 2048",
                     c));
  }
  {
    ModelConfig c = base({.arch = "qwen35moe", .name = "tiny", .vocab = 512, .embd = 128, .layers = 4,
                          .heads = 4, .heads_kv = 2, .ctx = 256, .eps = 1e-6f, .theta = 10000000.0f});
    set_experts(c, 8, 2, 64);
    set_hybrid(c, {.head_dim = 32, .rope_dim = 16, .interval = 4, .n_k_heads = 2,
                   .n_v_heads = 4, .k_head_dim = 32, .v_head_dim = 32});
    c.n_nextn_layer = 1;
    p.push_back(make("Qwen3.5-MoE style: 3 Gated DeltaNet layers (split projections) + 1 gated attention, 8 experts "
                     "top-2 + gated shared expert, an MTP block",
                     c));
  }
  // Qwen3.5's MoE models: three Gated DeltaNet layers then one gated
  // attention layer (RoPE on a quarter of 256-wide heads), 248,320 tokens,
  // a shared expert as wide as a routed one, one MTP block.
  struct Qwen35 {
    const char* name;
    int64_t embd, layers, heads, experts, used, ff_exp, v_heads;
    const char* description;
  };
  for (const Qwen35& q : {
           Qwen35{.name = "qwen3.5-35b-a3b", .embd = 2048, .layers = 40, .heads = 16, .experts = 256, .used = 8,
                  .ff_exp = 512, .v_heads = 32,
                  .description = "Qwen3.5-35B-A3B: 256 experts top-8 + shared, 40 layers (30 Gated DeltaNet, 10 gated "
                                 "attention), n_embd 2048, an MTP block"},
           Qwen35{.name = "qwen3.5-122b-a10b", .embd = 3072, .layers = 48, .heads = 32, .experts = 256, .used = 8,
                  .ff_exp = 1024, .v_heads = 64,
                  .description = "Qwen3.5-122B-A10B: 256 experts top-8 + shared, 48 layers (36 Gated DeltaNet, 12 "
                                 "gated attention), n_embd 3072, an MTP block"},
           Qwen35{.name = "qwen3.5-397b-a17b", .embd = 4096, .layers = 60, .heads = 32, .experts = 512, .used = 10,
                  .ff_exp = 1024, .v_heads = 64,
                  .description = "Qwen3.5-397B-A17B: 512 experts top-10 + shared, 60 layers (45 Gated DeltaNet, 15 "
                                 "gated attention), n_embd 4096, an MTP block"},
       }) {
    ModelConfig c = base({.arch = "qwen35moe", .name = q.name, .vocab = 248320, .embd = q.embd, .layers = q.layers,
                          .heads = q.heads, .heads_kv = 2, .ctx = 262144, .eps = 1e-6f, .theta = 10000000.0f});
    set_experts(c, q.experts, q.used, q.ff_exp);
    set_hybrid(c, {.head_dim = 256, .rope_dim = 64, .interval = 4, .n_k_heads = 16, .n_v_heads = q.v_heads,
                   .k_head_dim = 128, .v_head_dim = 128});
    c.n_nextn_layer = 1;
    p.push_back(make(q.description, c));
  }

  // gpt-oss: attention with sinks and biases, even layers on a sliding
  // window, YaRN, clamped SwiGLU experts with biases, softmax over the top-k.
  {
    ModelConfig c = base({.arch = "gpt-oss", .name = "tiny", .vocab = 512, .embd = 128, .layers = 4,
                          .heads = 4, .heads_kv = 2, .ctx = 256, .eps = 1e-5f, .theta = 150000.0f});
    set_head_dim(c, 64);
    c.n_ff = 64;
    set_experts(c, 8, 4, 64);
    c.n_swa = 8;
    set_yarn(c, 4.0f, 64, 0.0f);
    p.push_back(make("gpt-oss: 8 experts top-4, sinks, window 8 on even layers, YaRN, 4 layers, n_embd 128", c));
  }
  {
    ModelConfig c = base({.arch = "gpt-oss", .name = "gpt-oss-20b", .vocab = 201088, .embd = 2880, .layers = 24,
                          .heads = 64, .heads_kv = 8, .ctx = 131072, .eps = 1e-5f, .theta = 150000.0f});
    set_head_dim(c, 64);
    c.n_ff = 2880;
    set_experts(c, 32, 4, 2880);
    c.n_swa = 128;
    set_yarn(c, 32.0f, 4096, 0.0f);
    p.push_back(make("gpt-oss-20b: 32 experts top-4, 24 layers, n_embd 2880, GQA 64/8, window 128", c));
  }
  {
    ModelConfig c = base({.arch = "gpt-oss", .name = "gpt-oss-120b", .vocab = 201088, .embd = 2880, .layers = 36,
                          .heads = 64, .heads_kv = 8, .ctx = 131072, .eps = 1e-5f, .theta = 150000.0f});
    set_head_dim(c, 64);
    c.n_ff = 2880;
    set_experts(c, 128, 4, 2880);
    c.n_swa = 128;
    set_yarn(c, 32.0f, 4096, 0.0f);
    p.push_back(make("gpt-oss-120b: 128 experts top-4, 36 layers, n_embd 2880, GQA 64/8, window 128", c));
  }

  // deepseek4 (DeepSeek-V4).
  {
    ModelConfig c = base({.arch = "deepseek4", .name = "tiny", .vocab = 512, .embd = 128, .layers = 4,
                          .heads = 4, .heads_kv = 1, .ctx = 256, .eps = 1e-6f, .theta = 10000.0f});
    set_experts(c, 8, 2, 64);
    set_dsv4(c, {.head_dim = 64, .rope_dim = 16, .q_lora = 64, .out_groups = 2, .out_lora = 32, .window = 8,
                 .idx_heads = 2, .idx_dim = 32, .idx_top_k = 3, .hc = 4, .sinkhorn = 5, .hash_layers = 1,
                 .ratios = {0, 4, 8, 4}, .swiglu_limit = 1.5f, .routed_scale = 1.5f,
                 .compress_rope_base = 40000.0f});
    set_yarn(c, 4.0f, 64, 0.0f);
    p.push_back(make("DeepSeek-V4 style: 4 hyper-connection streams, window 8, layers compressing by 0/4 (indexer, "
                     "top-3)/8/4, 8 experts top-2 + 1 shared, a hash layer, YaRN on the compressing layers",
                     c));
  }
  {
    ModelConfig c = base({.arch = "deepseek4", .name = "deepseek-v4-flash", .vocab = 129280, .embd = 4096, .layers = 43,
                          .heads = 64, .heads_kv = 1, .ctx = 1048576, .eps = 1e-6f, .theta = 10000.0f});
    set_experts(c, 256, 6, 2048);
    std::vector<int64_t> ratios{0, 0};
    for (int64_t il = 2; il < 43; ++il) ratios.push_back(il % 2 == 0 ? 4 : 128);
    set_dsv4(c, {.head_dim = 512, .rope_dim = 64, .q_lora = 1024, .out_groups = 8, .out_lora = 1024, .window = 128,
                 .idx_heads = 64, .idx_dim = 128, .idx_top_k = 512, .hc = 4, .sinkhorn = 20, .hash_layers = 3,
                 .ratios = ratios, .swiglu_limit = 10.0f, .routed_scale = 1.5f, .compress_rope_base = 160000.0f});
    set_yarn(c, 16.0f, 65536, 0.0f);
    p.push_back(make("DeepSeek-V4-Flash (284B, 13B active): 256 experts top-6 + 1 shared, 43 layers (2 windowed, "
                     "then CSA/HCA alternating), 64 heads of 512, 4 hyper-connection streams",
                     c));
  }
  {
    // The routed scale and the SwiGLU limit are Flash's (they change no size).
    ModelConfig c = base({.arch = "deepseek4", .name = "deepseek-v4-pro", .vocab = 129280, .embd = 7168, .layers = 61,
                          .heads = 128, .heads_kv = 1, .ctx = 1048576, .eps = 1e-6f, .theta = 10000.0f});
    set_experts(c, 384, 6, 3072);
    std::vector<int64_t> ratios{128, 128};
    for (int64_t il = 2; il < 61; ++il) ratios.push_back(il % 2 == 0 ? 4 : 128);
    set_dsv4(c, {.head_dim = 512, .rope_dim = 64, .q_lora = 1536, .out_groups = 16, .out_lora = 1024, .window = 128,
                 .idx_heads = 64, .idx_dim = 128, .idx_top_k = 1024, .hc = 4, .sinkhorn = 20, .hash_layers = 3,
                 .ratios = ratios, .swiglu_limit = 10.0f, .routed_scale = 1.5f, .compress_rope_base = 160000.0f});
    set_yarn(c, 16.0f, 65536, 0.0f);
    p.push_back(make("DeepSeek-V4-Pro (1.6T, 49B active): 384 experts top-6 + 1 shared, 61 layers (2 HCA, then "
                     "CSA/HCA alternating), 128 heads of 512, 4 hyper-connection streams",
                     c));
  }

  // minimax-m2 (MiniMax-M2, M2.1): RMSNorm over the whole q and whole k
  // vectors, RoPE (NeoX pairing) on the first rotary_dim of each head, a
  // sigmoid router whose selection bias chooses only, the top-k
  // renormalised, no shared expert; the converter writes the expert width
  // as feed_forward_length too.
  {
    ModelConfig c = base({.arch = "minimax-m2", .name = "tiny", .vocab = 512, .embd = 128, .layers = 2,
                          .heads = 4, .heads_kv = 2, .ctx = 256, .eps = 1e-6f, .theta = 5000000.0f});
    set_head_dim(c, 64);
    c.rope_dim = 32;
    c.n_ff = 64;
    set_experts(c, 16, 4, 64);
    set_minimax_routing(c);
    p.push_back(make("MiniMax-M2 style: whole-vector q/k norm, RoPE on 32 of 64, GQA 4/2, sigmoid router with "
                     "bias, top-4 of 16 renormalised, 2 layers, n_embd 128",
                     c));
  }
  {
    ModelConfig c = base({.arch = "minimax-m2", .name = "minimax-m2", .vocab = 200064, .embd = 3072, .layers = 62,
                          .heads = 48, .heads_kv = 8, .ctx = 196608, .eps = 1e-6f, .theta = 5000000.0f});
    set_head_dim(c, 128);
    c.rope_dim = 64;
    c.n_ff = 1536;
    set_experts(c, 256, 8, 1536);
    set_minimax_routing(c);
    p.push_back(make("MiniMax-M2 / M2.1 (230B, 10B active): 256 experts top-8, 62 layers, n_embd 3072, GQA 48/8 of "
                     "128, RoPE on 64",
                     c));
  }

  // dots1 (rednote dots.llm1): per-head q/k norm, NeoX RoPE over whole
  // heads, a leading dense layer, then DeepSeek-V3's MoE: a sigmoid router
  // with the selection bias, the top-k renormalised and scaled by 2.5, two
  // shared experts as wide as a routed one each.
  {
    ModelConfig c = base({.arch = "dots1", .name = "tiny", .vocab = 512, .embd = 128, .layers = 3,
                          .heads = 4, .heads_kv = 2, .ctx = 256, .eps = 1e-5f, .theta = 10000000.0f});
    set_head_dim(c, 64);
    c.n_ff = 256;
    set_experts(c, 8, 2, 64);
    set_v3_routing(c, 1, 2.5f);
    set_shared_experts(c, 2);
    p.push_back(make("dots.llm1 style: per-head q/k norm, GQA 4/2 of 64, 1 dense + 2 MoE layers, sigmoid router "
                     "with bias, top-2 of 8 renormalised x 2.5, 2 shared experts",
                     c));
  }
  {
    ModelConfig c = base({.arch = "dots1", .name = "dots.llm1", .vocab = 152064, .embd = 4096, .layers = 62,
                          .heads = 32, .heads_kv = 32, .ctx = 32768, .eps = 1e-5f, .theta = 10000000.0f});
    set_head_dim(c, 128);
    c.n_ff = 10944;
    set_experts(c, 128, 6, 1408);
    set_v3_routing(c, 1, 2.5f);
    set_shared_experts(c, 2);
    p.push_back(make("dots.llm1 (142B, 14B active): 128 experts top-6 + 2 shared, 62 layers (1 dense), n_embd 4096, "
                     "32 heads of 128",
                     c));
  }

  // ernie4_5-moe (Baidu ERNIE-4.5 MoE): RoPE on interleaved pairs, no q/k
  // norm, leading dense layers then MoE layers every moe_step-th, a softmax
  // router whose correction bias chooses only, the top-k renormalised,
  // ungated shared experts; the embedding tied to the head in 21B-A3B.
  {
    ModelConfig c = base({.arch = "ernie4_5-moe", .name = "tiny", .vocab = 512, .embd = 128, .layers = 4,
                          .heads = 4, .heads_kv = 2, .ctx = 256, .eps = 1e-5f, .theta = 500000.0f});
    set_head_dim(c, 64);
    c.n_ff = 256;
    set_experts(c, 8, 2, 64);
    set_shared_experts(c, 2);
    set_ernie_routing(c, 1, 2);
    p.push_back(make("ERNIE-4.5-MoE style: interleaved RoPE, GQA 4/2 of 64, layers dense/MoE alternating, softmax "
                     "router with bias, top-2 of 8 renormalised, 2 shared experts",
                     c));
  }
  {
    ModelConfig c = base({.arch = "ernie4_5-moe", .name = "ernie-4.5-21b-a3b", .vocab = 103424, .embd = 2560,
                          .layers = 28, .heads = 20, .heads_kv = 4, .ctx = 131072, .eps = 1e-5f, .theta = 500000.0f});
    set_head_dim(c, 128);
    c.n_ff = 12288;
    set_experts(c, 64, 6, 1536);
    set_shared_experts(c, 2);
    set_ernie_routing(c, 1, 1);
    c.tied_output = true;
    p.push_back(make("ERNIE-4.5-21B-A3B (21B, 3B active): 64 experts top-6 + 2 shared, 28 layers (1 dense), n_embd "
                     "2560, GQA 20/4 of 128, tied embedding",
                     c));
  }

  // Ling 2.0 (bailingmoe2): q, k and v in one matrix, per-head q/k norm, RoPE
  // on half of each head, leading dense layers, DeepSeek-V3's grouped sigmoid
  // routing with the selection bias, the top-8 of 256 renormalised and
  // scaled by 2.5, one shared expert as wide as a routed one.
  {
    ModelConfig c = base({.arch = "bailingmoe2", .name = "tiny", .vocab = 512, .embd = 128, .layers = 3, .heads = 4,
                          .heads_kv = 2, .ctx = 256, .eps = 1e-6f, .theta = 600000.0f});
    set_head_dim(c, 32);
    c.rope_dim = 16;
    c.n_ff = 256;
    set_experts(c, 8, 2, 64);
    set_v3_routing(c, 1, 2.5f);
    c.n_expert_groups = 4;
    c.n_group_used = 2;
    p.push_back(make("Ling 2.0 style: fused q/k/v, per-head q/k norm, RoPE on 16 of 32, GQA 4/2, 1 dense + 2 MoE "
                     "layers, grouped sigmoid router with bias (4 groups use 2), top-2 of 8 x 2.5, 1 shared expert",
                     c));
  }
  struct Ling {
    const char* name;
    int64_t embd, layers, heads, heads_kv, ff, ff_exp, leading_dense;
    const char* description;
  };
  for (const Ling& l : {
           Ling{.name = "ling-mini-2.0", .embd = 2048, .layers = 20, .heads = 16, .heads_kv = 4, .ff = 5120,
                .ff_exp = 512, .leading_dense = 1,
                .description = "Ling-mini-2.0 (16B, 1.4B active): 256 experts top-8 + 1 shared in 8 groups, 20 "
                               "layers (1 dense), n_embd 2048, GQA 16/4 of 128"},
           Ling{.name = "ling-flash-2.0", .embd = 4096, .layers = 32, .heads = 32, .heads_kv = 4, .ff = 9216,
                .ff_exp = 1024, .leading_dense = 1,
                .description = "Ling-flash-2.0 (100B, 6.1B active): 256 experts top-8 + 1 shared in 8 groups, 32 "
                               "layers (1 dense), n_embd 4096, GQA 32/4 of 128"},
           Ling{.name = "ling-1t", .embd = 8192, .layers = 80, .heads = 64, .heads_kv = 8, .ff = 18432,
                .ff_exp = 2048, .leading_dense = 4,
                .description = "Ling-1T (1T, 50B active): 256 experts top-8 + 1 shared in 8 groups, 80 layers (4 "
                               "dense), n_embd 8192, GQA 64/8 of 128"},
       }) {
    ModelConfig c = base({.arch = "bailingmoe2", .name = l.name, .vocab = 157184, .embd = l.embd, .layers = l.layers,
                          .heads = l.heads, .heads_kv = l.heads_kv, .ctx = 32768, .eps = 1e-6f, .theta = 600000.0f});
    set_head_dim(c, 128);
    c.rope_dim = 64;
    c.n_ff = l.ff;
    set_experts(c, 256, 8, l.ff_exp);
    set_v3_routing(c, l.leading_dense, 2.5f);
    c.n_expert_groups = 8;
    c.n_group_used = 4;
    p.push_back(make(l.description, c));
  }
}

}  // namespace frugal::model::preset_builders
