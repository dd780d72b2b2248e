// The table of tensor names: one entry per tensor any architecture holds, in
// the order of TensorId. Shapes and which tensors a configuration has are
// model/model_tensors.cc's; this table says only what a name is.
#include "gguf/tensor_names.h"

#include "base/error.h"

namespace frugal::gguf {
namespace {

using enum TensorId;
using R = TensorRole;
constexpr const char* kW = ".weight";
constexpr const char* kB = ".bias";

constexpr TensorNameInfo kTensors[] = {
    // Global.
    {.id = kTokenEmbd, .stem = "token_embd", .suffix = kW, .per_block = false, .role = R::kEmbedding},
    {.id = kOutputNorm, .stem = "output_norm", .suffix = kW, .per_block = false, .role = R::kNorm},
    {.id = kOutput, .stem = "output", .suffix = kW, .per_block = false, .role = R::kOutput},
    // deepseek4's head: the hyper-connection streams mixed into one.
    {.id = kOutputHcFn, .stem = "output_hc_fn", .suffix = kW, .per_block = false, .role = R::kAttention,
     .keep_f32 = true, .alias = "hc_head_fn"},
    {.id = kOutputHcBase, .stem = "output_hc_base", .suffix = kW, .per_block = false, .role = R::kBias,
     .alias = "hc_head_base"},
    {.id = kOutputHcScale, .stem = "output_hc_scale", .suffix = kW, .per_block = false, .role = R::kNorm,
     .alias = "hc_head_scale"},
    // llama4's RoPE frequency divisors: kept whole like a norm.
    {.id = kRopeFreqs, .stem = "rope_freqs", .suffix = kW, .per_block = false, .role = R::kNorm},

    // Attention.
    {.id = kAttnNorm, .stem = "attn_norm", .suffix = kW, .per_block = true, .role = R::kNorm},
    {.id = kAttnQ, .stem = "attn_q", .suffix = kW, .per_block = true, .role = R::kAttention, .recipe_attention = true},
    {.id = kAttnK, .stem = "attn_k", .suffix = kW, .per_block = true, .role = R::kAttention, .recipe_attention = true,
     .kv = KvPart::kKeys},
    {.id = kAttnV, .stem = "attn_v", .suffix = kW, .per_block = true, .role = R::kAttention, .recipe_attention = true,
     .kv = KvPart::kValues},
    {.id = kAttnQBias, .stem = "attn_q", .suffix = kB, .per_block = true, .role = R::kBias, .recipe_attention = true},
    {.id = kAttnKBias, .stem = "attn_k", .suffix = kB, .per_block = true, .role = R::kBias, .recipe_attention = true},
    {.id = kAttnVBias, .stem = "attn_v", .suffix = kB, .per_block = true, .role = R::kBias, .recipe_attention = true},
    {.id = kAttnQNorm, .stem = "attn_q_norm", .suffix = kW, .per_block = true, .role = R::kNorm,
     .recipe_attention = true},
    {.id = kAttnKNorm, .stem = "attn_k_norm", .suffix = kW, .per_block = true, .role = R::kNorm,
     .recipe_attention = true},
    {.id = kAttnOutput, .stem = "attn_output", .suffix = kW, .per_block = true, .role = R::kAttention,
     .recipe_attention = true, .residual = true},
    {.id = kAttnOutputBias, .stem = "attn_output", .suffix = kB, .per_block = true, .role = R::kBias,
     .recipe_attention = true, .residual = true},
    // gpt-oss and deepseek4: a learned logit per head in the softmax's denominator.
    {.id = kAttnSinks, .stem = "attn_sinks", .suffix = kW, .per_block = true, .role = R::kBias,
     .recipe_attention = true, .alias = "attn_sinks"},

    // Multi-head latent attention (deepseek2; deepseek4 shares the query's).
    {.id = kAttnQA, .stem = "attn_q_a", .suffix = kW, .per_block = true, .role = R::kAttention,
     .recipe_attention = true},
    {.id = kAttnQANorm, .stem = "attn_q_a_norm", .suffix = kW, .per_block = true, .role = R::kNorm,
     .recipe_attention = true},
    {.id = kAttnQB, .stem = "attn_q_b", .suffix = kW, .per_block = true, .role = R::kAttention,
     .recipe_attention = true},
    {.id = kAttnKvAMqa, .stem = "attn_kv_a_mqa", .suffix = kW, .per_block = true, .role = R::kAttention,
     .recipe_attention = true},
    {.id = kAttnKvANorm, .stem = "attn_kv_a_norm", .suffix = kW, .per_block = true, .role = R::kNorm,
     .recipe_attention = true},
    // The joint up-projection of keys and values counts as values for the recipes.
    {.id = kAttnKvB, .stem = "attn_kv_b", .suffix = kW, .per_block = true, .role = R::kAttention,
     .recipe_attention = true, .kv = KvPart::kValues},
    {.id = kAttnKB, .stem = "attn_k_b", .suffix = kW, .per_block = true, .role = R::kAttention,
     .recipe_attention = true, .kv = KvPart::kKeys},
    {.id = kAttnVB, .stem = "attn_v_b", .suffix = kW, .per_block = true, .role = R::kAttention,
     .recipe_attention = true, .kv = KvPart::kValues},

    // deepseek4's attention. The grouped output's two factors both write
    // towards the residual stream (initialised as attn_output is).
    {.id = kAttnKv, .stem = "attn_kv", .suffix = kW, .per_block = true, .role = R::kAttention,
     .recipe_attention = true, .alias = "attn_kv_latent.weight"},
    {.id = kAttnOutputA, .stem = "attn_output_a", .suffix = kW, .per_block = true, .role = R::kAttention,
     .recipe_attention = true, .residual = true},
    {.id = kAttnOutputB, .stem = "attn_output_b", .suffix = kW, .per_block = true, .role = R::kAttention,
     .recipe_attention = true, .residual = true},
    {.id = kAttnCompressorKv, .stem = "attn_compressor_kv", .suffix = kW, .per_block = true,
     .role = R::kAttention, .recipe_attention = true, .alias = "attn_compress_kv.weight"},
    {.id = kAttnCompressorGate, .stem = "attn_compressor_gate", .suffix = kW, .per_block = true,
     .role = R::kAttention, .recipe_attention = true, .alias = "attn_compress_gate.weight"},
    {.id = kAttnCompressorApe, .stem = "attn_compressor_ape", .suffix = kW, .per_block = true, .role = R::kBias,
     .recipe_attention = true, .alias = "attn_compress_ape"},
    {.id = kAttnCompressorNorm, .stem = "attn_compressor_norm", .suffix = kW, .per_block = true, .role = R::kNorm,
     .recipe_attention = true, .alias = "attn_compress_norm.weight"},
    // The indexer's query projection is named under indexer. but is an
    // attention projection all the same.
    {.id = kIndexerQB, .stem = "indexer.attn_q_b", .suffix = kW, .per_block = true, .role = R::kAttention,
     .recipe_attention = true},
    {.id = kIndexerProj, .stem = "indexer.proj", .suffix = kW, .per_block = true, .role = R::kAttention},
    {.id = kIndexerCompressorKv, .stem = "indexer_compressor_kv", .suffix = kW, .per_block = true,
     .role = R::kAttention, .alias = "indexer.compress_kv.weight"},
    {.id = kIndexerCompressorGate, .stem = "indexer_compressor_gate", .suffix = kW, .per_block = true,
     .role = R::kAttention, .alias = "indexer.compress_gate.weight"},
    {.id = kIndexerCompressorApe, .stem = "indexer_compressor_ape", .suffix = kW, .per_block = true,
     .role = R::kBias, .alias = "indexer.compress_ape"},
    {.id = kIndexerCompressorNorm, .stem = "indexer_compressor_norm", .suffix = kW, .per_block = true,
     .role = R::kNorm, .alias = "indexer.compress_norm.weight"},

    // deepseek4's hyper-connections: small mixing matrices kept in f32.
    {.id = kHcAttnFn, .stem = "hc_attn_fn", .suffix = kW, .per_block = true, .role = R::kAttention,
     .keep_f32 = true, .alias = "hc_attn_fn"},
    {.id = kHcAttnBase, .stem = "hc_attn_base", .suffix = kW, .per_block = true, .role = R::kBias,
     .alias = "hc_attn_base"},
    {.id = kHcAttnScale, .stem = "hc_attn_scale", .suffix = kW, .per_block = true, .role = R::kNorm,
     .alias = "hc_attn_scale"},
    {.id = kHcFfnFn, .stem = "hc_ffn_fn", .suffix = kW, .per_block = true, .role = R::kAttention,
     .keep_f32 = true, .alias = "hc_ffn_fn"},
    {.id = kHcFfnBase, .stem = "hc_ffn_base", .suffix = kW, .per_block = true, .role = R::kBias,
     .alias = "hc_ffn_base"},
    {.id = kHcFfnScale, .stem = "hc_ffn_scale", .suffix = kW, .per_block = true, .role = R::kNorm,
     .alias = "hc_ffn_scale"},

    // Gated DeltaNet. qwen35moe's split projections reuse attention's names
    // (attn_qkv, attn_gate); the short convolution stays f32 (a few taps a
    // channel, and llama.cpp's kernel for it reads f32 only); A is a
    // per-head constant, initialised and counted as a bias.
    {.id = kSsmIn, .stem = "ssm_in", .suffix = kW, .per_block = true, .role = R::kAttention},
    {.id = kSsmBa, .stem = "ssm_ba", .suffix = kW, .per_block = true, .role = R::kAttention},
    {.id = kAttnQkv, .stem = "attn_qkv", .suffix = kW, .per_block = true, .role = R::kAttention,
     .recipe_attention = true},
    {.id = kAttnGate, .stem = "attn_gate", .suffix = kW, .per_block = true, .role = R::kAttention,
     .recipe_attention = true},
    {.id = kSsmBeta, .stem = "ssm_beta", .suffix = kW, .per_block = true, .role = R::kAttention},
    {.id = kSsmAlpha, .stem = "ssm_alpha", .suffix = kW, .per_block = true, .role = R::kAttention},
    {.id = kSsmConv1d, .stem = "ssm_conv1d", .suffix = kW, .per_block = true, .role = R::kAttention,
     .keep_f32 = true},
    {.id = kSsmDt, .stem = "ssm_dt", .suffix = kB, .per_block = true, .role = R::kBias},
    {.id = kSsmA, .stem = "ssm_a", .suffix = "", .per_block = true, .role = R::kBias},
    {.id = kSsmNorm, .stem = "ssm_norm", .suffix = kW, .per_block = true, .role = R::kNorm},
    {.id = kSsmOut, .stem = "ssm_out", .suffix = kW, .per_block = true, .role = R::kAttention, .residual = true},

    // The FFN's pre-norm, by either name (Architecture::ffn_norm).
    {.id = kFfnNorm, .stem = "ffn_norm", .suffix = kW, .per_block = true, .role = R::kNorm},
    {.id = kPostAttentionNorm, .stem = "post_attention_norm", .suffix = kW, .per_block = true, .role = R::kNorm},

    // Mixture of experts. exp_probs_b: the per-expert selection bias
    // (DeepSeek-V3's name; frugal train --bias-balance writes it too).
    {.id = kFfnGateInp, .stem = "ffn_gate_inp", .suffix = kW, .per_block = true, .role = R::kRouter},
    {.id = kFfnGateInpBias, .stem = "ffn_gate_inp", .suffix = kB, .per_block = true, .role = R::kBias},
    {.id = kExpProbsB, .stem = "exp_probs_b", .suffix = kB, .per_block = true, .role = R::kBias,
     .alias = "exp_probs_b"},
    {.id = kFfnGateTid2eid, .stem = "ffn_gate_tid2eid", .suffix = kW, .per_block = true, .role = R::kTokenExperts,
     .alias = "ffn_gate_tid2eid"},
    {.id = kFfnGateExps, .stem = "ffn_gate_exps", .suffix = kW, .per_block = true, .role = R::kExpert},
    {.id = kFfnUpExps, .stem = "ffn_up_exps", .suffix = kW, .per_block = true, .role = R::kExpert},
    {.id = kFfnDownExps, .stem = "ffn_down_exps", .suffix = kW, .per_block = true, .role = R::kExpert,
     .ffn_down = true, .residual = true},
    {.id = kFfnGateExpsBias, .stem = "ffn_gate_exps", .suffix = kB, .per_block = true, .role = R::kExpertBias},
    {.id = kFfnUpExpsBias, .stem = "ffn_up_exps", .suffix = kB, .per_block = true, .role = R::kExpertBias},
    {.id = kFfnDownExpsBias, .stem = "ffn_down_exps", .suffix = kB, .per_block = true, .role = R::kExpertBias,
     .ffn_down = true, .residual = true},
    {.id = kFfnGateInpShexp, .stem = "ffn_gate_inp_shexp", .suffix = kW, .per_block = true, .role = R::kRouter},
    {.id = kFfnGateShexp, .stem = "ffn_gate_shexp", .suffix = kW, .per_block = true, .role = R::kSharedExpert},
    {.id = kFfnUpShexp, .stem = "ffn_up_shexp", .suffix = kW, .per_block = true, .role = R::kSharedExpert},
    {.id = kFfnDownShexp, .stem = "ffn_down_shexp", .suffix = kW, .per_block = true, .role = R::kSharedExpert,
     .ffn_down = true, .residual = true},

    // Dense FFN.
    {.id = kFfnGate, .stem = "ffn_gate", .suffix = kW, .per_block = true, .role = R::kDenseFfn},
    {.id = kFfnUp, .stem = "ffn_up", .suffix = kW, .per_block = true, .role = R::kDenseFfn},
    {.id = kFfnDown, .stem = "ffn_down", .suffix = kW, .per_block = true, .role = R::kDenseFfn, .ffn_down = true,
     .residual = true},

    // Next-token prediction.
    {.id = kNextnEhProj, .stem = "nextn.eh_proj", .suffix = kW, .per_block = true, .role = R::kAttention},
    {.id = kNextnEnorm, .stem = "nextn.enorm", .suffix = kW, .per_block = true, .role = R::kNorm},
    {.id = kNextnHnorm, .stem = "nextn.hnorm", .suffix = kW, .per_block = true, .role = R::kNorm},
    {.id = kNextnSharedHeadHead, .stem = "nextn.shared_head_head", .suffix = kW, .per_block = true,
     .role = R::kOutput},
    {.id = kNextnSharedHeadNorm, .stem = "nextn.shared_head_norm", .suffix = kW, .per_block = true,
     .role = R::kNorm},
    {.id = kNextnEmbedTokens, .stem = "nextn.embed_tokens", .suffix = kW, .per_block = true,
     .role = R::kEmbedding},
};
static_assert(std::size(kTensors) == static_cast<size_t>(kCount), "one entry per TensorId");

constexpr bool in_id_order() {
  for (size_t i = 0; i < std::size(kTensors); ++i)
    if (static_cast<size_t>(kTensors[i].id) != i) return false;
  return true;
}
static_assert(in_id_order(), "kTensors in TensorId order");

// "blk.N." -> N and the rest; nullopt when the name does not start so.
std::optional<std::pair<int64_t, std::string_view>> split_block(std::string_view name) {
  if (!name.starts_with("blk.")) return std::nullopt;
  int64_t n = 0;
  size_t i = 4;
  for (; i < name.size() && name[i] >= '0' && name[i] <= '9' && n < (int64_t{1} << 40); ++i)
    n = n * 10 + (name[i] - '0');
  if (i == 4 || i >= name.size() || name[i] != '.') return std::nullopt;
  return std::pair{n, name.substr(i + 1)};
}

// Whether `rest` is stem + suffix.
bool spells(std::string_view rest, std::string_view stem, std::string_view suffix) {
  return rest.size() == stem.size() + suffix.size() && rest.starts_with(stem) && rest.ends_with(suffix);
}

}  // namespace

const char* tensor_role_name(TensorRole role) {
  switch (role) {
    case TensorRole::kEmbedding: return "embedding";
    case TensorRole::kOutput: return "output";
    case TensorRole::kNorm: return "norm";
    case TensorRole::kAttention: return "attention";
    case TensorRole::kBias: return "bias";
    case TensorRole::kRouter: return "router";
    case TensorRole::kExpert: return "expert";
    case TensorRole::kExpertBias: return "expert bias";
    case TensorRole::kSharedExpert: return "shared expert";
    case TensorRole::kDenseFfn: return "dense ffn";
    case TensorRole::kTokenExperts: return "token experts";
  }
  return "?";
}

const TensorNameInfo& tensor_info(TensorId id) {
  const auto i = static_cast<size_t>(id);
  if (i >= std::size(kTensors)) fail("tensor id ", i, " is outside the table of tensor names");
  return kTensors[i];
}

std::string block_prefix(int64_t block) { return "blk." + std::to_string(block) + "."; }

std::string tensor_name(TensorId id, int64_t block) {
  const TensorNameInfo& t = tensor_info(id);
  std::string name = std::string(t.stem) + t.suffix;
  if (!t.per_block) return name;
  if (block < 0) fail("tensor ", name, " belongs to a block; no block given");
  return block_prefix(block) + name;
}

std::string tensor_alias_name(TensorId id, int64_t block) {
  const TensorNameInfo& t = tensor_info(id);
  if (*t.alias == '\0') return {};
  if (!t.per_block) return t.alias;
  if (block < 0) fail("tensor ", t.stem, " belongs to a block; no block given");
  return block_prefix(block) + t.alias;
}

bool tensor_stays_f32(TensorId id) {
  const TensorNameInfo& t = tensor_info(id);
  switch (t.role) {
    case TensorRole::kNorm: case TensorRole::kBias: case TensorRole::kExpertBias: case TensorRole::kRouter:
      return true;
    default: return t.keep_f32;
  }
}

std::optional<TensorRef> parse_tensor_name(std::string_view name, bool aliases) {
  const auto block = split_block(name);
  const std::string_view rest = block ? block->second : name;
  for (const TensorNameInfo& t : kTensors) {
    if (t.per_block != block.has_value()) continue;
    if (spells(rest, t.stem, t.suffix) || (aliases && *t.alias != '\0' && rest == t.alias))
      return TensorRef{.id = t.id, .block = block ? block->first : -1};
  }
  return std::nullopt;
}

bool is_tensor(std::string_view name, TensorId id) {
  const auto ref = parse_tensor_name(name);
  return ref && ref->id == id;
}

bool is_expert_tensor(std::string_view name) {
  const auto t = parse_tensor_name(name);
  return t && (tensor_role(t->id) == TensorRole::kExpert || tensor_role(t->id) == TensorRole::kExpertBias);
}

int64_t tensor_block(std::string_view name) {
  const auto block = split_block(name);
  return block ? block->first : -1;
}

}  // namespace frugal::gguf
