// Constrained decoding over a vocabulary: which tokens may come next so
// that the text stays a prefix of some value of a JsonGrammar.
//
// The vocabulary's byte strings are laid out once as a trie (TokenTrie), so
// that a mask walks each shared prefix once and drops whole subtrees at the
// first byte the grammar refuses. The sampler asks for the mask only when the
// token it drew is refused (TokenConstraint::allows): inside a string almost
// every token is allowed and no mask is built; where only a few are (after
// '{', a key, a ':'), the walk stops at the trie's first level for most of it.
#pragma once
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "gguf/value.h"
#include "runtime/json_grammar.h"
#include "tokenizer/tokenizer.h"

namespace frugal::runtime {

class TokenTrie {
 public:
  // Tokens with text (not control, user-defined, unknown or unused ones by
  // md's tokenizer.ggml.token_type) and the end-of-generation tokens.
  // bytes() holds every token's bytes, special ones too (for lead-ins).
  TokenTrie(const tokenizer::Tokenizer& tok, const gguf::Metadata& md);

  int32_t n_vocab() const { return n_vocab_; }
  const std::string& bytes(int32_t id) const { return bytes_[static_cast<size_t>(id)]; }
  bool has_text(int32_t id) const { return text_[static_cast<size_t>(id)]; }
  const std::vector<int32_t>& end_of_generation() const { return eog_; }

  struct Node {
    uint32_t first_child = 0, n_children = 0;  // children are nodes [first, first + n)
    uint32_t first_token = 0, n_tokens = 0;    // ids[first, first + n) end here
    uint8_t byte = 0;                          // the byte that leads here from the parent
  };
  struct Trie {
    std::vector<Node> nodes;   // nodes[0]: the root (the empty string)
    std::vector<int32_t> ids;  // token ids by trie node
  };
  // Every token with text.
  const Trie& all() const { return all_; }
  // Plain text: whole UTF-8 characters, none of them '"', '\' or a control
  // character. Inside a JSON string any of these may come next, as long as
  // its characters fit, so a mask there starts from plain_mask() and walks
  // only the other tokens (others()).
  const std::vector<uint8_t>& plain_mask() const { return plain_; }
  int64_t max_plain_chars() const { return max_plain_chars_; }
  const Trie& others() const { return others_; }

 private:
  Trie build(const std::vector<int32_t>& sorted) const;  // ids sorted by their bytes

  int32_t n_vocab_ = 0;
  std::vector<std::string> bytes_;
  std::vector<uint8_t> text_;
  std::vector<int32_t> eog_;
  std::vector<uint8_t> plain_;
  int64_t max_plain_chars_ = 0;
  Trie all_, others_;
};

// Builds the trie on first use (a server pays for it only when a request
// asks for structured output) and shares it from then on.
class LazyTokenTrie {
 public:
  LazyTokenTrie(const tokenizer::Tokenizer& tok, const gguf::Metadata& md) : tok_(tok), md_(md) {}
  std::shared_ptr<const TokenTrie> get();

 private:
  const tokenizer::Tokenizer& tok_;
  const gguf::Metadata& md_;
  std::once_flag once_;
  std::shared_ptr<const TokenTrie> trie_;
};

// One completion's constraint: a grammar shared by its requests' choices, the
// matcher's state, and the vocabulary.
class TokenConstraint {
 public:
  TokenConstraint(std::shared_ptr<const JsonGrammar> grammar, std::shared_ptr<const TokenTrie> trie);

  // Whether `id` may come next: its bytes continue the grammar, or it ends
  // the generation where the value is complete.
  bool allows(int32_t id) const;
  // allowed[id] != 0 for each token allows() would take (resized to n_vocab).
  // None allowed (the schema nests deeper than the matcher goes) -> frugal::Error.
  void mask(std::vector<uint8_t>& allowed);
  // Takes the chosen token (REQUIRES allows(id)).
  void accept(int32_t id);
  // No token can follow but the end: the completion is over.
  bool closed() const { return lead_ == kLeadDone && m_.closed(); }
  bool complete() const { return lead_ == kLeadDone && m_.complete(); }

 private:
  static constexpr size_t kLeadDone = SIZE_MAX;
  // Before the value: whether `bytes` after the lead-in text so far stays a
  // prefix of a lead-in or completes one with a start of the value after it
  // (that remainder then fed to `m`).
  bool lead_takes(const std::string& bytes, JsonMatcher& m, std::string& matched) const;
  void walk(const TokenTrie::Trie& t, uint32_t node, int depth, std::vector<uint8_t>& allowed);

  std::shared_ptr<const JsonGrammar> grammar_;
  std::shared_ptr<const TokenTrie> trie_;
  JsonMatcher m_;
  std::vector<JsonMatcher> states_;  // the walk's state at each trie depth
  std::string lead_text_;            // the lead-in's bytes so far
  size_t lead_ = kLeadDone;          // 0 while a lead-in is being written
};

}  // namespace frugal::runtime
