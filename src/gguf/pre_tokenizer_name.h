// The tokenizer.ggml.pre value a file frugal writes should carry.
//
// frugal reads "default" as GPT-2's split (one regex), as the bundled model
// and older frugal files name it; llama.cpp and its forks read "default" as a
// different split (punctuation runs and digits cut apart first), so such a
// file tokenizes differently there: the bundled model's Shakespeare test text
// gives 40,448 tokens in frugal and 40,832 in ik_llama.cpp. "gpt-2" means
// the one GPT-2 regex in both, so writers spell it that way.
#pragma once
#include <string>

namespace frugal::gguf {

inline std::string pre_tokenizer_name_for_file(const std::string& name) {
  return name == "default" ? "gpt-2" : name;
}

}  // namespace frugal::gguf
