// LoRA over a frozen base (see lora_model.h): which architectures it
// covers, the adapter slots and their initial factors, and the loss of one
// example: the embedding, the layers (lora_layer.h, activations kept per
// layer), the head and the cross-entropy, then the backward pass in
// reverse.
#include "finetune/lora_model.h"

#include <algorithm>
#include <cmath>
#include <random>

#include "base/error.h"
#include "finetune/lora_dsv4.h"
#include "finetune/lora_grad.h"
#include "finetune/lora_layer.h"
#include "finetune/lora_pass.h"
#include "finetune/lora_slot.h"
#include "kernels/matmul.h"
#include "model/architectures.h"
#include "train/layers.h"

namespace frugal::finetune {

namespace {

// Every architecture frugal runs but those whose table entry says what the
// LoRA trainer lacks for them (model/architectures.cc).
void check_architecture(const std::string& arch) {
  const model::Architecture& a = model::architecture(arch);
  if (!a.finetune_lacks) return;
  fail("finetune: architecture '", arch, "' is not supported: the LoRA trainer lacks its ", a.finetune_lacks,
       " (supported: ", model::architecture_names([](const model::Architecture& x) { return !x.finetune_lacks; }),
       ")");
}

}  // namespace

void parse_expert_sharing(const std::string& mode, LoraShape& shape) {
  if (mode != "each" && mode != "shared")
    fail("finetune: --lora-experts: '", mode, "' is neither 'each' (a pair of factors per expert) nor 'shared' (one "
         "pair for all of a layer's experts)");
  shape.shared_experts = mode == "shared";
}

void parse_targets(const std::string& list, LoraShape& shape) {
  shape.attn = shape.ffn = shape.shared = shape.experts = shape.router = false;
  size_t begin = 0;
  while (begin <= list.size()) {
    size_t end = list.find(',', begin);
    if (end == std::string::npos) end = list.size();
    const std::string t = list.substr(begin, end - begin);
    begin = end + 1;
    if (t == "attn") {
      shape.attn = true;
    } else if (t == "ffn") {
      shape.ffn = true;
    } else if (t == "shared") {
      shape.shared = true;
    } else if (t == "experts") {
      shape.experts = true;
    } else if (t == "router") {
      shape.router = true;
    } else {
      fail("finetune: --targets: unknown target '", t, "' (supported: attn, ffn, shared, experts, router)");
    }
  }
}

LoraModel::LoraModel(const model::Model& base, const LoraShape& shape) : base_(base), shape_(shape) {
  const model::ModelConfig& c = base.config();
  check_architecture(c.arch);
  // Routing: a softmax over every expert or a sigmoid per expert (or
  // deepseek4's sqrt(softplus)); the
  // selection bias and the expert groups only choose (the gradient flows
  // through the chosen experts' scores alone).
  // deepseek4: sqrt(softplus) scores, its hash layers and clamped units.
  const bool dsv4 = c.has_hyper_connections();
  if (c.n_expert > 0 && ((c.gating != model::GatingFunc::kSoftmax && c.gating != model::GatingFunc::kSigmoid &&
                          !(dsv4 && c.gating == model::GatingFunc::kSqrtSoftplus)) ||
                         (!dsv4 && (!c.swiglu_limit_exp.empty() || !c.swiglu_limit_shexp.empty()))))
    fail("finetune: this ", c.arch, " variant's routing is not supported yet");
  if (!c.is_mla() && c.v_head_dim != c.head_dim)
    fail("finetune: value heads of ", c.v_head_dim, " values beside key heads of ", c.head_dim,
         " are not supported yet");
  if (c.qk_norm != model::QkNorm::kNone && c.qk_norm != model::QkNorm::kPerHead && c.qk_norm != model::QkNorm::kWhole &&
      c.qk_norm != model::QkNorm::kPerHeadUnweighted)
    fail("finetune: this ", c.arch, " variant's q/k normalisation is not supported yet");
  if (shape.rank <= 0) fail("finetune: --rank must be positive");
  if (!shape.attn && !shape.ffn && !shape.shared && !shape.experts && !shape.router)
    fail("finetune: no matrices to adapt");
  if (shape.shared && c.n_ff_shexp == 0) fail("finetune: --targets shared: ", c.arch, " model has no shared experts");
  if (shape.shared_experts && !shape.experts)
    fail("finetune: --lora-experts shared: the routed experts are not adapted (add experts to --targets)");
  if ((shape.experts || shape.router) && c.n_expert == 0)
    fail("finetune: --targets experts/router: this ", c.arch, " model has no routed experts");
  std::mt19937_64 rng(shape.seed);
  for (int64_t il = 0; il < c.n_layer; ++il)
    for (int t = 0; t < kTargets; ++t) {
      const model::LayerWeights& L = base.weights().layers[static_cast<size_t>(il)];
      LoraSlot s;
      s.target = gguf::tensor_name(target_tensor(t), il);
      s.w = base_matrix(L, t);
      // A fused attention (bailingmoe2) is adapted as the one attn_qkv
      // matrix its file holds, its base products staying q's, k's and v's
      // (model.cc): that slot has the fused shape and no matrix of its own,
      // and lora_attention.cc splits its term.
      const bool fused = c.fused_qkv && !c.layer_is_recurrent(il) && (t == kQ || t == kK || t == kV || t == kDnQkv);
      if (fused && t == kDnQkv) s.w = {L.wq.type, nullptr, c.n_embd_q() + c.n_embd_k() + c.n_embd_v(), L.wq.n_in};
      s.n_expert = t == kKB || t == kVB ? c.n_head : is_stack(t) ? c.n_expert : 0;
      s.shared = t >= kGateEx && shape.shared_experts;
      s.rank = shape.rank;
      s.adapted = fused ? t == kDnQkv && wanted(shape, t) : s.w.data != nullptr && wanted(shape, t);
      if (!s.adapted) {  // not a target, or absent in this layer (an MoE layer's dense FFN, ...)
        slots_.push_back(std::move(s));
        continue;
      }
      s.offset = params_.size();
      const int64_t n = s.n_pairs();
      std::normal_distribution<float> z(0.0f, 1.0f / std::sqrt(static_cast<float>(s.w.n_in)));
      for (int64_t i = 0; i < n * shape.rank * s.w.n_in; ++i) params_.push_back(z(rng));
      params_.resize(params_.size() + static_cast<size_t>(n * s.w.n_out * shape.rank), 0.0f);
      slots_.push_back(std::move(s));
    }
  grads_.assign(params_.size(), 0.0f);
}

LoraModel::~LoraModel() = default;

std::vector<model::LoraFactors> LoraModel::factors() const {
  std::vector<model::LoraFactors> out;
  for (const LoraSlot& s : slots_) {
    if (!s.adapted) continue;
    const auto a = params_.begin() + static_cast<std::ptrdiff_t>(s.offset);
    const auto b = a + static_cast<std::ptrdiff_t>(s.n_pairs() * s.w.n_in * s.rank);
    model::LoraFactors f{.target = s.target,
                         .n_in = s.w.n_in,
                         .n_out = s.w.n_out,
                         .n_expert = s.n_expert,
                         .a = F(a, b),
                         .b = F(b, b + static_cast<std::ptrdiff_t>(s.n_pairs() * s.w.n_out * s.rank))};
    if (s.shared) {  // the shared pair repeated for every expert: the format has a pair per expert
      const F a1 = f.a, b1 = f.b;
      for (int64_t e = 1; e < s.n_expert; ++e) {
        f.a.insert(f.a.end(), a1.begin(), a1.end());
        f.b.insert(f.b.end(), b1.begin(), b1.end());
      }
    }
    out.push_back(std::move(f));
  }
  return out;
}

double LoraModel::loss(const SftExample& ex, bool with_grad, float grad_weight, std::vector<float>* all_logits) {
  const model::ModelConfig& c = base_.config();
  const model::ModelWeights& W = base_.weights();
  const int64_t T = static_cast<int64_t>(ex.tokens.size()), D = c.n_embd;
  const LoraPass pass(c, W, slots_, params_, grads_, shape_, ex.tokens);
  std::vector<LayerActs> acts;
  Dsv4Acts dsv4_acts;  // deepseek4's layers and head (lora_dsv4.h) instead
  const bool dsv4 = c.has_hyper_connections();
  F x = zeros(T * D);  // the embeddings, then the final norm's input
  for (int64_t i = 0; i < T; ++i) base_.embed(ex.tokens[static_cast<size_t>(i)], x.data() + i * D);
  if (dsv4) {
    F h;
    dsv4_forward(pass, x, dsv4_acts, h);
    x = std::move(h);
  } else {
    acts.resize(static_cast<size_t>(c.n_layer));
    for (int64_t il = 0; il < c.n_layer; ++il) layer_forward(pass, il, acts[static_cast<size_t>(il)], x);
  }

  // Rows that predict a target token: row i predicts token i + 1.
  std::vector<int64_t> rows;
  std::vector<int32_t> targets;
  for (int64_t i = 0; i + 1 < T; ++i)
    if (ex.target[static_cast<size_t>(i + 1)]) {
      rows.push_back(i);
      targets.push_back(ex.tokens[static_cast<size_t>(i + 1)]);
    }
  const int64_t n = static_cast<int64_t>(rows.size()), V = c.n_vocab;
  if (n == 0) fail("finetune: line ", ex.line, ": no target tokens");
  F xnf, rstdf, sel = zeros(n * D), logits = zeros(n * V), probs = zeros(n * V);
  pass.rmsnorm(x.data(), W.output_norm.data, T, D, xnf, rstdf);
  if (all_logits) {
    all_logits->assign(static_cast<size_t>(T * V), 0.0f);
    kernels::matmul(W.output, xnf.data(), D, T, all_logits->data(), V, nullptr);
  }
  for (int64_t j = 0; j < n; ++j) std::copy_n(xnf.data() + rows[static_cast<size_t>(j)] * D, D, sel.data() + j * D);
  kernels::matmul(W.output, sel.data(), D, n, logits.data(), V, nullptr);
  const double loss = train::cross_entropy_forward(logits.data(), targets.data(), probs.data(), n, V) /
                      static_cast<double>(n);
  if (!with_grad) return loss;

  // Backward: through the head and the final norm, then the layers in reverse.
  F d_logits = zeros(n * V), d_sel = zeros(n * D), d_xnf = zeros(T * D), d_x = zeros(T * D);
  train::cross_entropy_backward(probs.data(), targets.data(), d_logits.data(), n, V,
                               grad_weight / static_cast<float>(n));
  frozen_linear_backward(W.output, d_logits.data(), n, d_sel.data());
  for (int64_t j = 0; j < n; ++j) std::copy_n(d_sel.data() + j * D, D, d_xnf.data() + rows[static_cast<size_t>(j)] * D);
  F d_w = zeros(D);  // the final norm's weight is frozen: its gradient is dropped here
  train::rmsnorm_backward(d_xnf.data(), x.data(), W.output_norm.data, rstdf.data(), d_x.data(), d_w.data(), T, D);
  if (dsv4) {
    dsv4_backward(pass, dsv4_acts, d_x);
  } else {
    for (int64_t il = c.n_layer - 1; il >= 0; --il) layer_backward(pass, il, acts[static_cast<size_t>(il)], d_x);
  }
  return loss;
}

}  // namespace frugal::finetune
