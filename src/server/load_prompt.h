// Prompts for the load generator: text made of common English words, each of
// which nearly every BPE tokenizer (GPT-2's, Llama's, Qwen's, frugal's own)
// spells as one token after a space, so N words come to roughly N tokens
// whatever the server's model. Deterministic: the same seed and request index
// give the same prompt on every run and machine.
#pragma once
#include <cstdint>
#include <string>

namespace frugal::server {

// About `tokens` words; different request indexes give different prompts.
std::string load_prompt(uint64_t seed, uint64_t index, int tokens);

// The shared prefix of every request (for prefix-cache measurements): the
// same text for every index, different from any load_prompt.
std::string load_system_prompt(uint64_t seed, int tokens);

}  // namespace frugal::server
