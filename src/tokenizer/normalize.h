// Unicode normalisation of the text before tokenizing, where a vocabulary asks
// for it (a tokenizer.json "normalizer" of type NFC, NFD, NFKC or NFKD, kept in
// GGUF as tokenizer.ggml.normalizer; Qwen2/Qwen3 vocabularies use NFC).
#pragma once
#include <string>
#include <string_view>

namespace frugal::tokenizer {

enum class Normalization { kNone, kNFC, kNFD, kNFKC, kNFKD };

// "" or "none" -> kNone; "NFC", "NFD", "NFKC", "NFKD" (any case); else frugal::Error.
Normalization parse_normalization(const std::string& name);
const char* normalization_name(Normalization n);  // "NFC", ...; "" for kNone

// The normalised text (utf8proc). Text that is not valid UTF-8 is returned as
// it is: a normaliser is defined on characters, and the byte-level tokenizer
// still encodes every byte.
std::string normalize(std::string_view text, Normalization n);

}  // namespace frugal::tokenizer
