// Random-weight models of a real architecture and size (`frugal synth`):
// benchmarks and tests without downloads. Every value is a pure function of
// (seed, tensor name, element index) through a counter-based generator, so
// tensors (and rows of a tensor) are generated independently and in parallel
// and the same seed always gives the same file, byte for byte.
#pragma once
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "gguf/tensor_type.h"
#include "gguf/value.h"
#include "gguf/writer.h"
#include "model/config.h"

namespace frugal::model {

// The scale each tensor is drawn at: value = mean + std * z, z ~ approximately
// N(0, 1). Projections get std 1/sqrt(fan_in) so activations keep unit scale;
// projections that write into the residual stream are further scaled by
// 1/sqrt(2 n_layer) so the stream grows slowly over depth; norm weights are
// near 1 and biases small but non-zero (so that a test notices if one is
// dropped or misindexed). Token embeddings are N(0, 1), or N(0, 1/n_embd)
// when tied to the LM head.
struct InitScale {
  float mean = 0.0f;
  float std = 1.0f;
};
InitScale init_scale(const ModelConfig& cfg, const TensorSpec& spec);

// Fills out[0 .. (row_end-row_begin)*shape[0]) with rows [row_begin, row_end)
// of the tensor's f32 values (rows in ggml order: row r is elements
// r*shape[0] ...). Deterministic in (seed, spec.name, element index).
// router_skew > 0: expert popularity close to Zipf's law with that exponent
// (see router_skew.h); the embedding's dimension 0, the norms' weight there
// and the routers' weights on it are set for it.
void synth_rows(const ModelConfig& cfg, const TensorSpec& spec, uint64_t seed, int64_t row_begin, int64_t row_end,
                float* out, double router_skew = 0);

// A deepseek4 hash layer's token -> experts table (ffn_gate_tid2eid,
// TensorRole::kTokenExperts): token t's n_expert_used distinct experts,
// consecutive ids from a hashed start, out[t * k + j]. Deterministic in
// (seed, spec.name).
void synth_token_experts(const ModelConfig& cfg, const TensorSpec& spec, uint64_t seed, std::span<int32_t> out);

// The default vocabulary: the 256 byte tokens in GPT-2's byte-to-unicode
// mapping (ids 0..255, NORMAL), <|bos|> 256 and <|eos|> 257 (CONTROL), then
// <|unused_N|> (UNUSED) up to n_vocab; tokenizer.ggml.model "gpt2", pre
// "default", no merges, add_bos_token true. n_vocab < 258 -> frugal::Error.
void add_byte_tokenizer(int64_t n_vocab, gguf::Metadata& md);
// The GPT-2 byte-to-unicode piece (UTF-8) that stands for byte b.
std::string byte_token_piece(uint8_t b);

// Makes a tokenizer's vocabulary and the model's n_vocab agree: a vocabulary
// shorter than n_vocab is padded with UNUSED "<|unused_N|>" tokens (as the
// published models pad theirs); a longer one raises cfg.n_vocab to fit.
void fit_tokenizer_vocab(gguf::Metadata& md, ModelConfig& cfg);

struct SynthOptions {
  std::string type = "f16";  // a tensor type ("q8_0") or a recipe ("q4_k_m")
  uint64_t seed = 0;
  std::string progress_label = "synth";  // "" for no progress bar
  double router_skew = 0;  // Zipf exponent of expert popularity; 0: routers as random as their weights
};

struct SynthTensor {
  std::string name;
  TensorType type;
  std::vector<int64_t> shape;
  uint64_t n_bytes;
};
struct SynthSummary {
  std::vector<SynthTensor> tensors;
  uint64_t n_params = 0;
  uint64_t n_bytes = 0;  // tensor data only
};

// Writes a GGUF file: general.*, the config's hyperparameter keys,
// `tokenizer` (tokenizer.* keys; when empty, the default byte-level
// vocabulary) and every tensor of expected_tensors(cfg), each quantised per
// opts.type, streamed one tensor at a time (memory: the largest tensor).
SynthSummary write_synth_model(const ModelConfig& cfg, const gguf::Metadata& tokenizer, const SynthOptions& opts,
                               const std::string& path);
// The writer of that file, its tensors not yet produced: write_synth_model
// writes it, `frugal inspect --preset` reads its header alone.
gguf::Writer synth_writer(const ModelConfig& cfg, const gguf::Metadata& tokenizer, const SynthOptions& opts,
                          SynthSummary* summary = nullptr);

}  // namespace frugal::model
