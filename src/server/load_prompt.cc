#include "server/load_prompt.h"

#include <array>
#include <string_view>

#include "base/mix64.h"

namespace frugal::server {
namespace {

// Short, frequent words: single tokens in the vocabularies above.
constexpr std::array<std::string_view, 96> kWords = {
    "the",   "of",    "and",   "to",    "in",    "is",    "that",  "it",    "was",   "for",   "on",    "are",
    "as",    "with",  "his",   "they",  "at",    "be",    "this",  "from",  "have",  "or",    "by",    "one",
    "had",   "not",   "but",   "what",  "all",   "were",  "when",  "we",    "there", "can",   "an",    "your",
    "which", "their", "said",  "if",    "do",    "will",  "each",  "about", "how",   "up",    "out",   "them",
    "then",  "she",   "many",  "some",  "so",    "these", "would", "other", "into",  "has",   "more",  "her",
    "two",   "like",  "him",   "see",   "time",  "could", "no",    "make",  "than",  "first", "been",  "its",
    "who",   "now",   "people", "my",   "made",  "over",  "did",   "down",  "only",  "way",   "find",  "use",
    "may",   "water", "long",  "little", "very", "after", "words", "called", "just", "where", "most",  "know"};

std::string words(uint64_t stream, int count) {
  std::string text;
  uint64_t state = stream;
  for (int i = 0; i < count; ++i) {
    if (i > 0) text += ' ';
    text += kWords[splitmix64_next(state) % kWords.size()];
  }
  return text;
}

}  // namespace

// Streams of the generator: a salt keeps the system prompt's apart from the
// requests'; with 96 words a prompt of 8 words already has 96^8 (7e15)
// possible texts, so two requests sharing a prompt (and a cached answer or
// prefix) is vanishingly unlikely.
std::string load_prompt(uint64_t seed, uint64_t index, int tokens) {
  return words(mix64(seed ^ 0x5eed5eed5eed5eedULL) + mix64(index + 1), tokens);
}

std::string load_system_prompt(uint64_t seed, int tokens) { return words(mix64(seed ^ 0x5151515151515151ULL), tokens); }

}  // namespace frugal::server
