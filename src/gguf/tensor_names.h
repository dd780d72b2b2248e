// The GGUF names of every model tensor frugal reads or writes, in one table
// (tensor_names.cc): each tensor an architecture holds has an id, its name's
// stem and suffix ("blk.N." + "attn_q" + ".weight"), whether it belongs to a
// block, the role it plays, how the quantisation recipes and the initial
// values treat it and, where some converters spell it otherwise, that other
// name. Loading, synth, train, LoRA, convert, inspect and the recipes take
// names from here instead of spelling them. It lives in the gguf layer, the
// lowest one every reader of names (quant, model, convert) links.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace frugal::gguf {

// What a tensor is, for sizing, initialisation and parameter counts.
enum class TensorRole {
  kEmbedding,     // token_embd
  kOutput,        // output (LM head)
  kNorm,          // any RMSNorm weight
  kAttention,     // q/k/v/output projections, MLA low-rank projections
  kBias,          // attention biases, exp_probs_b
  kRouter,        // ffn_gate_inp, ffn_gate_inp_shexp
  kExpert,        // ffn_{gate,up,down}_exps
  kExpertBias,    // ffn_{gate,up,down}_exps.bias (one row per expert)
  kSharedExpert,  // ffn_{gate,up,down}_shexp
  kDenseFfn,      // ffn_{gate,up,down}
  kTokenExperts,  // ffn_gate_tid2eid (deepseek4): i32 expert ids per token, not a parameter
};
const char* tensor_role_name(TensorRole role);

// Every tensor, global ones first, then a block's in the order of the table.
enum class TensorId {
  // Global.
  kTokenEmbd, kOutputNorm, kOutput, kOutputHcFn, kOutputHcBase, kOutputHcScale, kRopeFreqs,
  // Attention.
  kAttnNorm, kAttnQ, kAttnK, kAttnV, kAttnQBias, kAttnKBias, kAttnVBias, kAttnQNorm, kAttnKNorm, kAttnOutput,
  kAttnOutputBias, kAttnSinks,
  // Multi-head latent attention (deepseek2).
  kAttnQA, kAttnQANorm, kAttnQB, kAttnKvAMqa, kAttnKvANorm, kAttnKvB, kAttnKB, kAttnVB,
  // deepseek4's attention: one key/value head, grouped output, compressors, indexer.
  kAttnKv, kAttnOutputA, kAttnOutputB, kAttnCompressorKv, kAttnCompressorGate, kAttnCompressorApe,
  kAttnCompressorNorm, kIndexerQB, kIndexerProj, kIndexerCompressorKv, kIndexerCompressorGate,
  kIndexerCompressorApe, kIndexerCompressorNorm,
  // deepseek4's hyper-connections around the attention and the FFN.
  kHcAttnFn, kHcAttnBase, kHcAttnScale, kHcFfnFn, kHcFfnBase, kHcFfnScale,
  // Gated DeltaNet (qwen3next: joint projections; qwen35moe: apart).
  kSsmIn, kSsmBa, kAttnQkv, kAttnGate, kSsmBeta, kSsmAlpha, kSsmConv1d, kSsmDt, kSsmA, kSsmNorm, kSsmOut,
  // The FFN's norm (post_attention_norm in some families).
  kFfnNorm, kPostAttentionNorm,
  // Mixture of experts.
  kFfnGateInp, kFfnGateInpBias, kExpProbsB, kFfnGateTid2eid, kFfnGateExps, kFfnUpExps, kFfnDownExps,
  kFfnGateExpsBias, kFfnUpExpsBias, kFfnDownExpsBias, kFfnGateInpShexp, kFfnGateShexp, kFfnUpShexp,
  kFfnDownShexp,
  // Dense FFN.
  kFfnGate, kFfnUp, kFfnDown,
  // A next-token-prediction block; the last three are optional, copied by
  // convert when a checkpoint has them, never read.
  kNextnEhProj, kNextnEnorm, kNextnHnorm, kNextnSharedHeadHead, kNextnSharedHeadNorm, kNextnEmbedTokens,
  kCount
};

// Which of a layer's key/value projections a tensor is, for the recipes
// that give keys and values more bits.
enum class KvPart { kNone, kKeys, kValues };

struct TensorNameInfo {
  TensorId id;
  const char* stem;         // "attn_q": the name without block prefix and suffix
  const char* suffix;       // ".weight", ".bias" or ""
  bool per_block;           // named "blk.N." + stem + suffix
  TensorRole role;
  // The quantisation recipes (quant/recipe.cc): an attention tensor (its
  // type from the recipe's attention entry), a key or value projection, an
  // FFN down projection (dense, routed or shared), and a matrix kept in f32
  // whatever its role (the recurrent convolution's few taps a channel, the
  // hyper-connections' mixing). Norms, biases and routers stay f32 by role.
  bool recipe_attention = false;
  KvPart kv = KvPart::kNone;
  bool ffn_down = false;
  bool keep_f32 = false;
  // A projection into the residual stream: its random initial values are
  // scaled down by sqrt(2 n_layer) (synth, train).
  bool residual = false;
  const char* alias = "";   // another converter's stem + suffix (deepseek4 files), "" if none
};

const TensorNameInfo& tensor_info(TensorId id);

// The GGUF name: "token_embd.weight", or "blk.3.attn_q.weight" for a block's
// tensor (block >= 0 required for those, ignored for global ones).
std::string tensor_name(TensorId id, int64_t block = -1);

// The alias's full name ("" when the tensor has none).
std::string tensor_alias_name(TensorId id, int64_t block = -1);

// The stem ("attn_q") and the role of a tensor.
inline const char* tensor_stem(TensorId id) { return tensor_info(id).stem; }
inline TensorRole tensor_role(TensorId id) { return tensor_info(id).role; }

// Whether the quantisation recipes keep the tensor in f32 whatever its shape:
// norms, biases, routers and the table's keep_f32 matrices.
bool tensor_stays_f32(TensorId id);

// A name read back: which tensor of which block (-1: global).
struct TensorRef {
  TensorId id;
  int64_t block = -1;
  bool operator==(const TensorRef&) const = default;
};

// The tensor a GGUF name names, by its own name or, with aliases, by its
// alias; nullopt for a name the table does not hold.
std::optional<TensorRef> parse_tensor_name(std::string_view name, bool aliases = false);

// Whether `name` is the name of tensor `id` (of any block).
bool is_tensor(std::string_view name, TensorId id);

// True for routed-expert tensors (ffn_up_exps.weight, ffn_down_exps.bias, ...).
bool is_expert_tensor(std::string_view name);

// The block N of a "blk.N." name; -1 for global tensors and names without one.
int64_t tensor_block(std::string_view name);

// "blk.N." for block N: the prefix every block tensor's name starts with.
std::string block_prefix(int64_t block);

}  // namespace frugal::gguf
