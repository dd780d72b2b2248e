// train_gradient_dump: one forward/backward pass of the training model,
// written out for an outside reference to check (tests/train/torch_gradient_test.py
// compares it with PyTorch's autograd). Not shipped: a test peer's entry point.
//
// Usage: train_gradient_dump OUT [key=value ...] with keys vocab, embd, layer,
// head, head_kv, head_dim, expert, used, ff, shexp, seq, batch, aux, z, bias
// (1: a random selection bias), seed; and init=MODEL.gguf: the model (any
// architecture frugal trains) and its weights from that file, the shape keys
// then taken from it. OUT gets one JSON line (the shape, the architecture's
// details: norm eps, RoPE base and layout, q/k norm, the losses, each
// tensor's name, ggml shape and offset), then raw little-endian
// arrays: params f32, grads f32, selection bias f32 (layer x expert),
// tokens i32, targets i32.
#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>
#include <vector>

#include "base/error.h"
#include "kernels/ops.h"
#include "model/forward_layers.h"
#include "train/export.h"
#include "train/train_model.h"
#include "train/transformer.h"

using namespace frugal;
using namespace frugal::train;

int main(int argc, char** argv) try {
  if (argc < 2) fail("usage: train_gradient_dump OUT [key=value ...]");
  std::map<std::string, double> v = {{"vocab", 64}, {"embd", 32}, {"layer", 2},  {"head", 4},   {"head_kv", 2},
                                     {"head_dim", 8}, {"expert", 4}, {"used", 2},  {"ff", 16},   {"shexp", 0},
                                     {"seq", 8},     {"batch", 2},  {"aux", 0.01}, {"z", 0.001}, {"bias", 0},
                                     {"seed", 7}};
  std::string init;
  for (int i = 2; i < argc; ++i) {
    const std::string a = argv[i];
    if (a.rfind("init=", 0) == 0) {
      init = a.substr(5);
      continue;
    }
    const size_t eq = a.find('=');
    if (eq == std::string::npos || !v.count(a.substr(0, eq))) fail("bad argument '", a, "'");
    v[a.substr(0, eq)] = std::atof(a.c_str() + eq + 1);
  }
  auto I = [&](const char* k) { return static_cast<int64_t>(v[k]); };
  ModelShape s{.n_vocab = I("vocab"), .n_embd = I("embd"), .n_layer = I("layer"), .n_head = I("head"),
               .n_head_kv = I("head_kv"), .head_dim = I("head_dim"), .n_expert = I("expert"),
               .n_expert_used = I("used"), .n_ff_exp = I("ff"), .n_ctx = I("seq"), .n_ff_shexp = I("shexp"), .arch = ""};
  const auto seed = static_cast<uint64_t>(I("seed"));
  std::vector<float> params, file_bias;
  model::ModelConfig cfg;
  if (init.empty()) {
    cfg = make_config(s);
  } else {
    ImportedModel m = import_gguf(init);
    cfg = m.config;
    params = std::move(m.params);
    file_bias = std::move(m.selection_bias);  // DeepSeek-V3's exp_probs_b: routes as the file does
    if (!file_bias.empty()) v["bias"] = 1;
    // The file's shape, written to the JSON line for the reference.
    v["vocab"] = static_cast<double>(cfg.n_vocab);
    v["embd"] = static_cast<double>(cfg.n_embd);
    v["layer"] = static_cast<double>(cfg.n_layer);
    v["head"] = static_cast<double>(cfg.n_head);
    v["head_kv"] = static_cast<double>(cfg.n_head_kv);
    v["head_dim"] = static_cast<double>(cfg.head_dim);
    v["expert"] = static_cast<double>(cfg.n_expert);
    v["used"] = static_cast<double>(cfg.n_expert_used);
    v["ff"] = static_cast<double>(cfg.n_ff_exp);
    v["shexp"] = static_cast<double>(cfg.n_ff_shexp);
    s.n_vocab = cfg.n_vocab;
    s.n_layer = cfg.n_layer;
    s.n_expert = cfg.n_expert;
  }
  const ParamLayout layout(cfg);
  std::vector<float> grads(layout.n_params(), 0.0f);
  if (params.empty()) {
    params.resize(layout.n_params());
    init_params(layout, seed, params.data());
  }
  // Norm weights away from 1 so their gradients are tested in general position.
  Rng rng(seed + 1);
  for (const ParamTensor& t : layout.tensors())
    if (t.role == model::TensorRole::kNorm || t.role == model::TensorRole::kBias)
      for (size_t i = 0; i < t.size; ++i) params[t.offset + i] += 0.1f * rng.normal();
  std::vector<float> bias(static_cast<size_t>(s.n_layer * s.n_expert), 0.0f);
  if (!file_bias.empty()) {
    bias = file_bias;
  } else if (I("bias")) {
    for (float& b : bias) b = 0.05f * rng.normal();
  }
  const int64_t N = I("batch") * I("seq");
  std::vector<int32_t> tokens(static_cast<size_t>(N)), targets(static_cast<size_t>(N));
  for (int64_t r = 0; r < N; ++r) {
    tokens[static_cast<size_t>(r)] = static_cast<int32_t>(rng.next_u64() % static_cast<uint64_t>(s.n_vocab));
    targets[static_cast<size_t>(r)] = static_cast<int32_t>(rng.next_u64() % static_cast<uint64_t>(s.n_vocab));
  }
  ThreadPool pool(1);
  Transformer model(layout, I("batch"), I("seq"), &pool);
  const RouterOptions opts{.aux_coef = static_cast<float>(v["aux"]), .z_coef = static_cast<float>(v["z"])};
  const ForwardResult res = model.forward(params.data(), I("bias") ? bias.data() : nullptr, tokens.data(),
                                          targets.data(), opts);
  model.backward(params.data(), grads.data(), 1.0f);

  FILE* f = std::fopen(argv[1], "wb");
  if (!f) fail("cannot write ", argv[1]);
  std::string j = "{";
  for (const auto& [k, x] : v) j += "\"" + k + "\":" + std::to_string(x) + ",";
  const char* qk = cfg.qk_norm == model::QkNorm::kWhole     ? "whole"
                   : cfg.qk_norm == model::QkNorm::kPerHead ? "head"
                                                            : "none";
  char buf[600];
  std::snprintf(buf, sizeof buf,
                "\"arch\":\"%s\",\"eps\":%.9g,\"rope_base\":%.9g,\"rope_neox\":%d,\"qk_norm\":\"%s\","
                "\"ce\":%.17g,\"aux_loss\":%.17g,\"z_loss\":%.17g,\"norm_w\":%d,\"sigmoid\":%d,"
                "\"w_scale\":%.9g,\"groups\":%lld,\"groups_used\":%lld,\"nope\":%lld,\"rope_dim\":%lld,"
                "\"v_dim\":%lld,\"attn_scale\":%.9g,",
                cfg.arch.c_str(), static_cast<double>(cfg.norm_eps), static_cast<double>(cfg.rope_freq_base),
                cfg.rope_layout == model::RopeLayout::kNeox ? 1 : 0, qk, res.ce_loss, res.aux_loss, res.z_loss,
                cfg.expert_weights_norm ? 1 : 0, cfg.gating == model::GatingFunc::kSigmoid ? 1 : 0,
                static_cast<double>(cfg.expert_weights_scale), static_cast<long long>(cfg.n_expert_groups),
                static_cast<long long>(cfg.n_group_used), static_cast<long long>(cfg.qk_nope_head_dim),
                static_cast<long long>(cfg.rope_dim), static_cast<long long>(cfg.v_head_dim),
                static_cast<double>(model::attention_scale(cfg)));
  j += buf;
  // The rotation angles as inference computes them (YaRN included):
  // latent attention's reference rotates with these.
  const kernels::RopeParams rp = model::rope_params(cfg);
  std::vector<float> cs(static_cast<size_t>(cfg.rope_dim));
  j += "\"rope_cs\":[";
  for (int64_t p = 0; p < I("seq"); ++p) {
    kernels::rope_angles(rp, p, cs.data());
    for (float x : cs) {
      std::snprintf(buf, sizeof buf, "%.9g,", static_cast<double>(x));
      j += buf;
    }
  }
  j.back() = ']';
  j += ",\"tensors\":[";
  for (const ParamTensor& t : layout.tensors()) {
    j += "{\"name\":\"" + t.name + "\",\"offset\":" + std::to_string(t.offset) + ",\"shape\":[";
    for (size_t i = 0; i < t.shape.size(); ++i) j += (i ? "," : "") + std::to_string(t.shape[i]);
    j += "]},";
  }
  j.back() = ']';
  j += "}\n";
  std::fwrite(j.data(), 1, j.size(), f);
  std::fwrite(params.data(), sizeof(float), params.size(), f);
  std::fwrite(grads.data(), sizeof(float), grads.size(), f);
  std::fwrite(bias.data(), sizeof(float), bias.size(), f);
  std::fwrite(tokens.data(), sizeof(int32_t), tokens.size(), f);
  std::fwrite(targets.data(), sizeof(int32_t), targets.size(), f);
  std::fclose(f);
  return 0;
} catch (const std::exception& e) {
  std::fprintf(stderr, "train_gradient_dump: %s\n", e.what());
  return 1;
}
