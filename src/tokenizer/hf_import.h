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
void import_hf_tokenizer(const std::string& tokenizer_json_path, gguf::Metadata& md);

}  // namespace frugal::tokenizer
