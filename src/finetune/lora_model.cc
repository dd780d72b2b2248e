// The forward and backward pass of LoRA over a frozen base (see
// lora_model.h): activations of one example kept per layer, the backward
// pass in reverse through the frozen norms, attention and FFN (layer
// functions of src/train), the frozen matrices through lora_grad.
#include "finetune/lora_model.h"

#include <algorithm>
#include <cmath>
#include <random>

#include "base/error.h"
#include "finetune/lora_grad.h"
#include "kernels/ops.h"
#include "model/forward_layers.h"
#include "train/layers.h"
#include "train/mla.h"

namespace frugal::finetune {

namespace {

// The adapted matrices of a layer, in parameter order: the attention's
// (deepseek2's latent attention: q_a, q_b, kv_a_mqa, a joint kv_b, or a
// split file's per-head k_b and v_b stacks), the 2-D FFN ones, then the
// routed experts' stacks (a pair of factors per expert).
enum Target {
  kQ, kK, kV, kO, kQA, kQB, kKvA, kKvB, kKB, kVB, kGate, kUp, kDown, kGateSh, kUpSh, kDownSh, kRouter, kGateEx,
  kUpEx, kDownEx, kTargets
};
constexpr const char* kTargetNames[kTargets] = {
    "attn_q",         "attn_k",        "attn_v",        "attn_output",   "attn_q_a",       "attn_q_b",
    "attn_kv_a_mqa",  "attn_kv_b",     "attn_k_b",      "attn_v_b",      "ffn_gate",       "ffn_up",
    "ffn_down",       "ffn_gate_shexp", "ffn_up_shexp", "ffn_down_shexp", "ffn_gate_inp",  "ffn_gate_exps",
    "ffn_up_exps",    "ffn_down_exps"};

bool is_stack(int t) { return t >= kGateEx || t == kKB || t == kVB; }

// A stack target's matrices: the routed experts', or k_b's and v_b's heads.
const model::ExpertStack& stack_of(const model::LayerWeights& L, int t) {
  switch (t) {
    case kKB: return L.wk_b;
    case kVB: return L.wv_b;
    case kGateEx: return L.gate_exps;
    case kUpEx: return L.up_exps;
    default: return L.down_exps;
  }
}

// The base matrix of a 2-D target, or expert (head) 0's of a stack.
kernels::WeightMatrix base_matrix(const model::LayerWeights& L, int t) {
  if (is_stack(t)) return stack_of(L, t).data ? stack_of(L, t).expert(0) : kernels::WeightMatrix{};
  const kernels::WeightMatrix* m[kRouter + 1] = {
      &L.wq,       &L.wk,        &L.wv,         &L.wo,       &L.wq_a,     &L.wq_b,       &L.wkv_a_mqa, &L.wkv_b,
      nullptr,     nullptr,      &L.ffn_gate,   &L.ffn_up,   &L.ffn_down, &L.gate_shexp, &L.up_shexp,  &L.down_shexp,
      &L.router};
  return *m[t];
}

// The latent attention's matrices as targets (head h of k_b and v_b).
int mla_target(train::MlaMatrix m) {
  switch (m) {
    case train::MlaMatrix::kQ: return kQ;
    case train::MlaMatrix::kQA: return kQA;
    case train::MlaMatrix::kQB: return kQB;
    case train::MlaMatrix::kKvA: return kKvA;
    case train::MlaMatrix::kKB: return kKB;
    case train::MlaMatrix::kVB: return kVB;
    case train::MlaMatrix::kO: return kO;
  }
  return kO;
}

bool wanted(const LoraShape& s, int t) {
  if (t < kGate) return s.attn;
  if (t < kGateSh) return s.ffn;
  if (t < kRouter) return s.shared;
  if (t == kRouter) return s.router;
  return s.experts;
}

// Every architecture frugal runs: those the forward and backward below
// cover, and for the others what they lack, said in the refusal.
struct ArchSupport {
  const char* arch;
  const char* missing = nullptr;  // null: supported
};
constexpr ArchSupport kArchs[] = {
    {.arch = "llama"},
    {.arch = "qwen2"},
    {.arch = "qwen3"},
    {.arch = "qwen2moe"},
    {.arch = "qwen3moe"},
    {.arch = "olmoe"},
    {.arch = "glm4moe"},
    {.arch = "gpt-oss"},
    {.arch = "llama4"},
    {.arch = "deepseek2"},
    {.arch = "qwen3next", .missing = "Gated DeltaNet linear-attention layers"},
    {.arch = "qwen35moe", .missing = "Gated DeltaNet linear-attention layers"},
    {.arch = "deepseek4", .missing = "hyper-connection streams and compressed attention"},
};

void check_architecture(const std::string& arch) {
  std::string supported;
  const ArchSupport* found = nullptr;
  for (const ArchSupport& a : kArchs) {
    if (!a.missing) supported += std::string(supported.empty() ? "" : ", ") + a.arch;
    if (arch == a.arch) found = &a;
  }
  if (found && !found->missing) return;
  if (found)
    fail("finetune: architecture '", arch, "' is not supported: the LoRA trainer lacks its ", found->missing,
         " (supported: ", supported, ")");
  fail("finetune: architecture '", arch, "' is not supported (supported: ", supported, ")");
}

using F = std::vector<float>;
F zeros(int64_t n) { return F(static_cast<size_t>(n), 0.0f); }

}  // namespace

struct LoraModel::Slot {
  std::string target;
  kernels::WeightMatrix w;  // the base matrix (expert 0's for a stack)
  int64_t n_expert = 0;     // 0: a 2-D matrix; else an expert stack
  bool shared = false;      // a stack whose experts share one pair of factors
  size_t offset = 0;        // of A in params (every expert's A, then every expert's B)
  // Pairs of factors in params: one per expert of a stack unless shared.
  int64_t n_pairs() const { return shared ? 1 : std::max<int64_t>(1, n_expert); }
  // Expert e's factors (e = 0 for a 2-D matrix; every expert's are the
  // same pair when shared, so their gradients add up in it).
  LoraWeights at(const std::vector<float>& p, float scale, int64_t e = 0) const {
    const size_t a_size = static_cast<size_t>(w.n_in * rank), b_size = static_cast<size_t>(w.n_out * rank);
    const size_t n = static_cast<size_t>(n_pairs());
    if (shared) e = 0;
    return {.a = p.data() + offset + static_cast<size_t>(e) * a_size,
            .b = p.data() + offset + n * a_size + static_cast<size_t>(e) * b_size,
            .n_in = w.n_in,
            .n_out = w.n_out,
            .rank = rank,
            .scale = scale};
  }
  int64_t rank = 0;
  bool adapted = false;
};

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
  // Routing: a softmax over every expert or a sigmoid per expert; the
  // selection bias and the expert groups only choose (the gradient flows
  // through the chosen experts' scores alone).
  if (c.n_expert > 0 && ((c.gating != model::GatingFunc::kSoftmax && c.gating != model::GatingFunc::kSigmoid) ||
                         !c.swiglu_limit_exp.empty() || !c.swiglu_limit_shexp.empty()))
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
      Slot s;
      s.target = "blk." + std::to_string(il) + "." + kTargetNames[t] + ".weight";
      s.w = base_matrix(L, t);
      s.n_expert = t == kKB || t == kVB ? c.n_head : is_stack(t) ? c.n_expert : 0;
      s.shared = t >= kGateEx && shape.shared_experts;
      s.rank = shape.rank;
      s.adapted = s.w.data != nullptr && wanted(shape, t);
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
  for (const Slot& s : slots_) {
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
  const int64_t T = static_cast<int64_t>(ex.tokens.size()), D = c.n_embd, hd = c.head_dim;
  const int64_t H = c.n_head, HK = c.n_head_kv, nq = H * hd, nk = HK * hd, FF = c.n_ff, r = shape_.rank;
  const float scale = shape_.alpha / static_cast<float>(r), eps = c.norm_eps;
  // RoPE as inference applies it (pairing, scaling, frequency factors, on
  // the first rope_dim values of each head: glm4moe rotates half of each,
  // the rest passes unturned); backward rotates by the transpose: the same
  // table with sines negated.
  kernels::RopeParams rp = model::rope_params(c);
  rp.freq_factors = W.rope_freqs.data;
  const int64_t rd = c.rope_dim;
  F rope = zeros(T * rd), rope_back = zeros(T * rd);
  for (int64_t i = 0; i < T; ++i) kernels::rope_angles(rp, i, rope.data() + i * rd);
  for (size_t i = 0; i < rope.size(); ++i) rope_back[i] = i % 2 ? -rope[i] : rope[i];
  auto rotate = [&](float* x, int64_t heads, const F& table) {
    for (int64_t i = 0; i < T; ++i)
      for (int64_t h = 0; h < heads; ++h) kernels::rope_apply(rp, table.data() + i * rd, x + (i * heads + h) * hd);
  };
  // q/k RMSNorm over each head's head_dim values (qwen3), or over the whole
  // q and k vectors of a token (olmoe): rows of width qn/kn. llama4's is per
  // head without a weight (ones here), on its RoPE layers only.
  const bool qk_unweighted = c.qk_norm == model::QkNorm::kPerHeadUnweighted;
  auto qk_norm_in = [&](int64_t il) {
    return c.qk_norm == model::QkNorm::kPerHead || c.qk_norm == model::QkNorm::kWhole ||
           (qk_unweighted && c.layer_has_rope(il));
  };
  const F ones(static_cast<size_t>(hd), 1.0f);
  const bool qk_whole = c.qk_norm == model::QkNorm::kWhole;
  const int64_t qn = qk_whole ? nq : hd, kn = qk_whole ? nk : hd;
  // llama4's NoPE layers temper each query by its position instead of
  // rotating it: t = 1 + scale ln(floor((pos + 1) / length) + 1); backward
  // scales d_q by the same t.
  auto temper = [&](float* x) {
    if (c.attn_temp_scale == 0.0f) return;
    for (int64_t i = 0; i < T; ++i) {
      const double steps = std::floor((i + 1.0) / static_cast<double>(c.attn_temp_length));
      const float t = static_cast<float>(1.0 + c.attn_temp_scale * std::log(steps + 1.0));
      for (int64_t e = 0; e < nq; ++e) x[i * nq + e] *= t;
    }
  };
  const train::AttentionShape as{.n_seq = 1, .t = T, .n_head = H, .n_head_kv = HK, .head_dim = hd,
                                 .scale = model::attention_scale(c)};

  // Expert e's product (e = 0 for a 2-D matrix) over n rows:
  // y = W x (+ the adapter), keeping A x (n x rank) for backward.
  auto product = [&](int64_t il, int t, int64_t e, const float* x, int64_t n, float* y, float* ax) {
    const Slot& s = slots_[static_cast<size_t>(il * kTargets + t)];
    const kernels::WeightMatrix we = is_stack(t) ? stack_of(W.layers[static_cast<size_t>(il)], t).expert(e) : s.w;
    kernels::matmul(we, x, we.n_in, n, y, we.n_out, nullptr);
    if (s.adapted) lora_forward(s.at(params_, scale, e), x, n, ax, y);
  };
  // d_x += d_y W (+ the adapter's part); the factors' gradients added.
  auto product_back = [&](int64_t il, int t, int64_t e, const float* x, const float* ax, const float* d_y,
                          int64_t n, float* d_x) {
    const Slot& s = slots_[static_cast<size_t>(il * kTargets + t)];
    const kernels::WeightMatrix we = is_stack(t) ? stack_of(W.layers[static_cast<size_t>(il)], t).expert(e) : s.w;
    frozen_linear_backward(we, d_y, n, d_x);
    if (!s.adapted) return;
    const LoraWeights lw = s.at(params_, scale, e);
    lora_backward(lw, x, ax, d_y, n, grads_.data() + (lw.a - params_.data()), grads_.data() + (lw.b - params_.data()),
                  d_x);
  };
  // The same over the example's T rows of a 2-D matrix.
  auto linear = [&](int64_t il, int t, const float* x, F& y, F& ax) {
    const Slot& s = slots_[static_cast<size_t>(il * kTargets + t)];
    y = zeros(T * s.w.n_out);
    ax = zeros(T * r);
    product(il, t, 0, x, T, y.data(), ax.data());
  };
  auto linear_back = [&](int64_t il, int t, const float* x, const F& ax, const float* d_y, float* d_x) {
    product_back(il, t, 0, x, ax.data(), d_y, T, d_x);
  };

  // y = RMSNorm(x) over rows of width, keeping each row's 1/rms for backward.
  auto rmsnorm = [&](const float* x, const float* w, int64_t rows, int64_t width, F& y, F& rstd) {
    y = zeros(rows * width);
    rstd = zeros(rows);
    train::rmsnorm_forward(x, w, y.data(), rstd.data(), rows, width, eps);
  };

  struct Acts {
    F x, xn1, rstd1, q_raw, k_raw, rstd_q, rstd_k, q, k, v, probs, att, x_mid, xn2, rstd2, g, u, h;
    F ax[kTargets];  // A x of each adapted product (per slot, in expert order, for the expert stacks)
    // MoE layers: the router's logits; per row, its chosen experts and
    // weights. A slot is a (row i, choice j) pair, s = i K + j; order lists
    // the slots grouped by expert (expert e's at first[e] .. first[e + 1]),
    // so that each expert's matrices are read, and backward dequantised,
    // once for all the rows routed to it. In that order: each slot's input
    // row, and the expert's gate, up, hidden and output rows. Then the
    // shared expert's gate, up, hidden and output rows and weights.
    F logits;
    std::vector<int32_t> experts;
    std::vector<int64_t> order, first;
    F weights, ex, eg, eu, eh, ey, sg, su, sh, sy, s_weight;
    train::MlaActs mla;  // deepseek2's latent attention (instead of q_raw .. att)
  };
  // The routed experts: route_row as inference does (a softmax over all
  // experts or a sigmoid per expert (glm4moe), top-k of the scores plus the
  // selection bias where the layer has one (exp_probs_b: it chooses, never
  // weighs), the chosen scores renormalised or not, times
  // expert_weights_scale), then the shared expert (qwen2moe: weighed by
  // sigmoid(x . shexp_gate); glm4moe: weight 1).
  const int64_t E = c.n_expert, K = c.n_expert_used, FE = c.n_ff_exp, FS = c.n_ff_shexp;
  const bool oai = c.ffn_act == model::FfnActivation::kSwigluOai;  // gpt-oss's routed experts
  const bool on_input = c.expert_weight_on_input;                  // llama4's
  auto moe_forward = [&](int64_t il, const model::LayerWeights& L, Acts& a, F& f) {
    linear(il, kRouter, a.xn2.data(), a.logits, a.ax[kRouter]);
    if (L.router_bias)  // gpt-oss: frozen, after the adapter as inference adds it
      for (int64_t i = 0; i < T; ++i) kernels::add(L.router_bias.data, a.logits.data() + i * E, E);
    a.experts.assign(static_cast<size_t>(T * K), 0);
    a.weights = zeros(T * K);
    for (int64_t i = 0; i < T; ++i)
      model::route_row(c, a.logits.data() + i * E, L.expert_score_bias.data, a.experts.data() + i * K,
                       a.weights.data() + i * K);
    a.first.assign(static_cast<size_t>(E + 1), 0);
    for (int32_t e : a.experts) ++a.first[static_cast<size_t>(e) + 1];
    for (int64_t e = 0; e < E; ++e) a.first[e + 1] += a.first[e];
    std::vector<int64_t> next(a.first.begin(), a.first.end() - 1);
    a.order.assign(static_cast<size_t>(T * K), 0);
    for (int64_t s = 0; s < T * K; ++s) a.order[static_cast<size_t>(next[a.experts[static_cast<size_t>(s)]]++)] = s;
    a.ex = zeros(T * K * D);
    for (int64_t q = 0; q < T * K; ++q) std::copy_n(a.xn2.data() + a.order[q] / K * D, D, a.ex.data() + q * D);
    if (on_input)  // llama4: the weight scales the expert's input; its output adds with weight 1
      for (int64_t q = 0; q < T * K; ++q)
        for (int64_t k = 0; k < D; ++k) a.ex[static_cast<size_t>(q * D + k)] *= a.weights[a.order[q]];
    a.eg = zeros(T * K * FE);
    a.eu = zeros(T * K * FE);
    a.eh = zeros(T * K * FE);
    a.ey = zeros(T * K * D);
    for (int t : {kGateEx, kUpEx, kDownEx}) a.ax[t] = zeros(T * K * r);
    for (int64_t e = 0; e < E; ++e) {
      const int64_t q = a.first[e], m = a.first[e + 1] - q;
      if (m == 0) continue;
      product(il, kGateEx, e, a.ex.data() + q * D, m, a.eg.data() + q * FE, a.ax[kGateEx].data() + q * r);
      product(il, kUpEx, e, a.ex.data() + q * D, m, a.eu.data() + q * FE, a.ax[kUpEx].data() + q * r);
      if (L.gate_exps_b)  // gpt-oss: each expert's frozen biases, before the gated unit
        for (int64_t i = q; i < q + m; ++i) {
          kernels::add(L.gate_exps_b.data + e * FE, a.eg.data() + i * FE, FE);
          kernels::add(L.up_exps_b.data + e * FE, a.eu.data() + i * FE, FE);
        }
      if (oai) {
        kernels::swiglu_oai(a.eg.data() + q * FE, a.eu.data() + q * FE, a.eh.data() + q * FE, m * FE);
      } else {
        train::swiglu_forward(a.eg.data() + q * FE, a.eu.data() + q * FE, a.eh.data() + q * FE, m * FE);
      }
      product(il, kDownEx, e, a.eh.data() + q * FE, m, a.ey.data() + q * D, a.ax[kDownEx].data() + q * r);
      if (L.down_exps_b)  // the output's bias is weighed with it
        for (int64_t i = q; i < q + m; ++i) kernels::add(L.down_exps_b.data + e * D, a.ey.data() + i * D, D);
    }
    f = zeros(T * D);
    for (int64_t q = 0; q < T * K; ++q) {
      const int64_t s = a.order[q];
      kernels::axpy(on_input ? 1.0f : a.weights[static_cast<size_t>(s)], a.ey.data() + q * D, f.data() + s / K * D, D);
    }
    if (FS == 0) return;
    linear(il, kGateSh, a.xn2.data(), a.sg, a.ax[kGateSh]);
    linear(il, kUpSh, a.xn2.data(), a.su, a.ax[kUpSh]);
    a.sh = zeros(T * FS);
    train::swiglu_forward(a.sg.data(), a.su.data(), a.sh.data(), T * FS);
    linear(il, kDownSh, a.sh.data(), a.sy, a.ax[kDownSh]);
    a.s_weight.assign(static_cast<size_t>(T), 1.0f);
    for (int64_t i = 0; i < T; ++i) {
      if (L.shexp_gate) a.s_weight[i] = kernels::sigmoid(kernels::dot(a.xn2.data() + i * D, L.shexp_gate.data, D));
      kernels::axpy(a.s_weight[i], a.sy.data() + i * D, f.data() + i * D, D);
    }
  };
  // d_xn2 += the gradient of the MoE output d_f through the experts, the
  // weights into the router's logits, and the shared expert and its gate.
  auto moe_backward = [&](int64_t il, const model::LayerWeights& L, const Acts& a, const float* d_f, float* d_xn2) {
    F d_logits = zeros(T * E), p(E);
    const double ws = c.expert_weights_scale;
    // Per slot: the gradient of its expert's output (weight times d_f of
    // its row) and of its unscaled routing weight (d_f . the output). On
    // the input (llama4): the output's gradient is d_f, the weight's
    // d_input . the unscaled input, after the experts' backward.
    F d_ey = zeros(T * K * D), d_eh = zeros(T * K * FE), d_eg = zeros(T * K * FE), d_eu = zeros(T * K * FE),
      d_ex = zeros(T * K * D);
    std::vector<double> d_w(static_cast<size_t>(T * K));
    for (int64_t q = 0; q < T * K; ++q) {
      const int64_t s = a.order[q];
      const float* dfi = d_f + s / K * D;
      const float w = on_input ? 1.0f : a.weights[static_cast<size_t>(s)];
      double dw = 0;
      for (int64_t k = 0; k < D; ++k) {
        dw += double(dfi[k]) * a.ey[static_cast<size_t>(q * D + k)];
        d_ey[static_cast<size_t>(q * D + k)] = w * dfi[k];
      }
      d_w[static_cast<size_t>(s)] = dw * ws;
    }
    for (int64_t e = 0; e < E; ++e) {
      const int64_t q = a.first[e], m = a.first[e + 1] - q;
      if (m == 0) continue;
      product_back(il, kDownEx, e, a.eh.data() + q * FE, a.ax[kDownEx].data() + q * r, d_ey.data() + q * D, m,
                   d_eh.data() + q * FE);
      (oai ? train::swiglu_oai_backward : train::swiglu_backward)(d_eh.data() + q * FE, a.eg.data() + q * FE,
                                                                  a.eu.data() + q * FE, d_eg.data() + q * FE,
                                                                  d_eu.data() + q * FE, m * FE);
      product_back(il, kGateEx, e, a.ex.data() + q * D, a.ax[kGateEx].data() + q * r, d_eg.data() + q * FE, m,
                   d_ex.data() + q * D);
      product_back(il, kUpEx, e, a.ex.data() + q * D, a.ax[kUpEx].data() + q * r, d_eu.data() + q * FE, m,
                   d_ex.data() + q * D);
    }
    for (int64_t q = 0; q < T * K; ++q) {
      const int64_t s = a.order[q];
      if (!on_input) {
        kernels::add(d_ex.data() + q * D, d_xn2 + s / K * D, D);
        continue;
      }
      kernels::axpy(a.weights[static_cast<size_t>(s)], d_ex.data() + q * D, d_xn2 + s / K * D, D);
      d_w[static_cast<size_t>(s)] = kernels::dot(d_ex.data() + q * D, a.xn2.data() + s / K * D, D) * ws;
    }
    for (int64_t i = 0; i < T; ++i) {
      const double* dwi = d_w.data() + i * K;  // this row's slots
      float* dli = d_logits.data() + i * E;
      if (c.gating == model::GatingFunc::kSigmoid) {
        // p_e = sigmoid(l_e) per expert, the chosen ones' p the weights, or
        // u_j = p_j / S with S their sum when renormalised:
        // d_p_j = (d_u_j - sum_k u_k d_u_k) / S; d_l_j = p_j (1 - p_j) d_p_j.
        double sum = 0, mean = 0;
        for (int64_t j = 0; j < K; ++j) {
          p[j] = kernels::sigmoid(a.logits[static_cast<size_t>(i * E + a.experts[static_cast<size_t>(i * K + j)])]);
          sum += p[j];
        }
        if (c.expert_weights_norm)
          for (int64_t j = 0; j < K; ++j) mean += p[j] / sum * dwi[j];
        for (int64_t j = 0; j < K; ++j) {
          const double dp = c.expert_weights_norm ? (dwi[j] - mean) / sum : dwi[j];
          dli[a.experts[static_cast<size_t>(i * K + j)]] += static_cast<float>(dp * p[j] * (1.0 - p[j]));
        }
      } else if (c.expert_weights_norm) {
        // q = softmax over the chosen logits: d_l_j = q_j (d_q_j - sum_k q_k d_q_k).
        double mean = 0;
        for (int64_t j = 0; j < K; ++j) mean += a.weights[static_cast<size_t>(i * K + j)] / ws * dwi[j];
        for (int64_t j = 0; j < K; ++j) {
          const int64_t s = i * K + j;
          dli[a.experts[static_cast<size_t>(s)]] +=
              static_cast<float>(a.weights[static_cast<size_t>(s)] / ws * (dwi[j] - mean));
        }
      } else {
        // p = softmax over every expert, the chosen ones' p the weights:
        // d_l_e = p_e (d_p_e - sum_chosen p_j d_p_j), d_p zero off the chosen.
        std::copy_n(a.logits.data() + i * E, E, p.data());
        kernels::softmax(p.data(), E);
        double mean = 0;
        for (int64_t j = 0; j < K; ++j) mean += p[a.experts[static_cast<size_t>(i * K + j)]] * dwi[j];
        for (int64_t e = 0; e < E; ++e) dli[e] += static_cast<float>(-p[e] * mean);
        for (int64_t j = 0; j < K; ++j) {
          const int32_t e = a.experts[static_cast<size_t>(i * K + j)];
          dli[e] += static_cast<float>(p[e] * dwi[j]);
        }
      }
    }
    linear_back(il, kRouter, a.xn2.data(), a.ax[kRouter], d_logits.data(), d_xn2);
    if (FS == 0) return;
    // f += s_weight y_shared: d_y = s_weight d_f; d_s_weight = d_f . y, and
    // through the sigmoid gate s (1 - s) x . shexp_gate into x.
    F d_sy = zeros(T * D), d_sh = zeros(T * FS), d_sg = zeros(T * FS), d_su = zeros(T * FS);
    for (int64_t i = 0; i < T; ++i) {
      const float sw = a.s_weight[i];
      for (int64_t k = 0; k < D; ++k) d_sy[i * D + k] = sw * d_f[i * D + k];
      if (!L.shexp_gate) continue;
      const double d_s = kernels::dot(d_f + i * D, a.sy.data() + i * D, D);
      kernels::axpy(static_cast<float>(d_s * sw * (1.0 - sw)), L.shexp_gate.data, d_xn2 + i * D, D);
    }
    linear_back(il, kDownSh, a.sh.data(), a.ax[kDownSh], d_sy.data(), d_sh.data());
    train::swiglu_backward(d_sh.data(), a.sg.data(), a.su.data(), d_sg.data(), d_su.data(), T * FS);
    linear_back(il, kGateSh, a.xn2.data(), a.ax[kGateSh], d_sg.data(), d_xn2);
    linear_back(il, kUpSh, a.xn2.data(), a.ax[kUpSh], d_su.data(), d_xn2);
  };

  // deepseek2's latent attention: train/mla.h's forward and backward (the
  // full trainer's too), in the absorbed form inference runs, through this
  // layer's frozen matrices and their adapters. A x of each product is kept
  // in the layer's ax (per head for k_b and v_b, head h's rows at h T r).
  // A joint kv_b's key rows are used transposed (q_lat = Wk_h^T q_nope,
  // dequantised as inference absorbs them), and so is its adapter's part.
  std::vector<int32_t> pos(static_cast<size_t>(T));
  for (int64_t i = 0; i < T; ++i) pos[static_cast<size_t>(i)] = static_cast<int32_t>(i);
  const train::MlaShape ms{.n_seq = 1, .t = T, .pos = pos.data(), .rope = rope.data()};
  F mla_norm_grads = zeros(std::max(c.q_lora_rank, c.kv_lora_rank));  // frozen: dropped
  auto mla_products = [&](int64_t il, Acts& a) {
    const model::LayerWeights& L = W.layers[static_cast<size_t>(il)];
    const int64_t rank = c.kv_lora_rank, nope = c.qk_nope_head_dim, kvw = nope + c.v_head_dim;
    const size_t rb = L.wkv_b.data ? row_bytes(L.wkv_b.type, static_cast<uint64_t>(rank)) : 0;
    // Joint kv_b: head h's key rows (nope of rank), or its value rows.
    auto kv_b_rows = [&L, rb, kvw](int64_t h, int64_t first, int64_t n) {
      return kernels::WeightMatrix{.type = L.wkv_b.type,
                                   .data = static_cast<const uint8_t*>(L.wkv_b.data) +
                                           static_cast<size_t>(h * kvw + first) * rb,
                                   .n_out = n,
                                   .n_in = L.wkv_b.n_in};
    };
    const bool joint = L.wkv_b.data != nullptr;
    // A joint kv_b's adapter W + scale B A on head h's key or value rows
    // (those rows of B), and what its backward keeps: x B of the key rows
    // (used transposed) at 2h n r, A x of the value rows at (2h + 1) n r.
    const Slot& kv_b = slots_[static_cast<size_t>(il * kTargets + kKvB)];
    auto kv_b_lora = [&kv_b, this, scale, kvw, r](int64_t h, int64_t first, int64_t n_rows) {
      LoraWeights l = kv_b.at(params_, scale);
      l.b += (h * kvw + first) * r;
      l.n_out = n_rows;
      return l;
    };
    auto kv_b_kept = [&a, r](int64_t h, bool value, int64_t n) { return a.ax[kKvB].data() + (2 * h + value) * n * r; };
    auto grad_of = [this](const float* p) { return grads_.data() + (p - params_.data()); };
    train::MlaProducts w;
    w.forward = [&, il, joint, kv_b_rows, kv_b_lora, kv_b_kept, nope, rank](train::MlaMatrix m, int64_t h,
                                                                             const float* x, int64_t n, float* y) {
      if (joint && m == train::MlaMatrix::kKB) {  // y = x Wk_h
        std::fill_n(y, n * rank, 0.0f);
        frozen_linear_backward(kv_b_rows(h, 0, nope), x, n, y);
        if (h == 0) a.ax[kKvB] = zeros(2 * c.n_head * n * r);
        if (kv_b.adapted) lora_forward_transposed(kv_b_lora(h, 0, nope), x, n, kv_b_kept(h, false, n), y);
        return;
      }
      if (joint && m == train::MlaMatrix::kVB) {
        kernels::matmul(kv_b_rows(h, nope, c.v_head_dim), x, rank, n, y, c.v_head_dim, nullptr);
        if (kv_b.adapted) lora_forward(kv_b_lora(h, nope, c.v_head_dim), x, n, kv_b_kept(h, true, n), y);
        return;
      }
      const int t = mla_target(m);
      if (h == 0) a.ax[t] = zeros((is_stack(t) ? c.n_head : 1) * n * r);
      product(il, t, h, x, n, y, a.ax[t].data() + h * n * r);
    };
    w.backward = [&, il, joint, kv_b_rows, kv_b_lora, kv_b_kept, grad_of, nope](
                     train::MlaMatrix m, int64_t h, const float* x, const float* d_y, int64_t n, float* d_x) {
      if (joint && m == train::MlaMatrix::kKB) {  // d_x += d_y Wk_h^T, Wk_h's rows dequantised
        frozen_linear_f32(kv_b_rows(h, 0, nope), d_y, n, d_x);
        if (!kv_b.adapted) return;
        const LoraWeights l = kv_b_lora(h, 0, nope);
        lora_backward_transposed(l, x, kv_b_kept(h, false, n), d_y, n, grad_of(l.a), grad_of(l.b), d_x);
        return;
      }
      if (joint && m == train::MlaMatrix::kVB) {
        frozen_linear_backward(kv_b_rows(h, nope, c.v_head_dim), d_y, n, d_x);
        if (!kv_b.adapted) return;
        const LoraWeights l = kv_b_lora(h, nope, c.v_head_dim);
        lora_backward(l, x, kv_b_kept(h, true, n), d_y, n, grad_of(l.a), grad_of(l.b), d_x);
        return;
      }
      const int t = mla_target(m);
      product_back(il, t, h, x, a.ax[t].data() + h * n * r, d_y, n, d_x);
    };
    w.q_a_norm = L.q_a_norm.data;
    w.kv_a_norm = L.kv_a_norm.data;
    w.d_q_a_norm = w.d_kv_a_norm = mla_norm_grads.data();
    return w;
  };

  // The other architectures' attention: x += o(attention(rope(norm(q xn1)),
  // rope(norm(k xn1)), v xn1)).
  auto attention = [&](int64_t il, const model::LayerWeights& L, Acts& a, F& x) {
    linear(il, kQ, a.xn1.data(), a.q_raw, a.ax[kQ]);
    linear(il, kK, a.xn1.data(), a.k_raw, a.ax[kK]);
    linear(il, kV, a.xn1.data(), a.v, a.ax[kV]);
    if (L.bq)  // frozen q/k/v biases (qwen2, qwen2moe, glm4moe): the gradient passes them unchanged
      for (int64_t i = 0; i < T; ++i) {
        kernels::add(L.bq.data, a.q_raw.data() + i * nq, nq);
        kernels::add(L.bk.data, a.k_raw.data() + i * nk, nk);
        kernels::add(L.bv.data, a.v.data() + i * nk, nk);
      }
    const bool qk_norm = qk_norm_in(il);
    if (qk_norm) {
      rmsnorm(a.q_raw.data(), qk_unweighted ? ones.data() : L.q_norm.data, T * nq / qn, qn, a.q, a.rstd_q);
      rmsnorm(a.k_raw.data(), qk_unweighted ? ones.data() : L.k_norm.data, T * nk / kn, kn, a.k, a.rstd_k);
    } else {
      a.q = a.q_raw;
      a.k = a.k_raw;
    }
    if (c.layer_has_rope(il)) {
      rotate(a.q.data(), H, rope);
      rotate(a.k.data(), HK, rope);
    } else {
      temper(a.q.data());
    }
    a.probs = zeros(H * T * T);
    a.att = zeros(T * nq);
    // gpt-oss: a window on its even layers, and each head's sink logit;
    // llama4: chunks on its RoPE layers.
    train::attention_forward(as, a.q.data(), a.k.data(), a.v.data(), a.probs.data(), a.att.data(), nullptr,
                             c.layer_window(il), L.sinks.data, c.layer_chunk(il));
    F o;
    linear(il, kO, a.att.data(), o, a.ax[kO]);
    if (L.bo)  // gpt-oss: attn_output's frozen bias
      for (int64_t i = 0; i < T; ++i) kernels::add(L.bo.data, o.data() + i * D, D);
    for (size_t i = 0; i < x.size(); ++i) x[i] += o[i];
  };

  // Its backward: d_xn1 += the gradient from d_x through it.
  auto attention_back = [&](int64_t il, const model::LayerWeights& L, const Acts& a, const F& d_x, F& d_xn1) {
    F d_w = zeros(std::max(nq, nk));  // q/k norm weights are frozen: their gradients are dropped here
    F d_att = zeros(T * nq), d_q = zeros(T * nq), d_k = zeros(T * nk), d_v = zeros(T * nk);
    linear_back(il, kO, a.att.data(), a.ax[kO], d_x.data(), d_att.data());
    train::attention_backward(as, d_att.data(), a.q.data(), a.k.data(), a.v.data(), a.probs.data(), d_q.data(),
                              d_k.data(), d_v.data(), nullptr);
    if (c.layer_has_rope(il)) {
      rotate(d_q.data(), H, rope_back);
      rotate(d_k.data(), HK, rope_back);
    } else {
      temper(d_q.data());
    }
    F d_qr = d_q, d_kr = d_k;
    if (qk_norm_in(il)) {
      const float* wq = qk_unweighted ? ones.data() : L.q_norm.data;
      const float* wk = qk_unweighted ? ones.data() : L.k_norm.data;
      std::fill(d_qr.begin(), d_qr.end(), 0.0f);
      std::fill(d_kr.begin(), d_kr.end(), 0.0f);
      train::rmsnorm_backward(d_q.data(), a.q_raw.data(), wq, a.rstd_q.data(), d_qr.data(), d_w.data(), T * nq / qn,
                              qn);
      train::rmsnorm_backward(d_k.data(), a.k_raw.data(), wk, a.rstd_k.data(), d_kr.data(), d_w.data(), T * nk / kn,
                              kn);
    }
    linear_back(il, kQ, a.xn1.data(), a.ax[kQ], d_qr.data(), d_xn1.data());
    linear_back(il, kK, a.xn1.data(), a.ax[kK], d_kr.data(), d_xn1.data());
    linear_back(il, kV, a.xn1.data(), a.ax[kV], d_v.data(), d_xn1.data());
  };

  std::vector<Acts> acts(static_cast<size_t>(c.n_layer));
  F x = zeros(T * D);
  for (int64_t i = 0; i < T; ++i) base_.embed(ex.tokens[static_cast<size_t>(i)], x.data() + i * D);
  for (int64_t il = 0; il < c.n_layer; ++il) {
    const model::LayerWeights& L = W.layers[static_cast<size_t>(il)];
    Acts& a = acts[static_cast<size_t>(il)];
    a.x = x;
    rmsnorm(x.data(), L.attn_norm.data, T, D, a.xn1, a.rstd1);
    if (c.is_mla()) {
      F o = zeros(T * D);
      train::mla_forward(c, mla_products(il, a), ms, a.xn1.data(), a.mla, o.data(), nullptr);
      for (size_t i = 0; i < x.size(); ++i) x[i] += o[i];
    } else {
      attention(il, L, a, x);
    }
    a.x_mid = x;
    rmsnorm(x.data(), L.ffn_norm.data, T, D, a.xn2, a.rstd2);
    F f;
    if (c.layer_is_moe(il)) {
      moe_forward(il, L, a, f);
    } else {
      linear(il, kGate, a.xn2.data(), a.g, a.ax[kGate]);
      linear(il, kUp, a.xn2.data(), a.u, a.ax[kUp]);
      a.h = zeros(T * FF);
      train::swiglu_forward(a.g.data(), a.u.data(), a.h.data(), T * FF);
      linear(il, kDown, a.h.data(), f, a.ax[kDown]);
    }
    for (size_t i = 0; i < x.size(); ++i) x[i] += f[i];
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
  rmsnorm(x.data(), W.output_norm.data, T, D, xnf, rstdf);
  if (all_logits) {
    all_logits->assign(static_cast<size_t>(T * V), 0.0f);
    kernels::matmul(W.output, xnf.data(), D, T, all_logits->data(), V, nullptr);
  }
  for (int64_t j = 0; j < n; ++j) std::copy_n(xnf.data() + rows[static_cast<size_t>(j)] * D, D, sel.data() + j * D);
  kernels::matmul(W.output, sel.data(), D, n, logits.data(), V, nullptr);
  const double loss = train::cross_entropy_forward(logits.data(), targets.data(), probs.data(), n, V) /
                      static_cast<double>(n);
  if (!with_grad) return loss;

  // Backward.
  F d_logits = zeros(n * V), d_sel = zeros(n * D), d_xnf = zeros(T * D), d_x = zeros(T * D);
  train::cross_entropy_backward(probs.data(), targets.data(), d_logits.data(), n, V,
                               grad_weight / static_cast<float>(n));
  frozen_linear_backward(W.output, d_logits.data(), n, d_sel.data());
  for (int64_t j = 0; j < n; ++j) std::copy_n(d_sel.data() + j * D, D, d_xnf.data() + rows[static_cast<size_t>(j)] * D);
  F d_w = zeros(std::max({D, hd, nq, nk}));  // norm weights are frozen: their gradients are dropped here
  train::rmsnorm_backward(d_xnf.data(), x.data(), W.output_norm.data, rstdf.data(), d_x.data(), d_w.data(), T, D);
  for (int64_t il = c.n_layer - 1; il >= 0; --il) {
    const model::LayerWeights& L = W.layers[static_cast<size_t>(il)];
    Acts& a = acts[static_cast<size_t>(il)];
    // FFN: x_out = x_mid + down(swiglu(gate xn2, up xn2)).
    F d_xn2 = zeros(T * D);
    if (c.layer_is_moe(il)) {
      moe_backward(il, L, a, d_x.data(), d_xn2.data());
    } else {
      F d_h = zeros(T * FF), d_g = zeros(T * FF), d_u = zeros(T * FF);
      linear_back(il, kDown, a.h.data(), a.ax[kDown], d_x.data(), d_h.data());
      train::swiglu_backward(d_h.data(), a.g.data(), a.u.data(), d_g.data(), d_u.data(), T * FF);
      linear_back(il, kGate, a.xn2.data(), a.ax[kGate], d_g.data(), d_xn2.data());
      linear_back(il, kUp, a.xn2.data(), a.ax[kUp], d_u.data(), d_xn2.data());
    }
    train::rmsnorm_backward(d_xn2.data(), a.x_mid.data(), L.ffn_norm.data, a.rstd2.data(), d_x.data(), d_w.data(), T,
                            D);
    // Attention: x_mid = x + attention(xn1).
    F d_xn1 = zeros(T * D);
    if (c.is_mla()) {
      train::mla_backward(c, mla_products(il, a), ms, a.xn1.data(), a.mla, d_x.data(), d_xn1.data(), nullptr);
    } else {
      attention_back(il, L, a, d_x, d_xn1);
    }
    train::rmsnorm_backward(d_xn1.data(), a.x.data(), L.attn_norm.data, a.rstd1.data(), d_x.data(), d_w.data(), T, D);
  }
  return loss;
}

}  // namespace frugal::finetune
