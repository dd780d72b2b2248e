// Imports a Hugging Face tokenizer.json (and the tokenizer_config.json beside
// it, when present) into the standard GGUF tokenizer.ggml.* metadata keys, so
// that a model file written by frugal carries a real vocabulary.
#pragma once
#include <string>

#include "gguf/value.h"

namespace frugal::tokenizer {

// Sets tokenizer.ggml.model ("llama" for Metaspace/byte-fallback BPE, "gpt2"
// for byte-level BPE), pre (detected from the pre-tokenizer regexes), tokens,
// token_type, scores, merges, bos/eos/pad/unknown ids, add_bos_token,
// add_space_prefix, normalizer (NFC/NFD/NFKC/NFKD, as tokenizer.ggml.normalizer)
// and tokenizer.chat_template. A tokenizer.json this cannot
// represent (another model type, an unknown pre-tokenizer) -> frugal::Error.
// A tiktoken vocabulary (is_tiktoken_file) goes to import_tiktoken.
void import_hf_tokenizer(const std::string& tokenizer_json_path, gguf::Metadata& md);

// A tiktoken vocabulary file: named tiktoken.model (Kimi-K2's Hugging Face
// files) or *.tiktoken.
bool is_tiktoken_file(const std::string& path);

// Imports a tiktoken vocabulary ("base64-bytes rank" lines) as a byte-level
// BPE: every token's text its bytes in GPT-2's byte mapping, the merges
// recovered from the ranks (each token of two or more bytes is the merge of
// the two parts byte-pair encoding with only lower ranks leaves of it, in
// rank order, which makes BPE by merge priority equal to tiktoken's BPE by
// rank), the special tokens from tokenizer_config.json's
// added_tokens_decoder, and the pre-tokenizer named by the tokenizer class
// (auto_map): tokenization_kimi -> kimi-k2. A malformed line, a rank given
// twice, a missing single byte, a token no merges reach, or an unknown
// tokenizer class -> frugal::Error naming it.
void import_tiktoken(const std::string& tiktoken_path, gguf::Metadata& md);

}  // namespace frugal::tokenizer
