// The adapted matrices' layout (see lora_slot.h).
#include "finetune/lora_slot.h"

namespace frugal::finetune {

namespace {

using enum model::TensorId;
constexpr model::TensorId kTargetTensors[kTargets] = {
    kAttnQ,      kAttnK,       kAttnV,       kAttnOutput,  kAttnQA,    kAttnQB,      kAttnKvAMqa,
    kAttnKvB,    kAttnKB,      kAttnVB,      kAttnKv,      kAttnOutputA, kAttnOutputB, kSsmIn,
    kSsmBa,      kAttnQkv,     kAttnGate,
    kSsmBeta,    kSsmAlpha,    kSsmOut,      kFfnGate,     kFfnUp,     kFfnDown,     kFfnGateShexp,
    kFfnUpShexp, kFfnDownShexp, kFfnGateInp, kFfnGateExps, kFfnUpExps, kFfnDownExps};

}  // namespace

model::TensorId target_tensor(int t) { return kTargetTensors[t]; }

bool is_stack(int t) { return t >= kGateEx || t == kKB || t == kVB; }

const model::ExpertStack& stack_of(const model::LayerWeights& L, int t) {
  switch (t) {
    case kKB: return L.wk_b;
    case kVB: return L.wv_b;
    case kGateEx: return L.gate_exps;
    case kUpEx: return L.up_exps;
    default: return L.down_exps;
  }
}

kernels::WeightMatrix base_matrix(const model::LayerWeights& L, int t) {
  if (is_stack(t)) return stack_of(L, t).data ? stack_of(L, t).expert(0) : kernels::WeightMatrix{};
  const kernels::WeightMatrix* m[kRouter + 1] = {
      &L.wq,       &L.wk,        &L.wv,         &L.wo,         &L.wq_a,       &L.wq_b,     &L.wkv_a_mqa,
      &L.wkv_b,    nullptr,      nullptr,       &L.wkv,        &L.wo_a,       &L.wo_b,     &L.ssm_in,
      &L.ssm_ba,   &L.wqkv,      &L.wgate,
      &L.ssm_beta, &L.ssm_alpha, &L.ssm_out,    &L.ffn_gate,   &L.ffn_up,     &L.ffn_down, &L.gate_shexp,
      &L.up_shexp, &L.down_shexp, &L.router};
  return *m[t];
}

bool wanted(const LoraShape& s, int t) {
  if (t < kGate) return s.attn;
  if (t < kGateSh) return s.ffn;
  if (t < kRouter) return s.shared;
  if (t == kRouter) return s.router;
  return s.experts;
}

LoraWeights LoraSlot::at(const std::vector<float>& p, float scale, int64_t e) const {
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

}  // namespace frugal::finetune
